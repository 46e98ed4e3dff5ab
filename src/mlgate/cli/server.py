"""``mlgate server``, ``mlgate user`` and ``mlgate token``: running and staffing the team server.

``user`` and ``token`` act on the server's store directly, as its operator; they are how the
first admin and their first token come to exist. Once the server runs, admins can do the same
over the API.
"""

from __future__ import annotations

import getpass
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from mlgate.cli.render import console, err_console
from mlgate.config import current_user
from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

user_app = typer.Typer(help="Manage the team server's users.", no_args_is_help=True)
token_app = typer.Typer(help="Make, list and revoke API tokens.", no_args_is_help=True)

HOME_HELP = "The server's home folder (default: MLGATE_SERVER_HOME or ./mlgate-server)."
PASSWORD_VARIABLE = "MLGATE_NEW_PASSWORD"


def _accounts(home: Path | None):  # type: ignore[no-untyped-def]
    from mlgate.registry.db import Store
    from mlgate.server.accounts import Accounts
    from mlgate.server.settings import ServerSettings

    settings = ServerSettings.from_env(home)
    settings.prepare()
    return Accounts(Store(settings.database_url), settings.session_hours)


def _new_password(ask: bool) -> str | None:
    """Return the password from ``MLGATE_NEW_PASSWORD`` or a prompt, or ``None`` if not asked."""
    given = os.environ.get(PASSWORD_VARIABLE)
    if given is not None:
        return given
    if not ask:
        return None
    first = getpass.getpass("New password (at least 12 characters): ")
    if first != getpass.getpass("Repeat it: "):
        raise ValidationError("the two passwords differ; nothing was changed")
    return first


def register(app: typer.Typer) -> None:
    """Add ``server``, ``user`` and ``token`` to ``app``."""
    app.add_typer(user_app, name="user")
    app.add_typer(token_app, name="token")

    @app.command("server")
    def server(
        host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="Port to listen on.")] = 8700,
        home: Annotated[Path | None, typer.Option(help=HOME_HELP)] = None,
        workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    ) -> None:
        """Run the team server: the API under /api/v1 and the web pages."""
        import uvicorn

        from mlgate.server.settings import HOME_VARIABLE, ServerSettings

        if not 0 < port < 65536:
            raise ValidationError(f"--port must be between 1 and 65535; got {port}")
        if not 1 <= workers <= 64:
            raise ValidationError(f"--workers must be between 1 and 64; got {workers}")
        settings = ServerSettings.from_env(home)
        settings.prepare()
        console.print(
            f"mlgate server on http://{host}:{port} (API: /api/v1, schema: "
            f"/api/v1/openapi.json); home {settings.home}"
        )
        logger.info("starting the team server on %s:%d with %d worker(s)", host, port, workers)
        os.environ[HOME_VARIABLE] = str(settings.home)
        uvicorn.run(
            "mlgate.server.main:app",
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            access_log=False,
        )

    @user_app.command("add")
    def user_add(
        name: Annotated[str, typer.Argument(help="The user name people sign in with.")],
        admin: Annotated[bool, typer.Option(help="A server admin: manages users, projects.")] = (
            False
        ),
        password: Annotated[
            bool, typer.Option(help="Ask for a password (or read MLGATE_NEW_PASSWORD).")
        ] = False,
        display_name: Annotated[str, typer.Option(help="The name pages show.")] = "",
        home: Annotated[Path | None, typer.Option(help=HOME_HELP)] = None,
    ) -> None:
        """Create a user of the team server."""
        secret = _new_password(password)
        _accounts(home).create_user(
            current_user(), name, secret, admin=admin, display_name=display_name
        )
        kind = "server admin" if admin else "user"
        console.print(
            f"Created {kind} [bold]{name}[/bold]; `mlgate token create {name}` makes "
            "a token, a project admin gives roles with `mlgate member add`."
        )

    @user_app.command("password")
    def user_password(
        name: Annotated[str, typer.Argument(help="The user.")],
        home: Annotated[Path | None, typer.Option(help=HOME_HELP)] = None,
    ) -> None:
        """Set a user's password (asked for, or read from MLGATE_NEW_PASSWORD)."""
        secret = _new_password(True)
        assert secret is not None
        _accounts(home).set_password(current_user(), name, secret)
        console.print(f"Password of {name} set; their browser sessions ended.")

    @user_app.command("disable")
    def user_disable(
        name: Annotated[str, typer.Argument(help="The user.")],
        home: Annotated[Path | None, typer.Option(help=HOME_HELP)] = None,
    ) -> None:
        """Disable a user: their tokens and sessions stop working at once."""
        _accounts(home).set_disabled(current_user(), name, True)
        console.print(f"{name} is disabled.")

    @user_app.command("enable")
    def user_enable(
        name: Annotated[str, typer.Argument(help="The user.")],
        home: Annotated[Path | None, typer.Option(help=HOME_HELP)] = None,
    ) -> None:
        """Enable a disabled user again."""
        _accounts(home).set_disabled(current_user(), name, False)
        console.print(f"{name} is enabled.")

    @user_app.command("list")
    def user_list(home: Annotated[Path | None, typer.Option(help=HOME_HELP)] = None) -> None:
        """List the server's users."""
        for user in _accounts(home).users():
            flags = [f for f, on in (("admin", user.is_admin), ("disabled", user.disabled)) if on]
            console.print(f"{user.name:<24} {', '.join(flags)}")

    @token_app.command("create")
    def token_create(
        name: Annotated[str, typer.Argument(help="The user the token acts as.")],
        label: Annotated[str, typer.Option(help="What the token is for.")] = "",
        days: Annotated[float | None, typer.Option(help="Expire after this many days.")] = None,
        home: Annotated[Path | None, typer.Option(help=HOME_HELP)] = None,
    ) -> None:
        """Make an API token; it is printed once and stored only as a hash."""
        token, raw = _accounts(home).issue_token(current_user(), name, label, days=days)
        err_console.print(
            f"Token {token.id} for {name} (shown once; store it like a password). Use it with "
            "MLGATE_SERVER_URL and MLGATE_TOKEN."
        )
        sys.stdout.write(raw + "\n")

    @token_app.command("list")
    def token_list(
        name: Annotated[str, typer.Argument(help="The user.")],
        home: Annotated[Path | None, typer.Option(help=HOME_HELP)] = None,
    ) -> None:
        """List a user's API tokens (their prefixes, never the secret)."""
        for token in _accounts(home).tokens(name):
            state = "revoked" if token.revoked_at else "active"
            console.print(f"{token.id:>5} {token.prefix}... {state:<8} {token.label}")

    @token_app.command("revoke")
    def token_revoke(
        token_id: Annotated[int, typer.Argument(help="The token's number.")],
        home: Annotated[Path | None, typer.Option(help=HOME_HELP)] = None,
    ) -> None:
        """Revoke a token: it authenticates nobody from now on."""
        _accounts(home).revoke_token(current_user(), token_id)
        console.print(f"Token {token_id} revoked.")
