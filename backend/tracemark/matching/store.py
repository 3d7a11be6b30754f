"""The on-disk index: one SQLite database in write-ahead-log mode.

Layout of an index folder: `index.sqlite` (plus SQLite's `-wal` and `-shm` files while open).

- `meta` holds the format name and version.
- `refs` holds one row per reference: its id, size, the fingerprint version it was computed with, and the
  fingerprint parts as blobs (global hash, retrieval words, verification features, thumbnail).
  `slot` is an AUTOINCREMENT key, never reused, so in-memory structures keyed by slot stay valid.

Crash safety comes from SQLite's atomic commits: an add is one transaction (a replace deletes the old row
and inserts the new one in the same transaction), so a process killed at any moment leaves either the index
before the add or the index after it, never half of it. Fingerprints are computed before the transaction
starts, so a transaction lasts milliseconds.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tracemark.matching.errors import IndexFormatError
from tracemark.matching.fingerprint import ReferenceFingerprint, WordPostings

FORMAT_NAME = "tracemark-match-index"
FORMAT_VERSION = 1
DB_NAME = "index.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS refs (
    slot INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    version INTEGER NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    work_scale REAL NOT NULL,
    colourfulness REAL NOT NULL,
    global_hash BLOB NOT NULL,
    postings BLOB NOT NULL,
    features BLOB NOT NULL,
    thumbnail BLOB NOT NULL,
    added_at TEXT NOT NULL,
    source TEXT
);
"""


@dataclass(frozen=True, slots=True)
class RetrievalRow:
    """The retrieval part of a stored reference."""

    slot: int
    version: int
    global_hash: bytes
    postings: WordPostings


@dataclass(frozen=True, slots=True)
class StoredReference:
    """A stored reference with everything verification needs."""

    slot: int
    id: str
    fingerprint: ReferenceFingerprint


class Store:
    """Reads and writes an index folder."""

    def __init__(self, folder: Path, *, create: bool = True) -> None:
        """Opens (and if asked, creates) the index in `folder`.

        Args:
            folder: The index folder.
            create: Create the folder and database when missing.

        Raises:
            IndexFormatError: The folder holds no index (and `create` is false) or a foreign or newer one.
        """
        self.folder = folder
        path = folder / DB_NAME
        if not path.exists():
            if not create:
                raise IndexFormatError(f"no match index in {folder}")
            folder.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(str(path), isolation_level=None, timeout=30.0, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
            self._check_meta()
        except sqlite3.DatabaseError as exc:
            raise IndexFormatError(f"{path} is not a usable match index: {exc}") from exc

    def _check_meta(self) -> None:
        rows = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        if not rows:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('format', ?)", (FORMAT_NAME,))
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('format_version', ?)", (str(FORMAT_VERSION),))
            self._db.execute("COMMIT")
            return
        if rows.get("format") != FORMAT_NAME:
            raise IndexFormatError(f"{self.folder} holds a {rows.get('format')!r}, not a match index")
        if int(rows.get("format_version", "0")) > FORMAT_VERSION:
            raise IndexFormatError(f"{self.folder} was written by a newer version (format {rows['format_version']})")

    def close(self) -> None:
        """Closes the database."""
        self._db.close()

    def put(self, ref_id: str, fp: ReferenceFingerprint, source: str | None) -> tuple[int, int | None]:
        """Adds or replaces a reference in one transaction.

        Args:
            ref_id: The reference id.
            fp: Its fingerprint.
            source: Where the image came from (kept for re-indexing).

        Returns:
            The new slot and the replaced slot (None when the id was new).
        """
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            old = cur.execute("SELECT slot FROM refs WHERE id = ?", (ref_id,)).fetchone()
            if old is not None:
                cur.execute("DELETE FROM refs WHERE slot = ?", (old[0],))
            cur.execute(
                "INSERT INTO refs (id, version, width, height, work_scale, colourfulness, global_hash, postings,"
                " features, thumbnail, added_at, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    ref_id,
                    fp.version,
                    fp.width,
                    fp.height,
                    fp.work_scale,
                    fp.colourfulness,
                    fp.global_hash,
                    fp.postings.to_bytes(),
                    fp.features,
                    fp.thumbnail,
                    now,
                    source,
                ),
            )
            slot = cur.lastrowid
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        assert slot is not None
        return int(slot), (int(old[0]) if old is not None else None)

    def delete(self, ref_id: str) -> int | None:
        """Removes a reference; returns its slot, or None when the id is unknown."""
        cur = self._db.cursor()
        cur.execute("BEGIN IMMEDIATE")
        try:
            row = cur.execute("SELECT slot FROM refs WHERE id = ?", (ref_id,)).fetchone()
            if row is not None:
                cur.execute("DELETE FROM refs WHERE slot = ?", (row[0],))
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise
        return int(row[0]) if row is not None else None

    def retrieval_rows(self, version: int) -> Iterator[RetrievalRow]:
        """The retrieval parts of the references fingerprinted with `version`, in slot order (other versions
        store their postings in other layouts and are left alone)."""
        for slot, gh, posts in self._db.execute(
            "SELECT slot, global_hash, postings FROM refs WHERE version = ? ORDER BY slot", (version,)
        ):
            yield RetrievalRow(int(slot), version, bytes(gh), WordPostings.from_bytes(bytes(posts)))

    def load(self, slot: int) -> StoredReference | None:
        """Everything stored about the reference in `slot`, or None when it is gone."""
        row = self._db.execute(
            "SELECT id, version, width, height, work_scale, colourfulness, global_hash, postings, features,"
            " thumbnail FROM refs WHERE slot = ?",
            (slot,),
        ).fetchone()
        if row is None:
            return None
        fp = ReferenceFingerprint(
            version=int(row[1]),
            width=int(row[2]),
            height=int(row[3]),
            work_scale=float(row[4]),
            colourfulness=float(row[5]),
            global_hash=bytes(row[6]),
            postings=WordPostings.from_bytes(bytes(row[7])),
            features=bytes(row[8]),
            thumbnail=bytes(row[9]),
        )
        return StoredReference(slot=slot, id=str(row[0]), fingerprint=fp)

    def listing(self) -> list[tuple[str, int, int, int, str, str | None]]:
        """(id, width, height, version, added_at, source) of every reference, by id."""
        return [
            (str(r[0]), int(r[1]), int(r[2]), int(r[3]), str(r[4]), r[5])
            for r in self._db.execute("SELECT id, width, height, version, added_at, source FROM refs ORDER BY id")
        ]

    def count(self) -> int:
        """Number of references."""
        return int(self._db.execute("SELECT COUNT(*) FROM refs").fetchone()[0])

    def blob_sizes(self) -> tuple[int, int]:
        """Largest verification-feature plus thumbnail size in bytes, and the number of references."""
        row = self._db.execute("SELECT MAX(LENGTH(features) + LENGTH(thumbnail)), COUNT(*) FROM refs").fetchone()
        return int(row[0] or 0), int(row[1])
