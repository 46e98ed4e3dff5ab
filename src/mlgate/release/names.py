"""The names a packaged model goes by: distribution, wheel file, import package, console script.

A project called ``German Credit Risk`` becomes the distribution
``mlgate-model-german-credit-risk`` (normalised as package indexes compare names: lower case,
runs of ``-``, ``_`` and ``.`` folded to one ``-``), the wheel
``mlgate_model_german_credit_risk-3-py3-none-any.whl`` for model version 3, the import package
``mlgate_model_german_credit_risk`` and the console script ``german-credit-risk-predict``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from mlgate.errors import ValidationError

logger = logging.getLogger(__name__)

DIST_PREFIX = "mlgate-model-"
WHEEL_TAG = "py3-none-any"


def project_slug(project: str) -> str:
    """Return ``project`` in lower case with every run of other characters turned into ``-``."""
    slug = re.sub(r"[^a-z0-9]+", "-", project.lower()).strip("-")
    if not slug:
        raise ValidationError(
            f"project name {project!r} has no letters or digits to name a package after; "
            "expected a name such as 'churn-model'"
        )
    return slug


def normalise(name: str) -> str:
    """Return a distribution name as package indexes compare it (lower case, ``-`` only)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class PackageNames:
    """Every name derived from one project and model version."""

    distribution: str
    version: str
    module: str
    script: str

    @property
    def file_stem(self) -> str:
        """Return ``{name}-{version}`` as wheel file and ``.dist-info`` names spell it."""
        return f"{self.distribution.replace('-', '_')}-{self.version}"

    @property
    def wheel_filename(self) -> str:
        """Return the wheel's file name: a pure-Python wheel for any Python 3."""
        return f"{self.file_stem}-{WHEEL_TAG}.whl"

    @property
    def dist_info(self) -> str:
        """Return the name of the wheel's metadata folder."""
        return f"{self.file_stem}.dist-info"


def package_names(project: str, model_version: int) -> PackageNames:
    """Return the names under which ``model_version`` of ``project`` is packaged."""
    slug = project_slug(project)
    return PackageNames(
        distribution=normalise(f"{DIST_PREFIX}{slug}"),
        version=str(int(model_version)),
        module=f"mlgate_model_{slug.replace('-', '_')}",
        script=f"{slug}-predict",
    )
