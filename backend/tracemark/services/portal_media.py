"""What the clearing portal shows of a case beyond its record: the registered image, the copy found, the evidence.

- The registered image is the certificate's public preview, found as a verifier finds it: the metadata digest of the
  certificate at the confirmed block (indexer) names the metadata block, whose `image` names the preview block; every
  block is checked against its CID by the block reader. The original never leaves its holder.
- The copy found is read from our own WARC record of the image response, never fetched from the site again (the
  recipient sees what we archived, and the site learns nothing of the portal visit).
- An evidence record is served as the exact bytes the evidence journal entered for it (one gzip member holding one
  complete WARC record), checked against the journal's SHA-256 before it is served. Files are found through the
  journal only, under names that must be plain file names of the evidence folder: a link names a record by its number
  among the case's own records, so it can reach neither another file nor another case's record.

Every refusal is `MediaUnavailableError`; the portal answers it with the same 404 as any link that opens nothing.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select

from tracemark.cases.workflow import Case
from tracemark.domain.metadata import MetadataError, parse_metadata
from tracemark.evidence.journal import JOURNAL_NAME, read_lines
from tracemark.evidence.verify import parse_record
from tracemark.ipfs.cid import CidError, cid_from_digest
from tracemark.store import Database
from tracemark.store import case_repository as cases_repo
from tracemark.store.chain_repository import ChainState
from tracemark.store.sighting_models import SightingEvidence

#: Largest image the portal serves (registered preview or found copy).
MAX_PORTAL_IMAGE = 10 * 1024 * 1024
#: Largest evidence record the portal serves for download (as stored, compressed).
MAX_EVIDENCE_RECORD = 32 * 1024 * 1024
#: Image types the portal serves, recognised by their first bytes (never SVG: it can carry script).
IMAGE_TYPES = ((b"\xff\xd8\xff", "image/jpeg"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"GIF87a", "image/gif"),
               (b"GIF89a", "image/gif"))


class MediaUnavailableError(LookupError):
    """The image or record cannot be served for this case (missing, damaged, too large, or of another type)."""


class BlockReader(Protocol):
    """Reads a block of the content store by CID, checked against it (`api.routes.ipfs.LocalBlocks`)."""

    def get(self, cid: str) -> bytes:
        """The block; raises when it is not held or does not match its CID."""
        ...


@dataclass(frozen=True)
class PortalImage:
    """An image the portal serves, with the media type its bytes show."""

    data: bytes
    media_type: str


@dataclass(frozen=True)
class EvidenceFile:
    """One WARC evidence record of a case as it is downloaded: the bytes the journal entered, and their SHA-256."""

    number: int
    kind: str
    record_id: str
    warc: str
    data: bytes
    sha256: str

    @property
    def filename(self) -> str:
        """The download's file name (a single-record WARC file)."""
        suffix = ".warc.gz" if self.warc.endswith(".gz") else ".warc"
        return f"evidence-{self.number}-{self.kind}{suffix}"

    @property
    def gzipped(self) -> bool:
        """Whether the record is a gzip member."""
        return self.warc.endswith(".gz")


def image_type(data: bytes) -> str:
    """The media type of a servable image, from its bytes.

    Raises:
        MediaUnavailableError: empty, over `MAX_PORTAL_IMAGE`, or no JPEG, PNG, WebP or GIF.
    """
    if not data or len(data) > MAX_PORTAL_IMAGE:
        raise MediaUnavailableError(f"an image of 1 to {MAX_PORTAL_IMAGE} bytes is needed")
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    for magic, media in IMAGE_TYPES:
        if data.startswith(magic):
            return media
    raise MediaUnavailableError("not a JPEG, PNG, WebP or GIF image")


def _plain_warc_name(warc: str) -> bool:
    return bool(warc) and Path(warc).name == warc and not warc.startswith(".") and warc.endswith((".warc.gz", ".warc"))


