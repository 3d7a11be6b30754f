"""Background WAL checkpoints (`tracemark.store.checkpoints`) on real SQLite files.

What a checkpoint did is read off the files themselves: a copy of the database file alone (without its `-wal`)
holds exactly what has been checkpointed."""

from __future__ import annotations

import logging
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tracemark.store import Database
from tracemark.store.checkpoints import HARD_LIMIT, SOFT_LIMIT, WalCheckpointer

ROW = "x" * 4000  # about a page of 4 KiB per row


def _rows_in_file_alone(path: Path, tmp: Path) -> int:
    """Rows of table `t` in the database file without its log: what checkpoints have copied."""
    copy = tmp / "alone.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(path, copy)
    connection = sqlite3.connect(copy)
    try:
        tables = connection.execute("SELECT count(*) FROM sqlite_master WHERE name = 't'").fetchone()[0]
        return int(connection.execute("SELECT count(*) FROM t").fetchone()[0]) if tables else 0
    finally:
        connection.close()


def _wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


class Writer:
    """A WAL database written with SQLite's automatic checkpoint off, as `Database` sets it up for the tests."""

    def __init__(self, path: Path, soft_limit: int) -> None:
        self.path = path
        self.connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.connection.execute("PRAGMA page_size=4096")
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=NORMAL")
        self.connection.execute("PRAGMA wal_autocheckpoint=0")
        self.connection.execute(f"PRAGMA journal_size_limit={soft_limit}")
        self.connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
        self.count = 0

    def commit_rows(self, n: int) -> None:
        self.connection.execute("BEGIN IMMEDIATE")
        self.connection.executemany("INSERT INTO t (body) VALUES (?)", [(ROW,)] * n)
        self.connection.execute("COMMIT")
        self.count += n


@pytest.fixture
def writer(tmp_path: Path) -> Iterator[Writer]:
    w = Writer(tmp_path / "w.db", soft_limit=1024 * 1024)
    yield w
    w.connection.close()


def test_a_burst_is_checkpointed_once_the_writers_are_quiet(writer: Writer, tmp_path: Path) -> None:
    checkpointer = WalCheckpointer(str(writer.path), idle_s=0.3, soft_limit=64 * 1024 * 1024)
    for _ in range(5):
        writer.commit_rows(20)
        checkpointer.wrote()
    # Right after the burst nothing has been copied: the commits only appended to the log.
    assert checkpointer.checkpoints == 0
    assert _rows_in_file_alone(writer.path, tmp_path) == 0
    assert _wait_for(lambda: checkpointer.checkpoints == 1)
    assert _rows_in_file_alone(writer.path, tmp_path) == writer.count
    # Done: the thread ends rather than waiting, and no further checkpoint runs without a new commit.
    assert _wait_for(lambda: not checkpointer.running)
    time.sleep(0.4)
    assert checkpointer.checkpoints == 1


def test_steady_writes_below_the_soft_limit_wait_for_a_pause(writer: Writer, tmp_path: Path) -> None:
    checkpointer = WalCheckpointer(str(writer.path), idle_s=0.5, soft_limit=64 * 1024 * 1024)
    ended = time.monotonic() + 1.0
    while time.monotonic() < ended:  # a commit every 50 ms: never quiet for 0.5 s
        writer.commit_rows(2)
        checkpointer.wrote()
        time.sleep(0.05)
    assert checkpointer.checkpoints == 0
    assert _wait_for(lambda: checkpointer.checkpoints == 1)
    assert _rows_in_file_alone(writer.path, tmp_path) == writer.count
    checkpointer.stop()


def test_past_the_soft_limit_checkpoints_run_while_the_writer_goes_on(writer: Writer, tmp_path: Path) -> None:
    checkpointer = WalCheckpointer(str(writer.path), idle_s=60.0, soft_limit=1024 * 1024)
    for _ in range(4):
        writer.commit_rows(100)  # about 400 KiB of log each
        checkpointer.wrote()
    # Over 1 MiB of log: checkpoints run although the writer was never quiet for a minute.
    assert _wait_for(lambda: checkpointer.checkpoints >= 1)
    checkpointer.stop()
    assert _rows_in_file_alone(writer.path, tmp_path) >= 200
    # Once everything is copied, the writer's next transaction starts the log again and the file is cut back.
    checkpointer.checkpoint()
    writer.commit_rows(1)
    assert checkpointer.wal_size() <= 1024 * 1024


