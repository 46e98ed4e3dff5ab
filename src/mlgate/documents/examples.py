"""Filled examples of every document type, for the German credit-risk demo.

The story: a retail bank replaces its consumer-loan scorecard with a model that predicts good or
bad credit, trained on the UCI Statlog German credit data (1,000 applications). The data holds
sensitive attributes (sex, combined with marital status in ``status_sex``; age; foreign worker),
so the project is high risk. People, e-mail addresses and phone numbers are invented.

Dates are relative to a ``today`` argument, so that grants and allocations stay in the future
whenever the demo runs; the module itself never reads the clock.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from mlgate.documents.schemas import document_type

_SCIENTIST = "Jonas Weber"
_ENGINEER = "Lena Fischer"
_OWNER = "Anna Schmidt"


def _business_case(today: date) -> dict[str, Any]:
    return {
        "title": "Credit-risk scoring for consumer loans",
        "problem": (
            "Consumer loans are approved with a points-based scorecard last revised in 2015. "
            "About 30% of approved loans turn bad, and each default costs the bank on average "
            "EUR 2,400 after recovery."
        ),
        "beneficiaries": [
            "Retail lending team: faster and more consistent decisions",
            "Credit risk management: lower default losses",
            "Applicants: quicker answers and fewer unjustified refusals",
        ],
        "current_solution": (
            "A scorecard of eight hand-set rules, with manual review of borderline applications."
        ),
        "expected_benefit": {
            "description": "Reduction in default losses on consumer loans",
            "quantity": 250000,
            "unit": "EUR",
            "period": "year",
        },
        "improvement_over_current": (
            "Ranking applicants by predicted default risk raises ROC AUC from 0.70 (scorecard) "
            "to at least 0.75; at today's approval rate that avoids about 100 bad loans a year."
        ),
        "success_metrics": [
            {
                "name": "ROC AUC on held-out applications",
                "direction": "higher",
                "baseline": 0.70,
                "target": 0.75,
                "unit": "AUC",
            },
            {
                "name": "Share of applications decided without manual review",
                "direction": "higher",
                "baseline": 40,
                "target": 60,
                "unit": "%",
            },
        ],
    }


def _feasibility(today: date) -> dict[str, Any]:
    return {
        "data_available": True,
        "data_sources": [
            "UCI Statlog German credit data: 1,000 past applications, 20 attributes, "
            "good or bad outcome",
            "Loan outcome table of the core banking system, for the production pipeline",
        ],
        "data_quality_assessment": (
            "No missing values and no duplicate rows; categorical attributes use documented "
            "codes (A11 to A202). 1,000 rows are few, so accuracy is estimated by "
            "cross-validation, and the group of non-foreign workers (37 rows) is small."
        ),
        "technical_risks": [
            "Small sample: metric estimates have wide confidence intervals",
            "Class imbalance: 70% good, 30% bad",
            "Sex is only recorded together with marital status (status_sex)",
        ],
        "feasible": True,
    }


def _risk_assessment(today: date) -> dict[str, Any]:
    return {
        "privacy": {
            "personal_data": True,
            "sensitive_attributes": ["sex (in status_sex)", "age", "foreign_worker"],
            "leak_prevention": (
                "Training runs only in the isolated environment credit-risk-sandbox; applicant "
                "identifiers are removed before extraction; access is granted per person and "
                "expires; no data leaves the bank's network."
            ),
        },
        "ethics": {
            "discrimination_risk": "high",
            "affected_groups": ["women", "applicants under 25", "foreign workers"],
            "mitigation": (
                "status_sex and foreign_worker are not used as model features; fairness is "
                "tested on the holdout set by sex, age group and foreign_worker; a validator "
                "reviews group metrics before approval."
            ),
        },
        "other_policy": {
            "regulations": [
                "EU GDPR, Article 22 (automated individual decisions)",
                "EU AI Act, Annex III (creditworthiness assessment is high-risk)",
                "EBA Guidelines on loan origination and monitoring",
            ],
            "notes": "Applicants refused by the model get a human review on request.",
        },
        "overall_risk": "high",
    }


def _project_plan(today: date) -> dict[str, Any]:
    return {
        "deliverables": [
            {
                "name": "Validated credit-risk model package",
                "recipient": "Retail lending IT",
                "due": today + timedelta(days=60),
            },
            {
                "name": "Model card and governance report",
                "recipient": "Model risk management",
                "due": today + timedelta(days=75),
            },
            {
                "name": "Monitoring dashboard for drift and default rate",
                "recipient": "Credit risk management",
                "due": today + timedelta(days=90),
            },
        ],
        "funding": "Retail lending change budget, cost centre 4711, EUR 120,000",
        "roles": [
            {"role": "business owner", "person": _OWNER},
            {"role": "data scientist", "person": _SCIENTIST},
            {"role": "validator", "person": "Mehmet Yilmaz"},
            {"role": "ML engineer", "person": _ENGINEER},
        ],
        "external_teams": [
            "Model risk management: independent validation",
            "Data protection office: review of the risk assessment",
        ],
    }


def _compute_allocation(today: date) -> dict[str, Any]:
    return {
        "resource": "Kubernetes namespace credit-risk-train (8 vCPU, 32 GiB memory)",
        "platform": "cluster",
        "owner": _ENGINEER,
        "allocated_on": today - timedelta(days=7),
        "reclaim_date": today + timedelta(days=120),
    }


def _data_access_grant(today: date) -> dict[str, Any]:
    return {
        "grantee": _SCIENTIST,
        "dataset": "german_credit (UCI Statlog German credit data, 1,000 rows)",
        "purpose": "Train and validate the consumer-loan credit-risk model",
        "environment": "credit-risk-sandbox",
        "granted_by": "petra.becker",
        "granted_on": today - timedelta(days=7),
        "expires": today + timedelta(days=180),
    }


def _user_acceptance(today: date) -> dict[str, Any]:
    return {
        "model_version": 1,
        "decision": "accept",
        "signed_by": _OWNER,
        "role": "business owner, retail lending",
        "comments": (
            "Scored 200 past applications side by side with the scorecard; the model ranks "
            "defaults better and its refusals are explainable to applicants."
        ),
        "date": today,
    }


def _emergency_contacts(today: date) -> dict[str, Any]:
    return {
        "primary": {
            "name": _ENGINEER,
            "email": "lena.fischer@bank.example",
            "phone": "+49 69 1234 5601",
        },
        "secondary": {
            "name": "Tobias Braun",
            "email": "tobias.braun@bank.example",
            "phone": "+49 69 1234 5602",
        },
        "escalation": {
            "name": _OWNER,
            "email": "anna.schmidt@bank.example",
            "phone": "+49 69 1234 5600",
        },
        "confirmed": True,
        "confirmed_on": today,
    }


_EXAMPLES: dict[str, Callable[[date], dict[str, Any]]] = {
    "business_case": _business_case,
    "feasibility": _feasibility,
    "risk_assessment": _risk_assessment,
    "project_plan": _project_plan,
    "compute_allocation": _compute_allocation,
    "data_access_grant": _data_access_grant,
    "user_acceptance": _user_acceptance,
    "emergency_contacts": _emergency_contacts,
}


def example(kind: str, today: date) -> dict[str, Any]:
    """Return a filled, valid document of type ``kind`` for the German credit-risk demo.

    The result starts with ``kind`` and can be written with ``yaml.safe_dump(...,
    sort_keys=False)``; its dates are relative to ``today``.
    """
    document_type(kind)
    return {"kind": kind, **_EXAMPLES[kind](today)}
