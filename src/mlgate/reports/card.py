"""The model card: what the model is for, what it was built and tested on, and who answers for it.

:func:`build_card` reads the plain data :func:`mlgate.reports.collect.collect` gathers and
returns the card as JSON-ready values (schema:
:data:`mlgate.reports.card_schema.CARD_SCHEMA`).
Every statement on the card is a *claim*: a label, a value, and the evidence it rests on (the
evidence id, the dataset sha256 and the model sha256), so a reader can trace each number back
to the stored check or document that produced it. :func:`render_card` lays the card out as one
self-contained HTML page; :func:`write_card` writes the JSON, the HTML and optionally the PDF.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from mlgate.reports.card_schema import SCHEMA_VERSION, validate_card
from mlgate.reports.files import write_text_atomic
from mlgate.reports.html import _environment, _figure, _node, anchor_id

logger = logging.getLogger(__name__)

TEMPLATE = "card.html.j2"
REPORT_NAME = "report.html"  # the governance report's default name, see `mlgate report`

# The card's sections in reading order: key in card.json, then the title shown.
CARD_SECTIONS: tuple[tuple[str, str], ...] = (
    ("intended_use", "Intended use"),
    ("data", "Data"),
    ("metrics", "Metrics"),
    ("fairness", "Fairness"),
    ("robustness", "Robustness"),
    ("explanation", "Explanation"),
    ("limitations", "Limitations"),
    ("ethical_considerations", "Ethical considerations"),
    ("owners", "Owners and contacts"),
)

# Business-case fields shown as intended use, with their label.
INTENDED_USE_FIELDS = (
    ("title", "Title"),
    ("problem", "Purpose"),
    ("beneficiaries", "Users and beneficiaries"),
    ("success_metrics", "Success metrics"),
    ("expected_benefit", "Expected benefit"),
    ("current_solution", "Today's solution"),
    ("improvement_over_current", "Improvement over today's solution"),
)
# The checks of the data themselves: the registry's checks that need neither a model nor the
# project's source files (see ``mlgate.checks.REGISTRY``). Only these speak for a dataset on the
# card; a model check run on a dataset (fairness on the hold-out, say) says nothing of the data.
DATA_CHECKS = (
    "contract",
    "data_quality",
    "group_sizes",
    "drift",
    "sensitive_data",
    "leakage",
    "labels",
    "representation",
    "eda",
)
# How severe a check's status is, to find the data check a dataset claim must rest on.
SEVERITY = {"pass": 0, "warn": 1, "fail": 2}
OVERALL_METRIC_CHECKS = ("cv_accuracy", "holdout_accuracy", "business_accuracy")
GROUP_TABLES = (("slices", "worst_slices"), ("fairness", "groups"))
# A card shows the headline numbers of each check (metric names ending so); every other number
# stays in the governance report's evidence, one link away. A check not listed shows them all.
HEADLINE_METRICS: dict[str, tuple[str, ...]] = {
    "cv_accuracy": (
        "folds",
        "validation_accuracy_mean",
        "validation_roc_auc_mean",
        "validation_roc_auc_std",
        "validation_f1_mean",
    ),
    "fairness": (
        "n_rows",
        "demographic_parity_difference",
        "disparate_impact_ratio",
        "equalized_odds_difference",
        "equal_opportunity_difference",
        "calibration_gap",
    ),
    "robustness": ("n_rows", "flip_share", "fgsm.accuracy_drop"),
}
# Charts the card shows in a section, from the evidence its claims cite: figure names starting
# so (intersections of groups left out); the governance report's evidence holds every chart.
CARD_FIGURES: dict[str, tuple[str, ...]] = {
    "metrics": ("cv_scores", "business_accuracy", "slice_accuracy"),
    "fairness": ("selection_rate_", "true_positive_rate_"),
    "robustness": ("fgsm_accuracy", "noise_flip_share"),
    "explanation": ("importance",),
}
INTERSECTION = " & "  # fairness metrics of intersecting groups are in the per-group table
TOP_FEATURES = 10
LIMITING_STATES = ("failed", "waived", "expired", "rejected")
WAIVED = "waived"
WAIVABLE = ("fail", "warn")  # evidence statuses a live waiver turns into "waived"
OPEN_FINDING = "open"
REQUIREMENT_LABEL = "Requirement "  # the label of a limitation claim, before the requirement id


def build_card(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return the model card of the project whose collected state is ``data``.

    The result follows :data:`~mlgate.reports.card_schema.CARD_SCHEMA` (checked before it is
    returned). Evidence on the current model version is preferred over evidence on an older
    one; a section with nothing recorded has no claims rather than invented ones.
    """
    model = data.get("model")
    model_sha = (model or {}).get("sha256")
    dataset_sha = (model or {}).get("dataset_sha256")
    evidence = list(data.get("evidence") or [])
    pick = functools.partial(_pick, evidence, model_sha=model_sha)
    ctx = _Claims(model_sha, dataset_sha, waived=live_waivers(data.get("waivers") or []))

    sections = {
        "intended_use": _intended_use(ctx, pick("business_case")),
        "data": _data(ctx, data.get("datasets") or [], evidence),
        "metrics": _metrics(ctx, pick),
        "fairness": _fairness(ctx, pick("fairness"), data.get("waivers") or []),
        "robustness": _all_metrics(ctx, pick("robustness")),
        "explanation": _explanation(ctx, pick("explanation")),
        "limitations": _limitations(ctx, data, pick("slices")),
        "ethical_considerations": _ethics(ctx, pick("risk_assessment"), data),
        "owners": _owners(ctx, data.get("project") or {}, pick("emergency_contacts")),
    }

    card = {
        "schema_version": SCHEMA_VERSION,
        "generated_at": data.get("generated_at"),
        "mlgate_version": data.get("mlgate_version"),
        "project": _project(data.get("project") or {}),
        "model": _model(model),
        "sections": {
            key: {"title": title, "claims": sections[key]} for key, title in CARD_SECTIONS
        },
    }
    validate_card(card)
    return card


