"""The feature catalogue: what each model input is, where it comes from and how sensitive it is.

A catalogued feature records its definition (a code reference such as ``package.module:function``
or a short expression such as ``credit_amount / duration``), the columns of one registered
dataset it is computed from, its owner, unit and description, and its sensitivity. The
definition is recorded, never imported or run: registering a feature executes no user code.

**Sensitivity is inherited.** A source column is sensitive when the data contract of the
dataset version marks it (``sensitivity`` other than ``none``) or when the project declares it
sensitive (``data.sensitive`` in mlgate.yaml, kept from the project's start); a column declared
only there gets the category its name points at (``gender`` is ``sex``), else ``other``. A
feature's sensitivity is the union of its sources' categories and the ones its owner declares.
Declaring ``none`` for a feature computed from a sensitive column is refused: a feature is at
least as sensitive as the data it is made of, whatever it is called.

**Versions are append-only.** The definition record (name, definition, description, sources,
dataset name, owner, unit, declared and effective sensitivity) is hashed. Adding a feature whose
record hashes like its latest version changes nothing; any other change becomes version N+1, and
every new version is an audit event in the same transaction. An option left out when a feature
is added again keeps the latest version's value, so re-running the same command is idempotent
whoever runs it. A new version of the dataset alone does not make a new feature version: the
transformation is the same (unless the new contract changes the sensitivity it inherits).

**Models are linked when they are registered.** Training or adding a model version links it, in
the registration's transaction, to the latest version of every catalogued feature whose name is
one of the model's input columns. A feature catalogued later is not linked to models registered
before it: a link records what was known when the model was made.

**Inputs nobody catalogued are reported, not invented.** A model input without a catalogue entry
could be given an implicit ``identity:<column>`` feature at training time, or be shown as
uncatalogued. mlgate does the latter. The catalogue is a record of what people declared and own;
entries made up by the training run would have no real owner, would fill the catalogue with
dozens of rows nobody reviewed, and would hide exactly the gap a reviewer should see. Lineage
still covers such inputs: an uncatalogued input appears as a direct edge from the training
dataset's column to the model version, with the sensitivity of that column, so a sensitive column
used as a raw input is never hidden, and ``mlgate feature list`` names the inputs still to
catalogue.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from mlgate.checks.sensitive import detect_by_name
from mlgate.contracts import Contract
from mlgate.contracts.schema import Sensitivity
from mlgate.errors import NotFoundError, ValidationError
from mlgate.lifecycle.service import Governance
from mlgate.registry.audit import canonical_json
from mlgate.registry.models import (
    DatasetVersion,
    FeatureVersion,
    ModelFeature,
    ModelVersion,
    Project,
)

logger = logging.getLogger(__name__)

FEATURE_ROLES = frozenset({"data_scientist", "ml_engineer", "admin"})
NOT_SENSITIVE = "none"
OTHER = "other"
CATEGORIES: tuple[str, ...] = tuple(s for s in get_args(Sensitivity) if s != NOT_SENSITIVE)
MAX_NAME = 200
MAX_UNIT = 64
MAX_DEFINITION = 1000


@dataclass(frozen=True)
class ColumnMark:
    """Why a column counts as sensitive: its category and who said so."""

    category: str
    origin: str


@dataclass(frozen=True)
class FeatureEntry:
    """One catalogued feature version and the model versions that use it."""

    feature: FeatureVersion
    model_versions: tuple[int, ...]


@dataclass(frozen=True)
class LineageEdge:
    """One path from a source column through a feature version to a model version.

    ``feature`` is ``None`` for an uncatalogued input (the model reads the column itself, and
    ``sensitivity`` is then the column's); ``model_version`` is ``None`` for a feature version no
    model uses. ``column_sensitivity`` is the source column's own sensitivity.
    """

    dataset: str | None
    dataset_version_id: int | None
    column: str
    column_sensitivity: tuple[str, ...]
    feature: str | None
    feature_version: int | None
    sensitivity: tuple[str, ...]
    model_version: int | None

    @property
    def catalogued(self) -> bool:
        """Return whether the column reaches the model through a catalogued feature."""
        return self.feature is not None


def add_feature(
    gov: Governance,
    name: str,
    definition: str,
    sources: Sequence[str],
    dataset: str = "train",
    owner: str | None = None,
    unit: str | None = None,
    sensitivity: str | Sequence[str] | None = None,
    description: str | None = None,
) -> FeatureVersion:
    """Catalogue feature ``name``, or return its latest version when nothing changed.

    ``sources`` are columns of the latest version of dataset ``dataset``. ``sensitivity`` is
    ``None`` (inherit from the sources), ``"none"``, or one or more categories of the data
    contract (a list, or a comma-separated string). ``owner`` defaults to the acting user;
    ``owner``, ``unit``, ``sensitivity`` and ``description`` left out keep the values of the
    latest version. Needs the role data_scientist, ml_engineer or admin.
    """
    name = _single_line("feature name", name, MAX_NAME)
    definition = _single_line("definition", definition, MAX_DEFINITION)
    columns = _sources(sources)
    declared = parse_sensitivity(sensitivity)
    if owner is not None:
        owner = _single_line("owner", owner, MAX_NAME)
    if unit is not None:
        unit = _single_line("unit", unit, MAX_UNIT) if unit.strip() else ""

    with gov.transaction() as session:
        gov.require_role(
            session, set(FEATURE_ROLES), "feature.add", f"feature:{name}", "catalogue features"
        )
        project = gov.project(session)
        data = _latest_dataset(session, project.id, dataset, gov.config.project)
        _check_sources(columns, data, gov.config.data.target)
        previous = _latest_versions(session, project.id, [name]).get(name)
        marks = column_marks(gov, data)
        inherited = {column: marks[column] for column in columns if column in marks}
        declared = _declared(declared, previous, inherited)
        _refuse_downgrade(name, declared, inherited, data.name)

        record = {
            "name": name,
            "definition": definition,
            "description": _keep(description, previous, "description", "").strip(),
            "sources": columns,
            "dataset": data.name,
            "owner": _keep(owner, previous, "owner", gov.actor),
            "unit": _keep(unit, previous, "unit", None) or None,
            "declared_sensitivity": declared,
            "sensitivity": sorted({m.category for m in inherited.values()} | set(declared or [])),
        }
        digest = hashlib.sha256(canonical_json(record).encode("utf-8")).hexdigest()
        if previous is not None and previous.sha256 == digest:
            logger.info("feature %s is unchanged; kept version %d", name, previous.version)
            return previous

        feature = _store(gov, session, project.id, data, record, digest, previous)
    logger.info(
        "catalogued feature %s version %d from %d column(s) of %s (sensitivity %s)",
        name,
        feature.version,
        len(columns),
        data.name,
        ", ".join(feature.sensitivity) or NOT_SENSITIVE,
    )
    return feature


def parse_sensitivity(value: str | Sequence[str] | None) -> list[str] | None:
    """Return declared categories, sorted; ``[]`` for ``none``; ``None`` when nothing declared."""
    if value is None:
        return None
    given = [value] if isinstance(value, str) else list(value)
    items = [part for text in given for part in str(text).split(",")]
    names = [item.strip().lower() for item in items if item.strip()]
    allowed = f"expected {NOT_SENSITIVE} or one or more of {', '.join(CATEGORIES)}"
    if not names:
        raise ValidationError(f"sensitivity is empty; {allowed}")
    unknown = [n for n in names if n != NOT_SENSITIVE and n not in CATEGORIES]
    if unknown:
        raise ValidationError(f"unknown sensitivity {', '.join(unknown)}; {allowed}")
    if NOT_SENSITIVE in names and len(set(names)) > 1:
        raise ValidationError(
            f"sensitivity {', '.join(names)} mixes '{NOT_SENSITIVE}' with categories; give "
            f"either {NOT_SENSITIVE} or the categories"
        )
    return sorted(set(names) - {NOT_SENSITIVE})


def column_marks(gov: Governance, dataset: DatasetVersion) -> dict[str, ColumnMark]:
    """Return the sensitive columns of ``dataset`` with their category and where it comes from.

    Call it inside a transaction that has read the project, so the project's declared sensitive
    attributes are known without opening another one.
    """
    marks: dict[str, ColumnMark] = {}
    if dataset.contract:
        contract = Contract.model_validate(dataset.contract)
        for column in contract.columns:
            if column.sensitivity != NOT_SENSITIVE:
                origin = f"the data contract of dataset '{dataset.name}'"
                marks[column.name] = ColumnMark(column.sensitivity, origin)
    for column in gov.sensitive:
        if column not in marks:
            marks[column] = ColumnMark(_category_of(column), "data.sensitive in mlgate.yaml")
    return marks


def link_model_features(
    gov: Governance, session: Session, model: ModelVersion
) -> list[FeatureVersion]:
    """Link a model version being registered to the latest versions of its catalogued inputs.

    Runs inside the registration's transaction; the links are one audit event, recorded only
    when at least one input is catalogued.
    """
    inputs = [str(column["name"]) for column in model.signature]
    latest = _latest_versions(session, model.project_id, inputs)
    linked = [latest[name] for name in inputs if name in latest]
    if not linked:
        return []

    for feature in linked:
        session.add(ModelFeature(model_version_id=model.id, feature_version_id=feature.id))
    session.flush()
    gov.audit(
        session,
        "model.features_linked",
        f"model:v{model.version}",
        {
            "features": {f.name: f.version for f in linked},
            "uncatalogued": [name for name in inputs if name not in latest],
        },
    )
    logger.info(
        "linked model version %d to %d catalogued feature(s); %d input(s) uncatalogued",
        model.version,
        len(linked),
        len(inputs) - len(linked),
    )
    return linked


def list_features(gov: Governance) -> list[FeatureEntry]:
    """Return every feature version of the project, by name and version, with its models."""
    with gov.transaction() as session:
        project = gov.project(session)
        features = _features(session, project.id)
        models = _models(session, project.id)
        links = _links(session, [m.id for m in models])

    version_of = {m.id: m.version for m in models}
    return [
        FeatureEntry(f, tuple(sorted(version_of[mid] for mid, fid in links if fid == f.id)))
        for f in features
    ]


def uncatalogued(gov: Governance, model_version: int | None = None) -> list[str]:
    """Return the inputs of a model version (default: the newest) that no feature covers.

    The list is empty when the project has no model version yet.
    """
    with gov.transaction() as session:
        project = gov.project(session)
        models = _pick_models(session, project, model_version)
        if not models:
            return []
        model = models[-1]
        linked = {fid for _, fid in _links(session, [model.id])}
        covered = {f.name for f in _features(session, project.id) if f.id in linked}
    return [str(c["name"]) for c in model.signature if str(c["name"]) not in covered]


def lineage(gov: Governance, model_version: int | None = None) -> list[LineageEdge]:
    """Return the edges source column -> feature version -> model version of the project.

    With ``model_version``, only the paths into that version; without, every feature version
    (those no model uses end in ``None``) and every model version's uncatalogued inputs.
    """
    with gov.transaction() as session:
        project = gov.project(session)
        models = _pick_models(session, project, model_version)
        features = _features(session, project.id)
        links = _links(session, [m.id for m in models])
        wanted = {f.dataset_version_id for f in features} | {m.dataset_version_id for m in models}
        stmt = select(DatasetVersion).where(DatasetVersion.id.in_(wanted - {None}))
        datasets = {d.id: (d, column_marks(gov, d)) for d in session.execute(stmt).scalars()}

    version_of = {m.id: m.version for m in models}
    uses = [(fid, version_of[mid]) for mid, fid in links]
    edges = _feature_edges(features, uses, datasets, only_used=model_version is not None)
    by_id = {f.id: f for f in features}
    for model in models:
        covered = {by_id[fid].name for mid, fid in links if mid == model.id and fid in by_id}
        edges += _raw_edges(model, covered, datasets)
    logger.debug("lineage of %s: %d edge(s)", project.name, len(edges))
    return edges


# -- helpers ----------------------------------------------------------------------------------


def _single_line(field: str, value: str, limit: int) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationError(f"the {field} is empty; give a non-empty {field}")
    if len(text) > limit:
        raise ValidationError(
            f"the {field} is {len(text)} characters long; expected at most {limit}"
        )
    if "\n" in text or "\r" in text:
        raise ValidationError(f"the {field} {text[:40]!r}... spans lines; expected one line")
    return text


def _sources(sources: Iterable[str]) -> list[str]:
    columns = [str(s).strip() for s in sources or []]
    if not columns or not all(columns):
        raise ValidationError(
            "a feature needs at least one source column, none of them empty (--source COLUMN)"
        )
    return list(dict.fromkeys(columns))


def _category_of(column: str) -> str:
    match = detect_by_name(column)
    return match.category if match is not None and match.category in CATEGORIES else OTHER


def _latest_dataset(session: Session, project_id: int, name: str, project: str) -> DatasetVersion:
    stmt = (
        select(DatasetVersion)
        .where(DatasetVersion.project_id == project_id)
        .order_by(DatasetVersion.id.desc())
    )
    versions = list(session.execute(stmt).scalars())
    found = next((d for d in versions if d.name == name), None)
    if found is None:
        known = ", ".join(sorted({d.name for d in versions})) or "none yet"
        raise NotFoundError(
            f"no dataset named '{name}' is registered in project {project}; registered "
            f"datasets: {known}",
            hint=f"name one of them with --dataset, or run: mlgate data add FILE --name {name}",
        )
    return found


def _check_sources(columns: list[str], dataset: DatasetVersion, target: str) -> None:
    if target in columns:
        raise ValidationError(
            f"source column '{target}' is the target; a feature computed from the label would "
            "leak the answer into the model, so it cannot be catalogued as a feature"
        )
    present = [str(c["name"]) for c in dataset.schema]
    missing = [c for c in columns if c not in present]
    if missing:
        raise ValidationError(
            f"source column(s) {', '.join(missing)} are not in the latest version of dataset "
            f"'{dataset.name}' (sha256 {dataset.sha256[:12]}); its columns are "
            f"{', '.join(present)}"
        )


def _declared(
    declared: list[str] | None, previous: FeatureVersion | None, inherited: dict[str, ColumnMark]
) -> list[str] | None:
    """The declared sensitivity, or the previous version's when none is given this time."""
    if declared is not None or previous is None:
        return declared
    kept = previous.declared_sensitivity
    # An earlier "none" was true of sources that were not sensitive then; it is not carried
    # over onto sources a newer contract marks sensitive.
    return None if kept == [] and inherited else kept


def _refuse_downgrade(
    name: str, declared: list[str] | None, inherited: dict[str, ColumnMark], dataset: str
) -> None:
    if declared != [] or not inherited:
        return
    reasons = "; ".join(
        f"{column}: {mark.category}, per {mark.origin}" for column, mark in inherited.items()
    )
    raise ValidationError(
        f"feature '{name}' cannot be declared sensitivity '{NOT_SENSITIVE}': it is computed from "
        f"sensitive column(s) of dataset '{dataset}' ({reasons}), and a feature is at least as "
        "sensitive as the columns it is made of",
        hint="leave out --sensitivity to inherit the sources' sensitivity, or declare more",
    )


def _keep(value: Any, previous: FeatureVersion | None, field: str, default: Any) -> Any:
    if value is not None:
        return value
    return getattr(previous, field) if previous is not None else default


def _store(
    gov: Governance,
    session: Session,
    project_id: int,
    dataset: DatasetVersion,
    record: dict[str, Any],
    digest: str,
    previous: FeatureVersion | None,
) -> FeatureVersion:
    feature = FeatureVersion(
        project_id=project_id,
        name=record["name"],
        version=(previous.version if previous else 0) + 1,
        definition=record["definition"],
        description=record["description"],
        sources=record["sources"],
        dataset_name=dataset.name,
        dataset_version_id=dataset.id,
        owner=record["owner"],
        unit=record["unit"],
        sensitivity=record["sensitivity"],
        declared_sensitivity=record["declared_sensitivity"],
        created_by=gov.actor,
        created_at=datetime.now(UTC),
        sha256=digest,
    )
    session.add(feature)
    session.flush()
    gov.audit(
        session,
        "feature.added",
        f"feature:{feature.name}",
        {
            **record,
            "version": feature.version,
            "sha256": digest,
            "dataset_sha256": dataset.sha256,
            "previous_sha256": previous.sha256 if previous else None,
        },
    )
    return feature


def _latest_versions(
    session: Session, project_id: int, names: Sequence[str]
) -> dict[str, FeatureVersion]:
    if not names:
        return {}
    stmt = (
        select(FeatureVersion)
        .where(FeatureVersion.project_id == project_id, FeatureVersion.name.in_(list(names)))
        .order_by(FeatureVersion.version)
    )
    return {f.name: f for f in session.execute(stmt).scalars()}


def _features(session: Session, project_id: int) -> list[FeatureVersion]:
    stmt = (
        select(FeatureVersion)
        .where(FeatureVersion.project_id == project_id)
        .order_by(FeatureVersion.name, FeatureVersion.version)
    )
    return list(session.execute(stmt).scalars())


def _models(session: Session, project_id: int) -> list[ModelVersion]:
    stmt = (
        select(ModelVersion)
        .where(ModelVersion.project_id == project_id)
        .order_by(ModelVersion.version)
    )
    return list(session.execute(stmt).scalars())


def _pick_models(
    session: Session, project: Project, model_version: int | None
) -> list[ModelVersion]:
    """Return the project's model versions, oldest first, or only version ``model_version``."""
    models = _models(session, project.id)
    if model_version is None:
        return models
    picked = [m for m in models if m.version == model_version]
    if not picked:
        known = ", ".join(f"v{m.version}" for m in models) or "none yet"
        raise NotFoundError(
            f"project {project.name} has no model version {model_version}; registered "
            f"versions: {known}",
            hint="run `mlgate model list`, or name one of its versions with --model",
        )
    return picked


def _links(session: Session, model_ids: list[int]) -> list[tuple[int, int]]:
    """Return ``(model version id, feature version id)`` pairs of the given models."""
    if not model_ids:
        return []
    stmt = select(ModelFeature.model_version_id, ModelFeature.feature_version_id).where(
        ModelFeature.model_version_id.in_(model_ids)
    )
    return [(row[0], row[1]) for row in session.execute(stmt)]


def _feature_edges(
    features: list[FeatureVersion],
    uses: list[tuple[int, int]],
    datasets: dict[int, tuple[DatasetVersion, dict[str, ColumnMark]]],
    only_used: bool,
) -> list[LineageEdge]:
    edges = []
    for feature in features:
        versions = sorted(v for fid, v in uses if fid == feature.id)
        if only_used and not versions:
            continue
        _, marks = datasets.get(feature.dataset_version_id, (None, {}))
        for column in feature.sources:
            mark = marks.get(column)
            for version in versions or [None]:
                edges.append(
                    LineageEdge(
                        dataset=feature.dataset_name,
                        dataset_version_id=feature.dataset_version_id,
                        column=column,
                        column_sensitivity=(mark.category,) if mark else (),
                        feature=feature.name,
                        feature_version=feature.version,
                        sensitivity=tuple(feature.sensitivity),
                        model_version=version,
                    )
                )
    return edges


def _raw_edges(
    model: ModelVersion,
    covered: set[str],
    datasets: dict[int, tuple[DatasetVersion, dict[str, ColumnMark]]],
) -> list[LineageEdge]:
    dataset, marks = datasets.get(model.dataset_version_id or -1, (None, {}))
    edges = []
    for column in (str(c["name"]) for c in model.signature):
        if column in covered:
            continue
        mark = marks.get(column)
        categories = (mark.category,) if mark else ()
        edges.append(
            LineageEdge(
                dataset=dataset.name if dataset is not None else None,
                dataset_version_id=model.dataset_version_id,
                column=column,
                column_sensitivity=categories,
                feature=None,
                feature_version=None,
                sensitivity=categories,
                model_version=model.version,
            )
        )
    return edges
