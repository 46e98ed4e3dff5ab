"""Commented YAML templates, one per document type, for people to fill in.

Every value to fill is a placeholder in angle brackets (``<name of the owner>``). The schemas
refuse any value that still looks like that, so submitting an unfilled template fails with one
line per field left to fill. Placeholders never contain ``': '`` or ``' #'``, so a template is
always valid YAML.
"""

from __future__ import annotations

from mlgate.documents.schemas import document_type

_HEADER = """\
# Replace every value in <angle brackets> with your own; a value still in angle brackets is
# refused when the document is submitted. Lists may hold as many entries as you need.
# Submit the filled file with: mlgate doc submit docs/{kind}.yaml
"""

_BODIES: dict[str, str] = {
    "business_case": """\
# Business case: why this model is worth building, in numbers.
{header}kind: business_case

# A short name for the initiative, as the business knows it.
title: <name of the model initiative>

# The business problem in two or three sentences: what goes wrong today and what it costs.
problem: <what goes wrong today and what it costs>

# Who benefits from the model (teams, customers, processes), one entry each.
beneficiaries:
  - <team or customer group that benefits>

# How the decision is made today without this model (rules, manual review, an older model).
current_solution: <how the decision is made today>

# The benefit you expect, as a quantity with a unit and a period,
# for instance 250000 EUR per year of avoided default losses.
expected_benefit:
  description: <what improves, e.g. avoided default losses>
  quantity: <positive number>
  unit: <unit of the quantity, e.g. EUR or hours>
  period: <day, week, month, quarter, year or once>

# How the model improves on the current solution, and by how much.
improvement_over_current: <how and by how much the model beats today's solution>

# Measurable criteria of success. The baseline is today's value, the target is the value the
# model must reach; the target must beat the baseline in the metric's direction.
success_metrics:
  - name: <metric, e.g. ROC AUC on held-out data>
    direction: <higher or lower>  # is a higher or a lower value better?
    baseline: <number>  # today's value
    target: <number>  # the value the model must reach
    unit: <unit, e.g. AUC or %>
""",
    "feasibility": """\
# Feasibility: can the data be obtained, is its quality good enough, what could fail.
{header}kind: feasibility

# Can the data the model needs be obtained for training and for production? (true or false)
data_available: <true or false>

# Where the data comes from (systems, tables, files, external providers), one entry each.
data_sources:
  - <system, table or file the data comes from>

# Your judgement of the data's quality: missing values, errors, coverage, size, labels.
data_quality_assessment: <is the data complete, correct and large enough>

# What could make the model fail technically (too little data, leakage, latency...).
technical_risks:
  - <a technical risk and how likely it is>

# Your conclusion: can the model be built with this data? (true or false)
feasible: <true or false>
""",
    "risk_assessment": """\
# Risk assessment: data privacy, ethics and other regulatory or policy risk.
{header}kind: risk_assessment

privacy:
  # Does the data describe identifiable people? (true or false)
  personal_data: <true or false>
  # Sensitive attributes in the data or derivable from it (age, sex, race, religion, health,
  # nationality...). Write [] if there are none.
  sensitive_attributes:
    - <sensitive attribute, e.g. age>
  # How leaks are prevented: isolated environments, pseudonymisation, access control.
  leak_prevention: <how the data is kept from leaking>

ethics:
  # Could the model treat a group of people unfairly? (low, medium or high)
  discrimination_risk: <low, medium or high>
  # The groups that could be treated unfairly. Write [] only if the risk is low.
  affected_groups:
    - <group that could be disadvantaged>
  # What limits the risk: excluded features, fairness tests, human review.
  mitigation: <how discrimination is prevented or detected>

other_policy:
  # Laws, regulations and internal policies that apply. Write [] if there are none.
  regulations:
    - <regulation or internal policy that applies>
  # Anything else a reviewer should know.
  notes: <other regulatory or policy considerations>

# The overall risk, at least as high as the discrimination risk. (low, medium or high)
overall_risk: <low, medium or high>
""",
    "project_plan": """\
# Project plan: deliverables, recipients, deadlines, funding, roles and external teams.
{header}kind: project_plan

# What the project hands over, to whom and by when; one entry per deliverable.
deliverables:
  - name: <deliverable>
    recipient: <team or person who receives it>
    due: <YYYY-MM-DD>

# Where the money comes from: budget, cost centre, amount.
funding: <budget, cost centre and amount>

# Who plays which role in the project; one entry per person and role.
roles:
  - role: <role, e.g. data scientist>
    person: <name of the person>

# Teams outside the project that must contribute or sign off. Write [] if there are none.
external_teams:
  - <external team and what it contributes>
""",
    "compute_allocation": """\
# Compute allocation: the cluster or cloud resources granted, and when they are given back.
{header}kind: compute_allocation

# The resource: cluster namespace, cloud account or machine, with its size.
resource: <resource name and size>

# Where it runs. (cluster or cloud)
platform: <cluster or cloud>

# Who is responsible for the resource and for giving it back.
owner: <name of the owner>

# The day the resource was allocated, and the day it will be reclaimed (after allocated_on,
# and after today: an allocation already reclaimed is refused).
allocated_on: <YYYY-MM-DD>
reclaim_date: <YYYY-MM-DD>
""",
    "data_access_grant": """\
# Data access grant: who may use which data, for what, where, and until when.
{header}kind: data_access_grant

# The person or service account that receives access.
grantee: <name of the person or service account>

# The dataset, table or files covered by the grant.
dataset: <dataset the grant covers>

# What the data may be used for, and nothing else.
purpose: <what the data may be used for>

# The isolated environment the data may be used in (a sandbox, project or namespace).
environment: <name of the isolated environment>

# The data owner or officer who grants access (not the grantee) records the grant
# themselves: granted_by is their mlgate user name.
granted_by: <your mlgate user name>

# The day access was granted, and the last day it is valid (after granted_on, and not before
# today: a grant that has already expired is refused).
granted_on: <YYYY-MM-DD>
expires: <YYYY-MM-DD>
""",
    "user_acceptance": """\
# User acceptance: the business's decision on one model version, signed and dated.
{header}kind: user_acceptance

# The model version that was tried out (the number the model registry gave it).
model_version: <version number>

# The decision. (accept or reject)
decision: <accept or reject>

# Who signs, and in which role. Whoever submits the file signs it: signed_by is their mlgate
# user name. The role is the one the policy asks to accept models (business owner in the
# default policy), which the signer must hold in the project; a qualifier may follow a comma,
# as in "business owner, retail lending".
signed_by: <your mlgate user name>
role: <your role, e.g. business owner>

# What was tried, what worked, what must change. A rejection must say why, in at least 10
# characters; an acceptance may write "" if there is nothing to add.
comments: <what was tested and any conditions>

# The day of the decision: not before the model version was registered, nor after today.
date: <YYYY-MM-DD>
""",
    "emergency_contacts": """\
# Emergency contacts: three different people to call when the model fails in production.
{header}kind: emergency_contacts

# The first person to call, normally the on-call ML engineer.
primary:
  name: <full name>
  email: <name@example.com>
  phone: <phone number with country code>

# The person to call when the primary does not answer.
secondary:
  name: <full name>
  email: <name@example.com>
  phone: <phone number with country code>

# The person who decides when the model must be switched off, e.g. the business owner.
escalation:
  name: <full name>
  email: <name@example.com>
  phone: <phone number with country code>

# Did all three confirm that they can be reached? (true or false) And on which day?
confirmed: <true or false>
confirmed_on: <YYYY-MM-DD>
""",
}


def template(kind: str) -> str:
    """Return the commented YAML template of the document type ``kind``.

    Raises :class:`~mlgate.errors.NotFoundError` naming the known kinds if ``kind`` is unknown.
    """
    document_type(kind)
    return _BODIES[kind].format(header=_HEADER.format(kind=kind))
