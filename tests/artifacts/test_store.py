"""The content-addressed artifact store refuses content that does not match its address."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mlgate.artifacts import ArtifactStore
from mlgate.errors import IntegrityError, NotFoundError, ValidationError


def test_put_and_get_round_trip_by_sha256(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "a")
    digest = store.put_bytes(b"hello")
    assert digest == hashlib.sha256(b"hello").hexdigest()
    assert store.get_bytes(digest) == b"hello"
    assert store.put_bytes(b"hello") == digest


def test_get_refuses_tampered_content(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "a")
    digest = store.put_bytes(b"model bytes")
    path = tmp_path / "a" / digest[:2] / digest
    path.write_bytes(b"evil bytes")
    with pytest.raises(IntegrityError, match=f"artifact {digest} was tampered with"):
        store.get_bytes(digest)


def test_get_missing_names_address(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "a")
    missing = "0" * 64
    with pytest.raises(NotFoundError, match=f"artifact {missing} is not in the store"):
        store.get_bytes(missing)


def test_bad_address_is_refused(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "a")
    with pytest.raises(ValidationError, match="64 lowercase hex characters; got '../etc'"):
        store.get_bytes("../etc")


def test_fsspec_memory_url_works() -> None:
    store = ArtifactStore("memory://mlgate-test-artifacts")
    digest = store.put_bytes(b"in memory")
    assert store.get_bytes(digest) == b"in memory"
