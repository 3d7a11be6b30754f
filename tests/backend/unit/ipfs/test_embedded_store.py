"""The embedded store: content-addressed files that are checked on every read."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracemark.ipfs import MAX_BLOCK_SIZE, BlockTooLargeError, ContentUnavailableError, IntegrityError, raw_cid
from tracemark.ipfs.embedded import EmbeddedStore


def test_put_get_has(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    cid = store.put(b'{"name": "x"}')
    assert cid == raw_cid(b'{"name": "x"}')
    assert store.get(cid) == b'{"name": "x"}'
    assert store.has(cid)
    assert store.put(b'{"name": "x"}') == cid, "putting the same content twice is harmless"


def test_reads_accept_any_multibase_spelling(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    store.put(b"hello tracemark")
    assert store.get("zb2rhZqtjrwjJqfraJTFumTJCLgTMnTs3AqYgD8PruoENyr4s") == b"hello tracemark"


def test_missing_block_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(ContentUnavailableError):
        EmbeddedStore(tmp_path).get(raw_cid(b"never stored"))


def test_a_block_damaged_on_disk_is_refused(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    cid = store.put(b"evidence")
    next((tmp_path / "blocks").rglob(cid)).write_bytes(b"changed")
    with pytest.raises(IntegrityError):
        store.get(cid)


def test_oversized_content_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    with pytest.raises(BlockTooLargeError):
        store.put(b"x" * (MAX_BLOCK_SIZE + 1))
    assert not [p for p in (tmp_path / "blocks").rglob("*") if p.is_file()]


def test_path_traversal_in_a_cid_is_refused(tmp_path: Path) -> None:
    store = EmbeddedStore(tmp_path)
    with pytest.raises(ValueError):
        store.get("../../etc/passwd")
