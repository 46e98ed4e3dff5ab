"""Registering models: skops only with the types the user accepts, pickles only on request."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from mlgate.errors import IntegrityError, ValidationError
from mlgate.lifecycle.models import add_model, get_model_version, load_model_version
from mlgate.lifecycle.service import Governance


def _fitted(estimator):  # type: ignore[no-untyped-def]
    data = pd.DataFrame({"x1": np.linspace(-2, 2, 60), "x2": np.cos(np.arange(60))})
    return estimator.fit(data, (data["x1"] + 0.3 * data["x2"] > 0).astype(int))


def test_skops_file_needs_its_untrusted_types_accepted(workspace: Path) -> None:
    gov = Governance.open(workspace, actor="alice")
    path = workspace / "model.skops"
    sio.dump(_fitted(HistGradientBoostingClassifier(max_iter=5)), path)
    untrusted = sio.get_untrusted_types(file=path)

    with pytest.raises(ValidationError, match="needs types that skops does not trust"):
        add_model(gov, path)
    version = add_model(gov, path, trust=untrusted)

    assert version.trusted_types == sorted(untrusted)
    assert [c["name"] for c in version.signature] == ["x1", "x2"]
    model = load_model_version(gov, get_model_version(gov, version.version))
    assert model.predict(pd.DataFrame({"x1": [1.5], "x2": [0.0]})).tolist() == [1]


def test_pickle_is_opened_only_on_request_and_stored_as_skops(workspace: Path) -> None:
    gov = Governance.open(workspace, actor="alice")
    path = workspace / "model.joblib"
    joblib.dump(_fitted(LogisticRegression()), path)

    with pytest.raises(ValidationError, match="is a pickle, and loading a pickle runs any code"):
        add_model(gov, path)
    version = add_model(gov, path, allow_pickle=True)

    assert version.flavour == "sklearn-skops"
    stored = gov.artifacts.get_bytes(version.artifact_sha256)
    assert sio.get_untrusted_types(data=stored) == []


def test_model_that_cannot_score_the_data_is_refused(workspace: Path) -> None:
    gov = Governance.open(workspace, actor="alice")
    path = workspace / "other.joblib"
    other = LogisticRegression().fit(pd.DataFrame({"zz": [0.0, 1.0, 2.0, 3.0]}), [0, 0, 1, 1])
    joblib.dump(other, path)

    with pytest.raises(ValidationError, match="expects column\\(s\\) zz that dataset 'train'"):
        add_model(gov, path, allow_pickle=True)


def test_stored_model_asking_for_unrecorded_types_is_refused(workspace: Path) -> None:
    from mlgate.artifacts.models import load_model

    data = sio.dumps(_fitted(HistGradientBoostingClassifier(max_iter=5)))
    with pytest.raises(IntegrityError, match="not recorded at registration: sklearn"):
        load_model(data, trusted_types=[])
