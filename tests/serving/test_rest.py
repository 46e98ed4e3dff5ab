"""The REST server on a workspace deployed for rest: formats, errors, logging, the hot switch.

Most tests use FastAPI's TestClient on the application object. The hot-switch test runs the
real ``mlgate serve`` on a free port of 127.0.0.1 and deploys a new version while a thread keeps
sending requests.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import uvicorn
from fastapi.testclient import TestClient
from mlflow.utils.proto_json_utils import dump_input_data

from mlgate.errors import ValidationError
from mlgate.lifecycle.deploy import deployed_version, load_scorer, predict_file
from mlgate.lifecycle.service import Governance
from mlgate.registry.models import Deployment
from mlgate.serving.predictions import prediction_log_folder, read_predictions
from mlgate.serving.rest import RequestIds, Served, ServeSettings, check_answers, create_app
from tests.fixtures import Cli
from tests.release.conftest import free_port
from tests.serving.deployed import copy_of, deployed_workspace, mlgate

BIN = Path(sys.executable).parent
JSON = {"Content-Type": "application/json"}
CSV = "text/csv"
GOOD = {"dataframe_records": [{"x1": 0.3, "x2": -1.2, "region": "s"}]}
MODEL = "deployed"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A low-risk workspace whose model version 1 is deployed for REST."""
    return deployed_workspace(tmp_path_factory.mktemp("rest") / "ws", mode="rest")


@pytest.fixture
def client(built: Path) -> Iterator[TestClient]:
    """A test client of the server on the built workspace (its lifespan started)."""
    app = create_app(Governance.open(built, "alice"), ServeSettings(poll_seconds=60))
    with TestClient(app) as test_client:
        yield test_client


def _rows(n: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x1": rng.normal(size=n).round(6),
            "x2": rng.normal(size=n).round(6),
            "region": rng.choice(["n", "s"], n),
        }
    )


def _reference(built: Path, frame: pd.DataFrame, tmp_path: Path) -> pd.DataFrame:
    """Score ``frame`` the batch way, through predict_file on a CSV."""
    frame.to_csv(tmp_path / "in.csv", index=False)
    predict_file(Governance.open(built, "alice"), tmp_path / "in.csv", tmp_path / "out.csv", 1)
    return pd.read_csv(tmp_path / "out.csv")


def test_mlflow_client_payload_gets_the_batch_predictions(
    client: TestClient, built: Path, tmp_path: Path
) -> None:
    frame = _rows(40)
    expected = _reference(built, frame, tmp_path)

    response = client.post("/invocations", content=dump_input_data(frame), headers=JSON)
    scored = client.post("/invocations?scores=true", content=dump_input_data(frame), headers=JSON)

    assert response.status_code == 200, response.text
    assert response.json() == {"predictions": expected["prediction"].tolist()}
    assert response.headers["X-Model-Version"] == "1"
    records = scored.json()["predictions"]
    assert [r["prediction"] for r in records] == expected["prediction"].tolist()
    np.testing.assert_allclose([r["score"] for r in records], expected["score"], rtol=1e-9)


def test_predictions_proba_answers_predict_proba_rows(built: Path) -> None:
    frame = _rows(25, seed=5)
    gov = Governance.open(built, "alice")
    scorer = load_scorer(gov, deployed_version(gov, "rest"))
    expected = scorer.model.predict_proba(frame[scorer.features])
    app = create_app(gov, ServeSettings(poll_seconds=60, predictions="proba"))

    with TestClient(app) as proba_client:
        response = proba_client.post("/invocations", content=dump_input_data(frame), headers=JSON)
        scored = proba_client.post(
            "/invocations?scores=true", content=dump_input_data(frame), headers=JSON
        )

    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert np.asarray(predictions).shape == (25, 2)
    np.testing.assert_allclose(predictions, expected, rtol=1e-12, atol=0)
    labels = scorer.model.predict(frame[scorer.features]).tolist()
    assert [r["prediction"] for r in scored.json()["predictions"]] == labels


