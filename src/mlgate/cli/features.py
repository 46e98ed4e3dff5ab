"""``mlgate feature``: catalogue features and trace them from source column to model version.

Only parsing and printing live here; the rules (inherited sensitivity, versions, links) are in
:mod:`mlgate.lifecycle.features`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from mlgate.cli.render import console

feature_app = typer.Typer(
    help="Catalogue features and trace them from source column to model.", no_args_is_help=True
)

SENSITIVE_STYLE = "bold yellow"
NOT_SENSITIVE = "none"


def _gov():  # type: ignore[no-untyped-def]
    # Imported when a command runs: the main module imports this one to register the sub-app.
    from mlgate.cli.app import _gov as open_governance

    return open_governance()


def _sensitivity(categories: Sequence[str]) -> Text:
    if not categories:
        return Text(NOT_SENSITIVE, style="dim")
    return Text(", ".join(categories), style=SENSITIVE_STYLE)


@feature_app.command("add")
def feature_add(
    name: Annotated[str, typer.Argument(help="Feature name: the model input it becomes.")],
    definition: Annotated[
        str, typer.Option(help="How it is computed: package.module:function or an expression.")
    ],
    source: Annotated[
        list[str], typer.Option(help="A source column (repeat for several).", show_default=False)
    ],
    dataset: Annotated[str, typer.Option(help="Dataset holding the source columns.")] = "train",
    owner: Annotated[str | None, typer.Option(help="Who owns it (default: you).")] = None,
    unit: Annotated[str | None, typer.Option(help="Unit of its values, e.g. EUR.")] = None,
    sensitivity: Annotated[
        list[str] | None,
        typer.Option(help="A sensitivity category, or none (default: inherit from sources)."),
    ] = None,
    description: Annotated[str | None, typer.Option(help="What it means, in words.")] = None,
) -> None:
    """Catalogue a feature; a changed definition becomes its next version."""
    from mlgate.lifecycle.features import add_feature, list_features

    gov = _gov()
    before = {(e.feature.name, e.feature.version) for e in list_features(gov)}
    feature = add_feature(
        gov, name, definition, source, dataset, owner, unit, sensitivity, description
    )
    if (feature.name, feature.version) in before:
        console.print(
            f"Feature '{feature.name}' is unchanged since version {feature.version}; nothing "
            "catalogued"
        )
        return
    sensitive = ", ".join(feature.sensitivity) or NOT_SENSITIVE
    console.print(
        f"Catalogued feature [bold]{feature.name}[/bold] version {feature.version} from "
        f"{', '.join(feature.sources)} of dataset '{feature.dataset_name}' "
        f"(sensitivity {sensitive}, sha256 {feature.sha256[:12]})"
    )


@feature_app.command("list")
def feature_list() -> None:
    """List every feature version, its sensitivity and the model versions that use it."""
    from mlgate.lifecycle.features import list_features, uncatalogued

    gov = _gov()
    entries = list_features(gov)
    missing = uncatalogued(gov)
    if not entries:
        console.print("No feature is catalogued yet; add one with `mlgate feature add`.")
    else:
        table = Table(title="Feature catalogue", title_justify="left")
        for column in ("feature", "version", "definition", "sources", "sensitivity", "owner"):
            table.add_column(column, overflow="fold")
        table.add_column("unit")
        table.add_column("used by")
        for entry in entries:
            f = entry.feature
            table.add_row(
                f.name,
                str(f.version),
                f.definition,
                f"{f.dataset_name}: {', '.join(f.sources)}",
                _sensitivity(f.sensitivity),
                f.owner,
                f.unit or "-",
                ", ".join(f"v{v}" for v in entry.model_versions) or "-",
            )
        console.print(table)
    if missing:
        console.print(
            f"Uncatalogued inputs of the newest model version ({len(missing)}): "
            f"{', '.join(missing)}"
        )


@feature_app.command("lineage")
def feature_lineage(
    model: Annotated[
        int | None, typer.Option(help="Only the paths into this model version.")
    ] = None,
) -> None:
    """Show each path source column -> feature version -> model version."""
    from mlgate.lifecycle.features import lineage

    edges = lineage(_gov(), model)
    if not edges:
        console.print("No lineage yet: no feature is catalogued and no model is registered.")
        return
    table = Table(title="Feature lineage", title_justify="left")
    for column in ("source column", "column sensitivity", "feature", "sensitivity", "model"):
        table.add_column(column, overflow="fold")
    for edge in edges:
        feature = (
            Text(f"{edge.feature} v{edge.feature_version}")
            if edge.catalogued
            else Text("uncatalogued", style="dim italic")
        )
        table.add_row(
            f"{edge.dataset or '?'}.{edge.column}",
            _sensitivity(edge.column_sensitivity),
            feature,
            _sensitivity(edge.sensitivity),
            f"v{edge.model_version}" if edge.model_version is not None else "-",
        )
    console.print(table)
