"""WAL checkpoints of a SQLite database, run in a background thread instead of inside a writer's commit.

In WAL mode a commit appends pages to the write-ahead log; a checkpoint copies them into the database file, with
an fsync of the log before and of the database file after. SQLite's automatic checkpoint runs inside the commit
that crosses its threshold, so that writer waits for the copy and both fsyncs: during the indexer's back-fill, one
commit in six took 55 to 140 ms longer than the others (docs/benchmarks.md, "Chain indexer").

Here the writer's commits only append (their connections' automatic checkpoint is set at a high bound, `HARD_LIMIT`),
and `WalCheckpointer` runs a PASSIVE checkpoint, which never blocks a writer or a reader, in a thread of its own:

- once the writers have been idle for `IDLE_S` after a commit: a burst of writes is copied when it ends;
- once the log holds more than `SOFT_LIMIT` since it was last reset, after the commit that grows it by another
  half of `SOFT_LIMIT`: a long back-fill is copied while it goes on, so the log stays bounded, in a few large
  copies rather than one per commit (each checkpoint costs two fsyncs, and a page written by several commits is
  copied once).

The log is reset (written again from its start) only by a writer that begins a transaction when everything in it
has been copied; a background checkpoint racing a busy writer may rarely get there. If the log still reaches
`HARD_LIMIT`, the writer's own automatic checkpoint copies what is left and the next transaction resets it, as
SQLite does by default. `PRAGMA journal_size_limit` (set to `SOFT_LIMIT` on every connection) truncates the file
when it is reset, so the file's size tells how much the log holds.

A checkpoint changes nothing a reader sees: one that has not run yet only means SQLite reads those pages from the
log. With `synchronous=NORMAL` a commit survives a killed process either way; a power cut may lose the commits since
the log was last synced, which a checkpoint does first. SQLite's own checkpoint synced the log every 32 MiB, so the
small commits of the API could wait a long time for it; here a burst is synced a quarter of a second after it ends,
and a long back-fill (which the indexer can always redo from its stored checkpoint) every 32 MiB past the first 64.
When the last connection closes (`Database.dispose`), SQLite checkpoints the log itself.

This module is the store's: nothing here knows what is written.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from urllib.parse import quote

log = logging.getLogger(__name__)

IDLE_S = 0.25
"""How long the writers must have been quiet before a burst of writes is checkpointed."""
SOFT_LIMIT = 64 * 1024 * 1024
"""Log bytes above which the log is checkpointed in the background, every half of this much it grows."""
HARD_LIMIT = 256 * 1024 * 1024
"""Log bytes above which the committing writer checkpoints itself (SQLite's `wal_autocheckpoint`)."""
_BUSY_TIMEOUT_S = 30.0


class WalCheckpointer:
    """Background WAL checkpoints of one SQLite database file (see the module docstring).

    Call `wrote` after every write transaction commits, and `stop` before the database's connections are closed.
    The thread starts at the first `wrote` of a burst and ends once everything written is checkpointed, so an idle
    database holds none.

    Args:
        path: The database file.
        idle_s: Quiet time after a commit before a checkpoint.
        soft_limit: Log size above which a checkpoint follows every half of this much growth.
    """

    def __init__(self, path: str, *, idle_s: float = IDLE_S, soft_limit: int = SOFT_LIMIT) -> None:
        self.path = path
        self.wal_path = f"{path}-wal"
        self.idle_s = idle_s
        self.soft_limit = soft_limit
        self.checkpoints = 0
        """How many checkpoints ran (for tests and diagnostics)."""
        self._lock = threading.Lock()
        self._woken = threading.Condition(self._lock)
        self._last_write = 0.0
        self._pending = False  # something was committed since the last checkpoint started
        self._checked_size = 0  # the log's size when a checkpoint last ran for its size
        self._thread: threading.Thread | None = None
        self._stopping = False

    def wrote(self) -> None:
        """Notes a commit: a checkpoint follows once the writers are quiet, or at once if the log is large."""
        with self._lock:
            self._last_write = time.monotonic()
            self._pending = True
            if self._stopping:
                return  # `stop` is waiting for the thread; the commit is checkpointed when the connections close
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="tracemark-wal-checkpoint", daemon=True)
                self._thread.start()
            else:
                self._woken.notify()

    def stop(self) -> None:
        """Ends the thread after the checkpoint it is running, if any; the next `wrote` starts one again."""
        with self._lock:
            thread = self._thread
            self._stopping = thread is not None
            self._woken.notify()
        if thread is not None:
            thread.join()
            with self._lock:
                self._stopping = False

    @property
    def running(self) -> bool:
        """Whether the thread is there (a checkpoint is due or running)."""
        with self._lock:
            return self._thread is not None

    def wal_size(self) -> int:
        """The log file's size in bytes (0 when there is none)."""
        try:
            return os.stat(self.wal_path).st_size
        except OSError:
            return 0

    def _due(self) -> float:
        """Seconds until a checkpoint is due (0 or less: now). Called with the lock held."""
        size = self.wal_size()
        if size < self._checked_size:
            self._checked_size = 0  # the log was reset (and cut back to the soft limit) since
        if size > self.soft_limit and size >= self._checked_size + self.soft_limit // 2:
            self._checked_size = size
            return 0.0
        return self._last_write + self.idle_s - time.monotonic()

    def _run(self) -> None:
        while True:
            with self._lock:
                while True:
                    if self._stopping or not self._pending:
                        self._thread = None
                        return
                    wait = self._due()
                    if wait <= 0:
                        break
                    self._woken.wait(wait)
                self._pending = False
            self.checkpoint()

    def checkpoint(self) -> bool:
        """Runs one PASSIVE checkpoint now, in the calling thread.

        Returns:
            Whether it ran; a failure (the file gone, a disk error) is logged, not raised: the log stays valid and
            the next checkpoint, or SQLite's own, copies it.
        """
        try:
            # Read-write but never create: a file removed meanwhile is not made again, empty.
            connection = sqlite3.connect(f"file:{quote(self.path)}?mode=rw", timeout=_BUSY_TIMEOUT_S,
                                         isolation_level=None, uri=True)
        except sqlite3.Error as exc:
            log.warning("WAL checkpoint of %s: cannot open the database: %s", self.path, exc)
            return False
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error as exc:
            log.warning("WAL checkpoint of %s failed: %s", self.path, exc)
            return False
        finally:
            connection.close()
        self.checkpoints += 1
        return True
