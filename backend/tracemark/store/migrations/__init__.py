"""Alembic migrations of the store (`versions/`), applied by `tracemark.store.Database.migrate()`."""

from __future__ import annotations

import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config


def autogenerate(message: str) -> None:
    """Writes a new migration with what the models have and the migrations do not (a developer's tool).

    It compares the models with a scratch SQLite database brought to head; review the generated file.
    """
    from tracemark.store.database import MIGRATIONS_DIR, Database

    with tempfile.TemporaryDirectory() as scratch:
        database = Database(f"sqlite:///{Path(scratch) / 'scratch.db'}")
        database.migrate()
        with database.engine.connect() as connection:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS_DIR))
            config.attributes["connection"] = connection
            command.revision(config, message=message, autogenerate=True)
        database.dispose()
