from datetime import UTC, datetime, timedelta

from mlgate.monitoring.store import Observation, load_observations, record_observations
from mlgate.registry.db import Store
from mlgate.registry.models import MonitorRun, Project

START = datetime(2026, 12, 1, tzinfo=UTC)


def _project_and_run(session) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    project = Project(
        name="p",
        owner="a",
        tier="low",
        stage="monitoring",
        policy_name="d",
        policy_version="1",
        policy_sha256="0" * 64,
        config={},
        created_at=START,
    )
    session.add(project)
    session.flush()
    run = MonitorRun(
        project_id=project.id,
        window="1d",
        window_start=START,
        window_end=START + timedelta(days=1),
        status="ok",
        trigger="manual",
        actor="a",
        started_at=START,
    )
    session.add(run)
    session.flush()
    return project.id, run.id


def _obs(value: float | None, n: int, day: int = 0, metric: str = "performance.roc_auc"):  # type: ignore[no-untyped-def]
    start = START + timedelta(days=day)
    return Observation(metric, "model", value, n, start, start + timedelta(days=1))


def test_a_later_value_of_the_same_window_supersedes_the_earlier_one(store_url: str) -> None:
    store = Store(store_url)
    with store.transaction() as session:
        project_id, run_id = _project_and_run(session)
        record_observations(session, project_id, run_id, [_obs(0.81, 50), _obs(0.7, 10, day=1)])
        record_observations(session, project_id, run_id, [_obs(0.74, 400)])

    with store.transaction() as session:
        series = load_observations(session, project_id, metric="performance.roc_auc")

    assert [(o.value, o.n, o.window_start.day) for o in series] == [(0.74, 400, 1), (0.7, 10, 2)]
    assert series[0].window_start.tzinfo is not None


def test_nan_and_infinite_values_are_stored_as_undefined(store_url: str) -> None:
    store = Store(store_url)
    with store.transaction() as session:
        project_id, run_id = _project_and_run(session)
        stored = record_observations(
            session,
            project_id,
            run_id,
            [_obs(float("nan"), 1), _obs(float("inf"), 1, metric="score.mean")],
        )

    with store.transaction() as session:
        values = [o.value for o in load_observations(session, project_id)]

    assert (stored, values) == (2, [None, None])