def render_card(
    card: Mapping[str, Any],
    data: Mapping[str, Any] | None = None,
    *,
    report: str | None = None,
) -> str:
    """Return the model card as one self-contained HTML page (user text is escaped).

    Every claim links to its evidence, its dataset and its model inside the page: the card ends
    with a summary of each evidence item it cites (check, status, dataset and model sha256,
    when and by whom) and of the waivers that cover them. ``data`` (what
    :func:`~mlgate.reports.collect.collect` returned for ``card``) adds those details and the
    charts of the cited evidence; without it the summaries hold what the claims carry.
    ``report`` is the file name of the governance report beside the card (e.g.
    ``report.html``): each evidence summary then also links to that evidence in the report.
    """
    data = data or {}
    evidence = {e.get("id"): e for e in data.get("evidence") or []}
    waived = live_waivers(data.get("waivers") or [])
    datasets = {
        claim["dataset_sha256"]: _anchor("card-dataset", claim["dataset_sha256"])
        for claim in card["sections"]["data"]["claims"]
        if claim["dataset_sha256"]
    }
    model_sha = (card.get("model") or {}).get("sha256")
    cited: dict[Any, dict[str, Any]] = {}
    placed: set[str] = set()  # dataset ids already given to a claim: an id names one element
    sections = []
    for key, _ in CARD_SECTIONS:
        claims = []
        for claim in card["sections"][key]["claims"]:
            ev_id = claim["evidence_id"]
            if ev_id is not None and ev_id not in cited:
                cited[ev_id] = _evidence_summary(claim, evidence.get(ev_id), waived, report)
            claims.append(
                {
                    **claim,
                    "node": _node(claim["value"]),
                    "id": _anchor("claim", f"{key}-{len(claims) + 1}"),
                    "evidence_anchor": cited[ev_id]["anchor"] if ev_id is not None else None,
                    "waiver_anchor": _waiver_anchor(claim, cited.get(ev_id), waived),
                    "dataset_anchor": datasets.get(claim["dataset_sha256"]),
                    "own_anchor": _data_anchor(key, claim, datasets, placed),
                    "model_anchor": "card-model"
                    if model_sha and claim["model_sha256"] == model_sha
                    else None,
                }
            )
        sections.append(
            {
                "id": key,
                "title": card["sections"][key]["title"],
                "claims": claims,
                "segments": _segments(claims),
                "figures": _figures(key, card["sections"][key]["claims"], evidence),
            }
        )
    return (
        _environment()
        .get_template(TEMPLATE)
        .render(
            card=card,
            sections=sections,
            cited=sorted(cited.values(), key=lambda e: (not isinstance(e["id"], int), e["id"])),
            waivers=[
                {
                    **waiver,
                    "anchor": _anchor("card-waiver", requirement),
                    "expires_on": utc_day(waiver.get("expires_at")),
                }
                for requirement, waiver in sorted(waived.items())
            ],
            report=report,
        )
    )


