"""Saving and loading models without ever executing untrusted code.

scikit-learn models are stored with skops, which rebuilds objects from an explicit list of types
instead of unpickling. At registration the types skops does not trust by default are recorded with
the model; at load time exactly those are trusted, and only after the artifact's hash matched the
registry's record. A model file that asks for any other type is refused.
"""

from __future__ import annotations

import logging
from typing import Any

import skops.io as sio

from mlgate.errors import IntegrityError, ValidationError

logger = logging.getLogger(__name__)

FLAVOUR_SKOPS = "sklearn-skops"


def dump_model(model: Any) -> tuple[bytes, list[str]]:
    """Serialise ``model`` with skops; return the bytes and the types it must be trusted with."""
    try:
        data = sio.dumps(model)
    except Exception as exc:  # skops raises TypeError or its own errors on unsupported objects
        raise ValidationError(
            f"cannot save a {type(model).__name__} with skops: {exc}",
            hint="mlgate stores scikit-learn compatible estimators and pipelines",
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
    return sio.loads(data, trusted=list(trusted_types))
