"""The ``mlgate`` command: parses arguments, calls the service, prints the outcome.

No rules live here. Every error the service raises on purpose is printed as one paragraph with
its hint and exits with the error's code; anything unexpected is reported the same way without a
traceback (set ``MLGATE_DEBUG=1`` to see one).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from mlgate import __version__
from mlgate.cli import deployments as deployments_cli
from mlgate.cli import mitigate as mitigate_cli
from mlgate.cli import monitor as monitor_cli
from mlgate.cli import pipelines as pipelines_cli
from mlgate.cli import release as release_cli
from mlgate.cli import server as server_cli
from mlgate.cli import serving as serving_cli
from mlgate.cli import stream as stream_cli
from mlgate.cli import testing as testing_cli
from mlgate.cli.alerts import alerts_app
from mlgate.cli.features import feature_app
from mlgate.cli.findings import finding_app
from mlgate.cli.labels import kpi_app, label_app
from mlgate.cli.options import (
    AdvanceToOption,
    ApprovalRequirement,
    ApproveCommentOption,
    AuditFullOption,
    AuditLimitOption,
    CardPdfOption,
    CheckName,
    ContractOption,
    DataFile,
    DatasetNameOption,
    DatasetOption,
    DaysOption,
    DocumentPaths,
    EndpointOption,
    EstimatorOption,
    ExcludeOption,
    ExpiresOption,
    JustificationOption,
    MemberName,
    ModeOption,
    PositiveLabelOption,
    RejectCommentOption,
    ReportPdfOption,
    RoleOption,
    RunChecksOption,
    SensitiveOption,
    ShowAllStagesOption,
    StreamingOption,
    TargetOption,
    TierOption,
    TrainDataOption,
    VerboseOption,
    WaivedRequirement,
)
from mlgate.cli.render import (
    alert_table,
    check_table,
    console,
    err_console,
    print_audit_events,
    print_findings,
    print_notices,
    print_status,
)
from mlgate.config import Workspace, current_user, parse_config
from mlgate.errors import GovernanceError, ValidationError

if TYPE_CHECKING:  # imported when first used: the store and checks slow down start-up
    from mlgate.lifecycle.service import Governance

app = typer.Typer(
    name="mlgate",
    help="Govern machine-learning models from business case to production.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
doc_app = typer.Typer(
    help="Write and submit the documents the policy asks for.", no_args_is_help=True
)
data_app = typer.Typer(help="Register and list dataset versions.", no_args_is_help=True)
model_app = typer.Typer(help="Register and list model versions.", no_args_is_help=True)
member_app = typer.Typer(help="Give people roles in the project.", no_args_is_help=True)
audit_app = typer.Typer(
    help="Read and verify the tamper-evident audit trail.", no_args_is_help=True
)
policy_app = typer.Typer(help="Show or validate a policy file.", no_args_is_help=True)
app.add_typer(doc_app, name="doc")
app.add_typer(data_app, name="data")
app.add_typer(model_app, name="model")
app.add_typer(member_app, name="member")
app.add_typer(audit_app, name="audit")
app.add_typer(policy_app, name="policy")
app.add_typer(feature_app, name="feature")
app.add_typer(finding_app, name="finding")
app.add_typer(alerts_app, name="alerts")
app.add_typer(label_app, name="labels")
app.add_typer(kpi_app, name="kpi")

STATE = {"actor": None}


@app.callback()
def _main(
    actor: Annotated[
        str | None, typer.Option("--as", help="Act as this user (local mode).")
    ] = None,
    verbose: VerboseOption = 0,
) -> None:
    STATE["actor"] = actor
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def _gov():  # type: ignore[no-untyped-def]
    from mlgate.lifecycle.service import Governance

    return Governance.open(actor=STATE["actor"])


def _reporter(bar: Progress, label: str):  # type: ignore[no-untyped-def]
    """Return a progress callback ``(what, done, total)`` that drives one task of ``bar``."""
    task = bar.add_task(label, total=None)

    def update(what: str, done: int, total: int | None) -> None:
        bar.update(task, description=what, completed=done, total=total)

    return update


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


# -- project ------------------------------------------------------------------------------


@app.command()
def init(
    name: Annotated[str, typer.Argument(help="Project name, unique in the store.")],
    target: TargetOption,
    tier: TierOption = "medium",
    sensitive: SensitiveOption = "",
    exclude: ExcludeOption = "",
    positive_label: PositiveLabelOption = "1",
    estimator: EstimatorOption = "sklearn.ensemble.HistGradientBoostingClassifier",
    policy: Annotated[Path | None, typer.Option(help="Policy file (default: built in).")] = None,
    data: TrainDataOption = None,
    path: Annotated[Path, typer.Option(help="Workspace folder.")] = Path("."),
    owner: Annotated[str | None, typer.Option(help="Owner (default: MLGATE_USER).")] = None,
) -> None:
    """Create a workspace and its project; the owner becomes admin and data scientist."""
    from mlgate.lifecycle.project import init_project

    if tier not in ("low", "medium", "high"):
        raise ValidationError(f"--tier must be low, medium or high; got '{tier}'")
    config = parse_config(
        {
            "project": name,
            "tier": tier,
            "owner": owner or STATE["actor"] or current_user(),  # type: ignore[arg-type]
            "policy": str(policy.resolve()) if policy else "default",
            "data": {
                "target": target,
                "positive_label": _label(positive_label),
                "sensitive": list(dict.fromkeys(_names(sensitive))),
                "exclude": list(dict.fromkeys(_names(exclude))),
            },
            "training": {"estimator": estimator},
        },
        "the init options",
    )
    gov = init_project(path, config, policy, data)
    console.print(f"Created project [bold]{name}[/bold] ({tier} risk) in {gov.workspace.root}")
    if data is not None:
        console.print(f"Registered {data} as dataset 'train'")
    docs = sorted(p.name for p in (gov.workspace.root / "docs").glob("*.yaml"))
    if docs:
        console.print(f"Templates to fill in docs/: {', '.join(docs)}")
    console.print("Next: `mlgate status` shows what the first stage needs.")


def _names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


def _label(text: str) -> int | str:
    return int(text) if text.lstrip("-").isdigit() else text


@app.command()
def status(show_all: ShowAllStagesOption = False) -> None:
    """Show the current stage and, per requirement, what satisfied it or what is missing."""
    from mlgate.lifecycle.notices import configuration_notices, notices
    from mlgate.monitoring.alerts import open_alerts

    gov = _gov()
    project, stages = gov.status()
    print_status(project, stages, show_all)
    snapshot = gov.snapshot_now()
    print_notices(
        configuration_notices(
            snapshot, gov.config.tier, dict(gov.config.thresholds), gov.config.data.sensitive
        )
        + notices(snapshot)
    )
    alerts = open_alerts(gov)
    if alerts:
        console.print(alert_table(alerts, "Open monitoring alerts"))


@app.command()
def advance(to: AdvanceToOption = None, run_checks: RunChecksOption = True) -> None:
    """Move to the next stage when every requirement of the current one is met."""
    from mlgate.lifecycle.evidence import ensure_checks

    gov = _gov()
    stage_ids = gov.policy.stage_ids
    if to is not None and to not in stage_ids:
        raise ValidationError(
            f"--to must be a stage of the policy ({', '.join(stage_ids)}); got '{to}'"
        )
    current = gov.status()[0].stage
    if to is not None and stage_ids.index(to) <= stage_ids.index(current):
        later = ", ".join(stage_ids[stage_ids.index(current) + 1 :]) or "none"
        raise ValidationError(
            f"--to {to} is not after the current stage '{current}'; stages after it: {later}"
        )
    while True:
        project, _ = gov.status()
        if run_checks:
            with _progress() as bar:
                ensure_checks(gov, project.stage, _reporter(bar, "checks"))
        reached = gov.advance()
        console.print(f"[green]Advanced[/green] from {project.stage} to [bold]{reached}[/bold]")
        if to is None or reached == to or gov.policy.next_stage(reached) is None:
            break


# -- documents ----------------------------------------------------------------------------


@doc_app.command("new")
def doc_new(
    kind: Annotated[str, typer.Argument(help="Document type, e.g. business_case.")],
    output: Annotated[Path | None, typer.Option(help="Where to write it.")] = None,
) -> None:
    """Write a template of a document to fill in (default: docs/KIND.yaml)."""
    from mlgate.documents import template

    text = template(kind)
    if output is None:
        output = Workspace.find().root / "docs" / f"{kind}.yaml"
    if output.exists():
        raise ValidationError(f"{output} already exists; edit it, or pass --output elsewhere")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    console.print(f"Wrote {output}: fill it in, then run `mlgate doc submit {output}`")


@doc_app.command("kinds")
def doc_kinds() -> None:
    """List the document types mlgate knows."""
    from mlgate.documents import DOCUMENT_TYPES

    for kind, schema in DOCUMENT_TYPES.items():
        console.print(f"[bold]{kind}[/bold]: {(schema.__doc__ or '').strip().splitlines()[0]}")


@doc_app.command("submit")
def doc_submit(paths: DocumentPaths) -> None:
    """Validate documents field by field and store them as evidence."""
    from mlgate.lifecycle.evidence import submit_document

    gov = _gov()
    files = [f for p in paths for f in (sorted(p.glob("*.yaml")) if p.is_dir() else [p])]
    if not files:
        raise ValidationError(f"no .yaml documents found in {', '.join(map(str, paths))}")
    for file in files:
        evidence = submit_document(gov, file)
        style = "green" if evidence.status == "pass" else "red"
        console.print(
            f"[{style}]{evidence.status}[/] {file}: {evidence.summary} "
            f"(evidence {evidence.id}, requirement {evidence.requirement_id})"
        )


# -- data and models ----------------------------------------------------------------------


@data_app.command("add")
def data_add(
    file: DataFile, name: DatasetNameOption = "train", contract: ContractOption = None
) -> None:
    """Register a data file as a new version of a named dataset."""
    from mlgate.lifecycle.data import latest_or_none, register_dataset

    gov = _gov()
    before = latest_or_none(gov, name)
    dataset = register_dataset(gov, file, name, contract)
    if before is not None and dataset.id == before.id:
        console.print(
            f"{file} is unchanged since version {dataset.id} of dataset '{name}' "
            f"(sha256 {dataset.sha256[:12]}); nothing registered, evidence stays valid"
        )
        return
    console.print(
        f"Registered {file} as dataset '{name}': {dataset.n_rows} rows, "
        f"{dataset.n_cols} columns, sha256 {dataset.sha256[:12]}"
    )


@data_app.command("infer")
def data_infer(
    file: DataFile,
    output: Annotated[Path | None, typer.Option(help="Write here instead of printing.")] = None,
    name: Annotated[str | None, typer.Option(help="Dataset name (default: file stem).")] = None,
    target: Annotated[
        str | None, typer.Option(help="Label column (default: mlgate.yaml's).")
    ] = None,
) -> None:
    """Draft a data contract from a file, guessing types, ranges and sensitivity; review it."""
    from mlgate.contracts import dump_contract, infer_contract
    from mlgate.tabular import read_table

    if target is None:
        try:
            target = Workspace.find().load_config().data.target
        except GovernanceError:
            target = None
    frame = read_table(file)
    if target is not None and target not in frame.columns:
        target = None
    text = dump_contract(infer_contract(frame, name or file.stem, target=target))
    if output is None:
        typer.echo(text, nl=False)
        return
    if output.exists():
        raise ValidationError(f"{output} already exists; edit it, or pass another --output")
    output.write_text(text, encoding="utf-8")
    console.print(
        f"Wrote {output}: review every column (sensitivity above all), then "
        f"mlgate data add {file} --contract {output}"
    )


@data_app.command("list")
def data_list() -> None:
    """List the registered dataset versions."""
    from mlgate.registry.models import DatasetVersion

    gov = _gov()
    with gov.transaction() as session:
        rows = gov.project_rows(session, DatasetVersion)
        for d in rows:
            console.print(
                f"{d.id:>4} {d.name:<10} {d.n_rows:>8} rows  {d.sha256[:12]}  "
                f"{d.created_by}  {d.uri}"
            )


@app.command()
def train(
    search: Annotated[
        bool | None,
        typer.Option(
            "--search/--no-search", help="Search the spaces in mlgate.yaml (default: if any)."
        ),
    ] = None,
    trials: Annotated[
        int | None, typer.Option(min=1, help="Complete trials per search (overrides config).")
    ] = None,
    workers: Annotated[int, typer.Option(min=1, help="Processes running search trials.")] = 1,
) -> None:
    """Train on dataset 'train' (searching and selecting as configured); register a version."""
    from mlgate.cli.training import train_command

    train_command(_gov(), search, trials, workers, _progress())


@model_app.command("add")
def model_add(
    file: Annotated[
        Path,
        typer.Argument(help="A .skops file, a pickle you made, or an MLflow model directory."),
    ],
    trust: Annotated[list[str] | None, typer.Option(help="A skops type you accept.")] = None,
    allow_pickle: Annotated[bool, typer.Option(help="Open a pickle (runs its code).")] = False,
) -> None:
    """Register a model trained elsewhere (file or MLflow directory), converting it to skops."""
    from mlgate.lifecycle.models import add_model

    version = add_model(_gov(), file, trust or [], allow_pickle)
    flavour = version.params.get("mlflow.flavour")
    source = f"MLflow {flavour} model {file}" if flavour else str(file)
    console.print(
        f"Registered model version [bold]{version.version}[/bold] from {source} "
        f"(sha256 {version.artifact_sha256[:12]})"
    )


@model_app.command("list")
def model_list() -> None:
    """List the registered model versions."""
    from mlgate.registry.models import ModelVersion

    gov = _gov()
    with gov.transaction() as session:
        rows = gov.project_rows(session, ModelVersion)
        for m in rows:
            console.print(
                f"v{m.version:<3} {m.estimator}  {m.artifact_sha256[:12]}  "
                f"{m.created_by}  {m.created_at:%Y-%m-%d %H:%M}"
            )


# -- checks, approvals, waivers -----------------------------------------------------------


@app.command()
def check(
    name: CheckName, dataset: DatasetOption = None, streaming: StreamingOption = False
) -> None:
    """Run one check on the current dataset and model versions and store it as evidence."""
    from mlgate.lifecycle.evidence import run_check

    with _progress() as bar:
        evidence, result = run_check(_gov(), name, dataset, streaming, _reporter(bar, name))
    console.print(check_table(result))
    print_findings(result)
    bound = evidence.requirement_id
    if bound:
        console.print(f"Stored as evidence {evidence.id} for requirement {bound}.")
    else:
        console.print(f"Stored as voluntary evidence {evidence.id} (no requirement asks for it).")
    if result.status == "fail":
        raise typer.Exit(1)


@app.command()
def recheck() -> None:
    """Re-run every check, up to the current stage, whose evidence is missing or stale."""
    from mlgate.lifecycle.evidence import recheck as run_stale

    gov = _gov()
    with _progress() as bar:
        ran = run_stale(gov, _reporter(bar, "checks"))
    for evidence in ran:
        console.print(f"{evidence.requirement_id}: {evidence.status} - {evidence.summary}")
    console.print(
        f"Re-ran {len(ran)} check(s); `mlgate status --all` shows where each stage stands."
    )


@app.command()
def eda(
    dataset: Annotated[str, typer.Option(help="Registered dataset to explore.")] = "train",
    output: Annotated[Path | None, typer.Option(help="HTML file to write.")] = None,
) -> None:
    """Explore a registered dataset: an offline HTML page, stored as evidence."""
    from mlgate.reports.collect import explore_dataset

    with console.status(f"exploring dataset '{dataset}'"):
        evidence, result, path = explore_dataset(_gov(), dataset, output)
    print_findings(result)
    console.print(f"EDA written to {path} (evidence {evidence.id}).")


@app.command()
def approve(requirement: ApprovalRequirement, comment: ApproveCommentOption = "") -> None:
    """Approve what an approval requirement is about (never your own work)."""
    approval = _gov().decide(requirement, "approve", comment)
    console.print(f"[green]Approved[/green] {requirement} ({approval.subject}) as {approval.role}")


@app.command()
def reject(requirement: ApprovalRequirement, comment: RejectCommentOption = "") -> None:
    """Reject what an approval requirement is about; the gate stays closed."""
    approval = _gov().decide(requirement, "reject", comment)
    console.print(f"[red]Rejected[/red] {requirement} ({approval.subject}) as {approval.role}")


@app.command()
def waive(
    requirement: WaivedRequirement,
    justification: JustificationOption = "",
    expires: ExpiresOption = None,
    days: DaysOption = None,
) -> None:
    """Set a requirement aside until an expiry date (risk officers and admins)."""
    if (expires is None) == (days is None):
        raise ValidationError("give exactly one of --expires YYYY-MM-DD or --days N")
    if expires is not None:
        try:
            until = date.fromisoformat(expires)
        except ValueError:
            raise ValidationError(
                f"--expires must be a date YYYY-MM-DD; got '{expires}'"
            ) from None
    else:
        until = date.today() + timedelta(days=days or 0)
    waiver = _gov().waive(requirement, justification, until)
    console.print(f"[yellow]Waived[/yellow] {requirement} until {until} by {waiver.actor}")


@member_app.command("add")
def member_add(user: MemberName, role: RoleOption) -> None:
    """Give a person a role in the project (admins only)."""
    _gov().add_member(user, role)
    console.print(f"{user} now holds {role}")


@member_app.command("list")
def member_list() -> None:
    """List the project's members and roles."""
    for user, role in _gov().members():
        console.print(f"{user:<20} {role}")