def write_card(
    data: Mapping[str, Any],
    output_dir: str | os.PathLike[str],
    *,
    pdf: bool = True,
    report: str | None = None,
) -> list[Path]:
    """Write ``model-card.json``, ``model-card.html`` and (with ``pdf``) ``model-card.pdf``.

    ``report`` names the governance report in ``output_dir`` that the HTML card links its
    evidence to (see :func:`render_card`); by default that is ``report.html`` when such a file
    is there. The PDF links only inside itself, since it travels without the report. Returns
    the paths written, JSON first. Each file is written whole or not at all.
    """
    started = time.perf_counter()
    folder = Path(output_dir)
    card = build_card(data)
    if report is None and (folder / REPORT_NAME).is_file():
        report = REPORT_NAME

    html = render_card(card, data, report=report)

    paths = [
        write_text_atomic(folder / "model-card.json", json.dumps(card, indent=2) + "\n"),
        write_text_atomic(folder / "model-card.html", html),
    ]
    if pdf:
        from mlgate.reports.pdf import write_pdf

        printed = render_card(card, data) if report else html
        paths.append(write_pdf(printed, folder / "model-card.pdf"))

    logger.info(
        "wrote model card of %s (%d claims) to %s in %.1f s",
        card["project"]["name"],
        sum(len(s["claims"]) for s in card["sections"].values()),
        folder,
        time.perf_counter() - started,
    )
    return paths


def utc_day(moment: Any) -> str | None:
    """The UTC calendar day (``YYYY-MM-DD``) of an ISO 8601 time, such as a waiver's expiry.

    A day reads at a glance and fits a narrow column where a full timestamp wraps over lines;
    a time without a zone counts as UTC, as the registry stores it. Text that is not an ISO
    time comes back unchanged, so the card still shows what was recorded.
    """
    if moment is None:
        return None
    try:
        when = dt.datetime.fromisoformat(str(moment))
    except ValueError:
        logger.warning("not an ISO 8601 time, shown as recorded: %r", moment)
        return str(moment)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC).date().isoformat()


def _anchor(kind: str, value: Any) -> str:
    return f"{kind}-{anchor_id(value)}"


def _waiver_anchor(
    claim: Mapping[str, Any],
    summary: Mapping[str, Any] | None,
    waived: Mapping[str, Mapping[str, Any]],
) -> str | None:
    """Where the waiver behind a ``waived`` claim is shown: by its evidence, else by the
    requirement a limitation claim names (a waived requirement may have no evidence)."""
    if summary is not None and summary["waiver_anchor"]:
        return summary["waiver_anchor"]
    requirement = str(claim["label"]).removeprefix(REQUIREMENT_LABEL)
    if claim["status"] == WAIVED and requirement in waived:
        return _anchor("card-waiver", requirement)
    return None


