"""Scoring code shipped inside every packaged model; it must run without mlgate installed.

mlgate copies this file unchanged into the wheel as ``<package>/_runtime.py``, next to the skops
artifact ``model.skops`` and three JSON files: ``model.json`` (the artifact's sha256 and the types
skops must trust), ``signature.json`` (input columns, classes, positive label) and
``model_card.json``. Before the model is loaded the artifact's sha256 is compared with the
recorded one, and skops is given exactly the recorded types, so a swapped or edited artifact is
refused instead of executed.

Every failure a user can cause or meet (a file that is not the table it claims to be, an output
that cannot be written, a missing column, a model that cannot score the values given, a changed
artifact) is raised as one of the four exceptions below, with a message naming what was
expected and what was found. The console script prints that message as one ``error:`` line and
exits with code 2, and leaves no partial output behind.

Only numpy, pandas and skops are imported here (and pyarrow for Parquet files), never mlgate.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
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
TABLE_SUFFIXES = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
SUFFIX_LIST = f"{', '.join(list(TABLE_SUFFIXES)[:-1])} or {list(TABLE_SUFFIXES)[-1]}"
SIGNATURE = "signature.json"
EXIT_BAD_INPUT = 2  # bad input or output, a model that cannot score it, a changed artifact
EXIT_UNEXPECTED = 1  # a failure this module did not foresee: a bug to report
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report it
_CACHE: dict[str, Any] = {}


class IntegrityError(RuntimeError):
    """The model artifact differs from the one that was reviewed, or asks for other types."""


class SignatureError(ValueError):
    """Input data that does not match the model's signature."""


class DataFileError(ValueError):
    """A file to score, or to write the scores to, that cannot be read or written as a table."""


class ScoringError(RuntimeError):
    """The model could not be loaded with the installed libraries, or could not score input."""


