"""``mlgate demo``: a credit-risk model driven through all seven stages on real data.

The demo plays a bank's team: Alice (data scientist) builds the model, Carol (business owner)
writes the business case and signs user acceptance, Dana (head of lending) approves the case, Rita
(risk officer) approves the risk assessment, Bob and Victor (validators) approve the model, Eric
(ML engineer) deploys it. It follows whatever the policy asks for at the high-risk tier, so every
requirement is satisfied by real evidence, and it shows the gates refusing: an early advance and a
self-approval.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pandas as pd
import yaml
from rich.console import Console
from rich.table import Table

from mlgate.config import DataConfig, ReviewConfig, TrainingConfig, WorkspaceConfig
from mlgate.contracts import dump_contract, infer_contract
from mlgate.demo.data import load_german_credit, split
from mlgate.demo.production import midnight, replay_month, share_approved, write_log
from mlgate.documents import example
from mlgate.errors import ConflictError, PolicyViolation
from mlgate.lifecycle.data import register_dataset
from mlgate.lifecycle.deploy import deploy, deployed_version, load_scorer, predict_file
from mlgate.lifecycle.evidence import ensure_checks, submit_document
from mlgate.lifecycle.findings import add_finding, close_finding, update_finding
from mlgate.lifecycle.gates import evaluate_stage
from mlgate.lifecycle.models import train_model
from mlgate.lifecycle.project import init_project
from mlgate.lifecycle.service import Governance
from mlgate.monitoring.dashboard import write_dashboard
from mlgate.monitoring.kpis import record_kpi
from mlgate.monitoring.labels import ingest_labels
from mlgate.monitoring.run import MonitorSummary, monitor
from mlgate.monitoring.settings import KpiSpec, MonitoringConfig, Rule
from mlgate.policy.model import Requirement
from mlgate.release.package import package_model
from mlgate.reports.card import write_card
from mlgate.reports.collect import collect, explore_dataset
from mlgate.reports.governance import write_governance
from mlgate.serving.predictions import prediction_log_folder

logger = logging.getLogger(__name__)
console = Console(highlight=False)

PROJECT = "german-credit-risk"
MARKER = ".mlgate-demo"
TEAM = {
    "alice": ["admin", "data_scientist"],
    "carol": ["business_owner"],
    "dana": ["business_owner"],
    "rita": ["risk_officer"],
    "bob": ["validator"],
    "victor": ["validator"],
    "eric": ["ml_engineer"],
    "audrey": ["auditor"],
}
AUTHORS = {"business_case": "carol", "data_access_grant": "rita"}
_CACHES = shutil.ignore_patterns("__pycache__", ".pytest_cache", ".ruff_cache")
DATASET_FOR_STAGE = {"kickoff": "train", "development": "holdout", "monitoring": "current"}
# The business case's second success metric, as monitoring names a KPI.
AUTOMATION_KPI = "share_of_applications_decided_without_manual_review"
REPLAYED_DAYS, LABELLED_DAYS = 30, 20
REFER_BELOW = 0.5  # as in the team's credit_scoring/predict.py


@dataclass
class StageLog:
    """What happened in one stage, for the closing summary."""

    stage: str
    events: list[str] = field(default_factory=list)
    met: int = 0
    total: int = 0


@contextmanager
def _demo_store(database_url: str | None) -> Iterator[None]:
    """Keep the demo on its own store: embedded SQLite unless ``database_url`` is given.

    A team store configured in the environment is set aside, so the demo never writes into it.
    """
    names = ("MLGATE_DATABASE_URL", "MLGATE_ARTIFACT_URL", "MLGATE_WORKSPACE")
    saved = {k: os.environ.pop(k) for k in names if k in os.environ}
    if database_url:
        os.environ["MLGATE_DATABASE_URL"] = database_url
    try:
        yield
    finally:
        os.environ.pop("MLGATE_DATABASE_URL", None)
        os.environ.update(saved)


def run_demo(path: Path, force: bool = False, database_url: str | None = None) -> Path:
    """Run the whole demo in ``path`` and return the report's path.

    ``database_url`` puts the demo's store on a server (the tests run it on PostgreSQL).
    """
    started = time.perf_counter()
    _prepare(path, force)
    with _demo_store(database_url):
        report = _Demo(path.resolve()).run()
    console.print(f"\nDemo finished in {time.perf_counter() - started:.1f} s.")
    console.print(f"Report: [bold]{report}[/bold]")
    console.print(f"Explore: cd {path} && mlgate status --all && mlgate audit verify")
    return report


def _prepare(path: Path, force: bool) -> None:
    if path.exists() and not path.is_dir():
        raise ConflictError(f"{path} is a file; the demo needs a folder", hint="pass --path")
    if path.exists() and any(path.iterdir()):
        if not (path / MARKER).exists():
            raise ConflictError(
                f"{path} exists and is not an earlier demo workspace; the demo will not touch it",
                hint="pass --path to an empty or new folder",
            )
        if not force:
            raise ConflictError(
                f"{path} holds an earlier demo run", hint="add --force to replace it"
            )
        shutil.rmtree(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / MARKER).write_text("made by mlgate demo; --force may delete this folder\n")


class _Demo:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.logs: dict[str, StageLog] = {}
        self.files: dict[str, Path] = {}
        self.config = WorkspaceConfig(
            project=PROJECT,
            tier="high",
            owner="alice",
            description="Scores consumer credit applications as good or bad credit risk.",
            data=DataConfig(
                target="good_credit",
                positive_label=1,
                sensitive=["sex", "age_group", "foreign_worker"],
                exclude=["sex", "age_group", "foreign_worker"],
            ),
            training=TrainingConfig(
                estimator="sklearn.linear_model.LogisticRegression",
                params={"C": 0.1, "max_iter": 2000},
                seed=7,
            ),
            review=ReviewConfig(source=["src"]),
            monitoring=MonitoringConfig(
                kpis=[KpiSpec(name=AUTOMATION_KPI, unit="%", direction="higher")],
                extra_rules=[
                    Rule(
                        id="automation_kpi",
                        metric=f"kpi.{AUTOMATION_KPI}",
                        when="below",
                        threshold="business_case",
                        min_samples=1,
                        severity="medium",
                        description="Fewer applications than the business case promised were "
                        "decided without a credit officer.",
                    )
                ],
            ),
        )

    def gov(self, actor: str) -> Governance:
        return Governance(self.owner.workspace, actor=actor, store=self.owner.store)

    def run(self) -> Path:
        console.rule("mlgate demo: German credit risk model, high-risk tier")
        self._write_data()
        self._write_project()
        self.owner = init_project(self.root, self.config)
        for user, roles in TEAM.items():
            for role in roles:
                if user != "alice" or role not in ("admin", "data_scientist"):
                    self.owner.add_member(user, role)
        console.print(f"Project {PROJECT} created in {self.root} with {len(TEAM)} people")

        stages = self.owner.policy.stage_ids
        for stage in stages:
            log = self.logs.setdefault(stage, StageLog(stage))
            console.rule(f"[bold]{self.owner.policy.stage(stage).title}[/bold]")
            self._satisfy(stage, log)
            if stage != stages[-1]:
                target = self.owner.advance()
                log.events.append(f"advanced to {target}")
                console.print(f"[green]gate passed[/green]: {stage} -> {target}")

        return self._finish()

    def _write_data(self) -> None:
        data_dir = self.root / "data"
        data_dir.mkdir(exist_ok=True)
        train, holdout, current = split(load_german_credit())
        applications = holdout.drop(columns=["good_credit"])
        for name, frame in [
            ("train", train),
            ("holdout", holdout),
            ("current", current),
            ("applications", applications),
        ]:
            self.files[name] = data_dir / f"{name}.csv"
            frame.to_csv(self.files[name], index=False)
        console.print(
            f"German credit data: {len(train)} training, {len(holdout)} hold-out rows, "
            f"and a shifted window of {len(current)} recent applications"
        )

    def _write_project(self) -> None:
        """Lay out the team's own code, tests and README, which the review stage reviews."""
        project = resources.files("mlgate.demo").joinpath("project")
        with resources.as_file(project) as source:
            shutil.copytree(source, self.root, dirs_exist_ok=True, ignore=_CACHES)
        console.print("the team's credit_scoring package, its tests and README are in place")

    # -- one stage --------------------------------------------------------------------------

    def _satisfy(self, stage: str, log: StageLog) -> None:
        alice = self.gov("alice")
        reqs = alice.policy.requirements_for(stage, self.config.tier)

        for req in reqs:
            documentary = req.kind in ("document", "record") and req.record != "deployment"
            if documentary and req.document != "user_acceptance":
                self._submit(req, log)
        if stage in DATASET_FOR_STAGE:
            name = DATASET_FOR_STAGE[stage]
            dataset = register_dataset(alice, self.files[name], name, self._contract())
            log.events.append(f"dataset '{name}' registered ({dataset.n_rows} rows)")
        if stage == "development":
            _, result, page = explore_dataset(alice, "train")
            log.events.append("exploratory analysis written")
            console.print(f"alice explored the training data: {page.name} ({result.status})")
            version = train_model(alice)
            log.events.append(f"model v{version.version} trained ({version.estimator})")
            console.print(f"trained model v{version.version}: {version.metrics}")
        self._run_checks(stage, log)
        if stage == "testing":
            self._remove_proxy(log)
        for req in reqs:
            if req.document == "user_acceptance":
                self._accept(req, log)

        if stage == "initiation":
            self._show_blocked_gate(stage, log)
        if stage == "review":
            self._review_findings(log)
        for req in reqs:
            if req.kind == "approval":
                self._approve(stage, req, log)
        for req in reqs:
            if req.kind == "record" and req.record == "deployment":
                deployment = deploy(self.gov("eric"), "batch", "batch:nightly-scoring")
                log.events.append(f"deployed by eric ({deployment.mode})")
                console.print("eric deployed the approved version for batch scoring")
        if stage == "monitoring":
            self._package(log)
            self._score(log)
            self._watch(log)

        states = evaluate_stage(alice.snapshot_now(), stage)
        log.met, log.total = sum(s.met for s in states), len(states)

    def _contract(self) -> Path:
        """Draft the data contract from the training file once, as ``mlgate data infer`` does."""
        path = self.root / "data" / "contract.yaml"
        if not path.exists():
            frame = pd.read_csv(self.files["train"])
            contract = infer_contract(frame, "german_credit", target=self.config.data.target)
            path.write_text(dump_contract(contract), encoding="utf-8")
            marked = [c.name for c in contract.columns if c.sensitivity != "none"]
            console.print(f"alice drafted the data contract; sensitive: {', '.join(marked)}")
        return path

    def _accept(self, req: Requirement, log: StageLog) -> None:
        """Each business owner the policy asks for tries the current version and accepts it."""
        signers = [u for u, roles in TEAM.items() if req.role in roles]
        for user in signers[: req.count_for(self.config.tier)]:
            self._submit(req, log, author=user)

    def _submit(self, req: Requirement, log: StageLog, author: str | None = None) -> None:
        kind = req.document or req.record
        assert kind is not None
        author = author or AUTHORS.get(kind, "alice")
        content = example(kind, datetime.now(UTC).date())
        if kind == "user_acceptance":
            content["model_version"] = self.gov("alice").snapshot_now().model.version
            content["signed_by"] = author
        if kind == "data_access_grant":
            content.update(grantee="alice", granted_by="rita")
        path = self.root / "docs" / f"{kind}.yaml"
        path.write_text(yaml.safe_dump({"kind": kind, **content}, sort_keys=False))
        evidence = submit_document(self.gov(author), path)
        log.events.append(f"{kind} submitted by {author}")
        console.print(f"{author} submitted {kind}: {evidence.status}")

    def _run_checks(self, stage: str, log: StageLog, waive: bool = True) -> list[str]:
        """Run the stage's missing checks; return the requirements that failed."""
        failed = []
        for evidence in ensure_checks(self.gov("alice"), stage):
            style = {"pass": "green", "warn": "yellow", "fail": "red"}[evidence.status]
            console.print(
                f"check {evidence.requirement_id}: [{style}]{evidence.status}[/] - "
                f"{evidence.summary}"
            )
            log.events.append(f"check {evidence.requirement_id}: {evidence.status}")
            if evidence.status == "fail":
                failed.append(evidence.requirement_id or "")
                if waive and evidence.requirement_id != "fairness":
                    self._waive_failed(evidence.requirement_id or "", evidence.summary, log)
        return failed

    def _remove_proxy(self, log: StageLog) -> None:
        """Answer a failed fairness check the way a data scientist would.

        ``status_sex`` combines marital status with sex, so it is a direct proxy of a sensitive
        attribute. Alice drops it and retrains; the new version's evidence is produced afresh,
        because evidence for version 1 does not count for version 2.
        """
        states = {s.id: s for s in evaluate_stage(self.gov("alice").snapshot_now(), "testing")}
        if "fairness" not in states or states["fairness"].state != "failed":
            return
        console.print("[yellow]fairness failed[/yellow]: status_sex encodes sex; alice drops it")
        workspace = self.owner.workspace
        config = workspace.load_config()
        config.data.exclude = [*config.data.exclude, "status_sex"]
        workspace.save_config(config)

        version = train_model(self.gov("alice"))
        log.events.append(f"fairness failed; proxy status_sex dropped; v{version.version} trained")
        console.print(f"trained model v{version.version} without status_sex: {version.metrics}")
        self._run_checks("development", self.logs["development"], waive=False)
        for requirement_id in self._run_checks("testing", log):
            if requirement_id == "fairness":
                summary = self._latest_summary("fairness")
                self._waive_failed("fairness", summary, log)

    def _latest_summary(self, requirement_id: str) -> str:
        evidence = self.gov("alice").snapshot_now().latest_evidence(requirement_id)
        return evidence.summary if evidence else ""

    def _waive_failed(self, requirement_id: str, summary: str, log: StageLog) -> None:
        remedy = {
            "fairness": "A threshold optimiser (mlgate mitigate) is evaluated",
            "slices": "More applications from the flagged groups are collected and the model "
            "is retrained",
            "drift": "The model is retrained on recent applications and validated again",
        }.get(requirement_id, "The cause is investigated")
        reason = (
            "Accepted by the risk committee for a 90-day pilot with manual review of every "
            f"declined application: {summary}. {remedy} before the waiver ends, and the check "
            "is re-run at the next review."
        )
        self.gov("rita").waive(requirement_id, reason[:900], _in_days(90))
        log.events.append(f"{requirement_id} failed; waived by rita for 90 days")
        console.print(f"[yellow]rita waived {requirement_id} for 90 days[/yellow] with a reason")

    def _show_blocked_gate(self, stage: str, log: StageLog) -> None:
        self._try_early_advance(log)
        self._try_self_approval(stage, log)

    def _try_early_advance(self, log: StageLog) -> None:
        try:
            self.gov("alice").advance()
        except PolicyViolation as refusal:
            gaps = refusal.message.count("\n  - ")
            log.events.append(f"early advance refused ({gaps} gaps)")
            console.print(
                f"[red]gate refused[/red] alice's early advance: {gaps} requirement(s) "
                "still open, each named with its next step"
            )

    def _try_self_approval(self, stage: str, log: StageLog) -> None:
        business_case = next(
            (
                r
                for r in self.owner.policy.requirements_for(stage, "high")
                if r.kind == "approval" and r.subject == "business_case"
            ),
            None,
        )
        if business_case is None:
            return
        try:
            self.gov("carol").decide(business_case.id, "approve", "I wrote it and it is good.")
        except PolicyViolation as refusal:
            log.events.append("self-approval by carol refused")
            console.print(f"[red]refused[/red]: {refusal.message}")

    def _review_findings(self, log: StageLog) -> None:
        """Bob finds a serious problem, the gate holds until it is fixed and he closes it."""
        if not any(r.kind == "findings" for r in self.owner.policy.stage("review").requirements):
            return
        serious = add_finding(
            self.gov("bob"),
            "high",
            "Referral threshold not tied to the business case",
            "REFER_BELOW in credit_scoring/predict.py decides which applications a person "
            "reviews, but nothing records why it is 0.5 or who agreed to it.",
            owner="alice",
            due=_in_days(14),
        )
        add_finding(
            self.gov("victor"),
            "low",
            "Tests use synthetic applications only",
            "The package's tests never score a sample of real applications.",
            owner="alice",
            due=_in_days(60),
            remediation="Add a test on 50 anonymised applications next quarter.",
        )
        log.events.append("findings: 1 high (bob), 1 low (victor)")
        console.print("bob recorded a high finding and victor a low one against the model")
        self._try_early_advance(log)

        update_finding(
            self.gov("alice"),
            serious.id,
            remediation="Carol confirmed 0.5 against the pilot's referral capacity; the README "
            "now says so.",
        )
        close_finding(
            self.gov("bob"),
            serious.id,
            "The threshold's origin and owner are documented and the business owner agreed.",
        )
        log.events.append(f"finding #{serious.id} fixed by alice, closed by bob")
        console.print(f"alice fixed finding #{serious.id}; bob closed it (the low one stays open)")

    def _approve(self, stage: str, req: Requirement, log: StageLog) -> None:
        from mlgate.lifecycle.gates import approval_subject

        alice = self.gov("alice")
        subject = approval_subject(alice.snapshot_now(), stage, req)
        assert subject is not None, f"nothing to approve for {req.id}"
        candidates = [
            u for u, roles in TEAM.items() if req.role in roles and u not in subject.authors
        ]
        needed = req.count_for(self.config.tier)
        for user in candidates[:needed]:
            comment = f"Reviewed {subject.description}; evidence is complete and acceptable."
            self.gov(user).decide(req.id, "approve", comment)
            log.events.append(f"{req.id} approved by {user}")
            console.print(f"{user} ({req.role}) approved {req.id}")

    def _package(self, log: StageLog) -> None:
        """Eric builds the reviewed version as a wheel any Python environment can install."""
        built = package_model(self.gov("eric"), output_dir=self.root / "dist")
        log.events.append(f"packaged as {built.filename}")
        console.print(f"eric packaged the reviewed model: dist/{built.filename}")

    def _score(self, log: StageLog) -> None:
        out = self.root / "data" / "applications.scored.csv"
        run = predict_file(self.gov("eric"), self.files["applications"], out)
        log.events.append(f"{run.rows} applications batch-scored with v{run.model_version}")
        console.print(f"scored {run.rows} applications with model v{run.model_version} -> {out}")

    def _watch(self, log: StageLog) -> None:
        """A month in production: the monitor finds the drift, then the late labels and KPI."""
        eric = self.gov("eric")
        version = deployed_version(eric, "batch")
        assert version is not None
        scorer = load_scorer(eric, version)
        today = midnight(datetime.now(UTC))
        # Tomorrow's applicants resemble yesterday's: every labelled application is a template.
        pool = pd.concat([pd.read_csv(self.files[n]) for n in ("train", "holdout")])
        month = replay_month(pool, scorer, self.config.data.target, end=today)
        rows = write_log(
            prediction_log_folder(eric), month, scorer.features, eric.sensitive, version.version
        )
        console.print(
            f"a month of production replayed: {rows:,} applications scored by v"
            f"{version.version} and logged over {REPLAYED_DAYS} days; loans asked for are "
            f"larger from {month.shifted_from:%Y-%m-%d} on"
        )
        first = monitor(eric)
        self._show_monitoring(first, log)

        known = month.first_day + timedelta(days=LABELLED_DAYS)
        labels = ingest_labels(eric, month.labels(before=known))
        console.print(
            f"eric brought in the outcomes of the first {LABELLED_DAYS} days: "
            f"{labels.stored:,} labels"
        )
        for start, end in _months(month.first_day, today):
            share = share_approved(month, start, end, REFER_BELOW)
            last_day = (end - timedelta(days=1)).date()
            record_kpi(self.gov("carol"), AUTOMATION_KPI, share, start.date(), last_day, "demo")
            console.print(
                f"carol reported {share:.1f}% of applications decided without manual review "
                f"for {start:%Y-%m-%d} to {last_day} (target in the business case: 60%)"
            )
        second = monitor(eric)
        self._show_monitoring(second, log)

        page = write_dashboard(eric, self.root / "monitoring.html")
        log.events.append(f"monitoring dashboard written ({page.name})")
        console.print(f"monitoring dashboard: {page.name}")

    def _show_monitoring(self, summary: MonitorSummary, log: StageLog) -> None:
        if summary.windows:
            drifted = sorted({f for w in summary.windows for f in w.drifted})
            log.events.append(
                f"{len(summary.windows)} windows monitored; drift in {', '.join(drifted) or '-'}"
            )
            console.print(
                f"monitoring read {len(summary.windows)} windows "
                f"({sum(w.rows for w in summary.windows if w.length == '1d'):,} daily rows); "
                f"drifted: {', '.join(drifted) or 'nothing'}"
            )
        if summary.caught_up or summary.kpis:
            console.print(
                f"late values: {summary.caught_up} performance values recomputed with the "
                f"labels, {summary.kpis} KPI values evaluated"
            )
        for alert in summary.opened:
            log.events.append(f"alert {alert.rule_id} on {alert.subject}")
            console.print(f"[red]alert[/red] ({alert.severity}) {alert.message}")

    # -- wrap-up ----------------------------------------------------------------------------

    def _finish(self) -> Path:
        auditor = self.gov("audrey")
        verdict = auditor.verify_audit()
        data = collect(auditor)
        report = write_governance(data, self.root / "report.html")[0]
        card = write_card(data, self.root)
        console.print(f"model card: {', '.join(path.name for path in card)}")

        table = Table(title="Stage by stage", title_justify="left")
        table.add_column("stage")
        table.add_column("met", justify="right")
        table.add_column("what happened")
        for log in self.logs.values():
            table.add_row(log.stage, f"{log.met}/{log.total}", "; ".join(log.events))
        console.print(table)
        style = "green" if verdict.ok else "red"
        console.print(f"[{style}]{verdict.message}[/]")
        return report


def _in_days(days: int):  # type: ignore[no-untyped-def]
    return datetime.now(UTC).date() + timedelta(days=days)


def _months(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    """Return the calendar months that ``[start, end)`` touches, each cut to that span."""
    spans = []
    while start < end:
        following = (start.replace(day=1) + timedelta(days=32)).replace(day=1)
        spans.append((start, min(following, end)))
        start = following
    return spans
