"""The evidence journal: an append-only hash chain over every WARC record, its batches and their anchors.

The journal is `journal.jsonl` next to the WARC files, one entry per line, each line the canonical JSON of the entry
(keys sorted, no spaces, ASCII only), so the bytes of a line are determined by its content. Every entry carries its
sequence number, the hash of the entry before it (`prev`; 64 zeros for the first) and its own hash:

    hash = SHA-256("tracemark/evidence/entry/v1\\n" || canonical JSON of the entry without `hash`)

Kinds of entries:
- `record`: one WARC record: file (`warc`, relative to the folder), `offset` and `length` of its bytes in the file (a
  gzip member), `record_sha256` (SHA-256 of exactly those bytes: it covers the WARC headers too, which the WARC
  digests do not), the record's id, type, target URI, and its `WARC-Block-Digest` / `WARC-Payload-Digest`.
  The records of a file tile it from byte 0 to its end, so every byte of every WARC file is covered.
- `batch`: closes a batch: the sequence numbers of its first and last record entry, their count and the Merkle root
  over their entry hashes (see `tracemark.evidence.merkle`), and the CID of the batch manifest.
- `anchor`: a batch root was anchored on-chain: chain id, contract, transaction, block, block timestamp.
- `orphan`: bytes a crashed writer put into a WARC file without journaling them (found when the folder is opened
  again): file, offset, length and SHA-256, so the file is still covered to its end; they are not evidence.

Changing, removing or inserting any byte breaks the chain at that line (the line is no longer canonical JSON, its hash
no longer matches, or the next entry's `prev` no longer matches); rewriting the whole journal consistently changes the
batch roots, which no longer match the roots anchored on-chain.

One process writes a folder at a time: the writer holds an exclusive lock (`.lock`) while it is open.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from tracemark.ipfs.cid import raw_cid

JOURNAL_NAME = "journal.jsonl"
LOCK_NAME = ".lock"
GENESIS = "0" * 64
ENTRY_DOMAIN = b"tracemark/evidence/entry/v1\n"
MANIFEST_VERSION = "tracemark-evidence-batch/1"


class EvidenceLockedError(RuntimeError):
    """Another writer holds the evidence folder."""


def canonical(value: Any) -> bytes:
    """The canonical JSON of a value: sorted keys, no white space, ASCII only."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False).encode()


def entry_hash(entry: dict[str, Any]) -> str:
    """The hash of an entry (hex), over every field but `hash`."""
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(ENTRY_DOMAIN + canonical(body)).hexdigest()


def batch_manifest(root: str, first_seq: int, last_seq: int, leaves: list[str]) -> bytes:
    """The manifest of a batch (canonical JSON): what its CID names, so anyone can rebuild the tree."""
    return canonical({
        "version": MANIFEST_VERSION, "root": root, "first_seq": first_seq, "last_seq": last_seq,
        "count": len(leaves), "leaves": leaves,
        "hashing": "leaf = sha256(0x00 || entry_hash); node = sha256(0x01 || left || right); odd node passes up",
    })


def manifest_cid(root: str, first_seq: int, last_seq: int, leaves: list[str]) -> str:
    """The CIDv1 (raw, sha2-256) of a batch manifest."""
    return raw_cid(batch_manifest(root, first_seq, last_seq, leaves))


def read_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """The journal's lines with their byte offsets (the last line without its newline if the file lacks one)."""
    data = path.read_bytes()
    start = 0
    while start < len(data):
        end = data.find(b"\n", start)
        if end == -1:
            yield start, data[start:]
            return
        yield start, data[start:end]
        start = end + 1


class Journal:
    """The journal of one evidence folder, open for appending (holding the folder's lock).

    Args:
        directory: The evidence folder (created if missing).

    Raises:
        EvidenceLockedError: when another writer holds the folder.
        ValueError: when the existing journal is unreadable (run `tracemark evidence verify` on the folder).
    """

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.path = directory / JOURNAL_NAME
        self._file: IO[bytes] | None = None
        self._lock: IO[bytes] | None = (directory / LOCK_NAME).open("ab")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._lock.close()
            self._lock = None
            raise EvidenceLockedError(f"another writer holds {directory}") from None
        self.entries: list[dict[str, Any]] = []
        if self.path.exists():
            for number, (_, line) in enumerate(read_lines(self.path)):
                try:
                    entry = json.loads(line)
                except ValueError as exc:
                    self.close()
                    raise ValueError(f"{self.path}: line {number + 1} is not JSON ({exc}); verify the folder") from exc
                if not isinstance(entry, dict) or entry.get("prev") != self.last_hash or entry.get("seq") != number \
                        or entry.get("hash") != entry_hash(entry):
                    self.close()
                    raise ValueError(f"{self.path}: the chain breaks at line {number + 1}; verify the folder (nothing "
                                     "is appended to a broken chain)")
                self.entries.append(entry)
            if self.path.stat().st_size and not self.path.read_bytes().endswith(b"\n"):
                self.close()
                raise ValueError(f"{self.path}: the last line is incomplete; verify the folder")
        self._unsealed = self._find_unsealed()
        self._file = self.path.open("ab")

    @property
    def last_hash(self) -> str:
        """The hash of the last entry (the genesis value for an empty journal)."""
        return str(self.entries[-1]["hash"]) if self.entries else GENESIS

    @property
    def next_seq(self) -> int:
        """The sequence number of the next entry."""
        return len(self.entries)

    def append(self, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
        """Appends an entry (and flushes it to the operating system); returns it with seq, prev and hash."""
        if self._file is None:
            raise RuntimeError("the journal is closed")
        entry = {**fields, "kind": kind, "seq": self.next_seq, "prev": self.last_hash}
        entry["hash"] = entry_hash(entry)
        self._file.write(canonical(entry) + b"\n")
        self._file.flush()
        self.entries.append(entry)
        if kind == "record":
            self._unsealed.append(entry)
        elif kind == "batch":
            self._unsealed = []
        return entry

    def sync(self) -> None:
        """Forces the journal to disk (batch ends and closing)."""
        if self._file is not None:
            self._file.flush()
            os.fsync(self._file.fileno())

    def unsealed_records(self) -> list[dict[str, Any]]:
        """The record entries after the last batch entry."""
        return list(self._unsealed)

    def unsealed_count(self) -> int:
        """How many record entries follow the last batch entry."""
        return len(self._unsealed)

    def _find_unsealed(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for entry in reversed(self.entries):
            if entry.get("kind") == "batch":
                break
            if entry.get("kind") == "record":
                out.append(entry)
        return out[::-1]

    def unanchored_batches(self) -> list[dict[str, Any]]:
        """The batch entries no anchor entry names yet."""
        anchored = {e.get("batch_seq") for e in self.entries if e.get("kind") == "anchor"}
        return [e for e in self.entries if e.get("kind") == "batch" and e["seq"] not in anchored]

    def close(self) -> None:
        """Syncs and closes the journal, and releases the folder."""
        if self._file is not None:
            self.sync()
            self._file.close()
            self._file = None
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None
