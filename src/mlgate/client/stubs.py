"""Local commands in remote mode: the few that need no store, and a refusal for the rest.

A command that works on files where they are (``train``, ``serve``, ``predict``, ``package``,
``scheduler``...) has no meaning on the team server. Rather than an unknown-command error, it
answers with one line: it runs locally, unset ``MLGATE_SERVER_URL`` (exit code 2). The list is
derived from the local application, so a command added there later is covered too.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import typer
from typer.main import get_command_name

from mlgate.client.http import URL_VARIABLE
from mlgate.errors import ValidationError

# Local commands that read or write only local files: they run unchanged in remote mode.
STORELESS = {"doc": ("doc_new", "doc_kinds"), "data": ("data_infer",)}
STORELESS_TOP = ("version",)
STORELESS_GROUPS = ("policy",)  # `policy validate` reads a file; `policy show` a workspace
PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True}


def add_local_commands(remote: typer.Typer, local: ModuleType) -> None:
    """Register the local commands that need no store on the remote application."""
    groups = {group.name: group.typer_instance for group in remote.registered_groups}
    for group, functions in STORELESS.items():
        for function in functions:
            callback = getattr(local, function)
            groups[group].command(get_command_name(function.removeprefix(f"{group}_")))(callback)
    for function in STORELESS_TOP:
        remote.command(function)(getattr(local, function))
    for group in local.app.registered_groups:
        if group.name in STORELESS_GROUPS:
            validate = _command(group.typer_instance, "validate")
            if validate is not None:
                policy_app = typer.Typer(help=group.typer_instance.info.help, no_args_is_help=True)
                policy_app.command("validate")(validate)
                remote.add_typer(policy_app, name=group.name)


def _command(app: typer.Typer, name: str) -> Callable | None:
    for info in app.registered_commands:
        if info.callback is not None and _name(info) == name:
            return info.callback
    return None


def _name(info: typer.models.CommandInfo) -> str:
    assert info.callback is not None
    return info.name or get_command_name(info.callback.__name__)


def add_refusals(remote: typer.Typer, local: typer.Typer, prefix: str = "") -> None:
    """Add to ``remote`` a refusal for every command and group of ``local`` it lacks."""
    commands = {_name(info) for info in remote.registered_commands}
    groups = {group.name: group.typer_instance for group in remote.registered_groups}
    for info in local.registered_commands:
        name = _name(info)
        if name not in commands and name not in groups:
            _refuse(remote, name, prefix)
    for group in local.registered_groups:
        assert group.name is not None
        if group.name in groups:
            add_refusals(groups[group.name], group.typer_instance, f"{prefix}{group.name} ")
        elif group.name not in commands:
            _refuse(remote, group.name, prefix)


def _refuse(app: typer.Typer, name: str, prefix: str) -> None:
    """Register ``name`` on ``app`` as a command that says it runs locally only."""
    full = f"{prefix}{name}"

    def refuse() -> None:
        raise ValidationError(
            f"`mlgate {full}` runs locally, where the files are; unset {URL_VARIABLE} to run it"
        )

    refuse.__doc__ = f"Runs locally only: unset {URL_VARIABLE} to use `mlgate {full}`."
    app.command(name, context_settings=PASS_THROUGH, add_help_option=False)(refuse)
