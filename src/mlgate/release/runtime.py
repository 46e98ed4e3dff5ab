"""Scoring code shipped inside every packaged model; it must run without mlgate installed.

mlgate copies this file unchanged into the wheel as ``<package>/_runtime.py``, next to the skops
artifact ``model.skops`` and three JSON files: ``model.json`` (the artifact's sha256 and the types
skops must trust), ``signature.json`` (input columns, classes, positive label) and
``model_card.json``. Before the model is loaded the artifact's sha256 is compared with the
recorded one, and skops is given exactly the recorded types, so a swapped or edited artifact is
refused instead of executed.

Only numpy, pandas and skops are imported here (and pyarrow for Parquet files), never mlgate.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

logger = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
OUTPUT_COLUMNS = ("prediction", "score")
OUTPUT_PREFIX = "mlgate_"
TABLE_SUFFIXES = (".csv", ".parquet")
SIGNATURE = "signature.json"
_CACHE: dict[str, Any] = {}


class IntegrityError(RuntimeError):
    """The model artifact differs from the one that was reviewed, or asks for other types."""


class SignatureError(ValueError):
    """Input data that does not match the model's signature."""


def _read_json(name: str) -> Any:
    """Return a JSON file shipped beside this module, read once."""
    if name not in _CACHE:
        _CACHE[name] = json.loads((HERE / name).read_text(encoding="utf-8"))
    return _CACHE[name]


def __getattr__(name: str) -> Any:
    """Serve ``signature`` and ``model_card`` from the package's JSON files when first asked."""
    if name in ("signature", "model_card"):
        return _read_json(f"{name}.json")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def load() -> Any:
    """Return the model, loaded once after its sha256 and its types were verified."""
    if "model" in _CACHE:
        return _CACHE["model"]

    import skops.io as sio

    started = time.perf_counter()
    artifact = _read_json("model.json")
    data = (HERE / artifact["file"]).read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    expected = artifact["sha256"]
    if digest != expected:
        raise IntegrityError(
            f"hash mismatch: {artifact['file']} has sha256 {digest}, but the reviewed model "
            f"has sha256 {expected}; the packaged artifact was changed, so it is not loaded"
        )

    trusted = list(artifact["trusted_types"])
    unexpected = sorted(set(sio.get_untrusted_types(data=data)) - set(trusted))
    if unexpected:
        raise IntegrityError(
            f"{artifact['file']} asks to load types that were not reviewed: "
            f"{', '.join(unexpected)}; expected only {', '.join(trusted) or 'none'}"
        )
    model = sio.loads(data, trusted=trusted)
    _CACHE["model"] = model
    logger.info(
        "loaded %s version %s in %.2f s",
        artifact["distribution"],
        artifact["version"],
        time.perf_counter() - started,
    )
    return model


def _frame(data: Any) -> pd.DataFrame:
    """Return ``data`` (a frame, a list of records, or one record) as a DataFrame."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, Mapping):
        scalar = all(np.ndim(v) == 0 for v in data.values())
        return pd.DataFrame([dict(data)]) if scalar else pd.DataFrame(dict(data))
    if isinstance(data, Sequence) and not isinstance(data, str | bytes):
        return pd.DataFrame(list(data))
    raise SignatureError(
        f"expected a pandas DataFrame, a list of records or one record (a dict); "
        f"got {type(data).__name__}"
    )


def features(data: Any) -> pd.DataFrame:
    """Return the signature's columns of ``data`` in order, or explain every mismatch."""
    frame = _frame(data)
    inputs = _read_json(SIGNATURE)["inputs"]
    missing = [c["name"] for c in inputs if c["name"] not in frame.columns]
    if missing:
        expected = ", ".join(c["name"] for c in inputs)
        raise SignatureError(
            f"the input lacks the column(s) {', '.join(missing)} that the model needs; "
            f"expected columns: {expected}"
        )

    result = frame[[c["name"] for c in inputs]].copy()
    for column in inputs:
        name = column["name"]
        if column["kind"] != "numeric" or pd.api.types.is_numeric_dtype(result[name]):
            continue
        converted = pd.to_numeric(result[name], errors="coerce")
        bad = int((converted.isna() & result[name].notna()).sum())
        if bad:
            raise SignatureError(
                f"column {name} must be numeric but has {bad} non-numeric value(s) "
                f"(found dtype {result[name].dtype})"
            )
        result[name] = converted
    return result