# -- deployment and scoring ---------------------------------------------------------------


@app.command()
def deploy(mode: ModeOption = "batch", endpoint: EndpointOption = None) -> None:
    """Deploy the current model version once every gate up to deployment holds for it."""
    from mlgate.lifecycle.deploy import deploy as do_deploy

    deployment = do_deploy(_gov(), mode, endpoint)
    console.print(f"[green]Deployed[/green] ({deployment.mode}) at {deployment.endpoint}")


@app.command()
def predict(
    source: Annotated[Path, typer.Argument(help="CSV or Parquet file to score.")],
    output: Annotated[Path | None, typer.Option(help="Output file (.csv or .parquet).")] = None,
    version: Annotated[int | None, typer.Option(help="Model version (default: deployed).")] = None,
    chunk_rows: Annotated[int, typer.Option(help="Rows per chunk.")] = 50_000,
    workers: Annotated[int, typer.Option(help="Processes that score chunks.")] = 1,
    resume: Annotated[
        bool, typer.Option("--resume", help="Keep scored chunks; continue a stopped run.")
    ] = False,
) -> None:
    """Score a file in chunks after checking it against the model's signature."""
    from mlgate.lifecycle.deploy import OUTPUT_COLUMNS, predict_file

    if chunk_rows < 1:
        raise ValidationError(f"--chunk-rows must be at least 1; got {chunk_rows}")
    output = output or source.with_name(f"{source.stem}.scored{source.suffix}")
    gov = _gov()
    with _progress() as bar:
        report = _reporter(bar, "scoring")
        run = predict_file(gov, source, output, version, chunk_rows, report, workers, resume)
    console.print(f"Scored {run.rows} rows with model version {run.model_version} -> {run.output}")
    if run.chunks_resumed:
        console.print(f"  {run.chunks_resumed} chunk(s) were taken over from the stopped run")
    if run.columns != OUTPUT_COLUMNS:
        err_console.print(
            f"[yellow]note:[/yellow] {source.name} already has column(s) named "
            f"{' or '.join(OUTPUT_COLUMNS)}, so the scores are in {', '.join(run.columns)}"
        )
    if not run.deployed:
        err_console.print(
            f"[yellow]note:[/yellow] version {run.model_version} is not the deployed one; use "
            "such scores for validation, not for decisions"
        )


