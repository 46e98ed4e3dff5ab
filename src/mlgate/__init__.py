"""mlgate: one system for the governed life of a machine-learning model.

The package is layered; imports only point down:

- faces: ``mlgate.cli`` (and later a REST server) translate input and output.
- service: ``mlgate.lifecycle``, ``mlgate.serving``, ``mlgate.reports`` change and present state.
- state: ``mlgate.registry`` (database, audit chain) and ``mlgate.artifacts`` (content store).
- pure: ``mlgate.policy``, ``mlgate.documents`` and ``mlgate.checks`` compute without side effects.
"""

__version__ = "0.1.0"
