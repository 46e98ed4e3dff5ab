"""Learn the cut-off that separates the two classes of one numeric feature."""

from __future__ import annotations

from collections.abc import Sequence


def fit(values: Sequence[float], labels: Sequence[int]) -> float:
    """Return the midpoint between the mean of class 0 and the mean of class 1.

    Both classes must be present, otherwise there is nothing to separate.
    """
    if len(values) != len(labels):
        raise ValueError(f"got {len(values)} values but {len(labels)} labels")

    negatives = [v for v, y in zip(values, labels, strict=True) if y == 0]
    positives = [v for v, y in zip(values, labels, strict=True) if y == 1]
    if not negatives or not positives:
        raise ValueError("both classes 0 and 1 need at least one value")

    return (_mean(negatives) + _mean(positives)) / 2


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)
