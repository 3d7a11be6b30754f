"""Verifying evidence without a chain: every changed byte is found, and the report names the first broken link."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from tests.backend.unit.evidence.support import evidence_folder, fill
from tracemark.evidence.journal import JOURNAL_NAME, canonical, entry_hash
from tracemark.evidence.verify import verify_evidence
from tracemark.evidence.warc import EvidenceWriter


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    evidence_folder(tmp_path, count=8, batch_size=5, max_file_bytes=8192)
    return tmp_path


def warcs(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.warc.gz"))


def entries(folder: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (folder / JOURNAL_NAME).read_text().splitlines()]


def rewrite_journal(folder: Path, changed: list[dict[str, object]]) -> None:
    """Rewrites the journal consistently (every hash and prev recomputed), as a forger would."""
    previous = "0" * 64
    lines = []
    for entry in changed:
        entry = {**entry, "prev": previous}
        entry["hash"] = entry_hash(entry)
        previous = str(entry["hash"])
        lines.append(canonical(entry))
    (folder / JOURNAL_NAME).write_bytes(b"\n".join(lines) + b"\n")


def test_untouched_evidence_verifies_and_says_nothing_is_anchored(folder: Path) -> None:
    report = verify_evidence(folder)
    assert report.ok, report.text()
    assert report.files == len(warcs(folder)) >= 2
    assert report.records == sum(1 for e in entries(folder) if e["kind"] == "record")
    assert report.batches == 4 and report.anchors == 0
    assert any("nothing is anchored" in n for n in report.notes)
    assert "evidence intact" in report.text()
    for path in warcs(folder):  # a single file, with the journal next to it
        single = verify_evidence(path)
        assert single.ok and single.files == 1


def test_one_thousand_random_byte_changes_are_all_detected(folder: Path) -> None:
    rng = random.Random(20261205)
    targets = [*warcs(folder), folder / JOURNAL_NAME]
    originals = {path: path.read_bytes() for path in targets}
    sizes = [len(originals[p]) for p in targets]
    missed: list[tuple[str, int, int]] = []
    for _ in range(1000):
        path = rng.choices(targets, weights=sizes)[0]  # every byte equally likely
        data = bytearray(originals[path])
        index = rng.randrange(len(data))
        data[index] = (data[index] + rng.randrange(1, 256)) % 256  # any other value
        path.write_bytes(bytes(data))
        try:
            report = verify_evidence(folder)
            if report.ok:
                missed.append((path.name, index, data[index]))
            elif path.name != JOURNAL_NAME:
                # The first broken link is in that file, and, for a record, at the record holding the byte.
                first = report.problems[0]
                assert first.file == path.name, (first, path.name, index)
                if first.offset is not None and first.record_id is not None:
                    matching = [e for e in entries(folder) if e.get("record_id") == first.record_id
                                and e.get("warc") == path.name]
                    start, length = int(matching[0]["offset"]), int(matching[0]["length"])
                    assert start <= index < start + length
        finally:
            path.write_bytes(originals[path])
    assert missed == []
    assert verify_evidence(folder).ok


def test_a_changed_payload_byte_is_reported_precisely(folder: Path) -> None:
    record = next(e for e in entries(folder) if e["type"] == "response")
    path = folder / str(record["warc"])
    data = bytearray(path.read_bytes())
    at = int(record["offset"]) + int(record["length"]) - 20  # inside the compressed body
    data[at] ^= 0x40
    path.write_bytes(bytes(data))
    report = verify_evidence(folder)
    assert not report.ok
    first = report.problems[0]
    assert (first.file, first.offset, first.record_id, first.seq) == (
        record["warc"], record["offset"], record["record_id"], record["seq"])
    assert "differ from the journal" in first.what and str(record["record_sha256"]) in first.what
    assert str(record["target_uri"]) in first.where
    assert "first broken link" in report.text() and str(record["record_id"]) in report.text()


def test_a_changed_journal_entry_ends_the_chain_there(folder: Path) -> None:
    lines = (folder / JOURNAL_NAME).read_bytes().split(b"\n")
    entry = json.loads(lines[3])
    entry["target_uri"] = "http://elsewhere.example/"
    lines[3] = canonical(entry)
    (folder / JOURNAL_NAME).write_bytes(b"\n".join(lines))
    report = verify_evidence(folder)
    first = report.problems[0]
    assert first.where.startswith(f"{JOURNAL_NAME} line 4") and "entry hashes to" in first.what
    assert first.seq == 3


def test_a_consistently_forged_journal_still_breaks_at_the_batch_root(folder: Path) -> None:
    forged = entries(folder)
    target = next(e for e in forged if e["type"] == "response")
    target["target_uri"] = "http://elsewhere.example/img.jpg"
    rewrite_journal(folder, forged)
    report = verify_evidence(folder)
    assert not report.ok
    messages = " | ".join(map(str, report.problems))
    assert "warc-target-uri" in messages  # the record itself names another URI
    assert "Merkle root is" in messages  # and the batch root no longer matches (the on-chain anchor would not)


def test_removed_reordered_and_added_records(folder: Path) -> None:
    path = warcs(folder)[0]
    original = path.read_bytes()
    records = [e for e in entries(folder) if e["kind"] == "record" and e["warc"] == path.name]
    a, b = records[1], records[2]
    # Swap two records.
    part_a = original[int(a["offset"]) : int(a["offset"]) + int(a["length"])]
    part_b = original[int(b["offset"]) : int(b["offset"]) + int(b["length"])]
    path.write_bytes(original[: int(a["offset"])] + part_b + part_a + original[int(b["offset"]) + int(b["length"]) :])
    assert not verify_evidence(folder).ok
    # Cut the last record.
    path.write_bytes(original[: int(records[-1]["offset"])])
    report = verify_evidence(folder)
    assert not report.ok and "the file ends at" in report.problems[0].what
    # Append a record (bytes no journal entry covers).
    path.write_bytes(original + part_a)
    report = verify_evidence(folder)
    assert not report.ok and "are in no journal record" in report.problems[0].what
    path.write_bytes(original)
    assert verify_evidence(folder).ok


def test_missing_and_unknown_files(folder: Path, tmp_path: Path) -> None:
    first = warcs(folder)[0]
    data = first.read_bytes()
    first.unlink()
    report = verify_evidence(folder)
    assert not report.ok and report.problems[0].file == first.name and "missing" in report.problems[0].what
    first.write_bytes(data)
    (folder / "stray.warc.gz").write_bytes(data)
    report = verify_evidence(folder)
    assert not report.ok and report.problems[0].file == "stray.warc.gz"
    assert not verify_evidence(folder / "stray.warc.gz").ok
    (folder / "stray.warc.gz").unlink()
    (folder / JOURNAL_NAME).rename(folder / "elsewhere.jsonl")
    report = verify_evidence(folder)
    assert not report.ok and "missing" in report.problems[0].what


def test_removed_journal_lines(folder: Path) -> None:
    lines = (folder / JOURNAL_NAME).read_bytes().split(b"\n")
    (folder / JOURNAL_NAME).write_bytes(b"\n".join(lines[:5] + lines[6:]))
    report = verify_evidence(folder)
    assert report.problems[0].where.startswith(f"{JOURNAL_NAME} line 6") and "seq is 6" in report.problems[0].what
    # Dropping the tail of the journal leaves records no entry covers.
    (folder / JOURNAL_NAME).write_bytes(b"\n".join(lines[:4]) + b"\n")
    report = verify_evidence(folder)
    assert not report.ok and any("in no journal record" in p.what for p in report.problems)


def test_open_writer_state_is_noted_not_failed(tmp_path: Path) -> None:
    writer = EvidenceWriter(tmp_path, batch_size=1000)
    fill(writer, 2)
    report = verify_evidence(tmp_path)  # records written, batch not sealed yet
    assert report.ok, report.text()
    assert any("not sealed in a batch" in n for n in report.notes)
    writer.close()


def test_bytes_a_crashed_writer_left_unjournaled_are_chained_as_orphans(folder: Path) -> None:
    last = warcs(folder)[-1]
    torn = b"\x1f\x8b\x08\x00partial gzip member of a record the writer never journaled"
    with last.open("ab") as fh:
        fh.write(torn)
    stray = folder / "tracemark-20991231235959-00099.warc.gz"
    stray.write_bytes(b"\x1f\x8b\x08\x00a file started just before the crash")
    report = verify_evidence(folder)
    assert not report.ok  # before the writer accounts for them, they are bytes no entry covers
    with EvidenceWriter(folder) as writer:  # opening the folder again enters them as orphans
        fill(writer, 1, seed=5)
    orphans = [e for e in entries(folder) if e["kind"] == "orphan"]
    assert [(o["warc"], o["length"]) for o in orphans] == [(last.name, len(torn)), (stray.name, stray.stat().st_size)]
    report = verify_evidence(folder)
    assert report.ok, report.text()
    assert sum("orphaned" in n for n in report.notes) == 2
    # The orphaned bytes are chained too: changing one is found.
    data = bytearray(last.read_bytes())
    data[-3] ^= 1
    last.write_bytes(bytes(data))
    report = verify_evidence(folder)
    assert not report.ok and "orphaned bytes" in report.problems[0].where
