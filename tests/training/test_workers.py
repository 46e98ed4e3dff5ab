"""Several processes share one study, and a killed process's trial is failed and run again."""

from __future__ import annotations

import pickle
import subprocess
import sys
import time
from pathlib import Path

from optuna.trial import TrialState

from mlgate.training import SearchJob, open_storage, run_search
from tests.training.conftest import read_study, small_job

REPO = Path(__file__).resolve().parents[2]
SLOW = "tests.training.slow.SlowLogisticRegression"
WAIT_SECONDS = 120

# A worker process: waits until all workers are ready (so that they really overlap), then runs
# the search as `mlgate train --search` in another shell would.
WORKER = """
import pickle, sys, time
from pathlib import Path
from mlgate.training import run_search

job = pickle.loads(Path(sys.argv[1]).read_bytes())
ready, expected = Path(sys.argv[2]), int(sys.argv[3])
(ready / sys.argv[4]).touch()
deadline = time.monotonic() + 120
while len(list(ready.iterdir())) < expected and time.monotonic() < deadline:
    time.sleep(0.05)
run_search(job)
"""


def _start(job: SearchJob, tmp_path: Path, name: str, expected: int) -> subprocess.Popen:
    job_file = tmp_path / "job.pickle"
    job_file.write_bytes(pickle.dumps(job))
    ready = tmp_path / "ready"
    ready.mkdir(exist_ok=True)
    return subprocess.Popen(
        [sys.executable, "-c", WORKER, str(job_file), str(ready), str(expected), name],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _states(url: str, job: SearchJob) -> list[TrialState]:
    return [t.state for t in read_study(url, job.study_name).get_trials()]


def test_two_processes_sharing_a_sqlite_study_complete_exactly_the_trials(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    job = small_job(url, trials=8, estimator=SLOW)
    open_storage(url).engine.dispose()  # the tables exist before the workers race to them

    workers = [_start(job, tmp_path, f"w{i}", expected=2) for i in range(2)]
    for worker in workers:
        _, err = worker.communicate(timeout=WAIT_SECONDS)
        assert worker.returncode == 0, err.decode()

    trials = read_study(url, job.study_name).get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == 8
    assert {t.user_attrs["process"] for t in complete} == {w.pid for w in workers}
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    assert all(t.user_attrs.get("surplus") for t in trials if t.state == TrialState.PRUNED)


def test_trial_of_a_killed_process_is_failed_and_run_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    job = small_job(url, trials=5, estimator=SLOW, heartbeat_seconds=1)
    open_storage(url).engine.dispose()
    victim = _start(job, tmp_path, "victim", expected=1)

    deadline = time.monotonic() + WAIT_SECONDS
    states: list[TrialState] = []
    while time.monotonic() < deadline:
        try:
            states = _states(url, job)
        except KeyError:  # the study is not created yet
            states = []
        if states.count(TrialState.COMPLETE) >= 2 and states[-1] == TrialState.RUNNING:
            break
        time.sleep(0.05)
    victim.kill()
    victim.wait(timeout=WAIT_SECONDS)
    before = read_study(url, job.study_name).get_trials()
    killed = before[-1].number
    assert before[-1].state == TrialState.RUNNING

    result = run_search(job)

    after = read_study(url, job.study_name).get_trials()
    assert after[killed].state == TrialState.FAIL
    assert [t.state for t in after].count(TrialState.COMPLETE) == result.trials == 5
    assert [(t.params, t.value) for t in after[:killed]] == [
        (t.params, t.value) for t in before[:killed]
    ]
