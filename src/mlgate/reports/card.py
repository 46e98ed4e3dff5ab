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
from mlgate.reports.html import _environment, _node

logger = logging.getLogger(__name__)

TEMPLATE = "card.html.j2"

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
DATA_CHECKS = ("contract", "data_contract", "data_quality")
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
INTERSECTION = " & "  # fairness metrics of intersecting groups are in the per-group table
TOP_FEATURES = 10
LIMITING_STATES = ("failed", "waived", "expired", "rejected")
OPEN_FINDING = "open"


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
    ctx = _Claims(model_sha, dataset_sha)

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


def render_card(card: Mapping[str, Any]) -> str:
    """Return the model card as one self-contained HTML page (user text is escaped)."""
    sections = [
        {
            "id": key,
            "title": card["sections"][key]["title"],
            "claims": [
                {**claim, "node": _node(claim["value"])}
                for claim in card["sections"][key]["claims"]
            ],
        }
        for key, _ in CARD_SECTIONS
    ]
    return _environment().get_template(TEMPLATE).render(card=card, sections=sections)


def write_card(
    data: Mapping[str, Any], output_dir: str | os.PathLike[str], *, pdf: bool = True
) -> list[Path]:
    """Write ``model-card.json``, ``model-card.html`` and (with ``pdf``) ``model-card.pdf``.

    Returns the paths written, JSON first. Each file is written whole or not at all.
    """
    started = time.perf_counter()
    folder = Path(output_dir)
    card = build_card(data)

    html = render_card(card)

    paths = [
        write_text_atomic(folder / "model-card.json", json.dumps(card, indent=2) + "\n"),
        write_text_atomic(folder / "model-card.html", html),
    ]
    if pdf:
        from mlgate.reports.pdf import write_pdf

        paths.append(write_pdf(html, folder / "model-card.pdf"))

    logger.info(
        "wrote model card of %s (%d claims) to %s in %.1f s",
        card["project"]["name"],
        sum(len(s["claims"]) for s in card["sections"].values()),
        folder,
        time.perf_counter() - started,
    )
    return paths


# -- claims ----------------------------------------------------------------------------------


class _Claims:
    """Makes claims that carry the evidence they rest on and the hashes of data and model."""

    def __init__(self, model_sha: str | None, dataset_sha: str | None) -> None:
        self.model_sha = model_sha
        self.dataset_sha = dataset_sha

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
        return {
            "label": label,
            "value": _plain(value),
            "status": status if status is not None else ev.get("status"),
            "evidence_id": ev.get("id"),
            "dataset_sha256": dataset_sha or ev.get("dataset_sha256") or self.dataset_sha,
            "model_sha256": ev.get("model_sha256") or self.model_sha,
        }


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
    """One claim per dataset version, resting on the newest data check run on that version."""
    claims = []
    for dataset in datasets:
        checks = [e for e in evidence if e.get("dataset_sha256") == dataset.get("sha256")]
        data_checks = [e for e in checks if e.get("name") in DATA_CHECKS] or checks
        checked = max(data_checks, key=lambda e: e.get("id") or 0) if data_checks else None
        value = {
            key: dataset.get(key)
            for key in ("name", "n_rows", "n_cols", "sha256", "uri", "sensitive_columns")
        }
        value["contract"] = dataset.get("contract")
        claims.append(
            claim(f"Dataset {dataset.get('name')}", value, checked, dataset_sha=dataset["sha256"])
        )
    return claims


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
                claims.append(
                    claim(f"Requirement {req.get('id')}", text, evidence, status=req["state"])
                )
    for finding in data.get("review_findings") or []:
        if finding.get("status") == OPEN_FINDING:
            claims.append(
                claim(
                    f"Open finding: {finding.get('title')}",
                    finding,
                    status=finding.get("severity"),
                )
            )
    for finding in _result(slices).get("findings") or []:
        if finding.get("severity") in ("warn", "fail"):
            claims.append(
                claim(
                    "Known weak slice", finding.get("message"), slices, status=finding["severity"]
                )
            )
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
