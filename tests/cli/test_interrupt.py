"""Ctrl-C during a command: a short message and the shell's exit code, no traceback."""

from __future__ import annotations

import sys

import pytest

from mlgate.cli import app as cli_app


def test_ctrl_c_prints_a_message_and_exits_130(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    class Interrupting:
        def print(self, *args: object, **kwargs: object) -> None:
            raise KeyboardInterrupt

    monkeypatch.setattr(cli_app, "console", Interrupting())
    monkeypatch.setattr(sys, "argv", ["mlgate", "version"])

    with pytest.raises(SystemExit) as exited:
        cli_app.main()

    assert exited.value.code == 130
    err = capsys.readouterr().err
    assert "interrupted; nothing half-written was kept" in err
    assert "Traceback" not in err
