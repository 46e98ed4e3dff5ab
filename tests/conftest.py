"""Shared fixtures: store URLs for both backends, and isolated PostgreSQL schemas."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

pytest_plugins = ["tests.fixtures"]

POSTGRES_URL = os.environ.get(
    "MLGATE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """Yield a URL to a fresh, empty schema in the test PostgreSQL database, dropped afterwards.

    The test fails (it is not skipped) when PostgreSQL does not answer: `scripts/test.sh` starts
    the server, and CI runs these tests.
    """
    schema = f"mlgate_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Yield a store URL for each backend mlgate supports."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep a developer's own MLGATE_* settings out of the tests."""
    for name in ("MLGATE_DATABASE_URL", "MLGATE_ARTIFACT_URL", "MLGATE_WORKSPACE", "MLGATE_USER"):
        monkeypatch.delenv(name, raising=False)
