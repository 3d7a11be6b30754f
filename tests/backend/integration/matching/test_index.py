"""The persistent index: add, replace, remove, list, reopen, versions, bad input in a batch."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tracemark.matching import (
    FINGERPRINT_VERSION,
    ImageDecodeError,
    IndexFormatError,
    MatchIndex,
    UnknownReferenceError,
)
from tracemark.matching.evaluation import jpeg_bytes, synthetic_scene


def test_add_search_remove_and_reopen(tmp_path: Path) -> None:
    a, b = jpeg_bytes(synthetic_scene(1)), jpeg_bytes(synthetic_scene(2))
    with MatchIndex.open(tmp_path / "ix") as index:
        index.add("alpha", a)
        index.add("beta", b)
        assert [r.id for r in index.list()] == ["alpha", "beta"]
        assert [m.id for m in index.search(a)] == ["alpha"]
    with MatchIndex.open(tmp_path / "ix", create=False) as index:
        assert len(index) == 2
        assert [m.id for m in index.search(b)] == ["beta"]
        index.remove("beta")
        assert index.search(b) == []
        with pytest.raises(UnknownReferenceError):
            index.remove("beta")
    with MatchIndex.open(tmp_path / "ix") as index:
        assert [r.id for r in index.list()] == ["alpha"]


def test_adding_an_existing_id_replaces_it(tmp_path: Path) -> None:
    a, b = jpeg_bytes(synthetic_scene(1)), jpeg_bytes(synthetic_scene(2))
    with MatchIndex.open(tmp_path / "ix") as index:
        index.add("same", a)
        index.add("same", b)
        assert len(index) == 1
        assert index.search(a) == []
        assert [m.id for m in index.search(b)] == ["same"]


def test_bad_image_changes_nothing(tmp_path: Path) -> None:
    with MatchIndex.open(tmp_path / "ix") as index:
        index.add("alpha", jpeg_bytes(synthetic_scene(1)))
        with pytest.raises(ImageDecodeError):
            index.add("alpha", b"garbage")
        assert [r.id for r in index.list()] == ["alpha"]
        assert [m.id for m in index.search(jpeg_bytes(synthetic_scene(1)))] == ["alpha"]


def test_empty_index_finds_nothing_and_missing_index_is_an_error(tmp_path: Path) -> None:
    with MatchIndex.open(tmp_path / "ix") as index:
        assert index.search(jpeg_bytes(synthetic_scene(1))) == []
    with pytest.raises(IndexFormatError):
        MatchIndex.open(tmp_path / "nothing-here", create=False)


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "ix"
    folder.mkdir()
    db = sqlite3.connect(folder / "index.sqlite")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    db.execute("INSERT INTO meta VALUES ('format', 'something-else')")
    db.commit()
    db.close()
    with pytest.raises(IndexFormatError):
        MatchIndex.open(folder)


def test_old_fingerprints_are_reported_stale_and_not_searched(tmp_path: Path) -> None:
    img = jpeg_bytes(synthetic_scene(1))
    with MatchIndex.open(tmp_path / "ix") as index:
        index.add("alpha", img)
    db = sqlite3.connect(tmp_path / "ix" / "index.sqlite")
    db.execute("UPDATE refs SET version = ?", (FINGERPRINT_VERSION - 1,))
    db.commit()
    db.close()
    with MatchIndex.open(tmp_path / "ix") as index:
        assert index.stale == ["alpha"]
        assert index.search(img) == []
        index.add("alpha", img)  # re-indexing brings it back
        assert index.stale == []
        assert [m.id for m in index.search(img)] == ["alpha"]


def test_budgets_per_reference(tmp_path: Path) -> None:
    with MatchIndex.open(tmp_path / "ix") as index:
        for i in range(10):
            index.add(f"r{i}", jpeg_bytes(synthetic_scene(i)))
        assert index.retrieval_bytes_per_reference() <= 200
        assert index._store.blob_sizes()[0] <= 64 * 1024


def test_an_index_of_version_2_opens_and_lists_its_rows_for_re_indexing(tmp_path: Path) -> None:
    # Version 2 stored 4 bytes a retrieval word (4-bit signatures); its rows must not be parsed as version 3.
    from tracemark.matching.fingerprint import INDEX_VERSION

    img = jpeg_bytes(synthetic_scene(3))
    with MatchIndex.open(tmp_path / "ix") as index:
        index.add("old", img)
        index.add("new", jpeg_bytes(synthetic_scene(4)))
    db = sqlite3.connect(tmp_path / "ix" / "index.sqlite")
    db.execute("UPDATE refs SET version = 2, postings = ? WHERE id = 'old'", (bytes(4 * 40),))
    db.commit()
    db.close()
    assert INDEX_VERSION == 3
    with MatchIndex.open(tmp_path / "ix") as index:
        assert index.stale == ["old"]
        assert {r.id: r.fingerprint_version for r in index.list()} == {"old": 2, "new": 3}
        assert index.search(img) == []
        index.add("old", img)
        assert index.stale == []
        assert [m.id for m in index.search(img)] == ["old"]
