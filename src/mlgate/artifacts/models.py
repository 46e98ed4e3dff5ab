"""Saving and loading models without ever executing untrusted code.

Models are stored with skops, which rebuilds objects from an explicit list of types instead of
unpickling. At registration the types skops does not trust by default are recorded with the
model; at load time exactly those are trusted, and only after the artifact's hash matched the
registry's record. A model file that asks for any other type is refused.

LightGBM and XGBoost estimators (``LGBMClassifier``, ``XGBClassifier`` and their regressors,
alone or as the last step of a scikit-learn pipeline) are stored the same way, with skops. Their
state already holds the booster in the library's own native form: LightGBM hands skops its
model text, XGBoost its raw UBJSON buffer, and on loading skops passes those bytes back to the
library's native parser, so no Python code from the file runs. Storing them with skops rather
than in a second, native-format flavour keeps one artifact format, one hash-checked load path
and one list of trusted types per version. The types recorded are, for an ``LGBMClassifier``,
``collections.OrderedDict``, ``lightgbm.basic.Booster`` and ``lightgbm.sklearn.LGBMClassifier``;
for an ``XGBClassifier``, ``xgboost.core.Booster`` and ``xgboost.sklearn.XGBClassifier``; inside
a pipeline with a one-hot encoder also ``numpy.dtype``. A booster in native format (an MLflow
directory's UBJSON or JSON file) is read only on the way in and stored as skops.

Every stored version names its ``flavour``; :func:`load_artifact` rebuilds a model from its bytes
and flavour, and is what a fresh Python process calls to score the stored model on its own.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import skops.io as sio

from mlgate.errors import IntegrityError, ValidationError

if TYPE_CHECKING:
    from mlgate.checks.base import ModelLoader

logger = logging.getLogger(__name__)

FLAVOUR_SKOPS = "sklearn-skops"
FLAVOURS = (FLAVOUR_SKOPS,)
LOADER = "mlgate.artifacts.models:load_artifact"


def dump_model(model: Any) -> tuple[bytes, list[str]]:
    """Serialise ``model`` with skops; return the bytes and the types it must be trusted with."""
    try:
        data = sio.dumps(model)
    except Exception as exc:  # skops raises TypeError or its own errors on unsupported objects
        raise ValidationError(
            f"cannot save a {type(model).__name__} with skops: {exc}",
            hint="mlgate stores scikit-learn compatible estimators and pipelines, including "
            "LightGBM and XGBoost estimators",
        ) from exc
    return data, sorted(sio.get_untrusted_types(data=data))


def load_model(data: bytes, trusted_types: list[str]) -> Any:
    """Rebuild a model from skops bytes, trusting exactly the recorded types."""
    requested = set(sio.get_untrusted_types(data=data))
    unexpected = sorted(requested - set(trusted_types))
    if unexpected:
        raise IntegrityError(
            f"the model file asks to load types that were not recorded at registration: "
            f"{', '.join(unexpected)}; mlgate refuses to load it"
        )
    try:
        return sio.loads(data, trusted=list(trusted_types))
    except Exception as exc:  # a type that no longer resolves fails with any error type
        raise ValidationError(
            f"the stored model cannot be loaded: {type(exc).__name__}: {exc}; expected every "
            f"recorded type ({', '.join(trusted_types) or 'none'}) to be importable here"
            + _main_note(trusted_types),
            hint="check that the packages the version was built with are installed "
            "(mlgate model list shows them), or register the model again",
        ) from exc


def main_types(trusted_types: list[str]) -> list[str]:
    """Return the recorded types that live in ``__main__``: a script's lambdas and functions.

    skops stores a function by its module and name, and ``__main__`` is whatever program runs
    at load time, so such a type can never be found again.
    """
    return [t for t in trusted_types if t.startswith("__main__.")]


def _main_note(trusted_types: list[str]) -> str:
    found = main_types(trusted_types)
    if not found:
        return ""
    return (
        f"; {', '.join(found)} was defined in the script that trained the model (a lambda or a "
        "function in __main__), which no other program can import"
    )


def load_artifact(data: bytes, flavour: str, trusted_types: list[str]) -> Any:
    """Rebuild a stored model from its bytes, by the flavour it was registered with."""
    if flavour != FLAVOUR_SKOPS:
        raise IntegrityError(
            f"the model was stored with flavour '{flavour}', which this mlgate cannot load; "
            f"expected one of {', '.join(FLAVOURS)}"
        )
    return load_model(data, trusted_types)


def artifact_loader(flavour: str, trusted_types: list[str]) -> ModelLoader:
    """Return how another process rebuilds a model stored with ``flavour`` and these types."""
    from mlgate.checks.base import ModelLoader  # here, so a fresh process loading models skips it

    return ModelLoader(LOADER, {"flavour": flavour, "trusted_types": list(trusted_types)})