def _positive_column() -> int:
    classes = _read_json(SIGNATURE)["classes"]
    positive = _read_json(SIGNATURE).get("positive_label")
    return classes.index(positive) if positive in classes else len(classes) - 1


def predict_proba(data: Any) -> pd.DataFrame:
    """Return the probability of each class, one column per class, indexed like the input."""
    model = load()
    inputs = features(data)
    if not hasattr(model, "predict_proba"):
        raise SignatureError(f"the model ({type(model).__name__}) gives no probabilities")
    probabilities = np.asarray(model.predict_proba(inputs))
    columns = [str(c) for c in _read_json(SIGNATURE)["classes"]]
    return pd.DataFrame(probabilities, index=inputs.index, columns=columns)


def predict(data: Any) -> pd.DataFrame:
    """Return the predicted class and, for a binary model, the positive class's probability.

    The columns are ``prediction`` and ``score``, the same as ``mlgate predict`` writes; the
    index is the input's.
    """
    model = load()
    inputs = features(data)
    result = pd.DataFrame({"prediction": model.predict(inputs)}, index=inputs.index)
    if hasattr(model, "predict_proba") and len(_read_json(SIGNATURE)["classes"]) == 2:
        result["score"] = np.asarray(model.predict_proba(inputs))[:, _positive_column()]
    return result


def output_names(columns: Sequence[str]) -> tuple[str, str]:
    """Return names for the added columns that clash with none of the input's ``columns``."""
    taken = {str(c) for c in columns}
    names = OUTPUT_COLUMNS
    while any(n in taken for n in names):
        names = (f"{OUTPUT_PREFIX}{names[0]}", f"{OUTPUT_PREFIX}{names[1]}")
    return names


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise SignatureError(f"{path}: expected a .csv or .parquet file; got '{path.suffix}'")
    if not path.is_file():
        raise FileNotFoundError(f"input file {path} does not exist")
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path)


def score_file(source: Path, output: Path) -> int:
    """Write ``source`` with prediction columns added to ``output``; return the row count."""
    frame = _read_table(source)
    if frame.empty:
        raise SignatureError(f"{source} has no data rows to score")

    scored = predict(frame)
    names = output_names(frame.columns)
    result = frame.copy()
    result[names[0]] = scored["prediction"].to_numpy()
    if "score" in scored:
        result[names[1]] = scored["score"].to_numpy()

    partial = output.with_name(f".{output.name}.partial")
    try:
        if output.suffix.lower() == ".parquet":
            result.to_parquet(partial, index=False)
        else:
            result.to_csv(partial, index=False)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(output)
    return len(result)


def main(argv: Sequence[str] | None = None) -> int:
    """Score a CSV or Parquet file from the command line; errors are one line, exit code 2."""
    artifact = _read_json("model.json")
    parser = argparse.ArgumentParser(
        description=(
            f"Score a file with {artifact['distribution']} version {artifact['version']} "
            f"(project {artifact['project']})."
        )
    )
    parser.add_argument("input", type=Path, help="CSV or Parquet file with the model's inputs")
    parser.add_argument(
        "--output", type=Path, help="where to write the scored file (default: INPUT.scored.csv)"
    )
    args = parser.parse_args(argv)

    output = args.output or args.input.with_name(f"{args.input.stem}.scored.csv")
    if output.resolve() == args.input.resolve():
        sys.stderr.write(f"error: --output {output} is the input file\n")
        return 2
    try:
        rows = score_file(args.input, output)
    except (IntegrityError, SignatureError, FileNotFoundError, ImportError) as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    sys.stderr.write(f"scored {rows} rows of {args.input} into {output}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
