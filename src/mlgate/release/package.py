"""Packaging a reviewed model version as an installable wheel.

The wheel holds one import package named after the project (see :mod:`mlgate.release.names`):

- ``model.skops``: the artifact, byte for byte as stored and hash-checked;
- ``model.json``: its sha256, the types skops must trust, and where it came from;
- ``signature.json``: the input columns with dtypes and kinds, the target, classes and the
  positive label that ``score`` is the probability of;
- ``model_card.json``: the model card;
- ``_runtime.py``: the scoring code (:mod:`mlgate.release.runtime`, copied unchanged);
- ``__init__.py``: a small generated module exporting ``predict``, ``predict_proba``, ``load``,
  ``signature`` and ``model_card``.

The console script ``<slug>-predict`` scores a CSV or Parquet file. Nothing in the package
imports mlgate, unless the model itself is made of mlgate classes (a mitigated model); then the
package requires mlgate and its card and description say so.

Every input to the archive comes from the registry (never the clock or the machine), so
packaging the same version twice gives the same bytes.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from mlgate import __version__ as MLGATE_VERSION
from mlgate.artifacts.store import sha256_bytes
from mlgate.errors import ValidationError
from mlgate.lifecycle.gates import aware
from mlgate.lifecycle.service import Governance
from mlgate.registry.models import DatasetVersion, ModelVersion
from mlgate.release.gate import reviewed_version
from mlgate.release.names import PackageNames, package_names
from mlgate.release.requirements import Requirements, model_requirements
from mlgate.release.wheel import entry_points_text, metadata_text, wheel_bytes, wheel_text

logger = logging.getLogger(__name__)

ARTIFACT_FILE = "model.skops"
CARD_MODULE = "mlgate.reports.card"
MINIMAL_CARD_NOTE = (
    "minimal card written from the model version record, because the model card module "
    f"({CARD_MODULE}) is not available in the mlgate that packaged this model"
)
MLGATE_NOTE = (
    "the model is built from mlgate classes ({types}), so loading it imports mlgate: the "
    "package requires mlgate=={version}"
)


@dataclass(frozen=True)
class BuiltWheel:
    """A wheel written to disk, and what it was built from."""

    path: Path
    names: PackageNames
    sha256: str
    model_version: int
    artifact_sha256: str
    requirements: Requirements
    card_source: str

    @property
    def filename(self) -> str:
        """Return the wheel's file name."""
        return self.path.name


def package_model(
    gov: Governance, version: int | None = None, output_dir: Path = Path("dist")
) -> BuiltWheel:
    """Build the wheel of a reviewed model version into ``output_dir``; audit it.

    A version that has not passed the review gate is refused, and the refusal audited, as
    ``model.package``.
    """
    chosen = reviewed_version(gov, version, "model.package")
    built = build_wheel(gov, chosen, output_dir)

    with gov.transaction() as session:
        gov.audit(
            session,
            "model.packaged",
            f"model:v{chosen.version}",
            {
                "wheel": built.filename,
                "wheel_sha256": built.sha256,
                "artifact_sha256": chosen.artifact_sha256,
                "requires": built.requirements.lines,
            },
        )
    return built


def build_wheel(gov: Governance, chosen: ModelVersion, output_dir: Path) -> BuiltWheel:
    """Write the wheel of ``chosen`` into ``output_dir``, without gate or audit.

    Callers check the review gate first (:func:`mlgate.release.gate.reviewed_version`).
    """
    started = time.perf_counter()
    if output_dir.exists() and not output_dir.is_dir():
        raise ValidationError(f"--output-dir {output_dir} is a file; expected a folder")
    names = package_names(gov.config.project, chosen.version)
    requirements = model_requirements(chosen)
    artifact = gov.artifacts.get_bytes(chosen.artifact_sha256)
    card, card_source = model_card(gov, chosen, requirements)

    files = package_files(gov, chosen, names, artifact, requirements, card)
    data = wheel_bytes(files, names.dist_info)

    output_dir.mkdir(parents=True, exist_ok=True)
    path = output_dir / names.wheel_filename
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(data)
    os.replace(partial, path)
    digest = sha256_bytes(data)
    logger.info(
        "packaged model version %d as %s (%d bytes, sha256 %s) in %.2f s",
        chosen.version,
        path.name,
        len(data),
        digest[:12],
        time.perf_counter() - started,
    )
    return BuiltWheel(
        path, names, digest, chosen.version, chosen.artifact_sha256, requirements, card_source
    )


