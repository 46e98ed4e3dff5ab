"""Connecting to the governance store and keeping its schema current.

Local mode keeps a SQLite file in the workspace's ``.mlgate/`` folder; team mode points
``MLGATE_DATABASE_URL`` at PostgreSQL. The schema is owned by Alembic migrations, which run
automatically when a store is opened, so a newer mlgate upgrades an older workspace in place.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from mlgate.errors import ConflictError, IntegrityError, ValidationError
from mlgate.registry.audit import discard, seal
from mlgate.registry.seals import track_flushed_rows

logger = logging.getLogger(__name__)


def sqlite_url(path: Path) -> str:
    """Return the SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path}"


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    location = resources.files("mlgate.registry") / "migrations"
    config.set_main_option("script_location", str(location))
    config.attributes["engine"] = engine
    return config


def _on_sqlite_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create an engine for ``url``, with SQLite set up for safe concurrent use."""
    try:
        # Statement parameters stay out of error messages and logs: they can hold hashes.
        engine = create_engine(url, future=True, pool_pre_ping=True, hide_parameters=True)
    except Exception as exc:  # SQLAlchemy raises several types for a malformed URL
        raise ValidationError(
            f"MLGATE_DATABASE_URL is not a usable database URL: {exc}",
            hint="use e.g. postgresql+psycopg://user@127.0.0.1:5432/mlgate or sqlite:///path.db",
        ) from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _on_sqlite_connect)
        event.listen(engine, "begin", _on_sqlite_begin)
    return engine


def _on_sqlite_begin(connection) -> None:  # type: ignore[no-untyped-def]
    # Take the write lock at the start, so that two writers queue instead of one failing
    # half-way with "database is locked" after reading a stale audit tip.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest migration; a no-op when it is already there."""
    config = _alembic_config(engine)
    head = ScriptDirectory.from_config(config).get_current_head()
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except DatabaseError as exc:
        if engine.dialect.name == "sqlite" or not isinstance(exc, OperationalError):
            raise IntegrityError(
                f"{engine.url.database} cannot be read as an mlgate store: {exc.orig}",
                hint="restore the workspace's .mlgate folder from a backup",
            ) from exc
        raise ConflictError(
            f"cannot reach the database at {engine.url.render_as_string(hide_password=True)}: "
            f"{exc.orig}",
            hint="check MLGATE_DATABASE_URL and that the server is running",
        ) from exc
    if current == head:
        return
    logger.info("migrating store %s from %s to %s", engine.url.database, current, head)
    command.upgrade(config, "head")


class Store:
    """An open governance store: an engine with an up-to-date schema and a session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        upgrade(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self._sessions, "after_flush", track_flushed_rows)
        self._open = threading.local()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Yield a session whose work commits together, or not at all if anything raises.

        Transactions do not nest: on SQLite a second one would wait for the first forever, so
        opening one inside another is a programming error and fails at once.
        """
        if getattr(self._open, "active", False):
            raise RuntimeError("a store transaction was opened inside another one")
        session = self._sessions()
        self._open.active = True
        try:
            yield session
            seal(session)
            session.commit()
        except BaseException:
            session.rollback()
            discard(session)
            raise
        finally:
            self._open.active = False
            session.close()

    @property
    def in_transaction(self) -> bool:
        """Return whether this thread is inside :meth:`transaction`."""
        return bool(getattr(self._open, "active", False))

    def close(self) -> None:
        """Release the engine's connections."""
        self.engine.dispose()