def test_predictions_proba_is_refused_for_a_model_without_probabilities(built: Path) -> None:
    gov = Governance.open(built, "alice")
    scorer = load_scorer(gov, deployed_version(gov, "rest"))
    labels_only = dataclasses.replace(scorer, model=object())

    check_answers(scorer, "proba")
    with pytest.raises(ValidationError, match=r"model version 1 \(object\) has no predict_proba"):
        check_answers(labels_only, "proba")
    with pytest.raises(ValidationError, match="predictions must be one of label, proba; got 'x'"):
        check_answers(scorer, "x")


def _formats(frame: pd.DataFrame) -> dict[str, tuple[str, Any, str]]:
    records = frame.to_dict(orient="records")
    rows = frame.to_numpy().tolist()
    columns = frame.to_dict(orient="list")
    v2_columns = [
        {
            "name": c,
            "shape": [len(frame)],
            "datatype": "FP64" if c != "region" else "BYTES",
            "data": columns[c],
        }
        for c in frame.columns
    ]
    v2_matrix = [{"name": "input", "shape": [len(frame), 3], "datatype": "BYTES", "data": rows}]
    return {
        "dataframe_split": ("/invocations", {"dataframe_split": frame.to_dict("split")}, "json"),
        "dataframe_records": ("/invocations", {"dataframe_records": records}, "json"),
        "instances records": ("/invocations", {"instances": records}, "json"),
        "instances rows": ("/invocations", {"instances": rows}, "json"),
        "inputs columns": ("/invocations", {"inputs": columns}, "json"),
        "csv": ("/invocations", frame.to_csv(index=False), "csv"),
        "v2 one input per column": (f"/v2/models/{MODEL}/infer", {"inputs": v2_columns}, "json"),
        "v2 one matrix": (f"/v2/models/{MODEL}/infer", {"inputs": v2_matrix}, "json"),
    }


@pytest.mark.parametrize("name", list(_formats(_rows(1))))
def test_every_format_scores_like_the_scorer(client: TestClient, built: Path, name: str) -> None:
    frame = _rows(7, seed=11)
    gov = Governance.open(built, "alice")
    expected = load_scorer(gov, deployed_version(gov, "rest")).score(frame, "reference")
    path, body, kind = _formats(frame)[name]

    content = body if kind == "csv" else json.dumps(body)
    headers = {"Content-Type": "text/csv" if kind == "csv" else "application/json"}
    response = client.post(path, content=content, headers=headers)

    assert response.status_code == 200, response.text
    if path == "/invocations":
        assert response.json()["predictions"] == expected.prediction.tolist()
    else:
        outputs = {o["name"]: o["data"] for o in response.json()["outputs"]}
        assert outputs["prediction"] == expected.prediction.tolist()
        np.testing.assert_allclose(outputs["score"], expected.score, rtol=1e-12)
        assert response.json()["model_version"] == "1"


def test_a_single_row_object_of_values_is_one_row(client: TestClient) -> None:
    single = {"inputs": {"x1": 0.3, "x2": -1.2, "region": "s"}}

    one = client.post("/invocations", content=json.dumps(single), headers=JSON)
    records = client.post("/invocations", content=json.dumps(GOOD), headers=JSON)

    assert one.status_code == 200
    assert one.json() == records.json()
    assert len(one.json()["predictions"]) == 1


