"""Documents: what only a person can give, as YAML files validated against schemas.

A policy asks for documents by type (``business_case``, ``risk_assessment``...). A person gets
a commented template with :func:`template`, fills it in, and the service layer reads it with
:func:`parse_document`, which names every bad field with its line. :func:`example` gives filled
documents for the German credit-risk demo. Three types double as records with an expiry
(:func:`valid_until`), and :func:`unmet_reason` says when a valid document still says no.
"""

from __future__ import annotations

from mlgate.documents.examples import example
from mlgate.documents.parse import parse_document, parse_document_text, validate_document
from mlgate.documents.schemas import (
    DOCUMENT_TYPES,
    BusinessCase,
    ComputeAllocation,
    DataAccessGrant,
    Document,
    EmergencyContacts,
    Feasibility,
    ProjectPlan,
    RiskAssessment,
    UserAcceptance,
    document_type,
    named_role,
    unmet_reason,
    valid_until,
)
from mlgate.documents.templates import template

__all__ = [
    "DOCUMENT_TYPES",
    "BusinessCase",
    "ComputeAllocation",
    "DataAccessGrant",
    "Document",
    "EmergencyContacts",
    "Feasibility",
    "ProjectPlan",
    "RiskAssessment",
    "UserAcceptance",
    "document_type",
    "example",
    "named_role",
    "parse_document",
    "parse_document_text",
    "template",
    "unmet_reason",
    "valid_until",
    "validate_document",
]