def _segments(claims: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The claims cut after each claim whose value is a table, which is shown in full below.

    A table drawn inside a row of the claims table would widen that table past the page or
    make its row too tall to print; drawn between two runs of claim rows, it has the full
    width and breaks across pages like any table.
    """
    segments: list[dict[str, Any]] = [{"claims": [], "table": None}]
    for claim in claims:
        segments[-1]["claims"].append(claim)
        if claim["node"]["t"] == "table":
            segments[-1]["table"] = claim
            segments.append({"claims": [], "table": None})
    return [segment for segment in segments if segment["claims"]]


def _data_anchor(
    key: str, claim: Mapping[str, Any], datasets: Mapping[str, str], placed: set[str]
) -> str | None:
    """The id a dataset claim carries, so other claims' dataset hashes link to it."""
    anchor = datasets.get(claim["dataset_sha256"]) if key == "data" else None
    if anchor is None or anchor in placed:
        return None
    placed.add(anchor)
    return anchor


def _evidence_summary(
    claim: Mapping[str, Any],
    evidence: Mapping[str, Any] | None,
    waived: Mapping[str, Mapping[str, Any]],
    report: str | None,
) -> dict[str, Any]:
    """What the card says of one cited evidence item, and where to read all of it."""
    ev = dict(evidence or {})
    waiver = waiver_of(ev, waived) if ev.get("status") in WAIVABLE else None
    requirement = (waiver or {}).get("requirement_id")
    return {
        "id": claim["evidence_id"],
        "anchor": _anchor("card-evidence", claim["evidence_id"]),
        "name": ev.get("name"),
        "kind": ev.get("kind"),
        "requirement_id": ev.get("requirement_id"),
        "stage": ev.get("stage"),
        "status": ev.get("status", claim["status"]),
        "summary": ev.get("summary"),
        "actor": ev.get("actor"),
        "created_at": ev.get("created_at"),
        "dataset_sha256": ev.get("dataset_sha256") or claim["dataset_sha256"],
        "model_sha256": ev.get("model_sha256") or claim["model_sha256"],
        "model_version": ev.get("model_version"),
        "waiver_anchor": _anchor("card-waiver", requirement) if requirement else None,
        "report_href": f"{report}#evidence-{anchor_id(claim['evidence_id'])}" if report else None,
    }


def _figures(
    key: str, claims: Sequence[Mapping[str, Any]], evidence: Mapping[Any, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """The charts of the evidence a section cites that :data:`CARD_FIGURES` picks for it."""
    wanted = CARD_FIGURES.get(key, ())
    figures = []
    for ev_id in dict.fromkeys(c["evidence_id"] for c in claims if c["evidence_id"] is not None):
        for i, figure in enumerate(_result(evidence.get(ev_id)).get("figures") or []):
            name = str(figure.get("name") or "")
            if name.startswith(wanted) and INTERSECTION not in name:
                drawn = _figure(figure, f"card-{key}-ev{ev_id}-fig{i}")
                figures.append({**drawn, "evidence_id": ev_id})
    return figures


# -- claims ----------------------------------------------------------------------------------


class _Claims:
    """Makes claims that carry the evidence they rest on and the hashes of data and model.

    A claim on evidence that failed or warned, whose requirement a live waiver covers, has the
    status ``waived``: the lifecycle (and the governance report) treat that requirement as
    waived, not failed, and the card says the same.
    """

    def __init__(
        self,
        model_sha: str | None,
        dataset_sha: str | None,
        *,
        waived: Mapping[str, Mapping[str, Any]] | None = None,
    ) -> None:
        self.model_sha = model_sha
        self.dataset_sha = dataset_sha
        self.waived = dict(waived or {})

    def __call__(
        self,
        label: str,
        value: Any,
        evidence: Mapping[str, Any] | None = None,
        *,
        status: str | None = None,
        dataset_sha: str | None = None,
    ) -> dict[str, Any]:
        ev = evidence or {}
        if status is None:
            status = ev.get("status")
            if status in WAIVABLE and waiver_of(ev, self.waived) is not None:
                status = WAIVED
        return {
            "label": label,
            "value": _plain(value),
            "status": status,
            "evidence_id": ev.get("id"),
            "dataset_sha256": dataset_sha or ev.get("dataset_sha256") or self.dataset_sha,
            "model_sha256": ev.get("model_sha256") or self.model_sha,
        }


def live_waivers(waivers: Iterable[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
    """The live waiver of each requirement that has one, by requirement id."""
    live: dict[str, Mapping[str, Any]] = {}
    for waiver in waivers:
        if waiver.get("live") and waiver.get("requirement_id") is not None:
            live.setdefault(str(waiver["requirement_id"]), waiver)
    return live


def waiver_of(
    evidence: Mapping[str, Any], waived: Mapping[str, Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    """The live waiver covering the requirement ``evidence`` answers, if any."""
    for key in (evidence.get("requirement_id"), evidence.get("name")):
        if key is not None and str(key) in waived:
            return waived[str(key)]
    return None


def _plain(value: Any) -> Any:
    """``value`` as JSON values: NaN and infinities become ``None``, tuples become lists."""
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


def _pick(
    evidence: Sequence[Mapping[str, Any]], name: str, *, model_sha: str | None
) -> dict[str, Any] | None:
    """The newest evidence named ``name``, preferring evidence on the current model."""
    found = [e for e in evidence if name in (e.get("name"), e.get("requirement_id"))]
    if not found:
        return None
    return dict(max(found, key=lambda e: (e.get("model_sha256") == model_sha, e.get("id") or 0)))


def _result(evidence: Mapping[str, Any] | None) -> dict[str, Any]:
    return dict((evidence or {}).get("result") or {})


def _document(evidence: Mapping[str, Any] | None) -> dict[str, Any]:
    document = (evidence or {}).get("document")
    return dict(document) if isinstance(document, Mapping) else {}


# -- sections --------------------------------------------------------------------------------


def _intended_use(claim: _Claims, business: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    document = _document(business)
    return [
        claim(label, document[key], business)
        for key, label in INTENDED_USE_FIELDS
        if document.get(key) not in (None, "", [], {})
    ]


def _data(
    claim: _Claims, datasets: Iterable[Mapping[str, Any]], evidence: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """One claim per dataset version, resting on the data checks run on that version.

    Of the newest run of each data check (:data:`DATA_CHECKS`) on the version, the claim cites
    the most severe, the newest among equals: a later passing check must not hide a failing
    one. Model checks that merely ran on the data never count; a version no data check has
    run on is cited from the registry, with no status.
    """
    claims = []
    for dataset in datasets:
        checked = _data_check(dataset.get("sha256"), evidence)
        value = {
            key: dataset.get(key)
            for key in ("name", "n_rows", "n_cols", "sha256", "uri", "sensitive_columns")
        }
        value["contract"] = dataset.get("contract")
        claims.append(
            claim(f"Dataset {dataset.get('name')}", value, checked, dataset_sha=dataset["sha256"])
        )
    return claims


def _data_check(
    dataset_sha: str | None, evidence: Sequence[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    """The data check a claim on the dataset ``dataset_sha`` rests on, if any ran on it."""
    if dataset_sha is None:
        return None
    newest: dict[str, Mapping[str, Any]] = {}
    for item in sorted(evidence, key=lambda e: e.get("id") or 0):
        if item.get("name") in DATA_CHECKS and item.get("dataset_sha256") == dataset_sha:
            newest[str(item["name"])] = item
    if not newest:
        return None
    return max(
        newest.values(), key=lambda e: (SEVERITY.get(str(e.get("status")), 0), e.get("id") or 0)
    )


def _metrics(claim: _Claims, pick: Any) -> list[dict[str, Any]]:
    """Overall metrics of cross-validation, hold-out and business tests, then metrics by group."""
    claims = []
    for name in OVERALL_METRIC_CHECKS:
        claims.extend(_all_metrics(claim, pick(name)))
    for name, table in GROUP_TABLES:
        evidence = pick(name)
        rows = (_result(evidence).get("tables") or {}).get(table)
        if rows:
            claims.append(claim(f"{name}: {table.replace('_', ' ')}", rows, evidence))
    return claims


def _all_metrics(claim: _Claims, evidence: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """One claim per headline metric of ``evidence``, labelled ``check.metric``."""
    name = (evidence or {}).get("name")
    metrics = _result(evidence).get("metrics") or {}
    headline = HEADLINE_METRICS.get(str(name))
    return [
        claim(f"{name}.{key}", value, evidence)
        for key, value in metrics.items()
        if headline is None or (key.endswith(headline) and INTERSECTION not in key)
    ]


def _fairness(
    claim: _Claims, fairness: Mapping[str, Any] | None, waivers: Iterable[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    claims = _all_metrics(claim, fairness)
    rows = (_result(fairness).get("tables") or {}).get("groups")
    if rows:
        claims.append(claim("fairness: metrics per group", rows, fairness))
    for waiver in waivers:
        if waiver.get("requirement_id") == "fairness":
            status = "waived" if waiver.get("live") else "expired"
            claims.append(claim("Waiver of the fairness limit", waiver, fairness, status=status))
    return claims


def _explanation(claim: _Claims, explanation: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    if explanation is None:
        return []
    claims = [claim("Summary", explanation.get("summary"), explanation)]
    rows = (_result(explanation).get("tables") or {}).get("importance") or []
    if rows:
        claims.append(claim("Most important features", rows[:TOP_FEATURES], explanation))
    return claims


def _limitations(
    claim: _Claims, data: Mapping[str, Any], slices: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    """Failed and waived requirements, open validation findings and degraded slices."""
    by_id = {e.get("id"): e for e in data.get("evidence") or []}
    claims = []
    for stage in data.get("stages") or []:
        for req in stage.get("requirements") or []:
            if req.get("state") in LIMITING_STATES:
                evidence = by_id.get(req.get("evidence_id"))
                text = f"{req.get('title')}: {req.get('detail')}"
                label = f"{REQUIREMENT_LABEL}{req.get('id')}"
                claims.append(claim(label, text, evidence, status=req["state"]))
    for finding in data.get("review_findings") or []:
        if finding.get("status") == OPEN_FINDING:
            claims.append(
                claim(
                    f"Open finding: {finding.get('title')}",
                    finding,
                    status=finding.get("severity"),
                )
            )
    slices_waived = slices is not None and waiver_of(slices, claim.waived) is not None
    for finding in _result(slices).get("findings") or []:
        if finding.get("severity") in WAIVABLE:
            status = WAIVED if slices_waived else finding["severity"]
            claims.append(claim("Known weak slice", finding.get("message"), slices, status=status))
    return claims


def _ethics(
    claim: _Claims, risk: Mapping[str, Any] | None, data: Mapping[str, Any]
) -> list[dict[str, Any]]:
    document = _document(risk)
    claims = [
        claim(key.replace("_", " ").capitalize(), value, risk) for key, value in document.items()
    ]
    sensitive = (data.get("project") or {}).get("sensitive") or []
    claims.append(claim("Sensitive attributes declared", list(sensitive), risk))
    return claims


def _owners(
    claim: _Claims, project: Mapping[str, Any], contacts: Mapping[str, Any] | None
) -> list[dict[str, Any]]:
    roles: dict[str, list[str]] = {}
    for member in project.get("members") or []:
        roles.setdefault(str(member.get("role")), []).append(str(member.get("user")))

    claims = [claim("Project owner", project.get("owner"), status="")]
    claims.extend(claim(f"Role {role}", users, status="") for role, users in roles.items())
    if contacts is not None:
        claims.append(claim("Emergency contacts", _document(contacts), contacts))
    return claims


def _project(project: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("name", "owner", "tier", "stage", "policy_name", "policy_version", "policy_sha256")
    return {key: project.get(key) for key in keys}


def _model(model: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if model is None:
        return None
    keys = ("version", "sha256", "dataset_sha256", "estimator", "flavour", "created_at")
    card = {key: model.get(key) for key in keys}
    card["estimator"] = public_name(card["estimator"])
    return card


def public_name(path: Any) -> Any:
    """Return a class path without its private modules, as users import it.

    ``sklearn.linear_model._logistic.LogisticRegression`` becomes
    ``sklearn.linear_model.LogisticRegression``; libraries re-export their classes from the
    public package, and the private module is an implementation detail.
    """
    if not isinstance(path, str) or "." not in path:
        return path
    *modules, name = path.split(".")
    return ".".join([m for m in modules if not m.startswith("_")] + [name])
