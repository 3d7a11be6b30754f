"""Fixtures of the cases' integration tests: databases (SQLite, and PostgreSQL where it is installed)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.backend.integration.indexer.conftest import (  # noqa: F401 - shared fixtures
    deployed_state,
    dev_chain,
    postgres_url,
)
from tests.backend.integration.mail.conftest import certificate, plain_smtp  # noqa: F401 - shared fixtures
from tracemark.store import Database


@pytest.fixture(params=["sqlite", "postgresql"])
def any_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A migrated, empty database: SQLite in a file, then PostgreSQL (skipped where it is not installed)."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'tracemark.db'}")
    else:
        database = Database(request.getfixturevalue("postgres_url"))
        with database.engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    database.migrate()
    yield database
    database.dispose()