@app.command()
def report(
    output: Annotated[Path | None, typer.Option(help="HTML file to write.")] = None,
    pdf: ReportPdfOption = False,
) -> None:
    """Write the governance report (EU AI Act Annex IV and SR 11-7 layout) as HTML, and PDF."""
    from mlgate.reports.files import checked_output
    from mlgate.reports.governance import write_governance

    gov = _gov()
    output = output or gov.workspace.root / "report.html"
    protected = (gov.workspace.state_dir, gov.workspace.config_path)
    output = checked_output(
        output, "--output", protected, hint="add --pdf to write a PDF beside the HTML file"
    )
    _write_from_evidence(gov, "report", pdf, lambda data: write_governance(data, output, pdf=pdf))


@app.command()
def card(
    output_dir: Annotated[
        Path | None, typer.Option(help="Folder for model-card.html, .pdf and .json.")
    ] = None,
    pdf: CardPdfOption = True,
) -> None:
    """Write the model card as model-card.json (stable schema), model-card.html and .pdf."""
    from mlgate.reports.card import write_card

    gov = _gov()
    folder = output_dir or gov.workspace.root
    if folder.exists() and not folder.is_dir():
        raise ValidationError(
            f"--output-dir must be a folder; '{folder}' is a file",
            hint="name a folder (it is created when missing)",
        )
    _write_from_evidence(gov, "model card", pdf, lambda data: write_card(data, folder, pdf=pdf))