BAD_REQUESTS = [
    (
        "missing column",
        json.dumps({"dataframe_records": [{"x1": 1.0, "region": "n"}]}),
        "application/json",
        400,
        "missing column(s) x2",
    ),
    (
        "text in a numeric column",
        json.dumps(
            {"dataframe_split": {"columns": ["x1", "x2", "region"], "data": [[1, "a", "n"]]}}
        ),
        "application/json",
        400,
        'column x2 must be numeric; row 0 of the request holds a string ("a")',
    ),
    ("empty body", "", "application/json", 400, "the request body is empty"),
    ("invalid JSON", '{"dataframe_records": [', "application/json", 400, "not valid JSON"),
    (
        "unknown format key",
        json.dumps({"rows": [[1, 2, "n"]]}),
        "application/json",
        400,
        "one of the keys dataframe_split, dataframe_records, instances, inputs; got 'rows'",
    ),
    (
        "two format keys",
        json.dumps({"inputs": {"x1": [1]}, "instances": [[1, 2, "n"]]}),
        "application/json",
        400,
        "got 'inputs', 'instances'",
    ),
    (
        "short row",
        json.dumps({"instances": [[1.0, 2.0]]}),
        "application/json",
        400,
        "row 0 of instances (rows in the order x1, x2, region) must be a list of 3 value(s)",
    ),
    (
        "columns of unequal length",
        json.dumps({"inputs": {"x1": [1.0, 2.0], "x2": [1.0], "region": ["n", "s"]}}),
        "application/json",
        400,
        "must be a list of the same length; got lengths x1: 2, x2: 1, region: 2",
    ),
    ("a JSON list", "[1, 2]", "application/json", 400, "got a list"),
    ("wrong content type", "x1=1", "application/x-www-form-urlencoded", 415, "Content-Type"),
    ("csv without rows", "x1,x2,region\n", "text/csv", 400, "no data rows"),
    (
        "infinite value",
        '{"inputs": {"x1": [Infinity], "x2": [1], "region": ["n"]}}',
        "application/json",
        400,
        "column x1 has 1 infinite value(s)",
    ),
    (
        "nested too deeply",
        "[" * 100_000 + "]" * 100_000,
        "application/json",
        400,
        "the request body is nested too deeply",
    ),
]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "message"),
    [case[1:] for case in BAD_REQUESTS],
    ids=[case[0] for case in BAD_REQUESTS],
)
def test_a_malformed_request_is_refused_and_the_server_keeps_serving(
    client: TestClient, body: str, content_type: str, status: int, message: str
) -> None:
    response = client.post("/invocations", content=body, headers={"Content-Type": content_type})
    after = client.post("/invocations", content=json.dumps(GOOD), headers=JSON)

    assert response.status_code == status
    assert response.json()["error_code"] == (
        "UNSUPPORTED_MEDIA_TYPE" if status == 415 else "BAD_REQUEST"
    )
    assert message in response.json()["message"]
    assert after.status_code == 200
    assert len(after.json()["predictions"]) == 1


def test_an_integer_too_large_for_a_float_is_scored_like_the_frame_path(
    client: TestClient,
) -> None:
    huge = {"dataframe_records": [{"x1": 10**30, "x2": 1.0, "region": "n"}]}
    as_float = {"dataframe_records": [{"x1": 1e30, "x2": 1.0, "region": "n"}]}

    response = client.post("/invocations", content=json.dumps(huge), headers=JSON)
    expected = client.post("/invocations", content=json.dumps(as_float), headers=JSON)

    assert response.status_code == 200
    assert response.json() == expected.json()


def test_a_request_without_content_type_is_415(client: TestClient) -> None:
    response = client.post("/invocations", content=json.dumps(GOOD))

    assert response.status_code == 415
    assert response.json()["error_code"] == "UNSUPPORTED_MEDIA_TYPE"
    assert "send a Content-Type header" in response.json()["message"]


def test_a_body_over_the_limit_is_413_with_or_without_a_length(client: TestClient) -> None:
    big = b"x" * (50 * 1024 * 1024)

    declared = client.post("/invocations", content=big, headers=JSON)
    streamed = client.post("/invocations", content=iter([big[:8_000_000]] * 3), headers=JSON)
    after = client.post("/invocations", content=json.dumps(GOOD), headers=JSON)

    assert declared.status_code == 413
    assert streamed.status_code == 413
    assert "larger than the limit of 10 MB" in declared.json()["message"]
    assert "--max-body-mb" in streamed.json()["message"]
    assert after.status_code == 200


