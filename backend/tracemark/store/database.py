"""Engine, transactions and migrations of the store.

SQLite runs in WAL mode (readers never block the writer), with `synchronous=NORMAL` (a commit survives a killed
process; only a power cut may lose the last commits, which the indexer then simply indexes again) and a busy
timeout. pysqlite's own transaction handling does not open a transaction before a SELECT, so a read would not
see one snapshot; the driver's handling is switched off and `BEGIN` (or `BEGIN IMMEDIATE` for writers, so two
writers queue instead of failing) is emitted here. PostgreSQL needs none of this; reads there run in
REPEATABLE READ, so that a read sees one snapshot too.
"""

from __future__ import annotations

import fcntl
import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from operator import itemgetter
from pathlib import Path
from typing import Any, cast

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, Table, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from sqlalchemy.pool import StaticPool

from tracemark.config import Settings
from tracemark.store.checkpoints import HARD_LIMIT, SOFT_LIMIT, WalCheckpointer

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_WRITE = "tracemark_write"


def database_url(settings: Settings) -> str:
    """The URL of the database the settings name: `database_url`, or SQLite in the data folder."""
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{settings.data_dir / 'tracemark.db'}"


_INSERTS: dict[tuple[str, str, tuple[str, ...]], str] = {}


def bulk_insert(
    connection: Connection,
    table: Table,
    rows: Sequence[Mapping[str, Any]] | Sequence[tuple[Any, ...]],
    columns: Sequence[str] | None = None,
) -> None:
    """Inserts many rows with one driver-level `executemany`, skipping SQLAlchemy's per-row parameter processing.

    Args:
        connection: The connection (inside the caller's transaction).
        table: The table.
        rows: Dicts with plain values for every column, or tuples in the order of `columns`.
        columns: The column order of tuple rows (every column of the table when omitted).
    """
    if not rows:
        return
    names = tuple(columns) if columns is not None else tuple(column.name for column in table.columns)
    key = (connection.dialect.name, table.name, names)
    sql = _INSERTS.get(key)
    if sql is None:
        quote = connection.dialect.identifier_preparer.quote
        marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        # Names come from the table's metadata (never from input) and are quoted by the dialect.
        listed = ", ".join(quote(n) for n in names)
        markers = ", ".join([marker] * len(names))
        sql = _INSERTS[key] = f"INSERT INTO {quote(table.name)} ({listed}) VALUES ({markers})"  # noqa: S608
    if isinstance(rows[0], tuple):
        params = list(cast(Sequence[tuple[Any, ...]], rows))
    else:
        pick = itemgetter(*names)  # one C call per row (a single column gives a bare value: wrap it)
        dict_rows = cast(Sequence[Mapping[str, Any]], rows)
        params = [pick(row) for row in dict_rows] if len(names) > 1 else [(pick(row),) for row in dict_rows]
    if connection.dialect.name == "postgresql" and connection.dialect.driver == "psycopg":
        # COPY is PostgreSQL's bulk path: several times faster than executemany of INSERTs.
        quote = connection.dialect.identifier_preparer.quote
        copy_sql = f"COPY {quote(table.name)} ({', '.join(quote(n) for n in names)}) FROM STDIN"
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(copy_sql) as copy:  # type: ignore[union-attr]
            for row in params:
                copy.write_row(row)
        return
    connection.exec_driver_sql(sql, params)


