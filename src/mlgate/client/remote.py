"""The ``mlgate`` commands in remote mode: the same names, options and output, through the API.

:func:`remote_command` is what ``mlgate`` runs when ``MLGATE_SERVER_URL`` is set. Every
governance command sends its request as the token's user and prints the answer the way the
local command prints the service's result. The project is ``--project NAME``, else
``MLGATE_PROJECT``, else the ``project`` of the ``mlgate.yaml`` above the current folder.

``--as`` is refused: the server acts as the token's user. Commands that work on files where
they are (``train``, ``serve``, ``predict``...) are refused with one line saying they run
locally; ``doc new``, ``doc kinds``, ``data infer``, ``policy validate`` and ``version`` need
no store and run here unchanged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.markup import escape

from mlgate.cli.options import (
    AdvanceToOption,
    ApprovalRequirement,
    ApproveCommentOption,
    AuditFullOption,
    AuditLimitOption,
    CheckName,
    ContractOption,
    DataFile,
    DatasetNameOption,
    DatasetOption,
    DaysOption,
    DocumentPaths,
    EstimatorOption,
    ExcludeOption,
    ExpiresOption,
    JustificationOption,
    MemberName,
    PositiveLabelOption,
    RejectCommentOption,
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
    STATUS_STYLE,
    check_table,
    console,
    err_console,
    print_audit_events,
    print_findings,
)
from mlgate.client.http import URL_VARIABLE, ServerClient, segment
from mlgate.client.views import alert_object, as_object, print_remote_status
from mlgate.config import CONFIG_FILE, Workspace
from mlgate.errors import NotFoundError, ValidationError

logger = logging.getLogger(__name__)

PROJECT_VARIABLE = "MLGATE_PROJECT"
PROJECT_HINT = (
    f"pass --project NAME, export {PROJECT_VARIABLE}=NAME, or run inside a workspace whose "
    f"{CONFIG_FILE} names the project"
)
# Options of the main command that may also be written after the command's name.
HOISTED = ("--project", "--as")

remote_app = typer.Typer(
    name="mlgate",
    help="Govern machine-learning models from business case to production (through the team "
    f"server at {URL_VARIABLE}).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
doc_app = typer.Typer(
    help="Write and submit the documents the policy asks for.", no_args_is_help=True
)
data_app = typer.Typer(help="Register and list dataset versions.", no_args_is_help=True)
model_app = typer.Typer(help="List model versions.", no_args_is_help=True)
member_app = typer.Typer(help="Give people roles in the project.", no_args_is_help=True)
audit_app = typer.Typer(
    help="Read and verify the tamper-evident audit trail.", no_args_is_help=True
)
remote_app.add_typer(doc_app, name="doc")
remote_app.add_typer(data_app, name="data")
remote_app.add_typer(model_app, name="model")
remote_app.add_typer(member_app, name="member")
remote_app.add_typer(audit_app, name="audit")


@dataclass
class Remote:
    """The server client and the project the commands act on, both made when first needed."""

    project_option: str | None = None
    _client: ServerClient | None = None
    _project: str | None = None

    @property
    def client(self) -> ServerClient:
        """Return the client for ``MLGATE_SERVER_URL`` with ``MLGATE_TOKEN``."""
        if self._client is None:
            self._client = ServerClient.from_env()
        return self._client

    @property
    def project(self) -> str:
        """Return the name of the project the commands act on."""
        if self._project is None:
            self._project = project_name(self.project_option)
        return self._project

    def reset(self) -> None:
        """Forget the client and the project of an earlier run in the same process."""
        if self._client is not None:
            self._client.close()
        self.project_option = self._client = self._project = None

    def path(self, *parts: object) -> str:
        """Return the API path of the project, or of ``parts`` below it."""
        return "/".join([f"/projects/{segment(self.project)}", *map(segment, parts)])


REMOTE = Remote()


def project_name(option: str | None) -> str:
    """Return ``--project`` (or ``MLGATE_PROJECT``), else the ``project`` of ``mlgate.yaml``."""
    if option is not None:
        if not option.strip():
            raise ValidationError(f"--project (or {PROJECT_VARIABLE}) is empty", hint=PROJECT_HINT)
        return option.strip()
    try:
        workspace = Workspace.find()
    except NotFoundError:
        raise NotFoundError(
            f"no project given: neither --project, {PROJECT_VARIABLE} nor a {CONFIG_FILE} in "
            f"{Path.cwd()} or above it",
            hint=PROJECT_HINT,
        ) from None
    name = _configured_project(workspace.config_path)
    logger.info("acting on project %s, named by %s", name, workspace.config_path)
    return name


def _configured_project(path: Path) -> str:
    """Return the ``project`` key of a workspace's ``mlgate.yaml``."""
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ValidationError(f"cannot read {path}: {exc}", hint=PROJECT_HINT) from None
    name = content.get("project") if isinstance(content, dict) else None
    if not isinstance(name, str) or not name.strip():
        raise ValidationError(
            f"{path} has no 'project: NAME' entry; expected the project's name", hint=PROJECT_HINT
        )
    return name.strip()