def test_v2_metadata_health_and_an_unknown_model(client: TestClient) -> None:
    metadata = client.get(f"/v2/models/{MODEL}").json()
    unknown = client.post("/v2/models/other/infer", json={"inputs": []})
    bad = client.post(f"/v2/models/{MODEL}/infer", json={"inputs": "x"})

    assert [i["name"] for i in metadata["inputs"]] == ["x1", "x2", "region"]
    assert [i["datatype"] for i in metadata["inputs"]] == ["FP64", "FP64", "BYTES"]
    assert metadata["versions"] == ["1"]
    assert unknown.status_code == 404
    assert "this server serves 'deployed'" in unknown.json()["error"]
    assert bad.status_code == 400
    assert "non-empty list 'inputs'" in bad.json()["error"]
    for path in ("/ping", "/health", "/v2/health/live", "/v2/health/ready"):
        assert client.get(path).status_code == 200
    assert client.get("/ready").json() == {"ready": True, "model": MODEL, "version": 1}


def test_metrics_count_requests_rows_and_the_model(client: TestClient) -> None:
    client.post("/invocations", content=dump_input_data(_rows(5)), headers=JSON)
    client.post("/invocations", content=json.dumps(GOOD), headers=JSON)
    client.post("/invocations", content="{", headers=JSON)

    text = client.get("/metrics").text

    assert 'mlgate_requests_total{route="invocations",status="200"} 2' in text
    assert 'mlgate_requests_total{route="invocations",status="400"} 1' in text
    assert "mlgate_rows_scored_total 6\n" in text
    assert 'mlgate_request_duration_seconds_bucket{le="+Inf"} 3' in text
    assert "mlgate_request_duration_seconds_count 3\n" in text
    assert 'mlgate_model_info{version="1",sha256="' in text
    assert "mlgate_prediction_log_dropped_total 0\n" in text


def test_every_prediction_is_logged_with_its_request_id(built: Path, tmp_path: Path) -> None:
    workspace = copy_of(built, tmp_path / "ws")
    gov = Governance.open(workspace, "alice")
    shutil.rmtree(prediction_log_folder(gov), ignore_errors=True)  # what earlier tests logged
    frame = _rows(3).assign(group=["a", "b", "a"])

    with TestClient(create_app(gov, ServeSettings(poll_seconds=60))) as client:
        one = client.post(
            "/invocations", content=json.dumps(GOOD), headers={**JSON, "X-Request-ID": "req-1"}
        )
        many = client.post("/invocations", content=dump_input_data(frame), headers=JSON)

    logged = pd.concat(read_predictions(prediction_log_folder(gov)), ignore_index=True)
    many_id = many.headers["X-Request-ID"]
    assert one.headers["X-Request-ID"] == "req-1"
    assert sorted(logged["request_id"]) == sorted(["req-1", *(f"{many_id}#{i}" for i in range(3))])
    assert "f.group" not in logged.columns
    assert logged.set_index("request_id").loc["req-1", "f.x1"] == 0.3
    assert set(logged["channel"]) == {"rest"}
    assert logged["prediction"].tolist()[-3:] == [str(p) for p in many.json()["predictions"]]


def _end_rest_deployment(workspace: Path) -> None:
    gov = Governance.open(workspace, "alice")
    with gov.transaction() as session:
        for row in session.query(Deployment).filter(Deployment.mode == "rest"):
            row.ended_at = row.created_at


def test_serve_refuses_to_start_without_a_rest_deployment(
    built: Path, tmp_path: Path, cli: Cli
) -> None:
    workspace = copy_of(built, tmp_path / "ws")
    _end_rest_deployment(workspace)

    result = cli("serve", "--port", str(free_port()), cwd=workspace)

    assert result.code == 3
    assert "no model version is deployed for REST serving" in result.text
    assert "mlgate deploy --mode rest" in result.text


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--port", "70000", "--port must be between 1 and 65535; got 70000"),
        ("--workers", "0", "--workers must be at least 1; got 0"),
        ("--poll-seconds", "0", "--poll-seconds must be positive; got 0.0"),
        ("--max-body-mb", "-1", "--max-body-mb must be positive; got -1.0"),
        ("--predictions", "scores", "--predictions must be one of label, proba; got 'scores'"),
    ],
)
def test_serve_refuses_bad_options(
    built: Path, cli: Cli, option: str, value: str, message: str
) -> None:
    result = cli("serve", option, value, cwd=built)

    assert result.code == 2
    assert message in result.text


