"""``mlgate audit log``: each event with its details, hashes short unless ``--full`` asks."""

from __future__ import annotations

import hashlib
from pathlib import Path

from sqlalchemy import text

from mlgate.cli.render import audit_details
from mlgate.lifecycle.service import Governance
from tests.fixtures import Cli

WHEEL_SHA = hashlib.sha256(b"wheel").hexdigest()
MODEL_SHA = hashlib.sha256(b"model").hexdigest()


def _record(root: Path, action: str, payload: dict[str, object]) -> None:
    gov = Governance.open(root, "alice")
    with gov.transaction() as session:
        gov.audit(session, action, "model:v1", payload)


def _line(log: str, action: str) -> str:
    found = [line for line in log.splitlines() if f" {action} " in line]
    assert len(found) == 1, log
    return found[0]


def test_details_shorten_hashes_quote_texts_and_put_the_reason_last() -> None:
    payload = {
        "reason": "bob may not publish models:\nit needs a role",
        "wheel": "demo-1-py3-none-any.whl",
        "wheel_sha256": WHEEL_SHA,
        "requires": ["numpy==2.0.1", "pandas==2.2.2"],
        "model_version": 1,
        "parquet": None,
    }

    assert audit_details(payload) == (
        "model_version=1 parquet=null requires=[numpy==2.0.1, pandas==2.2.2] "
        f"wheel=demo-1-py3-none-any.whl wheel_sha256={WHEEL_SHA[:12]} "
        'reason="bob may not publish models:\\nit needs a role"'
    )
    assert f"wheel_sha256={WHEEL_SHA} " in audit_details(payload, full=True)
    assert audit_details({"path": "a b=c", "id": "sha256:" + WHEEL_SHA}) == (
        f'id=sha256:{WHEEL_SHA[:12]} path="a b=c"'
    )
    assert audit_details({}) == audit_details(None) == ""


def test_long_values_are_cut_unless_full() -> None:
    payload = {"requires": [f"package{i}==1.0" for i in range(20)], "reason": "r" * 300}

    compact = audit_details(payload)
    whole = audit_details(payload, full=True)

    requires, reason = compact.split(" reason=")
    assert requires.startswith("requires=[package0==1.0, package1==1.0")
    assert len(requires) == len("requires=") + 60
    assert requires.endswith("\u2026")
    assert len(reason) == 200
    assert whole == f"requires=[{', '.join(payload['requires'])}] reason={'r' * 300}"


def test_log_shows_the_package_hash_and_full_shows_all_of_it(workspace: Path, cli: Cli) -> None:
    _record(
        workspace,
        "model.packaged",
        {"wheel": "w.whl", "wheel_sha256": WHEEL_SHA, "artifact_sha256": MODEL_SHA},
    )

    compact = cli("audit", "log", cwd=workspace)
    full = cli("audit", "log", "--full", cwd=workspace)

    assert compact.code == 0, compact.text
    line = _line(compact.out, "model.packaged")
    assert line.split()[2:5] == ["alice", "model.packaged", "model:v1"]
    assert line.endswith(
        f"  artifact_sha256={MODEL_SHA[:12]} wheel=w.whl wheel_sha256={WHEEL_SHA[:12]}"
    )
    assert WHEEL_SHA not in compact.out
    assert full.code == 0, full.text
    assert _line(full.out, "model.packaged").endswith(
        f"  artifact_sha256={MODEL_SHA} wheel=w.whl wheel_sha256={WHEEL_SHA}"
    )


def test_log_shows_why_an_action_was_refused(workspace: Path, cli: Cli) -> None:
    refused = cli(
        "feature",
        "add",
        "r",
        "--definition",
        "identity:x1",
        "--source",
        "x1",
        cwd=workspace,
        user="bob",
    )

    log = cli("audit", "log", cwd=workspace)

    assert refused.code == 5
    line = _line(log.out, "feature.add.refused")
    assert line.split()[2] == "bob"
    assert ' reason="bob may not catalogue features: it needs the role' in line


def test_verify_with_a_known_head_catches_a_cut_tail(workspace: Path, cli: Cli) -> None:
    _record(workspace, "model.packaged", {"wheel_sha256": WHEEL_SHA})
    first = cli("audit", "verify", cwd=workspace)
    noted = first.out.split("head ")[1].split()[0]
    seq = int(noted.split(":")[0])
    store = Governance.open(workspace, "alice").store
    with store.engine.begin() as connection:
        connection.execute(text("DELETE FROM audit_events WHERE seq > :s"), {"s": seq - 1})
        connection.execute(
            text(
                "UPDATE audit_head SET seq = :s, hash = (SELECT hash FROM audit_events "
                "WHERE seq = :s)"
            ),
            {"s": seq - 1},
        )

    blind = cli("audit", "verify", cwd=workspace)
    anchored = cli("audit", "verify", "--known-head", noted, cwd=workspace)
    malformed = cli("audit", "verify", "--known-head", "latest", cwd=workspace)

    assert first.code == 0
    assert blind.code == 0
    assert anchored.code == 6
    assert f"event {seq}, noted earlier with hash" in " ".join(anchored.err.split())
    assert malformed.code == 2
    assert "a known head must be SEQ:HASH" in malformed.err