def _write_from_evidence(
    gov: Governance, what: str, pdf: bool, write: Callable[[dict], list[Path]]
) -> None:
    """Collect the project's evidence and write one document from it, showing progress."""
    from mlgate.reports.collect import collect

    if pdf:
        from mlgate.reports.pdf import load_weasyprint

        load_weasyprint()  # a missing PDF engine is reported before the slow part
    with console.status("collecting the project's evidence") as status:
        data = collect(gov)
        status.update(f"writing the {what}" + (" and printing it to PDF" if pdf else ""))
        paths = write(data)
    for path in paths:
        console.print(f"{what[0].upper()}{what[1:]} written to {path}")


# -- audit and policy ---------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify(
    known_head: Annotated[
        str | None,
        typer.Option(
            help="SEQ:HASH printed by an earlier verification and kept elsewhere: that event "
            "must still be in the chain with that hash, so a cut-off tail is caught too."
        ),
    ] = None,
) -> None:
    """Recompute the hash chain; name the first altered, removed or reordered event."""
    from mlgate.registry.audit import parse_head

    result = _gov().verify_audit(parse_head(known_head) if known_head else None)
    if result.ok:
        console.print(f"[green]OK[/green] {result.message}")
        return
    err_console.print(f"[bold red]TAMPERED[/bold red] {result.message}")
    raise typer.Exit(6)


