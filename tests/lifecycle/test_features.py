"""The feature catalogue on the German credit data: sensitivity, versions, links and lineage."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from mlgate.config import DataConfig, TrainingConfig, WorkspaceConfig
from mlgate.contracts import dump_contract, infer_contract
from mlgate.demo.data import load_german_credit
from mlgate.errors import NotFoundError, PolicyViolation, ValidationError
from mlgate.lifecycle.data import register_dataset
from mlgate.lifecycle.features import (
    LineageEdge,
    add_feature,
    lineage,
    list_features,
    uncatalogued,
)
from mlgate.lifecycle.models import train_model
from mlgate.lifecycle.project import init_project
from mlgate.lifecycle.service import Governance
from mlgate.registry.models import AuditEvent, FeatureVersion
from tests.fixtures import synthetic_frame

TARGET = "good_credit"
EXCLUDED = ["sex", "status_sex"]


@pytest.fixture(scope="module")
def german_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A low-risk credit project on German credit, 'train' registered with its contract.

    The data gains a derived column, ``monthly_burden``, so that a catalogued feature is also a
    model input. Built once; each test works on its own copy.
    """
    root = tmp_path_factory.mktemp("german") / "ws"
    root.mkdir()
    frame = load_german_credit()
    frame["monthly_burden"] = (frame["credit_amount"] / frame["duration"]).round(2)
    frame.to_csv(root / "train.csv", index=False)
    (root / "contract.yaml").write_text(dump_contract(infer_contract(frame, "train", TARGET)))
    config = WorkspaceConfig(
        project="credit",
        tier="low",
        owner="alice",
        data=DataConfig(target=TARGET, sensitive=["sex"], exclude=EXCLUDED),
        training=TrainingConfig(
            estimator="sklearn.linear_model.LogisticRegression", params={"max_iter": 300}
        ),
    )
    gov = init_project(root, config)
    register_dataset(gov, root / "train.csv", "train", root / "contract.yaml")
    gov.add_member("bob", "data_scientist")
    return root


