"""Policy: the stages of the process and, per stage and risk tier, what a project must show.

:func:`load_policy` reads a policy file and reports every mistake with its line;
:func:`default_policy_path` is the seven-stage policy shipped with mlgate, and
:func:`policy_sha256` is the hash a project records to know which policy governs it.
"""

from __future__ import annotations

from mlgate.policy.loader import default_policy_path, load_policy, policy_sha256
from mlgate.policy.model import TIERS, Policy, Requirement, Stage, Tier

__all__ = [
    "TIERS",
    "Policy",
    "Requirement",
    "Stage",
    "Tier",
    "default_policy_path",
    "load_policy",
    "policy_sha256",
]
