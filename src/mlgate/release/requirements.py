"""The pinned requirements of a packaged model: the libraries it was trained with.

A skops artifact rebuilds objects from their libraries' classes, so the package pins each library
at the version the model version recorded when it was registered (``ModelVersion.packages``),
falling back to the installed version for a library it did not record. Besides numpy, pandas,
scipy, scikit-learn and skops, every library whose types the artifact asks skops to trust is
pinned too (LightGBM, XGBoost...). When one of those types lives in mlgate itself, such as the
group-threshold classifier of a mitigated model, the package requires mlgate at the recorded
version, and says so in its metadata.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from importlib import metadata

from mlgate import __version__ as MLGATE_VERSION
from mlgate.errors import ValidationError
from mlgate.registry.models import ModelVersion

logger = logging.getLogger(__name__)

CORE = ("numpy", "pandas", "scikit-learn", "scipy", "skops")
PARQUET = "pyarrow"
COVERED_MODULES = {"numpy", "pandas", "sklearn", "scipy", "skops", "builtins", "mlgate"}
UNRECORDED = ("", "unknown", "not installed")


@dataclass(frozen=True)
class Requirements:
    """What a packaged model needs installed, as ``Requires-Dist`` lines and in plain words."""

    pins: list[str]
    extras: dict[str, list[str]]
    python: str
    needs_mlgate: bool

    @property
    def lines(self) -> list[str]:
        """Return every ``Requires-Dist`` value, extras marked with their environment marker."""
        extra = [f'{pin}; extra == "{name}"' for name, pins in self.extras.items() for pin in pins]
        return [*self.pins, *extra]


def _installed(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _pin(distribution: str, recorded: dict[str, str], key: str | None = None) -> str:
    """Return ``name==version``: the recorded version, else the installed one, else unpinned."""
    version = str(recorded.get(key or distribution, "") or "")
    if version in UNRECORDED:
        version = _installed(distribution) or ""
    if not version:
        logger.warning("no version of %s is recorded or installed; left unpinned", distribution)
        return distribution
    return f"{distribution}=={version}"


def _library_modules(version: ModelVersion) -> list[str]:
    """Return the top-level modules of the artifact's trusted types and its estimator."""
    names = [t.split(".")[0] for t in version.trusted_types]
    names.append(version.estimator.split(".")[0])
    stdlib = set(sys.stdlib_module_names)
    return sorted({n for n in names if n not in stdlib and n not in COVERED_MODULES})


def _distribution_of(module: str) -> str:
    found = metadata.packages_distributions().get(module)
    if not found:
        raise ValidationError(
            f"the model needs the module '{module}', which is not installed here, so its "
            "package cannot be pinned; expected it to be importable where the model is packaged",
            hint=f"install the library that provides '{module}' at the version the model used",
        )
    return found[0]


def model_requirements(version: ModelVersion) -> Requirements:
    """Return the pinned requirements of ``version``'s package."""
    recorded = {str(k): str(v) for k, v in (version.packages or {}).items()}
    main_types = [t for t in version.trusted_types if t.startswith("__main__.")]
    if main_types:
        raise ValidationError(
            f"model version {version.version} uses {', '.join(main_types)}, defined in the "
            "script that trained it, which no installed package can provide",
            hint="retrain with the function defined in an importable module",
        )

    pins = [_pin(name, recorded) for name in CORE]
    for module in _library_modules(version):
        pins.append(_pin(_distribution_of(module), recorded, module))

    needs_mlgate = any(t.split(".")[0] == "mlgate" for t in version.trusted_types)
    if needs_mlgate:
        mlgate_version = recorded.get("mlgate", "")
        pins.append(
            f"mlgate=={MLGATE_VERSION if mlgate_version in UNRECORDED else mlgate_version}"
        )

    python = recorded.get("python", "")
    floor = ".".join(python.split(".")[:2]) if python else "3.11"
    extras = {"parquet": [_pin(PARQUET, {})]}
    logger.info("model version %d needs %s", version.version, ", ".join(pins))
    return Requirements(pins, extras, f">={floor}", needs_mlgate)