def _json(value: Any) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, default=str) + "\n").encode("utf-8")


def package_files(
    gov: Governance,
    chosen: ModelVersion,
    names: PackageNames,
    artifact: bytes,
    requirements: Requirements,
    card: dict[str, Any],
) -> dict[str, bytes]:
    """Return every file of the wheel but RECORD, by its path inside the wheel."""
    package = names.module
    runtime = resources.files("mlgate.release").joinpath("runtime.py").read_bytes()
    model_json = {
        "file": ARTIFACT_FILE,
        "sha256": chosen.artifact_sha256,
        "trusted_types": list(chosen.trusted_types),
        "flavour": chosen.flavour,
        "estimator": chosen.estimator,
        "project": gov.config.project,
        "distribution": names.distribution,
        "version": names.version,
        "requires_mlgate": requirements.needs_mlgate,
    }
    signature = {
        "inputs": list(chosen.signature),
        "target": chosen.target,
        "classes": list(chosen.classes),
        "positive_label": gov.config.data.positive_label,
        "outputs": ["prediction", "score"],
    }
    scripts = {names.script: f"{package}._runtime:main"}

    return {
        f"{package}/__init__.py": init_source(gov.config.project, names, requirements).encode(),
        f"{package}/_runtime.py": runtime,
        f"{package}/{ARTIFACT_FILE}": artifact,
        f"{package}/model.json": _json(model_json),
        f"{package}/signature.json": _json(signature),
        f"{package}/model_card.json": _json(card),
        f"{names.dist_info}/METADATA": metadata(gov, chosen, names, requirements).encode(),
        f"{names.dist_info}/WHEEL": wheel_text(f"mlgate {MLGATE_VERSION}").encode(),
        f"{names.dist_info}/entry_points.txt": entry_points_text(scripts).encode(),
        f"{names.dist_info}/top_level.txt": f"{package}\n".encode(),
    }


def init_source(project: str, names: PackageNames, requirements: Requirements) -> str:
    """Return the generated ``__init__.py``: what the package is, and its public names."""
    needs = (
        "Loading the model imports mlgate, whose classes it is built from.\n"
        if requirements.needs_mlgate
        else "It does not import mlgate.\n"
    )
    return (
        f'"""Model version {names.version} of an mlgate project, packaged as '
        f"{names.distribution}.\n\n"
        "``predict(frame_or_records)`` returns the columns ``prediction`` and ``score``;\n"
        "``predict_proba``, ``load()``, ``signature`` and ``model_card`` are here too, and the\n"
        f"console script ``{names.script}`` scores a CSV or Parquet file. {needs}"
        '"""\n\n'
        "from ._runtime import (\n"
        "    DataFileError,\n"
        "    IntegrityError,\n"
        "    ScoringError,\n"
        "    SignatureError,\n"
        "    features,\n"
        "    load,\n"
        "    main,\n"
        "    model_card,\n"
        "    predict,\n"
        "    predict_proba,\n"
        "    signature,\n"
        ")\n\n"
        f"PROJECT = {json.dumps(project)}\n"
        f"MODEL_VERSION = {int(names.version)}\n"
        f'__version__ = "{names.version}"\n'
        "__all__ = [\n"
        '    "DataFileError",\n'
        '    "IntegrityError",\n'
        '    "MODEL_VERSION",\n'
        '    "PROJECT",\n'
        '    "ScoringError",\n'
        '    "SignatureError",\n'
        '    "features",\n'
        '    "load",\n'
        '    "main",\n'
        '    "model_card",\n'
        '    "predict",\n'
        '    "predict_proba",\n'
        '    "signature",\n'
        "]\n"
    )


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def metadata(
    gov: Governance, chosen: ModelVersion, names: PackageNames, requirements: Requirements
) -> str:
    """Return the METADATA file: name, version, pinned requirements and a short description."""
    project = _one_line(gov.config.project)
    fields = [
        ("Metadata-Version", "2.1"),
        ("Name", names.distribution),
        ("Version", names.version),
        ("Summary", f"Model version {names.version} of project {project}, reviewed with mlgate"),
        ("Requires-Python", requirements.python),
    ]
    fields += [("Requires-Dist", line) for line in requirements.lines]
    fields += [("Provides-Extra", extra) for extra in sorted(requirements.extras)]
    fields.append(("Description-Content-Type", "text/markdown"))

    inputs = ", ".join(f"`{c['name']}`" for c in chosen.signature)
    mlgate_line = (
        "\nThe model is built from mlgate classes, so this package requires mlgate.\n"
        if requirements.needs_mlgate
        else ""
    )
    description = (
        f"# {names.distribution}\n\n"
        f"Model version {names.version} of the mlgate project {project}: a "
        f"`{chosen.estimator}` that passed the project's review gate.\n\n"
        f"- artifact sha256: `{chosen.artifact_sha256}` (checked before every load)\n"
        f"- inputs: {inputs}\n"
        f"- console script: `{names.script} INPUT.csv --output OUT.csv`\n"
        f"{mlgate_line}\n"
        "```python\n"
        f"import {names.module} as model\n"
        "scored = model.predict(frame)  # columns prediction and score\n"
        "```\n"
    )
    return metadata_text(fields, description)