def _journal_records(evidence_dir: Path, wanted: set[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """The journal's `record` entries of the wanted (WARC file, record id) pairs, in one pass over the journal; pairs
    whose file name is not a plain WARC file name of the folder are never looked up."""
    wanted = {(warc, record_id) for warc, record_id in wanted if _plain_warc_name(warc)}
    journal = evidence_dir / JOURNAL_NAME
    found: dict[tuple[str, str], dict[str, Any]] = {}
    if not wanted or not journal.is_file():
        return found
    ids = {record_id.encode() for _warc, record_id in wanted}
    for _offset, line in read_lines(journal):
        if b'"kind":"record"' not in line or not any(record_id in line for record_id in ids):
            continue  # cheap filters before parsing
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        key = (entry.get("warc"), entry.get("record_id"))
        if (entry.get("kind") == "record" and key in wanted and isinstance(entry.get("offset"), int)
                and isinstance(entry.get("length"), int) and isinstance(entry.get("record_sha256"), str)
                and entry["offset"] >= 0 and entry["length"] > 0):
            found[(str(key[0]), str(key[1]))] = entry
            if len(found) == len(wanted):
                break
    return found


class PortalMedia:
    """The media of cases for the portal.

    Args:
        database: The store (sightings, their evidence, the indexed chain).
        chain_id: The indexed chain the certificates are read from.
        evidence_dir: The evidence folder (WARC files and `journal.jsonl`).
    """

    def __init__(self, database: Database, chain_id: int, evidence_dir: Path) -> None:
        self.database, self.chain_id, self.evidence_dir = database, chain_id, evidence_dir

    def registered_image(self, case: Case, blocks: BlockReader) -> PortalImage:
        """The certificate's preview of the case's registered image.

        Raises:
            MediaUnavailableError: the chain is not indexed, the certificate, its metadata or its preview cannot be
                read, or the preview is not a servable image.
        """
        with self.database.read() as session:
            chain = ChainState(session, self.chain_id)
            point = chain.read_point()
            cert = chain.certificate(cases_repo.certificate_hex(case.certificate_id), point) if point else None
            digest = cert.metadata_digest if cert is not None else None
        if digest is None:
            raise MediaUnavailableError("the certificate is not indexed")
        try:
            metadata = parse_metadata(blocks.get(cid_from_digest(bytes.fromhex(digest.removeprefix("0x")))))
            data = blocks.get(metadata.preview_cid)
        except (MetadataError, CidError, ValueError) as exc:
            raise MediaUnavailableError(f"the certificate's preview cannot be read: {exc}") from exc
        except Exception as exc:  # the store's own errors (unavailable, integrity), whatever the adapter
            raise MediaUnavailableError(f"the certificate's preview cannot be read: {exc}") from exc
        return PortalImage(data, image_type(data))

    def _rows(self, case: Case) -> list[tuple[str, str, str, str]]:
        """(kind, warc, record id, body sha256) of the case's sighting's evidence, in the portal's order."""
        sighting_id = cases_repo.sighting_of(self.database, case.case_id)
        if sighting_id is None:
            return []
        with self.database.read() as session:
            rows = session.scalars(select(SightingEvidence).where(SightingEvidence.sighting_id == sighting_id)
                                   .order_by(SightingEvidence.seen_at, SightingEvidence.id)).all()
            return [(r.kind, r.warc, r.record_id, r.sha256) for r in rows]

    def _read(self, number: int, row: tuple[str, str, str, str], entry: dict[str, Any] | None) -> EvidenceFile:
        kind, warc, record_id, _body_sha256 = row
        if entry is None:
            raise MediaUnavailableError(f"the evidence journal has no record {record_id} in {warc}")
        offset, length = int(entry["offset"]), int(entry["length"])
        if length > MAX_EVIDENCE_RECORD:
            raise MediaUnavailableError(f"record {record_id} is larger than {MAX_EVIDENCE_RECORD} bytes")
        try:
            with (self.evidence_dir / warc).open("rb") as fh:
                fh.seek(offset)
                data = fh.read(length)
        except OSError as exc:
            raise MediaUnavailableError(f"the evidence file {warc} cannot be read: {exc}") from exc
        if len(data) != length or hashlib.sha256(data).hexdigest() != entry["record_sha256"]:
            raise MediaUnavailableError(f"record {record_id} no longer matches the evidence journal")
        return EvidenceFile(number, kind, record_id, warc, data, str(entry["record_sha256"]))

    def evidence_record(self, case: Case, number: int) -> EvidenceFile:
        """The `number`-th (from 1, in the order the portal lists them) evidence record of the case's sighting.

        Raises:
            MediaUnavailableError: no such record of this case, the journal or the file lacks it, it is larger than
                `MAX_EVIDENCE_RECORD`, or its bytes differ from the journal.
        """
        rows = self._rows(case)
        if not 1 <= number <= len(rows):
            raise MediaUnavailableError(f"the case has no evidence record {number}")
        row = rows[number - 1]
        key = (row[1], row[2])
        return self._read(number, row, _journal_records(self.evidence_dir, {key}).get(key))

    def evidence_files(self, case: Case) -> list[EvidenceFile | None]:
        """Every evidence record of the case (each checked against the journal), or None where one cannot be served;
        one pass over the journal for all of them."""
        rows = self._rows(case)
        entries = _journal_records(self.evidence_dir, {(row[1], row[2]) for row in rows})
        out: list[EvidenceFile | None] = []
        for number, row in enumerate(rows, 1):
            try:
                out.append(self._read(number, row, entries.get((row[1], row[2]))))
            except MediaUnavailableError:
                out.append(None)
        return out

    def found_image(self, case: Case) -> PortalImage:
        """The copy found on the site, from the newest archived image response whose body still has the SHA-256
        recorded with the sighting.

        Raises:
            MediaUnavailableError: no archived image of the copy can be served.
        """
        images = [(number, row) for number, row in enumerate(self._rows(case), 1) if row[0] == "image"]
        entries = _journal_records(self.evidence_dir, {(row[1], row[2]) for _number, row in images})
        for number, row in reversed(images):
            try:
                body = _response_body(self._read(number, row, entries.get((row[1], row[2]))))
                if hashlib.sha256(body).hexdigest() == row[3]:
                    return PortalImage(body, image_type(body))
            except MediaUnavailableError:
                continue
        raise MediaUnavailableError("no archived image of the copy can be served")


def _response_body(record: EvidenceFile) -> bytes:
    """The HTTP body of a WARC response record (its digests checked).

    Raises:
        MediaUnavailableError: not one valid response record, or larger than `MAX_PORTAL_IMAGE` once inflated.
    """
    raw = record.data
    limit = MAX_PORTAL_IMAGE + 64 * 1024  # the body and its WARC and HTTP headers
    if record.gzipped:
        inflater = zlib.decompressobj(wbits=31)
        try:
            raw = inflater.decompress(raw, limit + 1)
        except zlib.error as exc:
            raise MediaUnavailableError(f"record {record.record_id} is not a gzip member: {exc}") from exc
        if len(raw) > limit or not inflater.eof:
            raise MediaUnavailableError(f"record {record.record_id} is too large or truncated")
    headers, wrong = parse_record(raw)
    if wrong or headers.get("warc-type") != "response":
        raise MediaUnavailableError(f"record {record.record_id} is no valid response record: {'; '.join(wrong)}")
    block = raw[raw.find(b"\r\n\r\n") + 4 :][: int(headers["content-length"])]
    cut = block.find(b"\r\n\r\n")
    if cut == -1:
        raise MediaUnavailableError(f"record {record.record_id} holds no HTTP response")
    return block[cut + 4 :]
