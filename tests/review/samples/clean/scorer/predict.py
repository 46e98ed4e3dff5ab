"""Score values with a learned cut-off."""

from __future__ import annotations

from collections.abc import Sequence


def predict(cutoff: float, values: Sequence[float]) -> list[int]:
    """Return 1 for every value above ``cutoff`` and 0 for the others."""
    return [int(value > cutoff) for value in values]
