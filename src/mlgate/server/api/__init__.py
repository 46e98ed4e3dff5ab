"""The JSON API under ``/api/v1``: one router per area of the process."""

from __future__ import annotations

from fastapi import APIRouter

from mlgate.server.api import (
    accounts,
    audit,
    decisions,
    deployments,
    documents,
    evidence,
    monitoring,
    outcomes,
    projects,
    reports,
)

router = APIRouter()
for module in (
    accounts,
    projects,
    decisions,
    documents,
    evidence,
    deployments,
    monitoring,
    outcomes,
    reports,
    audit,
):
    router.include_router(module.router)