@audit_app.command("log")
def audit_log(limit: AuditLimitOption = 30, full: AuditFullOption = False) -> None:
    """Show the most recent audit events, with each event's details and refusal reason."""
    from sqlalchemy import select

    from mlgate.registry.models import AuditEvent

    gov = _gov()
    with gov.transaction() as session:
        stmt = (
            select(AuditEvent)
            .where(AuditEvent.project == gov.config.project)
            .order_by(AuditEvent.seq.desc())
            .limit(limit)
        )
        events = list(session.execute(stmt).scalars())
    print_audit_events([_event_fields(e) for e in reversed(events)], full)


def _event_fields(event: Any) -> dict[str, Any]:
    """Return the fields of a stored audit event that the log shows."""
    names = ("seq", "created_at", "actor", "action", "subject", "payload")
    return {name: getattr(event, name) for name in names}


@policy_app.command("validate")
def policy_validate(file: Annotated[Path, typer.Argument(help="A policy YAML file.")]) -> None:
    """Check a policy file; errors name the line and field."""
    from mlgate.policy import load_policy

    policy = load_policy(file)
    counts = {
        t: sum(len(policy.requirements_for(s, t)) for s in policy.stage_ids)
        for t in ("low", "medium", "high")
    }
    console.print(
        f"[green]valid[/green]: {policy.name} {policy.version}, "
        f"{len(policy.stages)} stage(s), requirements per tier {counts}"
    )


