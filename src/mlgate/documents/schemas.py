"""The document types a policy can ask for, as Pydantic schemas.

A document is what only a person can give: a business judgement, a plan, a grant, a signature,
a contact. Each one is a YAML file whose top-level ``kind:`` names its type; the rest of the
file must match the schema of that type exactly (unknown fields are refused, so a typo never
passes unnoticed).

Every field refuses the ``<angle bracket>`` placeholders that :func:`mlgate.documents.template`
writes, so a template that was not filled in can never be submitted. Numbers are accepted where
text is expected (a phone number or a cost centre often looks like one).

Three document types are also records with a period of validity: a compute allocation (until
its reclaim date), a data access grant (until it expires) and emergency contacts.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from datetime import date
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    FiniteFloat,
    ModelWrapValidatorHandler,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from mlgate.errors import NotFoundError

PLACEHOLDER = re.compile(r"^\s*<[^<>]*>\s*$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_LEVELS = ("low", "medium", "high")
# The shortest reason a rejecting user acceptance may give, as for other refusals' reasons.
MIN_REJECTION_COMMENT = 10
# How much of a rejection's comments the verdict quotes; the whole text stays in the document.
MAX_REASON_QUOTED = 120
_QUALIFIER = re.compile(r"[,(;]")
_SEPARATORS = re.compile(r"[\s_-]+")


def _filled(value: Any) -> Any:
    """Refuse a value that still holds a template placeholder such as ``<name of the owner>``."""
    if isinstance(value, str) and PLACEHOLDER.match(value):
        raise ValueError(
            f"not filled in: replace the placeholder '{value.strip()}' with the real value"
        )
    return value


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise ValueError(f"expected an e-mail address such as 'name@example.com'; got {value!r}")
    return value


def _phone(value: str) -> str:
    digits = sum(ch.isdigit() for ch in value)
    if digits < 6:
        raise ValueError(
            f"expected a phone number with at least 6 digits, such as '+49 69 1234 5678'; "
            f"got {value!r}"
        )
    return value


Text = Annotated[
    str, BeforeValidator(_filled), StringConstraints(strip_whitespace=True, min_length=1)
]
Email = Annotated[Text, AfterValidator(_email)]
Phone = Annotated[Text, AfterValidator(_phone)]
Day = Annotated[date, BeforeValidator(_filled)]
Number = Annotated[FiniteFloat, BeforeValidator(_filled)]
Flag = Annotated[bool, BeforeValidator(_filled)]
Level = Annotated[Literal["low", "medium", "high"], BeforeValidator(_filled)]


class Part(BaseModel):
    """Base of the nested parts of a document (a metric, a contact, a deliverable)."""

    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


class Document(Part):
    """Base of every document type; ``KIND`` is the value of the file's top-level ``kind:``."""

    KIND: ClassVar[str] = ""


# --- business_case -------------------------------------------------------------------------


class Benefit(Part):
    """A quantified benefit: how much of what, per which period."""

    description: Text
    quantity: Annotated[Number, Field(gt=0)]
    unit: Text
    period: Annotated[
        Literal["day", "week", "month", "quarter", "year", "once"], BeforeValidator(_filled)
    ]


class SuccessMetric(Part):
    """A measurable criterion of success: today's value and the value the model must reach.

    ``direction`` says whether a higher or a lower value is better; the target must beat the
    baseline in that direction, otherwise the criterion would be met without any improvement.
    """

    name: Text
    unit: Text
    direction: Annotated[Literal["higher", "lower"], BeforeValidator(_filled)]
    baseline: Number
    target: Number

    @field_validator("target")
    @classmethod
    def _target_beats_baseline(cls, target: float, info: ValidationInfo) -> float:
        baseline = info.data.get("baseline")
        direction = info.data.get("direction")
        if baseline is None or direction is None:
            return target
        if direction == "higher" and target <= baseline:
            raise ValueError(
                f"target {target:g} does not beat baseline {baseline:g}: with direction 'higher' "
                "the target must be above the baseline (or set direction: lower if smaller values "
                "are better)"
            )
        if direction == "lower" and target >= baseline:
            raise ValueError(
                f"target {target:g} does not beat baseline {baseline:g}: with direction 'lower' "
                "the target must be below the baseline (or set direction: higher if larger values "
                "are better)"
            )
        return target