def model_card(
    gov: Governance, chosen: ModelVersion, requirements: Requirements
) -> tuple[dict[str, Any], str]:
    """Return the card to ship and where it came from (``mlgate.reports.card`` or minimal)."""
    card = _full_card(gov)
    source = CARD_MODULE if card is not None else "minimal"
    if card is None:
        card = minimal_card(gov, chosen)
    if requirements.needs_mlgate:
        mlgate_types = [t for t in chosen.trusted_types if t.startswith("mlgate.")]
        pin = next(p for p in requirements.pins if p.startswith("mlgate=="))
        card["requires_mlgate"] = MLGATE_NOTE.format(
            types=", ".join(mlgate_types), version=pin.removeprefix("mlgate==")
        )
    return card, source


def _full_card(gov: Governance) -> dict[str, Any] | None:
    """Return the full model card when the card module is there, else ``None``.

    The card's ``generated_at`` becomes the moment of the newest fact it rests on (evidence,
    approval, waiver, deployment or the model itself), so an unchanged project gives the same
    card, and the same wheel, whenever it is packaged.
    """
    try:
        from mlgate.reports.card import build_card
        from mlgate.reports.collect import collect
    except ImportError:
        return None

    card = dict(build_card(collect(gov)))
    card["generated_at"] = _as_of(gov)
    return card


def _as_of(gov: Governance) -> str | None:
    """Return when the project's newest gate-relevant fact was recorded, in ISO format."""
    snap = gov.snapshot_now()
    rows = [*snap.evidence, *snap.approvals, *snap.waivers, *snap.deployments]
    moments = [aware(r.created_at) for r in rows]
    if snap.model is not None:
        moments.append(aware(snap.model.created_at))
    return max(moments).isoformat(timespec="seconds") if moments else None


def minimal_card(gov: Governance, chosen: ModelVersion) -> dict[str, Any]:
    """Return a card made from the model version record alone, saying that it is minimal."""
    with gov.transaction() as session:
        datasets = {d.id: d for d in gov.project_rows(session, DatasetVersion)}
        tier = gov.project(session).tier
    dataset = datasets.get(chosen.dataset_version_id or -1)
    return {
        "card": "minimal",
        "note": MINIMAL_CARD_NOTE,
        "project": gov.config.project,
        "tier": tier,
        "model_version": chosen.version,
        "estimator": chosen.estimator,
        "artifact_sha256": chosen.artifact_sha256,
        "target": chosen.target,
        "classes": list(chosen.classes),
        "positive_label": gov.config.data.positive_label,
        "inputs": [c["name"] for c in chosen.signature],
        "sensitive": gov.sensitive,
        "metrics": dict(chosen.metrics),
        "params": dict(chosen.params),
        "training_data": {
            "name": dataset.name if dataset else None,
            "sha256": dataset.sha256 if dataset else None,
            "rows": dataset.n_rows if dataset else None,
        },
        "code_version": chosen.code_version,
        "packages": dict(chosen.packages),
        "created_by": chosen.created_by,
        "created_at": chosen.created_at.isoformat(),
    }
