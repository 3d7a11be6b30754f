"""Verifying evidence: every WARC record re-read and its digests checked, the journal's hash chain walked, each
batch's Merkle root recomputed, and each anchor checked on-chain when a chain is reachable.

The checks, in order (the first problem found is the first broken link):
1. The journal: each line is the canonical JSON of its entry, numbered in sequence, its `prev` is the hash of the
   line before and its `hash` is its own. A broken line ends the chain: entries after it are not trusted.
2. Each WARC file (the one given, or every file of the folder): its journal records tile it from byte 0 to its end;
   the bytes of each record have the SHA-256 the journal recorded; each record is one complete gzip member holding
   one WARC record whose id, type, target URI and digests are those of the journal, and whose `WARC-Block-Digest`
   and `WARC-Payload-Digest` match its content. A WARC file of the folder that the journal does not know is a
   problem, and so is a journal record whose file is missing.
3. Each batch: its records are the record entries between the previous batch and it, and their Merkle root and
   manifest CID are the ones recorded.
4. Each anchor (given a chain): `anchoredAt(root)` is the recorded block timestamp, and the recorded transaction
   emitted `EvidenceAnchored` for the root, with the batch's count and CID, in the recorded block.
"""

from __future__ import annotations

import base64
import hashlib
import json
import zlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tracemark.chain.node import ChainUnavailableError
from tracemark.evidence.journal import GENESIS, JOURNAL_NAME, canonical, entry_hash, manifest_cid, read_lines
from tracemark.evidence.merkle import merkle_root

WARC_SUFFIXES = (".warc.gz", ".warc")
_RECORD_FIELDS = {"warc": str, "offset": int, "length": int, "record_sha256": str, "record_id": str, "type": str}
_BATCH_FIELDS = {"first_seq": int, "last_seq": int, "count": int, "root": str, "cid": str}
_ORPHAN_FIELDS = {"warc": str, "offset": int, "length": int, "record_sha256": str}
_ANCHOR_FIELDS = {"batch_seq": int, "root": str, "chain_id": int, "contract": str, "tx": str, "block": int,
                  "block_hash": str, "timestamp": int}