class BusinessCase(Document):
    """Why the model is worth building: the problem, who benefits, and the benefit in numbers."""

    KIND: ClassVar[str] = "business_case"

    title: Text
    problem: Text
    beneficiaries: list[Text] = Field(min_length=1)
    current_solution: Text
    expected_benefit: Benefit
    improvement_over_current: Text
    success_metrics: list[SuccessMetric] = Field(min_length=1)


# --- feasibility ---------------------------------------------------------------------------


class Feasibility(Document):
    """Whether the data can be obtained, whether its quality is enough, and what could fail."""

    KIND: ClassVar[str] = "feasibility"

    data_available: Flag
    data_sources: list[Text] = Field(min_length=1)
    data_quality_assessment: Text
    technical_risks: list[Text] = Field(min_length=1)
    feasible: Flag

    @field_validator("feasible")
    @classmethod
    def _no_model_without_data(cls, feasible: bool, info: ValidationInfo) -> bool:
        if feasible and info.data.get("data_available") is False:
            raise ValueError(
                "feasible is true but data_available is false; a model cannot be built without "
                "its data, so either name how the data will be obtained or set feasible: false"
            )
        return feasible


# --- risk_assessment -----------------------------------------------------------------------


class Privacy(Part):
    """Personal and sensitive data the model uses, and how leaks are prevented."""

    personal_data: Flag
    sensitive_attributes: list[Text]
    leak_prevention: Text

    @field_validator("sensitive_attributes")
    @classmethod
    def _sensitive_is_personal(cls, attributes: list[str], info: ValidationInfo) -> list[str]:
        if attributes and info.data.get("personal_data") is False:
            raise ValueError(
                f"lists sensitive attributes ({', '.join(attributes)}) but personal_data is "
                "false; sensitive attributes of people are personal data, so set "
                "personal_data: true"
            )
        return attributes


class Ethics(Part):
    """Whether the model could discriminate, against whom, and what limits that risk."""

    discrimination_risk: Level
    affected_groups: list[Text]
    mitigation: Text

    @field_validator("affected_groups")
    @classmethod
    def _groups_named(cls, groups: list[str], info: ValidationInfo) -> list[str]:
        risk = info.data.get("discrimination_risk")
        if not groups and risk in ("medium", "high"):
            raise ValueError(
                f"discrimination_risk is '{risk}' but no affected group is named; list the groups "
                "that could be treated unfairly (for instance 'applicants under 25')"
            )
        return groups


class OtherPolicy(Part):
    """Regulations and internal policies that apply beyond privacy and ethics."""

    regulations: list[Text]
    notes: Text


class RiskAssessment(Document):
    """Privacy, ethics and regulatory risk of the model, and the overall risk level."""

    KIND: ClassVar[str] = "risk_assessment"

    privacy: Privacy
    ethics: Ethics
    other_policy: OtherPolicy
    overall_risk: Level

    @field_validator("overall_risk")
    @classmethod
    def _overall_not_below_parts(cls, overall: str, info: ValidationInfo) -> str:
        ethics = info.data.get("ethics")
        if ethics is None:
            return overall
        if _LEVELS.index(overall) < _LEVELS.index(ethics.discrimination_risk):
            raise ValueError(
                f"overall_risk '{overall}' is below ethics.discrimination_risk "
                f"'{ethics.discrimination_risk}'; the overall risk is at least the highest of its "
                f"parts, so set overall_risk: {ethics.discrimination_risk}"
            )
        return overall


# --- project_plan --------------------------------------------------------------------------


class Deliverable(Part):
    """Something the project hands over, to whom, and by when."""

    name: Text
    recipient: Text
    due: Day


class Assignment(Part):
    """Who plays a role in the project."""

    role: Text
    person: Text


class ProjectPlan(Document):
    """Deliverables with recipients and deadlines, funding, roles and external teams."""

    KIND: ClassVar[str] = "project_plan"

    deliverables: list[Deliverable] = Field(min_length=1)
    funding: Text
    roles: list[Assignment] = Field(min_length=1)
    external_teams: list[Text]


# --- compute_allocation --------------------------------------------------------------------