def test_stop_waits_for_the_thread_and_the_next_commit_starts_one_again(writer: Writer, tmp_path: Path) -> None:
    checkpointer = WalCheckpointer(str(writer.path), idle_s=30.0, soft_limit=64 * 1024 * 1024)
    writer.commit_rows(10)
    checkpointer.wrote()
    assert checkpointer.running
    checkpointer.stop()  # does not wait the 30 s
    assert not checkpointer.running
    assert checkpointer.checkpoints == 0

    checkpointer.idle_s = 0.05
    writer.commit_rows(10)
    checkpointer.wrote()
    assert _wait_for(lambda: checkpointer.checkpoints == 1)
    assert _rows_in_file_alone(writer.path, tmp_path) == 20


def test_a_checkpoint_of_a_removed_file_is_logged_and_creates_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "gone.db"
    checkpointer = WalCheckpointer(str(path))
    with caplog.at_level(logging.WARNING, logger="tracemark.store.checkpoints"):
        assert checkpointer.checkpoint() is False
    assert not path.exists()
    assert "cannot open the database" in caplog.text


def test_a_checkpoint_of_something_not_a_database_is_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "not.db"
    path.write_bytes(b"not a database at all" * 100)
    checkpointer = WalCheckpointer(str(path))
    with caplog.at_level(logging.WARNING, logger="tracemark.store.checkpoints"):
        assert checkpointer.checkpoint() is False
    assert "failed" in caplog.text
    assert checkpointer.checkpoints == 0


def test_past_the_soft_limit_a_checkpoint_follows_every_half_limit_of_growth(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The size rule alone, on scripted log sizes (the writer never pauses: idle_s is an hour)."""
    mib = 1024 * 1024
    checkpointer = WalCheckpointer(str(tmp_path / "x.db"), idle_s=3600.0, soft_limit=64 * mib)
    sizes: list[int] = []
    monkeypatch.setattr(checkpointer, "wal_size", lambda: sizes[-1])
    checkpointer._last_write = time.monotonic()

    def due_at(size_mib: float) -> bool:
        sizes.append(int(size_mib * mib))
        return checkpointer._due() <= 0

    assert [due_at(s) for s in (10, 40, 64, 65, 70, 96, 97, 120, 129, 130, 200)] == [
        False, False, False, True, False, False, True, False, True, False, True]
    # The log was reset and cut back to the soft limit: the next checkpoint comes once it is past it again.
    assert [due_at(s) for s in (64, 64, 66, 80, 98)] == [False, False, True, False, True]


# ---- the store's database ------------------------------------------------------------------------------------


def test_the_store_writes_through_the_background_checkpointer(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    with database.engine.connect() as connection:
        raw = connection.connection.driver_connection
        assert raw is not None
        page_size = raw.execute("PRAGMA page_size").fetchone()[0]
        assert raw.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == HARD_LIMIT // page_size
        assert raw.execute("PRAGMA journal_size_limit").fetchone()[0] == SOFT_LIMIT
    with database.write() as session:
        session.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)"))
    for _ in range(3):
        with database.write() as session:
            session.execute(text("INSERT INTO t (body) VALUES ('a')"))
    checkpointer = database._checkpointer
    assert checkpointer is not None
    assert _wait_for(lambda: checkpointer.checkpoints >= 1)
    assert _rows_in_file_alone(path, tmp_path) == 3
    database.dispose()


def test_a_failed_write_is_not_followed_by_a_checkpoint(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'store.db'}")
    database.migrate()
    checkpointer = database._checkpointer
    assert checkpointer is not None
    checkpointer.stop()
    with pytest.raises(RuntimeError), database.write() as session:
        session.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY)"))
        raise RuntimeError("rolled back")
    assert not checkpointer.running
    database.dispose()


def test_dispose_stops_the_thread_and_sqlite_checkpoints_on_close(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    with database.write() as session:
        session.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)"))
        session.execute(text("INSERT INTO t (body) VALUES ('kept')"))
    checkpointer = database._checkpointer
    assert checkpointer is not None and checkpointer.running
    database.dispose()  # before the quiet time is over
    assert not checkpointer.running
    assert _rows_in_file_alone(path, tmp_path) == 1


def test_a_memory_database_has_no_checkpointer() -> None:
    database = Database("sqlite://")
    assert database._checkpointer is None
    database.dispose()