# -- the real server and the hot switch --------------------------------------------------------


def _post(url: str, body: bytes) -> tuple[int, str, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers=JSON, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return (
                response.status,
                response.headers["X-Model-Version"],
                json.loads(response.read()),
            )
    except urllib.error.HTTPError as error:
        return error.code, "", {"error": error.read().decode()}


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mlgate serve exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/ready", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"mlgate serve did not answer at {url}")


def test_a_new_deployment_is_switched_to_without_a_failed_request(
    built: Path, tmp_path: Path
) -> None:
    workspace = copy_of(built, tmp_path / "ws")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "MLGATE_USER": "alice", "OPENBLAS_NUM_THREADS": "1"}
    command = [str(BIN / "mlgate"), "serve", "--port", str(port), "--poll-seconds", "0.2"]
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(command, cwd=workspace, env=env, stdout=log, stderr=log)
    results: list[tuple[int, str]] = []
    stop = threading.Event()

    def fire() -> None:
        body = json.dumps(GOOD).encode()
        for _ in range(20_000):  # bounded; stopped as soon as the switch was seen
            if stop.is_set():
                return
            status, version, _ = _post(f"{url}/invocations", body)
            results.append((status, version))

    try:
        _wait_ready(url, process)
        thread = threading.Thread(target=fire)
        thread.start()
        mlgate("train", cwd=workspace)
        mlgate("recheck", cwd=workspace)
        mlgate("deploy", "--mode", "rest", cwd=workspace)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(v == "2" for _, v in results[-5:]):
            time.sleep(0.1)
        time.sleep(0.5)
        stop.set()
        thread.join(timeout=60)
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:
            metrics = response.read().decode()
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()

    versions = [v for _, v in results]
    assert [s for s, _ in results if s != 200] == []
    assert versions[0] == "1"
    assert versions[-1] == "2"
    assert versions == sorted(versions)  # once switched, never back
    assert "mlgate_model_switches_total 1\n" in metrics
    assert 'mlgate_model_info{version="2"' in metrics