class ComputeAllocation(Document):
    """Compute granted to the project, with the date it is given back.

    The type of resource is called ``platform`` (not ``kind``) because ``kind:`` already names
    the document type at the top of the file.
    """

    KIND: ClassVar[str] = "compute_allocation"

    resource: Text
    platform: Annotated[Literal["cluster", "cloud"], BeforeValidator(_filled)]
    owner: Text
    allocated_on: Day
    reclaim_date: Day

    @field_validator("reclaim_date")
    @classmethod
    def _reclaim_after_allocation(cls, reclaim: date, info: ValidationInfo) -> date:
        allocated = info.data.get("allocated_on")
        if allocated is not None and reclaim <= allocated:
            raise ValueError(
                f"reclaim_date {reclaim.isoformat()} is not after allocated_on "
                f"{allocated.isoformat()}; set the date the resource will be given back"
            )
        return reclaim


# --- data_access_grant ---------------------------------------------------------------------


class DataAccessGrant(Document):
    """Who may use which data, for what, in which isolated environment, and until when."""

    KIND: ClassVar[str] = "data_access_grant"

    grantee: Text
    dataset: Text
    purpose: Text
    environment: Text
    granted_by: Text
    granted_on: Day
    expires: Day

    @field_validator("granted_by")
    @classmethod
    def _not_self_granted(cls, granted_by: str, info: ValidationInfo) -> str:
        grantee = info.data.get("grantee")
        if grantee is not None and grantee.casefold() == granted_by.casefold():
            raise ValueError(
                f"'{granted_by}' grants access to themselves; access must be granted by the data "
                "owner or another authorised person"
            )
        return granted_by

    @field_validator("expires")
    @classmethod
    def _expires_after_grant(cls, expires: date, info: ValidationInfo) -> date:
        granted = info.data.get("granted_on")
        if granted is not None and expires <= granted:
            raise ValueError(
                f"expires {expires.isoformat()} is not after granted_on {granted.isoformat()}; "
                "set the last day the access is valid"
            )
        return expires


# --- user_acceptance -----------------------------------------------------------------------


class UserAcceptance(Document):
    """The business's decision to accept or reject one model version, signed and dated.

    A rejection must say why in ``comments`` (at least :data:`MIN_REJECTION_COMMENT`
    characters): the model's authors need to know what to change, and a bare "no" cannot be
    acted on. An acceptance may leave the comments empty, as business owners often accept
    without remarks. ``role`` names the signer's role in the project, optionally followed by a
    qualifier after a comma ("business owner, retail lending"); see :func:`named_role`.
    """

    KIND: ClassVar[str] = "user_acceptance"

    model_version: Annotated[int, BeforeValidator(_filled), Field(ge=1)]
    decision: Annotated[Literal["accept", "reject"], BeforeValidator(_filled)]
    signed_by: Text
    role: Text
    comments: Annotated[str, BeforeValidator(_filled)] = ""
    date: Day

    @field_validator("comments")
    @classmethod
    def _rejection_says_why(cls, comments: str, info: ValidationInfo) -> str:
        text = comments.strip()
        if info.data.get("decision") == "reject" and len(text) < MIN_REJECTION_COMMENT:
            raise ValueError(
                f"a rejection must say why: comments has {len(text)} character(s); expected at "
                f"least {MIN_REJECTION_COMMENT} saying what must change before the model is "
                "accepted"
            )
        return text

    @model_validator(mode="wrap")
    @classmethod
    def _rejection_has_comments(
        cls, data: Any, handler: ModelWrapValidatorHandler[UserAcceptance]
    ) -> UserAcceptance:
        """Refuse a rejection without a ``comments`` field, pointing at its ``decision``.

        The field validator above checks comments that were written; absent ones have no line
        of their own, so the problem is reported on ``decision: reject``, the line that calls
        for them, rather than on the top of the file. It is listed with the document's other
        problems, so that the whole file can still be fixed in one pass.
        """
        absent = (
            isinstance(data, Mapping)
            and data.get("decision") == "reject"
            and "comments" not in data
        )
        if not absent:
            return handler(data)
        missing = InitErrorDetails(
            type=PydanticCustomError(
                "value_error",
                "a rejection must say why, but the comments field is missing; add comments: "
                "with at least {least} characters saying what must change before the model "
                "is accepted",
                {"least": MIN_REJECTION_COMMENT},
            ),
            loc=("decision",),
            input="reject",
        )
        found: list[Any] = []
        try:
            handler(data)
        except ValidationError as exc:
            found = list(exc.errors())
        raise ValidationError.from_exception_data(cls.__name__, [*found, missing])


