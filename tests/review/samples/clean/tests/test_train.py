import pytest

from scorer.train import fit


def test_fit_returns_midpoint_of_class_means():
    assert fit([1.0, 3.0, 10.0, 12.0], [0, 0, 1, 1]) == 6.5


def test_fit_needs_both_classes():
    with pytest.raises(ValueError, match="both classes"):
        fit([1.0, 2.0], [0, 0])


def test_fit_needs_one_label_per_value():
    with pytest.raises(ValueError, match="got 2 values but 1 labels"):
        fit([1.0, 2.0], [0])