@pytest.fixture
def german(german_base: Path, tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    shutil.copytree(german_base, root)
    return root


def _gov(root: Path, user: str = "alice") -> Governance:
    return Governance.open(root, actor=user)


def _actions(gov: Governance) -> list[tuple[str, str, dict]]:
    with gov.transaction() as session:
        events = session.execute(select(AuditEvent).order_by(AuditEvent.seq)).scalars()
        return [(e.action, e.subject, e.payload) for e in events]


def _burden(gov: Governance, **changes: object) -> FeatureVersion:
    arguments = {
        "name": "monthly_burden",
        "definition": "credit_amount / duration",
        "sources": ["credit_amount", "duration"],
        "unit": "DM per month",
        **changes,
    }
    return add_feature(gov, **arguments)  # type: ignore[arg-type]


# -- sensitivity ------------------------------------------------------------------------------


def test_feature_inherits_the_sensitivity_its_contract_gives_a_source(german: Path) -> None:
    gov = _gov(german)
    contract = yaml.safe_load((german / "contract.yaml").read_text())
    marked = {c["name"]: c["sensitivity"] for c in contract["columns"]}
    assert (marked["age"], marked["foreign_worker"]) == ("age", "nationality")

    band = add_feature(gov, "age_band", "features.credit:age_band", ["age"])
    mixed = add_feature(
        gov, "older_foreign", "(age > 50) & (foreign_worker == 'yes')", ["age", "foreign_worker"]
    )
    declared = add_feature(
        gov, "age_health", "features.credit:frailty", ["age"], sensitivity="health"
    )

    assert (band.sensitivity, band.declared_sensitivity) == (["age"], None)
    assert mixed.sensitivity == ["age", "nationality"]
    assert (declared.sensitivity, declared.declared_sensitivity) == (["age", "health"], ["health"])


def test_feature_inherits_from_data_sensitive_without_a_contract(german: Path) -> None:
    gov = _gov(german)
    register_dataset(gov, german / "train.csv", "applicants")

    from_sex = add_feature(gov, "is_female", "sex == 'female'", ["sex"], dataset="applicants")
    plain = add_feature(gov, "old", "age > 60", ["age"], dataset="applicants")

    # Without a contract, age is ordinary here; sex is declared in mlgate.yaml and its name
    # points at the category.
    assert from_sex.sensitivity == ["sex"]
    assert plain.sensitivity == []


def test_data_sensitive_column_without_a_known_name_counts_as_other(workspace: Path) -> None:
    gov = _gov(workspace)
    feature = add_feature(gov, "group_is_a", "group == 'a'", ["group"])
    assert feature.sensitivity == ["other"]


def test_declaring_a_sensitive_feature_not_sensitive_is_refused(german: Path) -> None:
    gov = _gov(german)
    with pytest.raises(
        ValidationError,
        match=(
            r"feature 'age_band' cannot be declared sensitivity 'none': it is computed from "
            r"sensitive column\(s\) of dataset 'train' \(age: age, per the data contract of "
            r"dataset 'train'\)"
        ),
    ):
        add_feature(gov, "age_band", "features.credit:age_band", ["age"], sensitivity="none")

    assert list_features(gov) == []
    assert "feature.added" not in [action for action, _, _ in _actions(gov)]


def test_plain_feature_may_be_declared_not_sensitive(german: Path) -> None:
    feature = _burden(_gov(german), sensitivity="none")
    assert (feature.sensitivity, feature.declared_sensitivity) == ([], [])


# -- versions ---------------------------------------------------------------------------------


def test_readding_unchanged_is_idempotent_and_a_change_is_the_next_version(
    german: Path,
) -> None:
    alice = _gov(german)
    first = _burden(alice)
    n_events = len(_actions(alice))

    again = _burden(_gov(german, "bob"))  # left-out owner and unit keep alice's values
    changed = _burden(alice, definition="credit_amount / max(duration, 1)")

    assert (first.version, first.owner, first.created_by) == (1, "alice", "alice")
    assert (again.id, again.sha256) == (first.id, first.sha256)
    assert changed.version == 2
    assert (changed.unit, changed.owner) == ("DM per month", "alice")
    assert changed.sha256 != first.sha256
    added = [p for action, _, p in _actions(alice) if action == "feature.added"]
    assert len(_actions(alice)) == n_events + 1
    assert [(p["version"], p["previous_sha256"]) for p in added] == [
        (1, None),
        (2, first.sha256),
    ]


def test_owner_and_unit_changes_are_new_versions_too(german: Path) -> None:
    gov = _gov(german)
    _burden(gov)
    moved = _burden(gov, owner="carol")
    unitless = _burden(gov, unit="")

    assert (moved.version, moved.owner) == (2, "carol")
    assert (unitless.version, unitless.unit, unitless.owner) == (3, None, "carol")


def test_new_contract_changes_inherited_sensitivity_but_same_data_does_not(german: Path) -> None:
    gov = _gov(german)
    phone = add_feature(gov, "has_phone", "telephone == 'yes'", ["telephone"])
    burden = _burden(gov)
    contract = yaml.safe_load((german / "contract.yaml").read_text())
    for column in contract["columns"]:
        if column["name"] == "telephone":
            column["sensitivity"] = "identifier"
    (german / "contract2.yaml").write_text(yaml.safe_dump(contract, sort_keys=False))
    register_dataset(gov, german / "train.csv", "train", german / "contract2.yaml")

    phone_again = add_feature(gov, "has_phone", "telephone == 'yes'", ["telephone"])
    burden_again = _burden(gov)

    assert phone.sensitivity == []
    assert (phone_again.version, phone_again.sensitivity) == (2, ["identifier"])
    assert phone_again.dataset_version_id != phone.dataset_version_id
    assert burden_again.id == burden.id


# -- models and lineage -----------------------------------------------------------------------


def test_training_links_the_latest_versions_of_catalogued_inputs(german: Path) -> None:
    gov = _gov(german)
    _burden(gov)
    latest = _burden(gov, definition="credit_amount / duration.clip(lower=1)")
    band = add_feature(gov, "age_group", "features.credit:under_25", ["age"])
    add_feature(gov, "sex", "identity:sex", ["sex"])  # excluded from training

    model = train_model(gov)

    used = {(e.feature.name, e.feature.version): e.model_versions for e in list_features(gov)}
    assert used == {
        ("age_group", 1): (1,),
        ("monthly_burden", 1): (),
        ("monthly_burden", 2): (1,),
        ("sex", 1): (),
    }
    columns = list(load_german_credit().columns) + ["monthly_burden"]
    inputs = [c for c in columns if c not in [TARGET, *EXCLUDED]]
    assert [c["name"] for c in model.signature] == inputs
    assert uncatalogued(gov) == [c for c in inputs if c not in ("age_group", "monthly_burden")]
    linked = [p for action, s, p in _actions(gov) if action == "model.features_linked"]
    assert linked == [
        {
            "features": {"monthly_burden": latest.version, "age_group": band.version},
            "uncatalogued": uncatalogued(gov),
        }
    ]
    assert gov.verify_audit().ok


def test_feature_catalogued_after_a_model_is_not_linked_to_it(german: Path) -> None:
    gov = _gov(german)
    train_model(gov)
    _burden(gov)

    assert [e.model_versions for e in list_features(gov)] == [()]
    assert "monthly_burden" in uncatalogued(gov, 1)
    assert "model.features_linked" not in [action for action, _, _ in _actions(gov)]


def test_lineage_edges_lead_from_source_column_through_feature_to_model(german: Path) -> None:
    gov = _gov(german)
    old = _burden(gov)
    burden = _burden(gov, definition="credit_amount / duration.clip(lower=1)")
    add_feature(gov, "age_group", "features.credit:under_25", ["age"])
    train_model(gov)

    into_model = lineage(gov, model_version=1)
    everything = lineage(gov)

    catalogued = {
        (e.column, e.column_sensitivity, e.feature, e.feature_version, e.sensitivity)
        for e in into_model
        if e.catalogued
    }
    assert catalogued == {
        ("age", ("age",), "age_group", 1, ("age",)),
        ("credit_amount", (), "monthly_burden", burden.version, ()),
        ("duration", (), "monthly_burden", burden.version, ()),
    }
    assert {e.model_version for e in into_model} == {1}
    raw = {e.column: e for e in into_model if not e.catalogued}
    assert raw["age"] == LineageEdge("train", 1, "age", ("age",), None, None, ("age",), 1)
    assert raw["foreign_worker"].sensitivity == ("nationality",)
    assert set(raw) == set(uncatalogued(gov))
    unused = [e for e in everything if e.model_version is None]
    assert {(e.feature, e.feature_version, e.column) for e in unused} == {
        ("monthly_burden", old.version, "credit_amount"),
        ("monthly_burden", old.version, "duration"),
    }


def test_lineage_of_an_unknown_model_version_names_the_known_ones(german: Path) -> None:
    gov = _gov(german)
    train_model(gov)
    with pytest.raises(NotFoundError, match="has no model version 7; registered versions: v1"):
        lineage(gov, model_version=7)


def test_lineage_without_features_or_models_is_empty(german: Path) -> None:
    gov = _gov(german)
    assert lineage(gov) == []
    assert uncatalogued(gov) == []


# -- refusals and bad input -------------------------------------------------------------------


def test_a_user_without_a_role_may_not_catalogue_and_the_refusal_is_audited(
    german: Path,
) -> None:
    mallory = _gov(german, "mallory")
    with pytest.raises(PolicyViolation, match="mallory may not catalogue features"):
        _burden(mallory)

    assert list_features(mallory) == []
    action, subject, payload = _actions(mallory)[-1]
    assert (action, subject) == ("feature.add.refused", "feature:monthly_burden")
    assert mallory.verify_audit().ok


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        (
            {"dataset": "holdout"},
            NotFoundError,
            "no dataset named 'holdout' is registered in project credit; registered datasets: "
            "train",
        ),
        (
            {"sources": ["credit_amount", "salary"]},
            ValidationError,
            r"source column\(s\) salary are not in the latest version of dataset 'train' "
            r"\(sha256 [0-9a-f]{12}\); its columns are status, duration, credit_history",
        ),
        ({"name": "  "}, ValidationError, "the feature name is empty"),
        ({"definition": ""}, ValidationError, "the definition is empty"),
        ({"sources": []}, ValidationError, "a feature needs at least one source column"),
        (
            {"sensitivity": "gender"},
            ValidationError,
            "unknown sensitivity gender; expected none or one or more of sex, age, race",
        ),
        (
            {"sensitivity": ["none", "age"]},
            ValidationError,
            "sensitivity none, age mixes 'none' with categories",
        ),
        ({"name": "a\nb"}, ValidationError, "spans lines; expected one line"),
        (
            {"sources": ["duration", TARGET]},
            ValidationError,
            f"source column '{TARGET}' is the target; a feature computed from the label",
        ),
        (
            {"unit": "x" * 65},
            ValidationError,
            "the unit is 65 characters long; expected at most 64",
        ),
    ],
)
def test_bad_input_names_the_value_and_what_was_expected(
    german: Path, changes: dict, error: type[Exception], message: str
) -> None:
    gov = _gov(german)
    with pytest.raises(error, match=message):
        _burden(gov, **changes)
    assert list_features(gov) == []


def test_projects_sharing_a_store_keep_their_own_catalogue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLGATE_DATABASE_URL", f"sqlite:///{tmp_path / 'team.db'}")
    govs = []
    for name in ("first", "second"):
        root = tmp_path / name
        root.mkdir()
        synthetic_frame().to_csv(root / "train.csv", index=False)
        config = WorkspaceConfig(
            project=name, tier="low", owner="alice", data=DataConfig(target="y")
        )
        govs.append(init_project(root, config, data_file=root / "train.csv"))

    mine = add_feature(govs[0], "ratio", "x1 / x2", ["x1", "x2"])
    theirs = add_feature(govs[1], "ratio", "x2 / x1", ["x1", "x2"])

    assert (mine.version, theirs.version) == (1, 1)
    assert [e.feature.definition for e in list_features(govs[1])] == ["x2 / x1"]
