"""Releasing a reviewed model version as an installable Python package.

:func:`package_model` writes the wheel of a version that passed the review gate;
:func:`publish_model` uploads it to a PyPI-compatible index with twine. See ``docs/release.md``.
"""

from mlgate.release.package import BuiltWheel, package_model
from mlgate.release.publish import Published, publish_model

__all__ = ["BuiltWheel", "Published", "package_model", "publish_model"]
