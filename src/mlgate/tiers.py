"""Names shared by the policy and the modules it configures: risk tiers and identifiers."""

from __future__ import annotations

from typing import Literal

Tier = Literal["low", "medium", "high"]
TIERS: tuple[Tier, ...] = ("low", "medium", "high")
IDENTIFIER = r"^[a-z][a-z0-9_]*$"