@policy_app.command("show")
def policy_show(tier: Annotated[str | None, typer.Option(help="Only this tier.")] = None) -> None:
    """Show the project's policy (or the default one outside a workspace)."""
    from mlgate.policy import default_policy_path, load_policy

    try:
        policy = _gov().policy
    except GovernanceError:
        policy = load_policy(default_policy_path())
    for stage in policy.stages:
        console.print(f"[bold]{stage.title}[/bold] ({stage.id})")
        for req in stage.requirements:
            if tier is None or tier in req.tiers:
                console.print(
                    f"  {req.id:<28} {req.kind:<9} tiers {','.join(req.tiers):<16} {req.title}"
                )


@app.command()
def demo(
    path: Annotated[Path, typer.Option(help="Folder for the demo workspace.")] = Path(
        "mlgate-demo"
    ),
    force: Annotated[bool, typer.Option(help="Replace an earlier demo workspace.")] = False,
) -> None:
    """Drive a credit-risk model through all seven stages on the German credit data."""
    from mlgate.demo.run import run_demo

    run_demo(path, force=force)


@app.command()
def version() -> None:
    """Print mlgate's version."""
    console.print(__version__)


testing_cli.register(app, _gov, _progress)
mitigate_cli.register(app, _gov)
release_cli.register(app, _gov)
serving_cli.register(app, _gov)
pipelines_cli.register(app, _gov)
stream_cli.register(app, _gov)
deployments_cli.register(app, _gov)
monitor_cli.register(app, _gov, _progress)
server_cli.register(app)


