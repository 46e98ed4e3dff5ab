"""Search spaces: checking them against the estimator, and drawing a trial's values from them."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import optuna

from mlgate.config import ParamSpec
from mlgate.errors import ValidationError
from mlgate.training.pipeline import estimator_params

logger = logging.getLogger(__name__)


def check_space(
    space: Mapping[str, ParamSpec], estimator_class: type, fixed: Mapping[str, Any], where: str
) -> None:
    """Refuse a space that names parameters the estimator lacks, or that ``params`` fixes.

    ``where`` is the mlgate.yaml section (``training.search`` or ``training.candidates[0]``).
    """
    known = estimator_params(estimator_class)
    unknown = [name for name in space if name not in known]
    if unknown:
        raise ValidationError(
            f"mlgate.yaml {where}.space names {', '.join(unknown)}, which "
            f"{estimator_class.__name__} does not take; its parameters are "
            f"{', '.join(sorted(known))}"
        )

    both = [name for name in space if name in fixed]
    if both:
        raise ValidationError(
            f"mlgate.yaml fixes {', '.join(both)} in params and searches it in {where}.space; "
            "keep each parameter in one of them"
        )


def suggest(trial: optuna.Trial, space: Mapping[str, ParamSpec]) -> dict[str, Any]:
    """Return this trial's value of every searched parameter, drawn by the study's sampler."""
    values: dict[str, Any] = {}
    for name, spec in space.items():
        if spec.type == "categorical":
            values[name] = trial.suggest_categorical(name, list(spec.choices or []))
            continue

        low, high = float(spec.low or 0.0), float(spec.high or 0.0)  # ParamSpec requires both
        if spec.type == "int":
            values[name] = trial.suggest_int(name, int(low), int(high), log=spec.log)
        else:
            values[name] = trial.suggest_float(name, low, high, log=spec.log)
    logger.debug("trial %d drew %s", trial.number, values)
    return values
