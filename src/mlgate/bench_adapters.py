"""Entry points through which the peer benchmark harness runs mlgate's checks.

The harness (``../shared/bench``, see ``benchmarks/README.md``) imports a function named by an
environment variable and calls it on frames it has built:

- ``ANCHOR_PRODUCT_DRIFT=mlgate.bench_adapters:drift`` calls ``drift(reference, current, spec)``
  and expects ``{column: drifted}``;
- ``ANCHOR_PRODUCT_QUALITY=mlgate.bench_adapters:quality`` calls ``quality(frame, spec)``.

``spec`` lists the ``numerical`` and ``categorical`` columns. Both functions run the registered
in-memory check with its default thresholds, exactly as ``mlgate check`` would; nothing here is
tuned for the benchmark. The harness imports this module inside its timed section, so each
function imports only the check it runs, as a user's script calling that one check would.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from mlgate.checks.base import CheckInput


def drift(
    reference_df: pd.DataFrame, current_df: pd.DataFrame, spec: Mapping[str, Any]
) -> dict[str, bool]:
    """Run the drift check on the spec's columns; return whether each column drifted."""
    from mlgate.checks.drift import check_drift  # each entry point imports only its check

    features = [*spec["numerical"], *spec["categorical"]]
    inp = CheckInput(data=current_df, reference=reference_df, features=features)
    result = check_drift(inp, {})
    return {name: bool(result.metrics[f"{name}.drifted"]) for name in features}


def quality(df: pd.DataFrame, spec: Mapping[str, Any]) -> dict[str, Any]:
    """Run the data-quality check on the spec's columns; return its status and summary."""
    from mlgate.checks.data_quality import check_data_quality

    features = [*spec["numerical"], *spec["categorical"]]
    result = check_data_quality(CheckInput(data=df, features=features), {})
    return {"status": result.status, "summary": result.summary}