def hoist_options(args: list[str]) -> list[str]:
    """Return ``args`` with ``--project NAME`` and ``--as NAME`` moved before the command.

    They are options of ``mlgate`` itself; people also write them after the command's name
    (``mlgate status --project credit``), and that should work the same.
    """
    front: list[str] = []
    rest: list[str] = []
    position = 0
    while position < len(args):
        arg = args[position]
        if arg == "--":
            rest += args[position:]
            break
        if arg in HOISTED and position + 1 < len(args):
            front += args[position : position + 2]
            position += 2
            continue
        if arg.startswith(tuple(f"{name}=" for name in HOISTED)):
            front.append(arg)
        else:
            rest.append(arg)
        position += 1
    return front + rest


@remote_app.callback()
def _main(
    project: Annotated[
        str | None,
        typer.Option("--project", envvar=PROJECT_VARIABLE, help="The project on the team server."),
    ] = None,
    actor: Annotated[
        str | None, typer.Option("--as", help="Local mode only: refused by the team server.")
    ] = None,
    verbose: VerboseOption = 0,
) -> None:
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if actor is not None:
        raise ValidationError(
            f"--as {actor} works in local mode only: the team server acts as the user its "
            "token belongs to",
            hint="`mlgate whoami` shows who that is; use that person's token to act as them",
        )
    REMOTE.project_option = project


def call(method: str, *parts: object, **kwargs: Any) -> Any:
    """Send a request about the project (``parts`` below it) and return the JSON answer."""
    return REMOTE.client.request(method, REMOTE.path(*parts), **kwargs).json()


# -- who and what -------------------------------------------------------------------------


@remote_app.command()
def whoami() -> None:
    """Show who the token belongs to, on which server, and their roles per project."""
    me = REMOTE.client.get("/me")
    admin = " (server admin)" if me["is_admin"] else ""
    console.print(f"[bold]{escape(me['name'])}[/bold]{admin} on {escape(REMOTE.client.url)}")
    for project, roles in me["roles"].items():
        console.print(f"  {escape(project):<24} {escape(', '.join(roles))}")
    if not me["roles"]:
        console.print("  no role in any project yet; a project's admin runs `mlgate member add`")


@remote_app.command()
def init(
    name: Annotated[str, typer.Argument(help="Project name, unique on the server.")],
    target: TargetOption,
    tier: TierOption = "medium",
    sensitive: SensitiveOption = "",
    exclude: ExcludeOption = "",
    positive_label: PositiveLabelOption = "1",
    estimator: EstimatorOption = "sklearn.ensemble.HistGradientBoostingClassifier",
    description: Annotated[str, typer.Option(help="What the project is for.")] = "",
    data: TrainDataOption = None,
) -> None:
    """Create a project on the server; you become its owner, admin and data scientist."""
    if tier not in ("low", "medium", "high"):
        raise ValidationError(f"--tier must be low, medium or high; got '{tier}'")
    body = {
        "name": name,
        "target": target,
        "tier": tier,
        "sensitive": _names(sensitive),
        "exclude": _names(exclude),
        "positive_label": _label(positive_label),
        "estimator": estimator,
        "description": description,
    }
    if data is not None:
        _readable(data, "--data")
    created = REMOTE.client.post("/projects", json=body)
    console.print(
        f"Created project [bold]{escape(created['name'])}[/bold] ({created['tier']} risk) on "
        f"{escape(REMOTE.client.url)}"
    )
    if data is not None:
        REMOTE.project_option = created["name"]
        _upload_dataset(data, "train", None)
    console.print(
        f"Next: export {PROJECT_VARIABLE}={escape(created['name'])}; `mlgate doc new KIND` "
        "writes a template to fill in and `mlgate status` shows what the first stage needs."
    )