INTERRUPTED = 130  # the shell's code for a command stopped by Ctrl-C


def main() -> None:
    """Run the command line, turning every error into a one-paragraph message.

    With ``MLGATE_SERVER_URL`` set, the commands act through that team server
    (:mod:`mlgate.client.remote`) instead of on a local store.
    """
    try:
        command, args = app, None
        if os.environ.get("MLGATE_SERVER_URL", "").strip():
            from mlgate.client.remote import remote_command

            command, args = remote_command(sys.argv[1:])
        code = command(args=args, prog_name="mlgate", standalone_mode=False)
    except GovernanceError as exc:
        # Messages quote what was given (names, paths, the server's words): never markup.
        err_console.print(f"[bold red]error:[/bold red] {escape(exc.message)}", soft_wrap=True)
        if exc.hint:
            err_console.print(f"[cyan]next:[/cyan] {escape(exc.hint)}", soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(INTERRUPTED)
    except typer.TyperException as exc:  # usage errors: unknown option, missing argument
        exc.show()  # type: ignore[attr-defined]
        sys.exit(getattr(exc, "exit_code", 2))
    except KeyboardInterrupt:
        err_console.print("interrupted; nothing half-written was kept")
        sys.exit(INTERRUPTED)
    except Exception as exc:
        if os.environ.get("MLGATE_DEBUG"):
            raise
        err_console.print(
            f"[bold red]internal error:[/bold red] {type(exc).__name__}: {escape(str(exc))}. "
            "This is a bug in "
            "mlgate; run again with MLGATE_DEBUG=1 to see the traceback and report it.",
            soft_wrap=True,
        )
        sys.exit(70)
    if code == INTERRUPTED:  # Typer turns Ctrl-C into this exit code instead of raising
        err_console.print("interrupted; nothing half-written was kept")
    if isinstance(code, int) and code:
        sys.exit(code)