class Database:
    """One database: an engine, read and write transactions, and the migrations that shape it.

    Args:
        url: A SQLAlchemy URL (`sqlite:///path`, `sqlite://` for memory, `postgresql+psycopg://...`).
        echo: Log every statement (debugging).
    """

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = make_url(url)
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self._migrated = False
        self._migrate_lock = threading.Lock()
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
            if self.url.database in (None, "", ":memory:"):
                kwargs["poolclass"] = StaticPool  # one shared connection, or every session sees another database
            else:
                Path(self.url.database or "").parent.mkdir(parents=True, exist_ok=True)
        else:
            kwargs["pool_pre_ping"] = True
        self.engine: Engine = create_engine(self.url, **kwargs)
        self._checkpointer: WalCheckpointer | None = None
        if self.is_sqlite:
            self._tune_sqlite(self.engine)
            if self.url.database not in (None, "", ":memory:"):
                self._checkpointer = WalCheckpointer(self.url.database or "")

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """The database the settings name."""
        return cls(database_url(settings))

    @staticmethod
    def _tune_sqlite(engine: Engine) -> None:
        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see the module docstring)
            cursor = dbapi_connection.cursor()
            # 16 KiB pages for a new database (an existing one keeps its page size): the indexer's back-fill writes
            # tens of thousands of rows per transaction, and larger pages cut its per-page cost of B-tree inserts,
            # splits and write-ahead log frames (docs/benchmarks.md, "Chain indexer"). It must come before WAL mode,
            # which fixes the page size of a new file.
            cursor.execute("PRAGMA page_size=16384")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB of page cache per connection
            cursor.execute("PRAGMA temp_store=MEMORY")
            # Checkpoints run in the background (`tracemark.store.checkpoints`); a commit checkpoints by itself only
            # past the hard limit, and a reset log is truncated back to the soft one.
            page_size = cursor.execute("PRAGMA page_size").fetchone()[0]
            cursor.execute(f"PRAGMA wal_autocheckpoint={HARD_LIMIT // page_size}")
            cursor.execute(f"PRAGMA journal_size_limit={SOFT_LIMIT}")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(connection: Connection) -> None:
            write = connection.get_execution_options().get(_WRITE, False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    def exists(self) -> bool:
        """Whether the database is there already (always true for a server database)."""
        if not self.is_sqlite or self.url.database in (None, "", ":memory:"):
            return True
        return Path(self.url.database or "").exists()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only session that sees one consistent snapshot; rolled back at the end."""
        options: dict[str, Any] = {} if self.is_sqlite else {"isolation_level": "REPEATABLE READ"}
        with Session(self.engine.execution_options(**options)) as session:
            try:
                yield session
            finally:
                session.rollback()

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: committed when the block ends, rolled back on an exception."""
        with Session(self.engine.execution_options(**{_WRITE: True})) as session, session.begin():
            yield session
        if self._checkpointer is not None:
            self._checkpointer.wrote()

    def migrate(self, revision: str = "head") -> None:
        """Brings the schema to `revision` with the Alembic migrations; safe to call from several processes.

        On SQLite a lock file next to the database serialises processes; on PostgreSQL an advisory lock does
        (taken in `migrations/env.py`).
        """
        with self._migrate_lock:
            if self._migrated and revision == "head":
                return
            if self.is_sqlite and self.url.database not in (None, "", ":memory:"):
                lock_path = Path(f"{self.url.database}.migrate.lock")
                with lock_path.open("a") as lock:
                    fcntl.flock(lock, fcntl.LOCK_EX)
                    try:
                        self._run_alembic(revision)
                    finally:
                        fcntl.flock(lock, fcntl.LOCK_UN)
            else:
                self._run_alembic(revision)
            self._migrated = revision == "head"

    def downgrade(self, revision: str) -> None:
        """Takes the schema back to `revision` (e.g. `base`); for tests and operators."""
        with self._migration_connection() as connection:
            command.downgrade(self._alembic_config(connection), revision)
        self._migrated = False

    def _run_alembic(self, revision: str) -> None:
        with self._migration_connection() as connection:
            command.upgrade(self._alembic_config(connection), revision)

    @contextmanager
    def _migration_connection(self) -> Iterator[Connection]:
        """A connection for migrations. On SQLite its foreign keys are off while they run: batch mode changes a table
        by copying it and dropping the old one, and with foreign keys on, that drop would delete (cascade) or refuse
        the rows of every table that refers to it. `migrations/env.py` runs `PRAGMA foreign_key_check` before the
        migration commits, so nothing dangling is left behind."""
        with self.engine.connect().execution_options(**{_WRITE: True}) as connection:
            raw = connection.connection.driver_connection if self.is_sqlite else None
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=OFF")  # outside any transaction, where SQLite honours it
            try:
                yield connection
            finally:
                if raw is not None:
                    connection.rollback()  # ends what Alembic began after its commit, or the PRAGMA is ignored
                    raw.execute("PRAGMA foreign_keys=ON")
                    if raw.execute("PRAGMA foreign_keys").fetchone() != (1,):
                        connection.invalidate()  # never back into the pool without its foreign keys

    def _alembic_config(self, connection: Connection) -> Config:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = connection
        return config

    def table_names(self) -> list[str]:
        """The tables that exist now (for checks and tests)."""
        return sorted(inspect(self.engine).get_table_names())

    def dispose(self) -> None:
        """Closes every pooled connection (on SQLite, the last one to close checkpoints the write-ahead log)."""
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self.engine.dispose()