def _names(text: str) -> list[str]:
    return list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))


def _label(text: str) -> int | str:
    return int(text) if text.lstrip("-").isdigit() else text


@remote_app.command()
def status(show_all: ShowAllStagesOption = False) -> None:
    """Show the current stage and, per requirement, what satisfied it or what is missing."""
    from mlgate.cli.render import alert_table

    project = call("GET")
    print_remote_status(project, show_all, REMOTE.client.url)
    alerts = [alert_object(a) for a in call("GET", "alerts")]
    if alerts:
        console.print(alert_table(alerts, "Open monitoring alerts"))


@remote_app.command()
def advance(to: AdvanceToOption = None, run_checks: RunChecksOption = True) -> None:
    """Move to the next stage when every requirement of the current one is met."""
    project = call("GET")
    stage_ids = [s["id"] for s in project["stages"]]
    current = project["stage"]
    if to is not None and to not in stage_ids:
        raise ValidationError(
            f"--to must be a stage of the policy ({', '.join(stage_ids)}); got '{to}'"
        )
    if to is not None and stage_ids.index(to) <= stage_ids.index(current):
        later = ", ".join(stage_ids[stage_ids.index(current) + 1 :]) or "none"
        raise ValidationError(
            f"--to {to} is not after the current stage '{current}'; stages after it: {later}"
        )
    while True:
        if run_checks and _checks_missing(project):
            with err_console.status("running the missing checks on the server"):
                call("POST", "recheck")
        moved = call("POST", "advance")
        console.print(
            f"[green]Advanced[/green] from {moved['previous']} to [bold]{moved['stage']}[/bold]"
        )
        if to is None or moved["stage"] in (to, stage_ids[-1]):
            break
        project = call("GET")


def _checks_missing(project: dict[str, Any]) -> bool:
    """Return whether the current stage has an automated check without evidence."""
    stage = next(s for s in project["stages"] if s["id"] == project["stage"])
    return any(
        r["state"] == "missing" and r["hint"].startswith("mlgate check")
        for r in stage["requirements"]
    )


# -- documents ----------------------------------------------------------------------------


@doc_app.command("submit")
def doc_submit(paths: DocumentPaths) -> None:
    """Validate documents field by field on the server and store them as evidence."""
    files = [f for p in paths for f in (sorted(p.glob("*.yaml")) if p.is_dir() else [p])]
    if not files:
        raise ValidationError(f"no .yaml documents found in {', '.join(map(str, paths))}")
    for file in files:
        content = _text_of(file)
        evidence = call("POST", "documents", json={"filename": file.name, "content": content})
        style = "green" if evidence["status"] == "pass" else "red"
        console.print(
            f"[{style}]{evidence['status']}[/] {escape(str(file))}: "
            f"{escape(evidence['summary'])} (evidence {evidence['id']}, requirement "
            f"{evidence['requirement_id']})"
        )


def _readable(path: Path, what: str) -> None:
    """Refuse a path that is not a readable file, naming it."""
    if not path.is_file():
        raise NotFoundError(f"{what} {path} does not exist or is not a file")


def _text_of(file: Path) -> str:
    """Return a local document's text; refuse a missing or non-UTF-8 file."""
    _readable(file, "document")
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"{file} is not UTF-8 text (byte {exc.start}); expected a YAML document"
        ) from None


