"""The study's tables beside the governance store's, seeding, and settings that do not fit."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from mlgate.errors import ValidationError
from mlgate.lifecycle.models import train_model
from mlgate.lifecycle.service import Governance
from mlgate.registry.db import Store, _alembic_config
from mlgate.registry.models import Base
from mlgate.training import run_search
from tests.training.conftest import read_study, set_training, small_job

LINEAR = "sklearn.linear_model.LogisticRegression"


def test_search_tables_live_beside_the_governance_tables(store_url: str) -> None:
    store = Store(store_url)
    with store.engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()

    result = run_search(small_job(store_url, trials=2))

    optuna_tables = set(optuna.storages._rdb.models.BaseModel.metadata.tables)
    assert not set(Base.metadata.tables) & optuna_tables
    reopened = Store(store_url)
    with reopened.engine.connect() as connection:
        assert MigrationContext.configure(connection).get_current_revision() == revision
    head = ScriptDirectory.from_config(_alembic_config(reopened.engine)).get_current_head()
    assert revision == head
    assert read_study(store_url, result.study).best_value == result.best_value
    store.close()
    reopened.close()


def test_same_seed_draws_the_same_trials_and_another_seed_other_ones(tmp_path: Path) -> None:
    def drawn(name: str, seed: int) -> list[float]:
        url = f"sqlite:///{tmp_path / name}"
        result = run_search(small_job(url, trials=2, seed=seed))
        return [t.params["C"] for t in read_study(url, result.study).get_trials()]

    first = drawn("a.db", seed=1)

    assert drawn("b.db", seed=1) == first
    assert drawn("c.db", seed=2) != first


@pytest.mark.parametrize(
    ("search", "trials", "workers", "message"),
    [
        (True, None, 1, "nothing to search: mlgate.yaml has no training.search.space"),
        (False, 5, 1, "--trials 5 sets how many search trials to run, and --no-search"),
        (None, None, 2, "--workers 2 runs search trials in parallel, and this training has no"),
        (None, None, 0, "--workers must be at least 1; got 0"),
    ],
)
def test_search_options_that_do_not_fit_the_config_are_refused(
    german_ws: Path, search: bool | None, trials: int | None, workers: int, message: str
) -> None:
    gov = Governance.open(german_ws, actor="alice")

    with pytest.raises(ValidationError, match=message):
        train_model(gov, search=search, trials=trials, workers=workers)


def test_space_naming_a_parameter_the_estimator_lacks_lists_the_ones_it_has(
    german_ws: Path,
) -> None:
    space = {"CC": {"type": "float", "low": 0.1, "high": 1}}
    set_training(german_ws, estimator=LINEAR, search={"space": space})

    with pytest.raises(ValidationError) as raised:
        train_model(Governance.open(german_ws, actor="alice"))

    assert raised.value.message.startswith(
        "mlgate.yaml training.search.space names CC, which LogisticRegression does not take; "
        "its parameters are C, class_weight, dual,"
    )


def test_space_and_fixed_params_may_not_name_the_same_parameter(german_ws: Path) -> None:
    space = {"C": {"type": "float", "low": 0.1, "high": 1}}
    set_training(german_ws, estimator=LINEAR, params={"C": 1.0}, search={"space": space})

    with pytest.raises(ValidationError, match="fixes C in params and searches it in training"):
        train_model(Governance.open(german_ws, actor="alice"))