def _read_json(name: str) -> Any:
    """Return a JSON file shipped beside this module, read once.

    A missing or unreadable file means the installed package was damaged; that is reported as
    an :class:`IntegrityError` rather than as the JSON or file system error behind it.
    """
    if name not in _CACHE:
        try:
            _CACHE[name] = json.loads((HERE / name).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise IntegrityError(
                f"{name} of this package cannot be read ({_one_line(exc)}); expected the file "
                "the package was built with: reinstall the package"
            ) from exc
    return _CACHE[name]


def __getattr__(name: str) -> Any:
    """Serve ``signature`` and ``model_card`` from the package's JSON files when first asked."""
    if name in ("signature", "model_card"):
        return _read_json(f"{name}.json")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _one_line(exc: BaseException | str) -> str:
    """Return an exception's message (or a text) on one line, for a one-line error."""
    text = " ".join(str(exc).split()).rstrip(".")
    return text or type(exc).__name__


def _versions(*names: str) -> str:
    """Return the installed versions of ``names`` as ``name X`` pairs, for messages."""
    from importlib import metadata

    found = []
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            found.append(f"{name} (not installed)")
    return ", ".join(found)


def load() -> Any:
    """Return the model, loaded once after its sha256 and its types were verified."""
    if "model" in _CACHE:
        return _CACHE["model"]

    try:
        import skops.io as sio
    except ImportError as exc:
        raise ScoringError(
            f"loading the model needs skops, which cannot be imported ({_one_line(exc)}); "
            "expected it installed with the package (pip install the package again)"
        ) from exc

    started = time.perf_counter()
    artifact = _read_json("model.json")
    try:
        data = (HERE / artifact["file"]).read_bytes()
    except OSError as exc:
        raise IntegrityError(
            f"{artifact['file']} of this package cannot be read ({_one_line(exc)}); expected "
            "the reviewed artifact: reinstall the package"
        ) from exc
    digest = hashlib.sha256(data).hexdigest()
    expected = artifact["sha256"]
    if digest != expected:
        raise IntegrityError(
            f"hash mismatch: {artifact['file']} has sha256 {digest}, but the reviewed model "
            f"has sha256 {expected}; the packaged artifact was changed, so it is not loaded"
        )

    trusted = list(artifact["trusted_types"])
    try:
        unexpected = sorted(set(sio.get_untrusted_types(data=data)) - set(trusted))
        if not unexpected:
            model = sio.loads(data, trusted=trusted)
    except Exception as exc:  # skops and the estimator's library raise many kinds
        raise ScoringError(
            f"{artifact['file']} could not be loaded with the installed "
            f"{_versions('scikit-learn', 'skops')}: {_one_line(exc)}; expected the versions "
            "the package pins (pip install the package again to restore them)"
        ) from exc
    if unexpected:
        raise IntegrityError(
            f"{artifact['file']} asks to load types that were not reviewed: "
            f"{', '.join(unexpected)}; expected only {', '.join(trusted) or 'none'}"
        )
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
    try:
        if isinstance(data, Mapping):
            scalar = all(np.ndim(v) == 0 for v in data.values())
            return pd.DataFrame([dict(data)]) if scalar else pd.DataFrame(dict(data))
        if isinstance(data, Sequence) and not isinstance(data, str | bytes):
            return pd.DataFrame(list(data))
    except (ValueError, TypeError) as exc:  # columns of different lengths, records not dicts
        raise SignatureError(
            f"the input cannot be made into a table: {_one_line(exc)}; expected a pandas "
            "DataFrame, a list of records (dicts) or one record"
        ) from exc
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


def _scored(method: str, model: Any, inputs: pd.DataFrame) -> np.ndarray:
    """Return ``model.<method>(inputs)``; the estimator's own failure becomes a ScoringError.

    An estimator refuses values it cannot handle (a missing value, a category it never saw)
    with its own exception; the message is kept, the type is made one a caller can expect.
    """
    try:
        return np.asarray(getattr(model, method)(inputs))
    except Exception as exc:  # scikit-learn, LightGBM, XGBoost... raise different types
        raise ScoringError(
            f"the model ({type(model).__name__}) could not score the {len(inputs)} row(s) "
            f"given: {_one_line(exc)}; expected values like those it was trained on in the "
            f"columns {', '.join(map(str, inputs.columns))}"
        ) from exc


def predict_proba(data: Any) -> pd.DataFrame:
    """Return the probability of each class, one column per class, indexed like the input."""
    model = load()
    inputs = features(data)
    if not hasattr(model, "predict_proba"):
        raise SignatureError(f"the model ({type(model).__name__}) gives no probabilities")
    probabilities = _scored("predict_proba", model, inputs)
    columns = [str(c) for c in _read_json(SIGNATURE)["classes"]]
    return pd.DataFrame(probabilities, index=inputs.index, columns=columns)


def predict(data: Any) -> pd.DataFrame:
    """Return the predicted class and, for a binary model, the positive class's probability.

    The columns are ``prediction`` and ``score``, the same as ``mlgate predict`` writes; the
    index is the input's.
    """
    model = load()
    inputs = features(data)
    result = pd.DataFrame({"prediction": _scored("predict", model, inputs)}, index=inputs.index)
    if hasattr(model, "predict_proba") and len(_read_json(SIGNATURE)["classes"]) == 2:
        result["score"] = _scored("predict_proba", model, inputs)[:, _positive_column()]
    return result


def output_names(columns: Sequence[str]) -> tuple[str, str]:
    """Return names for the added columns that clash with none of the input's ``columns``."""
    taken = {str(c) for c in columns}
    names = OUTPUT_COLUMNS
    while any(n in taken for n in names):
        names = (f"{OUTPUT_PREFIX}{names[0]}", f"{OUTPUT_PREFIX}{names[1]}")
    return names


def table_format(path: Path, role: str) -> str:
    """Return ``csv`` or ``parquet`` from ``path``'s suffix; refuse any other suffix.

    ``role`` ("input file", "output file") names the file in the message.
    """
    fmt = TABLE_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise DataFileError(
            f"{role} {path}: expected a name ending in {SUFFIX_LIST}; got "
            f"'{path.suffix or '(no suffix)'}'"
        )
    return fmt


def _distribution() -> str:
    """Return this package's distribution name, for install hints."""
    try:
        return str(_read_json("model.json")["distribution"])
    except (IntegrityError, KeyError, TypeError):
        return "the model package"


def need_pyarrow(path: Path, role: str) -> None:
    """Refuse a Parquet ``path`` when pyarrow, which reads and writes Parquet, is missing."""
    try:
        import pyarrow  # noqa: F401
    except ImportError as exc:
        raise DataFileError(
            f"{role} {path} is a Parquet file, and Parquet needs pyarrow, which is not "
            f"installed; expected it from pip install '{_distribution()}[parquet]' (or pip "
            "install pyarrow), or a .csv file"
        ) from exc


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file whole; every way it can fail is a DataFileError."""
    fmt = table_format(path, "input file")
    if path.is_dir():
        raise DataFileError(f"input file {path} is a folder; expected a {fmt.upper()} file")
    if not path.exists():
        raise DataFileError(f"input file {path} does not exist")
    if fmt == "parquet":
        need_pyarrow(path, "input file")
    kind = "Parquet" if fmt == "parquet" else "CSV"
    try:
        if fmt == "parquet":
            return pd.read_parquet(path)
        return pd.read_csv(path, encoding="utf-8", low_memory=False)
    except pd.errors.EmptyDataError as exc:
        raise DataFileError(
            f"input file {path} is empty; expected a header row and data rows"
        ) from exc
    except UnicodeDecodeError as exc:
        found = exc.object[exc.start : exc.start + 1].hex()
        raise DataFileError(
            f"input file {path} is not UTF-8 text (found the byte 0x{found}); expected a "
            "UTF-8 encoded CSV file with a header row"
        ) from exc
    except pd.errors.ParserError as exc:
        raise DataFileError(
            f"input file {path} is not well-formed CSV: {_one_line(exc)}; expected "
            "comma-separated rows with as many fields as the header and every quote closed"
        ) from exc
    except OSError as exc:
        raise DataFileError(
            f"input file {path} cannot be read: {_one_line(exc.strerror or exc)}"
        ) from exc
    except (ValueError, TypeError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise DataFileError(
            f"input file {path} cannot be read as {kind}: {_one_line(exc)}"
        ) from exc


def check_output(output: Path, source: Path | None = None) -> str:
    """Return the output's format once it is certain the output can be written.

    Checked before anything is read or scored: the suffix, the folder, that it is not a folder
    itself nor the input file, and pyarrow for Parquet.
    """
    fmt = table_format(output, "output file")
    folder = output.parent
    if not folder.is_dir():
        state = "is not a folder" if folder.exists() else "does not exist"
        raise DataFileError(
            f"output file {output}: its folder {folder} {state}; expected an existing folder"
        )
    if output.is_dir():
        raise DataFileError(f"output file {output} is a folder; expected a file name")
    if source is not None and output.resolve() == source.resolve():
        raise DataFileError(
            f"output file {output} is the input file; expected another name, so the data "
            "read is not overwritten"
        )
    if fmt == "parquet":
        need_pyarrow(output, "output file")
    return fmt


def write_table(frame: pd.DataFrame, output: Path) -> None:
    """Write ``frame`` to ``output`` through a temporary file beside it, renamed when complete.

    On any failure (or Ctrl-C) the temporary file is removed and ``output`` is left as it was.
    """
    fmt = check_output(output)
    partial = output.with_name(f".{output.name}.{os.getpid()}.partial")
    try:
        if fmt == "parquet":
            frame.to_parquet(partial, index=False)
        else:
            frame.to_csv(partial, index=False)
        os.replace(partial, output)
    except BaseException as exc:
        partial.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise DataFileError(
                f"output file {output} cannot be written: {_one_line(exc.strerror or exc)}"
            ) from exc
        if isinstance(exc, ValueError | TypeError):  # pyarrow refusing a column's values
            kind = "Parquet" if fmt == "parquet" else "CSV"
            raise DataFileError(
                f"output file {output} cannot be written as {kind}: {_one_line(exc)}"
            ) from exc
        raise


def score_file(source: Path, output: Path) -> int:
    """Write ``source`` with prediction columns added to ``output``; return the row count.

    The output is checked before the input is read, so a wrong output name fails at once.
    """
    check_output(output, source)
    frame = read_table(source)
    if frame.empty:
        raise SignatureError(f"input file {source} has no data rows to score")

    scored = predict(frame)
    names = output_names(frame.columns)
    result = frame.copy()
    result[names[0]] = scored["prediction"].to_numpy()
    if "score" in scored:
        result[names[1]] = scored["score"].to_numpy()
    write_table(result, output)
    return len(result)


EXPECTED = (IntegrityError, SignatureError, DataFileError, ScoringError)


def main(argv: Sequence[str] | None = None) -> int:
    """Score a CSV or Parquet file from the command line; errors are one line, exit code 2.

    A failure nobody foresaw is one line too, with exit code 1; Ctrl-C exits with 130. No
    traceback reaches the user in any case.
    """
    try:
        artifact = _read_json("model.json")
    except IntegrityError as exc:
        sys.stderr.write(f"error: {_one_line(exc)}\n")
        return EXIT_BAD_INPUT
    parser = argparse.ArgumentParser(
        description=(
            f"Score a file with {artifact['distribution']} version {artifact['version']} "
            f"(project {artifact['project']})."
        )
    )
    parser.add_argument("input", type=Path, help="CSV or Parquet file with the model's inputs")
    parser.add_argument(
        "--output",
        type=Path,
        help="where to write the scored file, .csv or .parquet (default: INPUT.scored.csv)",
    )
    args = parser.parse_args(argv)

    output = args.output or args.input.with_name(f"{args.input.stem}.scored.csv")
    try:
        rows = score_file(args.input, output)
    except EXPECTED as exc:
        sys.stderr.write(f"error: {_one_line(exc)}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        sys.stderr.write(f"error: interrupted; {output} was not written\n")
        return EXIT_INTERRUPTED
    except Exception as exc:  # the promise is one line, never a traceback
        logger.debug("unexpected failure scoring %s", args.input, exc_info=True)
        sys.stderr.write(
            f"error: unexpected {type(exc).__name__} while scoring {args.input}: "
            f"{_one_line(exc)}; {output} was not written (please report this failure)\n"
        )
        return EXIT_UNEXPECTED
    sys.stderr.write(f"scored {rows} rows of {args.input} into {output}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
