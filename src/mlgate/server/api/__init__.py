"""The JSON API under ``/api/v1``: one router per area of the process."""

from __future__ import annotations

from fastapi import APIRouter

from mlgate.server.api import (
    accounts,
    audit,
    decisions,
    documents,
    evidence,
    operations,
    projects,
    reports,
)

router = APIRouter()
for module in (accounts, projects, decisions, documents, evidence, operations, reports, audit):
    router.include_router(module.router)