class _Refusing:
    """A model that fails the way ``error`` says."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def predict(self, features: pd.DataFrame) -> np.ndarray:
        raise self.error

    predict_proba = predict


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        (ValueError("Found unknown categories ['w']"), 400, "could not score the input: Found"),
        (RuntimeError("disk gone"), 500, "failed to score the request: RuntimeError"),
    ],
)
def test_a_failing_model_gives_json_and_the_server_goes_on(
    client: TestClient, error: Exception, status: int, message: str
) -> None:
    state = client.app.state.mlgate  # type: ignore[attr-defined]
    served = state["served"]
    state["served"] = Served(dataclasses.replace(served.scorer, model=_Refusing(error)), 0)

    refused = client.post("/invocations", content=json.dumps(GOOD), headers=JSON)
    state["served"] = served
    after = client.post("/invocations", content=json.dumps(GOOD), headers=JSON)

    assert refused.status_code == status
    assert message in refused.json()["message"]
    assert after.status_code == 200


def _split(row: list[Any]) -> dict[str, Any]:
    return {"dataframe_split": {"columns": ["x1", "x2", "region"], "data": [row]}}


def _mlflow_bodies(cell: Any, column: str) -> dict[str, dict[str, Any]]:
    """The one-row request with ``cell`` in ``column``, in each of the four MLflow formats."""
    record = {**GOOD["dataframe_records"][0], column: cell}
    row = [record[c] for c in ("x1", "x2", "region")]
    return {
        "dataframe_split": _split(row),
        "dataframe_records": {"dataframe_records": [record]},
        "instances": {"instances": [row]},
        "inputs": {"inputs": {name: [value] for name, value in record.items()}},
    }


@pytest.mark.parametrize(
    ("cell", "described"),
    [(True, "a boolean (true)"), ("12", 'a string ("12")'), (False, "a boolean (false)")],
)
def test_a_boolean_or_a_numeric_string_in_a_numeric_column_is_refused(
    client: TestClient, cell: Any, described: str
) -> None:
    for name, body in _mlflow_bodies(cell, "x2").items():
        response = client.post("/invocations", content=json.dumps(body), headers=JSON)

        assert response.status_code == 400, name
        message = response.json()["message"]
        assert f"column x2 must be numeric; row 0 of the request holds {described}" in message
        assert "expected a JSON number" in message


def test_a_csv_body_keeps_reading_numbers_as_a_batch_file_does(client: TestClient) -> None:
    response = client.post(
        "/invocations", content="x1,x2,region\n0.3,-1.2,s\n", headers={"Content-Type": CSV}
    )
    expected = client.post("/invocations", content=json.dumps(GOOD), headers=JSON)

    assert response.status_code == 200
    assert response.json() == expected.json()


@pytest.mark.parametrize("cell", [[1], [], [[1]], {"a": 1}, {}], ids=repr)
@pytest.mark.parametrize("column", ["x1", "region"])
def test_a_nested_cell_is_refused_naming_its_column(
    client: TestClient, cell: Any, column: str
) -> None:
    for name, body in _mlflow_bodies(cell, column).items():
        response = client.post("/invocations", content=json.dumps(body), headers=JSON)

        assert response.status_code == 400, name
        message = response.json()["message"]
        assert "unhashable" not in message
        kind = "a list" if isinstance(cell, list) else "an object"
        expected = f"column {column} must hold one value per row; row 0 of the request holds"
        assert f"{expected} {kind} ({json.dumps(cell)})" in message, (name, message)


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("scores=maybe", "query parameter scores must be one of true, 1, yes, false, 0, no; "),
        ("scores=", "got ''"),
        ("score=true", "unknown query parameter 'score'; /invocations takes scores"),
    ],
)
def test_an_unknown_query_parameter_or_value_is_refused(
    client: TestClient, query: str, message: str
) -> None:
    response = client.post(f"/invocations?{query}", content=json.dumps(GOOD), headers=JSON)

    assert response.status_code == 400
    assert message in response.json()["message"]


def test_scores_true_and_false_are_both_understood(client: TestClient) -> None:
    plain = client.post("/invocations", content=json.dumps(GOOD), headers=JSON).json()
    off = client.post("/invocations?scores=False", content=json.dumps(GOOD), headers=JSON)
    on = client.post("/invocations?scores=true", content=json.dumps(GOOD), headers=JSON)

    assert off.json() == plain
    assert on.json()["predictions"][0]["prediction"] == plain["predictions"][0]
    assert 0.0 <= on.json()["predictions"][0]["score"] <= 1.0


V2_MISMATCHES = [
    (
        {"name": "input", "shape": [2, 3], "datatype": "BYTES", "data": [1, 2, "n", 3, 4]},
        "V2 input 'input' has 5 value(s); its shape [2, 3] needs 6",
    ),
    (
        {"name": "x1", "shape": [1], "datatype": "FP32", "data": ["0.5"]},
        "V2 input 'x1' has datatype FP32, so every value must be a number or null; value 0 "
        'is a string ("0.5")',
    ),
    (
        {"name": "x1", "shape": [1], "datatype": "INT64", "data": [0.5]},
        "every value must be an integer; value 0 is a number (0.5)",
    ),
    (
        {"name": "x1", "shape": [1], "datatype": "BOOL", "data": [1]},
        "every value must be a boolean; value 0 is a number (1)",
    ),
    (
        {"name": "x1", "shape": [1], "datatype": "FLOAT", "data": [0.5]},
        "V2 input 'x1' has datatype \"FLOAT\"; expected one of BOOL, INT8",
    ),
    (
        {"name": "x1", "shape": "1", "datatype": "FP64", "data": [0.5]},
        "V2 input 'x1' needs 'shape': a list of non-negative integers; got \"1\"",
    ),
    (
        {"name": "x1", "datatype": "FP64", "data": [0.5]},
        "V2 input 'x1' needs 'shape': a list of non-negative integers; got null",
    ),
]


@pytest.mark.parametrize(("tensor", "message"), V2_MISMATCHES)
def test_a_v2_input_whose_shape_or_datatype_does_not_fit_its_data_is_refused(
    client: TestClient, tensor: dict[str, Any], message: str
) -> None:
    others = [
        {"name": "x2", "shape": [1], "datatype": "FP64", "data": [-1.2]},
        {"name": "region", "shape": [1], "datatype": "BYTES", "data": ["s"]},
    ]
    inputs = [tensor] if tensor["name"] == "input" else [tensor, *others]

    response = client.post(f"/v2/models/{MODEL}/infer", json={"inputs": inputs})

    assert response.status_code == 400
    assert message in response.json()["error"]


def test_a_client_that_leaves_mid_body_is_one_info_line(
    built: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(Governance.open(built, "alice"), ServeSettings(poll_seconds=60))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    caplog.set_level(logging.INFO)
    thread.start()
    try:
        _wait_until(lambda: server.started)
        with socket.create_connection(("127.0.0.1", port)) as connection:
            connection.sendall(
                b"POST /invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                b'application/json\r\nContent-Length: 1000\r\n\r\n{"dataframe_records": ['
            )
        _wait_until(lambda: any(_gone(r) for r in caplog.records))
        status, _, answer = _post(
            f"http://127.0.0.1:{port}/invocations", json.dumps(GOOD).encode()
        )
    finally:
        server.should_exit = True
        thread.join(30)

    gone = [r for r in caplog.records if _gone(r)]
    assert len(gone) == 1
    assert gone[0].levelno == logging.INFO
    assert "before its body was read; nothing was scored" in gone[0].getMessage()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert status == 200
    assert len(answer["predictions"]) == 1


def _gone(record: logging.LogRecord) -> bool:
    return "closed the connection" in record.getMessage()


def _wait_until(condition: Callable[[], bool], seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the condition did not come true in time"
        time.sleep(0.02)


def test_new_request_ids_are_distinct_random_uuids() -> None:
    ids = RequestIds()

    made = [ids.new() for _ in range(3 * RequestIds.BLOCK)]

    assert len(set(made)) == len(made)
    parsed = [uuid.UUID(i) for i in made]
    assert [str(p) for p in parsed] == made
    assert {p.version for p in parsed} == {4}
    assert {p.variant for p in parsed} == {uuid.RFC_4122}


def test_an_integer_beyond_any_float_is_refused_naming_its_column(client: TestClient) -> None:
    huge = int("9" * 400)
    for name, body in _mlflow_bodies(huge, "x2").items():
        response = client.post("/invocations", content=json.dumps(body), headers=JSON)

        assert response.status_code == 400, name
        assert (
            "column x2 has 1 integer(s) too large for a 64-bit float"
            in (response.json()["message"])
        ), name
    v2 = {"inputs": [{"name": "x2", "shape": [1], "datatype": "FP64", "data": [huge]}]}
    response = client.post("/v2/models/model/infer", content=json.dumps(v2), headers=JSON)
    assert 400 <= response.status_code < 500


def test_a_request_id_too_long_to_be_labelled_is_refused(client: TestClient) -> None:
    too_long = {**JSON, "X-Request-ID": "r" * 201}
    fits = {**JSON, "X-Request-ID": "r" * 200}

    refused = client.post("/invocations", content=json.dumps(GOOD), headers=too_long)
    accepted = client.post("/invocations", content=json.dumps(GOOD), headers=fits)

    assert refused.status_code == 400
    assert (
        "X-Request-ID header has 201 characters; expected 1 to 200" in (refused.json()["message"])
    )
    assert len(refused.headers["X-Request-ID"]) < 201  # a generated id, not the echo
    assert (accepted.status_code, accepted.headers["X-Request-ID"]) == (200, "r" * 200)
