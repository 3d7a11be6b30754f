"""The `any_database` fixture: every store test runs on SQLite and on PostgreSQL (skipped where it is not installed).
A test folder imports it into its conftest together with `postgres_url`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

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
