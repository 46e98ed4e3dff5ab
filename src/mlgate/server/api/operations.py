"""TODO operations"""

from __future__ import annotations

from fastapi import APIRouter

from mlgate.server.api.schemas import ERRORS

router = APIRouter(tags=["operations"], responses=ERRORS)