# -- data and models ----------------------------------------------------------------------


@data_app.command("add")
def data_add(
    file: DataFile, name: DatasetNameOption = "train", contract: ContractOption = None
) -> None:
    """Upload a data file as a new version of a named dataset."""
    _readable(file, "data file")
    if contract is not None:
        _readable(contract, "--contract")
    _upload_dataset(file, name, contract)


def _upload_dataset(file: Path, name: str, contract: Path | None) -> None:
    """Upload ``file`` (and its contract) as dataset ``name`` and say what was registered."""
    with file.open("rb") as data, err_console.status(f"uploading {file.name}"):
        files: dict[str, Any] = {"file": (file.name, data, "application/octet-stream")}
        if contract is not None:
            files["contract"] = (contract.name, contract.read_bytes(), "application/yaml")
        dataset = call("POST", "datasets", files=files, data={"name": name})
    if dataset.get("unchanged"):
        console.print(
            f"{escape(str(file))} is unchanged since version {dataset['version']} of dataset "
            f"'{escape(name)}' (sha256 {dataset['sha256'][:12]}); nothing registered, evidence "
            "stays valid"
        )
        return
    console.print(
        f"Registered {escape(str(file))} as dataset '{escape(dataset['name'])}': "
        f"version {dataset['version']}, {dataset['n_rows']} rows, {dataset['n_cols']} columns, "
        f"sha256 {dataset['sha256'][:12]}"
    )


@data_app.command("list")
def data_list() -> None:
    """List the registered dataset versions."""
    for d in call("GET", "datasets"):
        console.print(
            f"{d['id']:>4} {escape(d['name']):<10} {d['n_rows']:>8} rows  {d['sha256'][:12]}  "
            f"{escape(d['created_by'])}  {escape(d['file'])}"
        )


@model_app.command("list")
def model_list() -> None:
    """List the registered model versions."""
    for m in call("GET", "models"):
        console.print(
            f"v{m['version']:<3} {escape(m['estimator'])}  {m['artifact_sha256'][:12]}  "
            f"{escape(m['created_by'])}  {m['created_at'][:16].replace('T', ' ')}"
        )


# -- checks, approvals, waivers -----------------------------------------------------------


@remote_app.command()
def check(
    name: CheckName, dataset: DatasetOption = None, streaming: StreamingOption = False
) -> None:
    """Run one check on the server and store it as evidence."""
    with err_console.status(f"running {name} on the server"):
        run = call("POST", "checks", name, json={"dataset": dataset, "streaming": streaming})
    result = as_object(run)
    result.check = run.get("check", name)
    result.metrics = run.get("metrics") or {}
    result.findings = [as_object(f) for f in run.get("findings") or [] if isinstance(f, dict)]
    console.print(check_table(result))
    print_findings(result)
    evidence = run["evidence"]
    if evidence["requirement_id"]:
        console.print(
            f"Stored as evidence {evidence['id']} for requirement {evidence['requirement_id']}."
        )
    else:
        console.print(
            f"Stored as voluntary evidence {evidence['id']} (no requirement asks for it)."
        )
    if run["status"] == "fail":
        raise typer.Exit(1)


@remote_app.command()
def recheck() -> None:
    """Re-run every check, up to the current stage, whose evidence is missing or stale."""
    with err_console.status("re-running stale checks on the server"):
        ran = call("POST", "recheck")
    for evidence in ran:
        style = STATUS_STYLE.get(evidence["status"], "")
        console.print(
            f"{evidence['requirement_id']}: [{style}]{evidence['status']}[/] - "
            f"{escape(evidence['summary'])}"
        )
    console.print(
        f"Re-ran {len(ran)} check(s); `mlgate status --all` shows where each stage stands."
    )


def _decide(requirement: str, decision: str, comment: str) -> dict[str, Any]:
    """Send an approval or rejection; the server refuses one without a reason."""
    if not comment.strip():
        raise ValidationError(
            f"--comment is required on the team server: say why you {decision} {requirement}"
        )
    body = {"decision": decision, "comment": comment}
    return call("POST", "approvals", requirement, json=body)


