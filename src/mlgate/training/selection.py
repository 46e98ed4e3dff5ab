"""Model selection: the candidate with the best mean cross-validated metric, explained.

Every candidate is scored on the same folds, so scores are compared fold by fold. A candidate
wins outright when its mean beats every other by more than one standard error of the paired
fold differences. When others come within one standard error, the difference is within the
noise of the folds, and the simplest of those candidates is chosen (linear models before single
trees and kernels, before ensembles), the one fastest to fit among equally simple ones: it is
cheaper to run, to explain and to validate. The reason is written out in words and recorded with
the model version.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlgate.errors import ValidationError
from mlgate.training.cv import FoldScores

logger = logging.getLogger(__name__)

# Module prefixes of estimator families, from the simplest; everything else ranks as "ensemble".
FAMILIES: tuple[tuple[str, int, str], ...] = (
    ("sklearn.dummy", 0, "baseline"),
    ("sklearn.linear_model", 0, "linear"),
    ("sklearn.naive_bayes", 0, "naive Bayes"),
    ("sklearn.discriminant_analysis", 0, "discriminant analysis"),
    ("sklearn.tree", 1, "single tree"),
    ("sklearn.neighbors", 1, "nearest neighbours"),
    ("sklearn.svm", 1, "support vector"),
)
ENSEMBLE = (2, "ensemble or other")


@dataclass(frozen=True)
class CandidateResult:
    """One candidate's cross-validated scores and the parameters it would be refitted with."""

    name: str
    estimator: str
    params: dict[str, Any]
    folds: FoldScores
    search: dict[str, Any] | None = None

    def row(self) -> dict[str, Any]:
        """Return the candidate as a row of the comparison table (plain JSON)."""
        row: dict[str, Any] = {
            "candidate": self.name,
            "estimator": self.estimator,
            "mean": self.folds.mean,
            "std": self.folds.std,
            "folds": list(self.folds.scores),
            "fit_seconds": round(self.folds.fit_seconds, 4),
            "params": self.params,
        }
        if self.search is not None:
            row["study"] = self.search["study"]
            row["trials"] = self.search["trials"]
        return row


@dataclass(frozen=True)
class Selection:
    """The winning candidate, why it won, and the table it was chosen from."""

    winner: CandidateResult
    reason: str
    metric: str
    results: list[CandidateResult]

    def record(self) -> dict[str, Any]:
        """Return what is kept with the model version: metric, winner, reason and table."""
        return {
            "metric": self.metric,
            "winner": self.winner.name,
            "reason": self.reason,
            "candidates": [r.row() for r in self.results],
        }


def family(estimator: str) -> tuple[int, str]:
    """Return the complexity rank (0 simplest) and family name of a dotted estimator class."""
    for prefix, rank, name in FAMILIES:
        if estimator.startswith(prefix + "."):
            return rank, name
    return ENSEMBLE


def paired_standard_error(a: FoldScores, b: FoldScores) -> float:
    """Return the standard error of the mean of the fold-by-fold differences ``a - b``."""
    if len(a.scores) != len(b.scores):
        raise ValidationError(
            f"candidates were scored on {len(a.scores)} and {len(b.scores)} folds; selection "
            "needs the same folds for every candidate"
        )
    if len(a.scores) < 2:
        return 0.0
    differences = np.asarray(a.scores) - np.asarray(b.scores)
    return float(np.std(differences, ddof=1) / math.sqrt(len(differences)))


def select(results: Sequence[CandidateResult], metric: str) -> Selection:
    """Choose among ``results`` (in configuration order) and say why."""
    if not results:
        raise ValidationError("model selection needs at least one candidate; got none")
    ranked = sorted(results, key=lambda r: -r.folds.mean)
    best = ranked[0]
    if len(ranked) == 1:
        reason = f"the only candidate; mean {metric} {best.folds.mean:.4f}"
        return Selection(best, reason, metric, list(results))

    errors = {r.name: paired_standard_error(best.folds, r.folds) for r in ranked[1:]}
    close = [r for r in ranked[1:] if best.folds.mean - r.folds.mean <= errors[r.name]]
    if not close:
        reason = _clear_win(best, ranked[1], errors[ranked[1].name], metric)
    else:
        winner = min([best, *close], key=lambda r: (family(r.estimator)[0], r.folds.fit_seconds))
        reason = _close_call(best, winner, close, errors, metric)
        best = winner

    logger.info("model selection on %s: %s won; %s", metric, best.name, reason)
    return Selection(best, reason, metric, list(results))


def _clear_win(best: CandidateResult, second: CandidateResult, error: float, metric: str) -> str:
    return (
        f"highest mean {metric} {best.folds.mean:.4f} vs {second.folds.mean:.4f} for "
        f"{second.name}; the difference {best.folds.mean - second.folds.mean:.4f} is larger than "
        f"one standard error of the paired fold differences ({error:.4f})"
    )


def _close_call(
    best: CandidateResult,
    winner: CandidateResult,
    close: list[CandidateResult],
    errors: dict[str, float],
    metric: str,
) -> str:
    within = ", ".join(
        f"{r.name} {r.folds.mean:.4f} (standard error {errors[r.name]:.4f})" for r in close
    )
    head = (
        f"{best.name} has the highest mean {metric} {best.folds.mean:.4f}, but {within} "
        f"{'is' if len(close) == 1 else 'are'} within one standard error of the paired fold "
        "differences"
    )
    others = [r for r in [best, *close] if r is not winner]
    return f"{head}; {winner.name} is chosen as {_why_preferred(winner, others)}"


def _why_preferred(winner: CandidateResult, others: list[CandidateResult]) -> str:
    rank, name = family(winner.estimator)
    if all(family(r.estimator)[0] > rank for r in others):
        kinds = ", ".join(sorted({family(r.estimator)[1] for r in others}))
        return f"the simpler model ({name} vs {kinds})"
    return (
        f"the faster to fit among the simplest ({winner.folds.fit_seconds:.3f} s per fold vs "
        + ", ".join(f"{r.folds.fit_seconds:.3f} s for {r.name}" for r in others)
        + ")"
    )