# --- emergency_contacts --------------------------------------------------------------------


class Contact(Part):
    """A person who can be reached when the deployed model misbehaves."""

    name: Text
    email: Email
    phone: Phone


class EmergencyContacts(Document):
    """Three distinct people to call when the model fails in production, confirmed by them."""

    KIND: ClassVar[str] = "emergency_contacts"

    primary: Contact
    secondary: Contact
    escalation: Contact
    confirmed: Flag
    confirmed_on: Day

    @field_validator("secondary", "escalation")
    @classmethod
    def _distinct_people(cls, contact: Contact, info: ValidationInfo) -> Contact:
        for other in ("primary", "secondary"):
            earlier = info.data.get(other)
            if other == info.field_name or earlier is None:
                continue
            if earlier.email.casefold() == contact.email.casefold():
                raise ValueError(
                    f"{info.field_name} has the same e-mail as {other} ({contact.email}); "
                    "name a different person so that someone answers when one is away"
                )
        return contact


DOCUMENT_TYPES: dict[str, type[Document]] = {
    cls.KIND: cls
    for cls in (
        BusinessCase,
        Feasibility,
        RiskAssessment,
        ProjectPlan,
        ComputeAllocation,
        DataAccessGrant,
        UserAcceptance,
        EmergencyContacts,
    )
}


def expected_kinds() -> str:
    """Return ``'expected one of: business_case, ...'`` for messages about a document's kind."""
    return f"expected one of: {', '.join(DOCUMENT_TYPES)}"


def unknown_kind_message(kind: object) -> str:
    """Return the one message for a document kind that does not exist, listing the known ones."""
    close = difflib.get_close_matches(str(kind), list(DOCUMENT_TYPES), n=1)
    guess = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown document kind {kind!r}{guess}; {expected_kinds()}"


def document_type(kind: str) -> type[Document]:
    """Return the schema of the document type ``kind``.

    Raises :class:`~mlgate.errors.NotFoundError` naming the known kinds if there is none.
    """
    if kind not in DOCUMENT_TYPES:
        raise NotFoundError(unknown_kind_message(kind), hint="pick one of the kinds listed")
    return DOCUMENT_TYPES[kind]


def named_role(text: str) -> str:
    """Return the project role that a document's free-text ``role`` names, as a role id.

    People write roles the way they say them: "Business owner", "business-owner" or "business
    owner, retail lending". The role is the text before the first comma, semicolon or
    parenthesis (what follows qualifies it), in lower case with spaces and hyphens written as
    underscores, so it can be compared with the role ids of the policy (``business_owner``).
    """
    head = _QUALIFIER.split(str(text), maxsplit=1)[0]
    return _SEPARATORS.sub("_", head.strip().casefold()).strip("_")


def valid_until(document: Document) -> date | None:
    """Return the last day a document counts as evidence, or ``None`` if it does not expire.

    A compute allocation lasts until its reclaim date and a data access grant until it
    expires; the other documents stay valid (though evidence is tied to a model version).
    """
    if isinstance(document, ComputeAllocation):
        return document.reclaim_date
    if isinstance(document, DataAccessGrant):
        return document.expires
    return None


def unmet_reason(document: Document) -> str | None:
    """Return why a valid document still does not satisfy its requirement, or ``None``.

    A document can be well formed and still say no: a feasibility study that concludes the
    model is not feasible, a user acceptance that rejects the model (quoting why), emergency
    contacts that were not confirmed. The service layer records such a document as failing
    evidence.
    """
    if isinstance(document, Feasibility) and not document.feasible:
        return "the feasibility study concludes that the model is not feasible (feasible: false)"
    if isinstance(document, UserAcceptance) and document.decision == "reject":
        why = " ".join(document.comments.split())
        if len(why) > MAX_REASON_QUOTED:
            why = why[: MAX_REASON_QUOTED - 3].rstrip() + "..."
        return f"{document.signed_by} rejected model version {document.model_version}: {why}"
    if isinstance(document, EmergencyContacts) and not document.confirmed:
        return "the emergency contacts have not confirmed (confirmed: false)"
    return None