@remote_app.command()
def approve(requirement: ApprovalRequirement, comment: ApproveCommentOption = "") -> None:
    """Approve what an approval requirement is about (never your own work)."""
    approval = _decide(requirement, "approve", comment)
    console.print(
        f"[green]Approved[/green] {escape(requirement)} ({escape(approval['subject'])}) as "
        f"{approval['role']}"
    )


@remote_app.command()
def reject(requirement: ApprovalRequirement, comment: RejectCommentOption = "") -> None:
    """Reject what an approval requirement is about; the gate stays closed."""
    approval = _decide(requirement, "reject", comment)
    console.print(
        f"[red]Rejected[/red] {escape(requirement)} ({escape(approval['subject'])}) as "
        f"{approval['role']}"
    )


@remote_app.command()
def waive(
    requirement: WaivedRequirement,
    justification: JustificationOption = "",
    expires: ExpiresOption = None,
    days: DaysOption = None,
) -> None:
    """Set a requirement aside until an expiry date (risk officers and admins)."""
    until = _expiry(expires, days)
    if not justification.strip():
        raise ValidationError("--justification is required: say why skipping it is acceptable")
    body = {"justification": justification, "expires": until.isoformat()}
    waiver = call("POST", "waivers", requirement, json=body)
    console.print(
        f"[yellow]Waived[/yellow] {escape(requirement)} until {until} by {escape(waiver['actor'])}"
    )


def _expiry(expires: str | None, days: int | None) -> date:
    """Return the waiver's expiry from exactly one of ``--expires`` and ``--days``."""
    if (expires is None) == (days is None):
        raise ValidationError("give exactly one of --expires YYYY-MM-DD or --days N")
    if expires is None:
        return date.today() + timedelta(days=days or 0)
    try:
        return date.fromisoformat(expires)
    except ValueError:
        raise ValidationError(f"--expires must be a date YYYY-MM-DD; got '{expires}'") from None


@member_app.command("add")
def member_add(user: MemberName, role: RoleOption) -> None:
    """Give a person a role in the project (admins only)."""
    added = call("POST", "members", json={"user": user, "role": role})
    console.print(f"{escape(added['user'])} now holds {escape(added['role'])}")


@member_app.command("list")
def member_list() -> None:
    """List the project's members and roles."""
    for member in call("GET", "members"):
        console.print(f"{escape(member['user']):<20} {escape(member['role'])}")


# -- audit --------------------------------------------------------------------------------


@audit_app.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain on the server; name the first altered event."""
    result = REMOTE.client.get("/audit/verify")
    if result["ok"]:
        console.print(f"[green]OK[/green] {escape(result['message'])}")
        return
    err_console.print(f"[bold red]TAMPERED[/bold red] {escape(result['message'])}")
    raise typer.Exit(6)


@audit_app.command("log")
def audit_log(limit: AuditLimitOption = 30, full: AuditFullOption = False) -> None:
    """Show the most recent audit events of the project, with each event's details."""
    if not 1 <= limit <= 10_000:
        raise ValidationError(f"--limit must be between 1 and 10000; got {limit}")
    events = call("GET", "audit", params={"limit": limit})
    print_audit_events(sorted(events, key=lambda event: event["seq"]), full)


# -- assembling ---------------------------------------------------------------------------


def remote_command(args: list[str]) -> tuple[typer.Typer, list[str]]:
    """Return the remote application and the arguments to run it with.

    Imports the remaining command groups and adds a one-line refusal for every local command
    that has no remote counterpart.
    """
    REMOTE.reset()
    if not ASSEMBLED:
        from mlgate.cli import app as local
        from mlgate.client import operations
        from mlgate.client.stubs import add_local_commands, add_refusals

        operations.register(remote_app)
        add_local_commands(remote_app, local)
        add_refusals(remote_app, local.app)
        ASSEMBLED.append(True)
    return remote_app, hoist_options(args)


ASSEMBLED: list[bool] = []  # the groups are added once per process
