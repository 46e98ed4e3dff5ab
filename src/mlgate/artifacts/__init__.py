"""Content-addressed artifact storage and safe model persistence."""

from mlgate.artifacts.store import ArtifactStore, sha256_bytes, sha256_file

__all__ = ["ArtifactStore", "sha256_bytes", "sha256_file"]
