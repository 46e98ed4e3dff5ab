from scorer import fit, predict


def test_predict_scores_above_cutoff_as_one():
    cutoff = fit([0.0, 4.0], [0, 1])
    assert predict(cutoff, [1.0, 2.0, 3.0]) == [0, 0, 1]
