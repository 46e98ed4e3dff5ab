"""The ``mlgate package`` and ``mlgate publish`` commands: a reviewed model as a wheel.

The commands are added to the main application by :func:`register`, which receives the helper
that opens the project as the acting user, so this module does not import the application.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from mlgate.cli.render import console


def register(app: typer.Typer, open_governance: Callable[[], Any]) -> None:
    """Add ``mlgate package`` and ``mlgate publish`` to ``app``."""

    @app.command("package")
    def package(
        version: Annotated[
            int | None, typer.Option(help="Model version (default: the current one).")
        ] = None,
        output_dir: Annotated[Path, typer.Option(help="Folder to write the wheel to.")] = Path(
            "dist"
        ),
    ) -> None:
        """Build a wheel of a model version that passed the review gate."""
        from mlgate.release.package import package_model

        gov = open_governance()
        with console.status("packaging the model"):
            built = package_model(gov, version, output_dir)
        print_wheel(built, "Packaged")
        console.print(
            f"Install it with: pip install {built.path}; score a file with: "
            f"{built.names.script} INPUT.csv --output OUT.csv"
        )

    @app.command("publish")
    def publish(
        version: Annotated[
            int | None, typer.Option(help="Model version (default: the current one).")
        ] = None,
        repository_url: Annotated[
            str | None,
            typer.Option(
                help="Upload URL of the index (default: MLGATE_PUBLISH_URL, then "
                "TWINE_REPOSITORY_URL). Credentials come from TWINE_USERNAME/TWINE_PASSWORD."
            ),
        ] = None,
    ) -> None:
        """Upload the wheel of a reviewed model version to a PyPI-compatible index."""
        from mlgate.release.publish import publish_model

        gov = open_governance()
        with console.status("publishing the model"):
            published = publish_model(gov, version, repository_url)
        print_wheel(published.wheel, "Published")
        console.print(
            f"Published to {published.repository_url}; install it from that index only, so no "
            f"public package can stand in for it: pip install --index-url <the index's simple "
            f"URL> "
            f"{published.wheel.names.distribution}=={published.wheel.names.version}"
        )


def print_wheel(built: Any, verb: str) -> None:
    """Print the wheel's name, hash, requirements and where its card came from."""
    console.print(
        f"{verb} model version [bold]{built.model_version}[/bold] as {built.filename} "
        f"(sha256 {built.sha256[:12]}, model sha256 {built.artifact_sha256[:12]})"
    )
    console.print(f"  requires: {', '.join(built.requirements.lines)}")
    if built.requirements.needs_mlgate:
        console.print(
            "  [yellow]note:[/yellow] the model is built from mlgate classes, so the package "
            "requires mlgate"
        )
    if built.card_source == "minimal":
        console.print(
            "  [yellow]note:[/yellow] the model card is minimal (from the model version record)"
        )
