"""Where mlgate's evidence sits in the regulators' documentation structures, as data.

The governance report is laid out in six sections that both the EU AI Act's technical
documentation (Annex IV) and US banking model-risk guidance (SR 11-7) ask for in some form:
purpose, data, methodology, validation, monitoring and governance. :data:`SECTIONS` maps each
section to the parts of both texts it answers and to the items of stored evidence that document
it. This table is the one place the mapping lives; the report, its completeness score and
``docs/reports.md`` all read it.

An expected item is one of:

``("evidence", NAME)``
    evidence whose name or requirement id is ``NAME`` (a document or a check);
``("approval", REQUIREMENT)``
    an approving decision recorded on ``REQUIREMENT``;
``("requirement", REQUIREMENT)``
    a policy requirement that the lifecycle evaluates live and stores no evidence for (the
    review stage's ``process`` check), present when its current state is ``satisfied``;
``("record", WHAT)``
    a fact of the registry: ``dataset`` (a registered dataset version), ``model`` (a registered
    model version), ``deployment`` (a deployment), ``audit`` (an audit chain that verifies),
    ``findings_closed`` (validation findings exist and none is open) or ``alerts`` (the
    deployed model is monitored: monitor runs or alerts are recorded, every alert listed).
"""

from __future__ import annotations

from dataclasses import dataclass

ItemKind = str
Item = tuple[ItemKind, str]


@dataclass(frozen=True)
class Section:
    """One section of the governance report and what documents it."""

    id: str
    title: str
    annex_iv: str
    sr_11_7: str
    expected: tuple[Item, ...]


SECTIONS: tuple[Section, ...] = (
    Section(
        id="purpose",
        title="Purpose and intended use",
        annex_iv="1(a) intended purpose, provider and version; 1(d) forms in which the system "
        "is placed on the market or put into service",
        sr_11_7="IV development, implementation and use: statement of purpose, intended use and "
        "business need",
        expected=(
            ("evidence", "business_case"),
            ("evidence", "feasibility"),
            ("evidence", "project_plan"),
            ("approval", "business_case_approval"),
        ),
    ),
    Section(
        id="data",
        title="Data",
        annex_iv="2(d) data requirements: datasheets, provenance, scope, labelling, cleaning; "
        "Art. 10 data governance",
        sr_11_7="IV development: data quality, relevance and representativeness",
        expected=(
            ("record", "dataset"),
            ("evidence", "data_access_grant"),
            ("evidence", "data_contract"),
            ("evidence", "data_quality"),
            ("evidence", "group_sizes"),
            ("evidence", "sensitive_data"),
            ("evidence", "labels"),
            ("evidence", "eda"),
        ),
    ),
    Section(
        id="methodology",
        title="Methodology",
        annex_iv="2(a) development methods; 2(b) design choices, logic and algorithms; 2(c) "
        "system architecture and computational resources",
        sr_11_7="IV development: theory, design, assumptions and limitations of the method",
        expected=(
            ("record", "model"),
            ("evidence", "compute_allocation"),
            ("evidence", "leakage"),
            ("evidence", "cv_accuracy"),
            ("evidence", "fitting"),
            ("evidence", "explanation"),
        ),
    ),
    Section(
        id="validation",
        title="Validation and testing",
        annex_iv="2(g) validation and testing procedures, metrics and logs; 3 capabilities, "
        "limitations and accuracy for specific groups; 4 appropriateness of the performance "
        "metrics; 1(h) instructions for use; Art. 15 accuracy and robustness",
        sr_11_7="V validation: conceptual soundness (including review of the code and its "
        "documentation), outcomes analysis and benchmarking, by independent reviewers whose "
        "findings are tracked to closure",
        expected=(
            ("evidence", "holdout_accuracy"),
            ("evidence", "business_accuracy"),
            ("evidence", "determinism"),
            ("evidence", "challenger"),
            ("evidence", "slices"),
            ("evidence", "stability"),
            ("evidence", "robustness"),
            ("evidence", "fairness"),
            ("evidence", "performance"),
            ("approval", "model_validation"),
            ("evidence", "user_acceptance"),
            ("evidence", "code_review"),
            ("evidence", "documentation"),
            ("record", "findings_closed"),
        ),
    ),
    Section(
        id="monitoring",
        title="Deployment and monitoring",
        annex_iv="2(e) human oversight measures; 9 post-market monitoring plan; Art. 12 "
        "record-keeping",
        sr_11_7="V ongoing monitoring: process verification and outcomes in use; IV "
        "implementation and use",
        expected=(
            ("record", "deployment"),
            ("approval", "deployment_approval"),
            ("evidence", "emergency_contacts"),
            ("evidence", "run_logs"),
            ("evidence", "drift"),
            ("record", "alerts"),
        ),
    ),
    Section(
        id="governance",
        title="Governance and risk management",
        annex_iv="5 risk management system; 6 changes through the lifecycle; 7 standards "
        "applied; 8 declaration of conformity (approvals)",
        sr_11_7="VI governance, policies and controls: roles, approvals, exceptions, inventory, "
        "internal audit and verification that the process was followed",
        expected=(
            ("evidence", "risk_assessment"),
            ("approval", "risk_assessment_approval"),
            ("approval", "model_review"),
            ("requirement", "process"),
            ("record", "audit"),
        ),
    ),
)

ITEM_KINDS = ("evidence", "approval", "requirement", "record")
RECORDS = ("dataset", "model", "deployment", "audit", "findings_closed", "alerts")


def item_label(item: Item) -> str:
    """A short reading of an expected item, e.g. ``approval of model_validation``."""
    kind, name = item
    if kind == "approval":
        return f"approval of {name}"
    if kind == "requirement":
        return f"{name.replace('_', ' ')} check met"
    if kind == "record":
        return {
            "dataset": "a registered dataset version",
            "model": "a registered model version",
            "deployment": "a deployment",
            "audit": "a verified audit chain",
            "findings_closed": "validation findings, all closed",
            "alerts": "monitoring runs and their alerts",
        }[name]
    return name.replace("_", " ")
