"""The database of the backend: engine and sessions, the ORM models, migrations and repositories.

SQLite in WAL mode by default (a file in the data folder), PostgreSQL through `TRACEMARK_DATABASE_URL`; the same
code serves both. Tables are created and changed only by the Alembic migrations in `store/migrations/`, which
`Database.migrate()` applies programmatically (the indexer and the API call it on start).

Public surface:
    Database        engine, transactions, migrations
    Base            the declarative base every model of every feature derives from
    chain_models    the chain indexer's tables; chain_repository, its reads and writes
"""

from tracemark.store.base import Base
from tracemark.store.database import Database, database_url

__all__ = ["Base", "Database", "database_url"]