@dataclass(frozen=True)
class Problem:
    """One broken link: where, and what differs."""

    where: str
    what: str
    file: str | None = None
    offset: int | None = None
    record_id: str | None = None
    seq: int | None = None

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass
class Report:
    """The outcome of a verification."""

    path: Path
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    files: int = 0
    records: int = 0
    entries: int = 0
    batches: int = 0
    anchors: int = 0
    anchors_checked: int = 0

    @property
    def ok(self) -> bool:
        """Whether nothing is broken."""
        return not self.problems

    def text(self, limit: int = 20) -> str:
        """The human summary."""
        head = (f"{self.records} WARC records in {self.files} file(s), {self.entries} journal entries, "
                f"{self.batches} batch(es), {self.anchors} anchored")
        if self.ok:
            lines = [f"evidence intact: {head}"]
        else:
            lines = [f"evidence BROKEN ({len(self.problems)} problem(s)); first broken link:",
                     f"  {self.problems[0]}"]
            lines += [f"  also: {p}" for p in self.problems[1:limit]]
            if len(self.problems) > limit:
                lines.append(f"  ... and {len(self.problems) - limit} more")
            lines.append(f"checked: {head}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _digest_label(data: bytes) -> str:
    return "sha256:" + base64.b32encode(hashlib.sha256(data).digest()).decode()


def _same_digest(label: str, data: bytes) -> bool:
    algorithm, _, value = label.partition(":")
    if algorithm.lower() != "sha256":
        return False
    value = value.strip()
    actual = hashlib.sha256(data).digest()
    try:
        if len(value) == 64:
            return bytes.fromhex(value) == actual
        return base64.b32decode(value.upper() + "=" * (-len(value) % 8)) == actual
    except ValueError:
        return False


def parse_record(raw: bytes) -> tuple[dict[str, str], list[str]]:
    """The WARC headers of one uncompressed record, and what is wrong with it (digests, framing)."""
    wrong: list[str] = []
    split = raw.find(b"\r\n\r\n")
    if split == -1:
        return {}, ["no end of the WARC header section"]
    try:
        head = raw[:split].decode("utf-8")
    except UnicodeDecodeError as exc:
        return {}, [f"WARC headers are not UTF-8 ({exc})"]
    first, *rest = head.split("\r\n")
    if first not in ("WARC/1.1", "WARC/1.0"):
        wrong.append(f"version line is {first!r}, not WARC/1.1")
    headers: dict[str, str] = {}
    for line in rest:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            wrong.append(f"malformed WARC header line {line!r}")
            continue
        headers[name.lower()] = value.strip()
    try:
        length = int(headers.get("content-length", ""))
    except ValueError:
        return headers, [*wrong, f"Content-Length is {headers.get('content-length')!r}"]
    block = raw[split + 4 : split + 4 + length]
    tail = raw[split + 4 + length :]
    if len(block) != length:
        wrong.append(f"block has {len(block)} bytes, Content-Length says {length}")
    if tail != b"\r\n\r\n":
        wrong.append(f"record does not end with CRLF CRLF after its block (found {tail[:16]!r})")
    block_label = headers.get("warc-block-digest")
    if block_label is None:
        wrong.append("no WARC-Block-Digest")
    elif not _same_digest(block_label, block):
        wrong.append(f"WARC-Block-Digest is {block_label}, the block's is {_digest_label(block)}")
    payload_label = headers.get("warc-payload-digest")
    if payload_label is not None and headers.get("content-type", "").startswith("application/http"):
        cut = block.find(b"\r\n\r\n")
        payload = block[cut + 4 :] if cut != -1 else b""
        if cut == -1:
            wrong.append("HTTP block without end of headers")
        elif not _same_digest(payload_label, payload):
            wrong.append(f"WARC-Payload-Digest is {payload_label}, the payload's is {_digest_label(payload)}")
    return headers, wrong


def _gunzip_member(data: bytes) -> tuple[bytes, str | None]:
    """The content of a single gzip member, or what is wrong."""
    inflater = zlib.decompressobj(wbits=31)
    try:
        out = inflater.decompress(data) + inflater.flush()
    except zlib.error as exc:
        return b"", f"not a valid gzip member ({exc})"
    if not inflater.eof:
        return out, "gzip member is truncated"
    if inflater.unused_data:
        return out, f"{len(inflater.unused_data)} bytes after the gzip member"
    return out, None


def _typed(entry: dict[str, Any], fields: dict[str, type]) -> str | None:
    for name, kind in fields.items():
        value = entry.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            return f"field {name!r} is missing or not a {kind.__name__}"
    return None


def _read_journal(path: Path, report: Report) -> list[dict[str, Any]]:
    """The trusted entries: those before the first broken line."""
    entries: list[dict[str, Any]] = []
    previous = GENESIS
    data_ends_with_newline = path.read_bytes().endswith(b"\n") if path.stat().st_size else True
    for number, (offset, line) in enumerate(read_lines(path)):
        where = f"{JOURNAL_NAME} line {number + 1} (byte {offset})"

        def broken(what: str, where: str = where, number: int = number) -> list[dict[str, Any]]:
            report.problems.append(Problem(where, what + "; the chain ends here", file=JOURNAL_NAME, seq=number))
            return entries

        try:
            entry = json.loads(line.decode("ascii"))
        except (UnicodeDecodeError, ValueError) as exc:
            return broken(f"not a JSON entry ({exc})")
        if not isinstance(entry, dict):
            return broken("not a JSON object")
        try:
            if canonical(entry) != line:
                return broken("not written canonically (bytes changed)")
        except ValueError as exc:
            return broken(f"unusable values ({exc})")
        if entry.get("seq") != number:
            return broken(f"seq is {entry.get('seq')!r}, expected {number}")
        if entry.get("prev") != previous:
            return broken(f"prev is {entry.get('prev')!r}, the hash of the entry before is {previous}")
        computed = entry_hash(entry)
        if entry.get("hash") != computed:
            return broken(f"hash is {entry.get('hash')!r}, the entry hashes to {computed}")
        kind = entry.get("kind")
        fields = {"record": _RECORD_FIELDS, "batch": _BATCH_FIELDS, "anchor": _ANCHOR_FIELDS,
                  "orphan": _ORPHAN_FIELDS}.get(str(kind))
        if fields is None:
            return broken(f"unknown kind {kind!r}")
        wrong = _typed(entry, fields)
        if wrong is not None:
            return broken(wrong)
        if kind in ("record", "orphan") and (Path(entry["warc"]).name != entry["warc"] or entry["offset"] < 0
                                             or entry["length"] <= 0):
            return broken("record entry names an unusable file or range")
        entries.append(entry)
        previous = computed
    if not data_ends_with_newline:
        report.problems.append(Problem(f"{JOURNAL_NAME} end", "the last line has no newline (incomplete write or "
                                       "changed byte)", file=JOURNAL_NAME, seq=len(entries)))
    return entries


def _check_file(directory: Path, name: str, records: list[dict[str, Any]], report: Report) -> None:
    path = directory / name
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        first = records[0]
        report.problems.append(Problem(name, f"missing, but the journal records {len(records)} record(s) in it "
                                       f"(first at seq {first['seq']})", file=name, seq=first["seq"]))
        return
    report.files += 1
    expected = 0
    for entry in records:
        offset, length = entry["offset"], entry["length"]
        orphan = entry["kind"] == "orphan"
        record_id = None if orphan else entry["record_id"]
        where = (f"{name}, orphaned bytes at offset {offset}" if orphan else f"{name}, record {record_id} "
                 f"({entry['type']}" + (f", {entry.get('target_uri')}" if entry.get("target_uri") else "")
                 + f") at offset {offset}")

        def problem(what: str, where: str = where, entry: dict[str, Any] = entry) -> None:
            report.problems.append(Problem(where, what, file=name, offset=entry["offset"],
                                           record_id=entry.get("record_id"), seq=entry["seq"]))

        if offset != expected:
            problem(f"the journal places it at {offset}, but the record before ends at {expected} "
                    f"({'gap' if offset > expected else 'overlap'})")
        expected = offset + length
        chunk = data[offset : offset + length]
        if not orphan:
            report.records += 1
        if len(chunk) != length:
            problem(f"the file ends at {len(data)}, the journal says the record has {length} bytes")
            continue
        found = hashlib.sha256(chunk).hexdigest()
        findings: list[str] = []
        if found != entry["record_sha256"]:
            findings.append(f"bytes {offset}-{offset + length - 1} differ from the journal (sha256 "
                            f"{entry['record_sha256']} recorded, {found} found)")
        if orphan:
            if findings:
                problem("; ".join(findings))
            else:
                report.notes.append(f"{name}: bytes {offset}-{offset + length - 1} were written by a writer that "
                                    "stopped before journaling them; they are chained as orphaned, not evidence")
            continue
        raw, gzip_error = _gunzip_member(chunk) if name.endswith(".gz") else (chunk, None)
        if gzip_error is not None:
            findings.append(gzip_error)
        else:
            headers, wrong = parse_record(raw)
            findings += wrong
            for key, header in (("record_id", "warc-record-id"), ("type", "warc-type"),
                                ("target_uri", "warc-target-uri"), ("block_digest", "warc-block-digest"),
                                ("payload_digest", "warc-payload-digest")):
                if entry.get(key) is not None and headers.get(header) != entry.get(key):
                    findings.append(f"{header} is {headers.get(header)!r}, the journal says {entry.get(key)!r}")
        if findings:
            problem("; ".join(findings))
    if expected != len(data):
        report.problems.append(Problem(
            name, f"bytes {expected}-{len(data) - 1} are in no journal record" if len(data) > expected
            else f"the file has {len(data)} bytes, its last journal record ends at {expected}",
            file=name, offset=expected))


def _check_batches(entries: list[dict[str, Any]], report: Report) -> dict[int, dict[str, Any]]:
    batches: dict[int, dict[str, Any]] = {}
    pending: list[dict[str, Any]] = []
    for entry in entries:
        if entry["kind"] == "record":
            pending.append(entry)
        elif entry["kind"] == "batch":
            report.batches += 1
            where = f"{JOURNAL_NAME} batch at seq {entry['seq']}"
            seqs = [e["seq"] for e in pending]
            if not pending or entry["first_seq"] != seqs[0] or entry["last_seq"] != seqs[-1] \
                    or entry["count"] != len(pending):
                report.problems.append(Problem(where, f"names records {entry['first_seq']}-{entry['last_seq']} "
                                               f"({entry['count']}), the records since the batch before are "
                                               f"{seqs[:1]}..{seqs[-1:]} ({len(pending)})", seq=entry["seq"]))
            elif pending:
                leaves = [str(e["hash"]) for e in pending]
                root = merkle_root([bytes.fromhex(h) for h in leaves]).hex()
                if root != entry["root"]:
                    report.problems.append(Problem(where, f"Merkle root is {entry['root']}, its records give {root}",
                                                   seq=entry["seq"]))
                cid = manifest_cid(root, seqs[0], seqs[-1], leaves)
                if cid != entry["cid"]:
                    report.problems.append(Problem(where, f"manifest CID is {entry['cid']}, its records give {cid}",
                                                   seq=entry["seq"]))
            batches[entry["seq"]] = entry
            pending = []
    if pending:
        report.notes.append(f"{len(pending)} record(s) after the last batch are chained but not sealed in a batch "
                            "yet (the writer is open, or stopped before closing)")
    return batches


def _check_anchors(entries: list[dict[str, Any]], batches: dict[int, dict[str, Any]], rpc_url: str | None,
                   timeout_s: float, report: Report) -> None:
    anchors = [e for e in entries if e["kind"] == "anchor"]
    report.anchors = len(anchors)
    anchored = {a["batch_seq"] for a in anchors}
    for anchor in anchors:
        batch = batches.get(anchor["batch_seq"])
        if batch is None or batch["root"] != anchor["root"]:
            report.problems.append(Problem(f"{JOURNAL_NAME} anchor at seq {anchor['seq']}",
                                           f"names batch {anchor['batch_seq']} with root {anchor['root']}, "
                                           "which the journal does not have", seq=anchor["seq"]))
    unanchored = [s for s in batches if s not in anchored]
    if not anchors:
        report.notes.append("nothing is anchored on-chain yet" + (f" ({len(batches)} batch(es) pending: "
                            "`tracemark evidence anchor`)" if batches else ""))
        return
    if unanchored:
        report.notes.append(f"{len(unanchored)} batch(es) not anchored yet: `tracemark evidence anchor`")
    if rpc_url is None:
        report.notes.append(f"{len(anchors)} anchor(s) not checked on-chain: no chain given (--rpc)")
        return
    from tracemark.evidence.anchor import AnchorChain  # web3 only when a chain is asked

    by_chain: dict[tuple[int, str], list[dict[str, Any]]] = defaultdict(list)
    for anchor in anchors:
        by_chain[(anchor["chain_id"], anchor["contract"])].append(anchor)
    for (chain_id, contract), group in by_chain.items():
        try:
            chain = AnchorChain(rpc_url, contract, timeout_s)
            node_chain = chain.chain_id()
        except (ChainUnavailableError, ValueError) as exc:
            report.notes.append(f"{len(group)} anchor(s) on chain {chain_id} not checked: chain unreachable ({exc})")
            continue
        if node_chain != chain_id:
            report.notes.append(f"{len(group)} anchor(s) on chain {chain_id} not checked: {rpc_url} is chain "
                                f"{node_chain}")
            continue
        for anchor in group:
            batch = batches.get(anchor["batch_seq"])
            if batch is None:
                continue
            where = f"anchor of batch {anchor['batch_seq']} (root {anchor['root']}) on chain {chain_id}"
            root = bytes.fromhex(anchor["root"])
            try:
                at = chain.anchored_at(root)
                _, events = chain.events_of_tx(anchor["tx"])
                block_hash = chain.block_hash(anchor["block"])
            except Exception as exc:  # the node went away mid-check, or no contract answers at the address
                report.notes.append(f"{where}: not checked ({exc})")
                continue
            report.anchors_checked += 1
            findings: list[str] = []
            if block_hash != anchor["block_hash"]:
                findings.append(f"block {anchor['block']} of this chain is {block_hash or 'missing'}, the anchoring "
                                f"block was {anchor['block_hash']} (reorged away, or another chain with the same id)")
            if at == 0:
                findings.append(f"the contract {contract} does not know the root (anchoredAt = 0)")
            elif at != anchor["timestamp"]:
                findings.append(f"anchoredAt is {at}, the journal says {anchor['timestamp']}")
            match = [e for e in events if bytes(e["root"]) == root]
            if not match:
                findings.append(f"transaction {anchor['tx']} emitted no EvidenceAnchored for the root")
            else:
                event = match[0]
                if int(event["count"]) != batch["count"] or event["batchCid"] != batch["cid"]:
                    findings.append(f"the event says count {event['count']}, CID {event['batchCid']}; the batch has "
                                    f"{batch['count']}, {batch['cid']}")
                if int(event["blockNumber"]) != anchor["block"] or event["blockHash"] != anchor["block_hash"]:
                    findings.append(f"the transaction is in block {event['blockNumber']} ({event['blockHash']}), the "
                                    f"journal says {anchor['block']} ({anchor['block_hash']})")
            if findings:
                report.problems.append(Problem(where, "; ".join(findings), seq=anchor["seq"]))


def verify_evidence(path: Path, *, rpc_url: str | None = None, timeout_s: float = 10.0) -> Report:
    """Verifies a WARC file (with the journal next to it) or a whole evidence folder.

    Args:
        path: A `.warc.gz` file, or the folder holding the WARC files and `journal.jsonl`.
        rpc_url: A chain to check the anchors on; None: anchors are not checked on-chain.
        timeout_s: Timeout of each chain request.

    Returns:
        The report; `report.ok` is False when anything is broken (`report.problems[0]` is the first broken link).
    """
    report = Report(path=path)
    directory, only = (path, None) if path.is_dir() or path.name == JOURNAL_NAME else (path.parent, path.name)
    if path.name == JOURNAL_NAME:
        directory = path.parent
    if not path.exists():
        report.problems.append(Problem(str(path), "does not exist"))
        return report
    journal = directory / JOURNAL_NAME
    if not journal.exists():
        report.problems.append(Problem(str(directory / JOURNAL_NAME), "missing: without the journal the records "
                                       "cannot be checked against their chain and anchors"))
        return report
    entries = _read_journal(journal, report)
    report.entries = len(entries)
    by_file: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for entry in entries:
        if entry["kind"] in ("record", "orphan"):
            by_file[entry["warc"]].append(entry)
    present = sorted(p.name for p in directory.iterdir() if p.name.endswith(WARC_SUFFIXES) and p.is_file())
    names = [only] if only is not None else sorted(set(by_file) | set(present), key=lambda n: (n not in by_file, n))
    if only is not None and only not in by_file:
        report.problems.append(Problem(only, f"the journal in {directory} has no record in this file", file=only))
    for name in names:
        if name in by_file:
            _check_file(directory, name, by_file[name], report)
        elif only is None:
            report.problems.append(Problem(name, "a WARC file the journal does not know", file=name))
    batches = _check_batches(entries, report)
    _check_anchors(entries, batches, rpc_url, timeout_s, report)
    return report
