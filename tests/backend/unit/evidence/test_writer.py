"""Writing evidence: WARC/1.1 request/response pairs with SHA-256 digests, rotation, the journal and its lock."""

from __future__ import annotations

import gzip
import hashlib
import itertools
import json
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.backend.unit.evidence.support import evidence_folder, fill
from tracemark.evidence.journal import GENESIS, JOURNAL_NAME, EvidenceLockedError, entry_hash
from tracemark.evidence.merkle import merkle_root
from tracemark.evidence.verify import verify_evidence
from tracemark.evidence.warc import EvidenceWriter


def records_of(path: Path) -> list[dict[str, object]]:
    out = []
    with path.open("rb") as fh:
        for record in ArchiveIterator(fh, check_digests=True):
            content = record.content_stream().read()
            out.append({"type": record.rec_type, "headers": dict(record.rec_headers.headers),
                        "http": record.http_headers, "content": content,
                        "digests_ok": record.digest_checker.passed})
    return out


def journal(directory: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in (directory / JOURNAL_NAME).read_text().splitlines()]


def test_a_fetch_becomes_a_response_and_a_request_record(tmp_path: Path) -> None:
    body = b"\xff\xd8\xff\xe0 image bytes"
    with EvidenceWriter(tmp_path) as writer:
        ref = writer.record(url="http://shop.example.de/img/foto.jpg", method="get",
                            request_headers={"User-Agent": "TracemarkBot", "Accept": "image/*"}, status=200,
                            response_headers=[("Content-Type", "image/jpeg"), ("Set-Cookie", "a=1"),
                                              ("Set-Cookie", "b=2")],
                            body=body, peer_address="127.0.0.1")
    assert ref.sha256 == hashlib.sha256(body).hexdigest()
    assert ref.warc.endswith(".warc.gz") and "/" not in ref.warc
    info, response, request = records_of(tmp_path / ref.warc)
    assert info["type"] == "warcinfo"
    assert response["type"] == "response" and request["type"] == "request"
    rh = response["headers"]
    assert rh["WARC-Record-ID"] == ref.record_id
    assert rh["WARC-Target-URI"] == "http://shop.example.de/img/foto.jpg"
    assert rh["WARC-IP-Address"] == "127.0.0.1"
    assert str(rh["WARC-Block-Digest"]).startswith("sha256:")
    assert str(rh["WARC-Payload-Digest"]).startswith("sha256:")
    assert rh["WARC-Warcinfo-ID"] == info["headers"]["WARC-Record-ID"]
    assert all(r["digests_ok"] for r in (info, response, request))  # warcio checks our SHA-256 digests too
    assert response["content"] == body
    assert response["http"].get_statuscode() == "200"
    assert [v for k, v in response["http"].headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    q = request["headers"]
    assert q["WARC-Concurrent-To"] == ref.record_id
    assert q["WARC-Date"] == rh["WARC-Date"]
    assert request["http"].protocol == "GET" and request["http"].get_header("Host") == "shop.example.de"
    assert gzip.decompress((tmp_path / ref.warc).read_bytes()).startswith(b"WARC/1.1\r\n")


def test_headers_cannot_forge_lines_and_stale_codings_are_renamed(tmp_path: Path) -> None:
    with EvidenceWriter(tmp_path) as writer:
        ref = writer.record(url="http://x.example/a\r\nWARC-Type: forged", method="GET",
                            request_headers={"X-Evil": "v\r\nWARC-Record-ID: <urn:uuid:forged>"}, status=299,
                            response_headers=[("Transfer-Encoding", "chunked"), ("Content-Encoding", "gzip"),
                                              ("Content-Length", "999"), ("X-Ok", "1\n2")],
                            body=b"plain, already decoded", peer_address=None)
    _, response, _request = records_of(tmp_path / ref.warc)
    raw = gzip.decompress((tmp_path / ref.warc).read_bytes())
    assert b"\r\nWARC-Type: forged" not in raw and b"\r\nWARC-Record-ID: <urn:uuid:forged>" not in raw
    assert "WARC-IP-Address" not in response["headers"]
    http = response["http"]
    assert http.get_header("X-Tracemark-Original-Transfer-Encoding") == "chunked"
    assert http.get_header("X-Tracemark-Original-Content-Encoding") == "gzip"
    assert http.get_header("X-Tracemark-Original-Content-Length") == "999"
    assert http.get_header("Transfer-Encoding") is None and http.get_header("X-Ok") == "1 2"
    assert response["content"] == b"plain, already decoded"
    assert verify_evidence(tmp_path).ok


def test_the_journal_chains_every_record_and_seals_batches(tmp_path: Path) -> None:
    evidence_folder(tmp_path, count=5, batch_size=4)
    entries = journal(tmp_path)
    previous = GENESIS
    for seq, entry in enumerate(entries):
        assert entry["seq"] == seq and entry["prev"] == previous and entry["hash"] == entry_hash(entry)
        previous = str(entry["hash"])
    kinds = [e["kind"] for e in entries]
    # 1 warcinfo + 5 x (response, request) = 11 records in batches of 4, 4, and the rest on close.
    assert kinds.count("record") == 11 and kinds.count("batch") == 3
    batches = [e for e in entries if e["kind"] == "batch"]
    assert [b["count"] for b in batches] == [4, 4, 3]
    first = [e for e in entries if e["kind"] == "record"][:4]
    assert batches[0]["root"] == merkle_root([bytes.fromhex(str(e["hash"])) for e in first]).hex()
    assert str(batches[0]["cid"]).startswith("bafkrei")
    # The records tile the file.
    records = [e for e in entries if e["kind"] == "record"]
    for before, after in itertools.pairwise(records):
        assert after["offset"] == before["offset"] + before["length"]
    assert records[-1]["offset"] + records[-1]["length"] == (tmp_path / str(records[0]["warc"])).stat().st_size


def test_files_rotate_by_size_and_are_never_reopened(tmp_path: Path) -> None:
    refs = evidence_folder(tmp_path, count=12, batch_size=100, max_file_bytes=4096)
    files = sorted(p.name for p in tmp_path.glob("*.warc.gz"))
    assert len(files) >= 3
    assert {r.warc for r in refs} <= set(files)
    for name in files:
        assert records_of(tmp_path / name)[0]["type"] == "warcinfo"
    sizes = {name: (tmp_path / name).stat().st_size for name in files}
    # A second session appends to the journal and writes new files; the old ones keep their bytes.
    with EvidenceWriter(tmp_path, batch_size=100, max_file_bytes=4096) as writer:
        fill(writer, 2, seed=9)
    assert all((tmp_path / name).stat().st_size == size for name, size in sizes.items())
    assert len(list(tmp_path.glob("*.warc.gz"))) > len(files)
    report = verify_evidence(tmp_path)
    assert report.ok, report.text()
    assert report.files == len(list(tmp_path.glob("*.warc.gz")))


def test_one_writer_per_folder(tmp_path: Path) -> None:
    with EvidenceWriter(tmp_path), pytest.raises(EvidenceLockedError):
        EvidenceWriter(tmp_path)
    with EvidenceWriter(tmp_path):  # released on close
        pass


def test_a_closed_writer_refuses_records(tmp_path: Path) -> None:
    writer = EvidenceWriter(tmp_path)
    writer.close()
    writer.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        fill(writer, 1)


def test_an_unreadable_journal_is_not_continued(tmp_path: Path) -> None:
    evidence_folder(tmp_path, count=1)
    with (tmp_path / JOURNAL_NAME).open("ab") as fh:
        fh.write(b'{"broken')
    with pytest.raises(ValueError, match="verify the folder"):
        EvidenceWriter(tmp_path)
    # ... and the failed open released the folder.
    (tmp_path / JOURNAL_NAME).write_bytes((tmp_path / JOURNAL_NAME).read_bytes()[: -len(b'{"broken')])
    with EvidenceWriter(tmp_path):
        pass


def test_bad_parameters(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        EvidenceWriter(tmp_path, batch_size=0)
    with pytest.raises(ValueError):
        EvidenceWriter(tmp_path, max_file_bytes=10)


def test_nothing_is_appended_to_a_broken_chain(tmp_path: Path) -> None:
    evidence_folder(tmp_path, count=2)
    path = tmp_path / JOURNAL_NAME
    lines = path.read_bytes().split(b"\n")
    entry = json.loads(lines[1])
    entry["target_uri"] = "http://elsewhere.example/"  # valid JSON, but its hash no longer matches
    lines[1] = json.dumps(entry, sort_keys=True, separators=(",", ":")).encode()
    path.write_bytes(b"\n".join(lines))
    before = path.read_bytes()
    with pytest.raises(ValueError, match="chain breaks at line 2"):
        EvidenceWriter(tmp_path)
    assert path.read_bytes() == before
    assert not verify_evidence(path).ok  # the journal itself may be named as the path
