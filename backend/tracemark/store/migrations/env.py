"""Alembic environment of the store; run by `Database.migrate()` with an open connection.

There is no alembic.ini: `Database` builds the configuration and hands over its connection in
`config.attributes["connection"]`. To write a new migration, add a module under `versions/` by hand (see the
existing ones) or autogenerate it against a database at head:

    .venv/bin/python -c "from tracemark.store.migrations import autogenerate; autogenerate('add sightings')"
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from tracemark.store import (  # noqa: F401 - register the tables
    case_models,
    chain_models,
    registration_models,
    sighting_models,
)
from tracemark.store.base import Base

# A fixed key for PostgreSQL's advisory lock that serialises migrations between processes.
_PG_MIGRATION_LOCK = 0x7472616365


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite changes tables by copying them
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        context.run_migrations()
        if connection.dialect.name == "sqlite":  # foreign keys are off while batch mode copies tables (Database)
            dangling = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if dangling:
                raise RuntimeError(f"the migration leaves rows whose foreign keys point nowhere: {dangling[:5]}")


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through tracemark.store.Database.migrate(), which passes a connection")
_run(connection)
