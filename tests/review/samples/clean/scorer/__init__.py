"""A one-feature threshold classifier: learn a cut-off, then score new values with it."""

from scorer.predict import predict
from scorer.train import fit

__all__ = ["fit", "predict"]
