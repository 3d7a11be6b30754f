"""Evidence archives: every fetched page and image written as a WARC/1.1 request + response pair (ISO 28500).

Each `EvidenceWriter.record` call writes two records with `warcio`, each its own gzip member: the `response` (status,
headers, body as the crawler received it, `WARC-IP-Address` of the peer) and the `request` (method, headers) naming
the response in `WARC-Concurrent-To`. Digests are SHA-256 (`sha256:<base32>`): `WARC-Block-Digest` over the HTTP
headers and body, `WARC-Payload-Digest` over the body. Every record is then entered in the journal (see
`tracemark.evidence.journal`), which chains them, closes them in batches with a Merkle root, and records anchors.

Files are named `tracemark-<UTC start>-<serial>.warc.gz`, opened exclusively (never reopened, never rewritten) and
rotated when they reach `max_file_bytes`; each starts with a `warcinfo` record. Bytes reach a WARC file before its
journal entries, so an entry never names bytes that are not written; the journal is forced to disk at each batch end
and on close.

The body is stored decoded (as the HTTP client handed it over). Headers that describe an undecoded form
(`Transfer-Encoding`, and `Content-Encoding` / `Content-Length` when they no longer match the stored body) are kept
under `X-Tracemark-Original-<name>`, so a WARC reader does not try to decode the body again.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

from tracemark import __version__
from tracemark.evidence.journal import Journal, manifest_cid
from tracemark.evidence.merkle import merkle_root

if TYPE_CHECKING:
    from tracemark.evidence.anchor import EvidenceAnchorer

log = logging.getLogger(__name__)

DEFAULT_MAX_FILE_BYTES = 512 * 1024 * 1024
DEFAULT_BATCH_SIZE = 512
_URI_SAFE = ":/?#[]@!$&'()*+,;=%-._~"


@dataclass(frozen=True)
class EvidenceRef:
    """Where the evidence of one response lies.

    Attributes:
        warc: The WARC file's name, relative to the evidence folder.
        record_id: The response record's `WARC-Record-ID` (`<urn:uuid:...>`).
        sha256: Hex SHA-256 of the response body.
    """

    warc: str
    record_id: str
    sha256: str

    def as_dict(self) -> dict[str, str]:
        """The reference as a JSON-ready dict."""
        return {"warc": self.warc, "record_id": self.record_id, "sha256": self.sha256}


class _RecordFile:
    """The WARC file as warcio sees it: each record is compressed into its own gzip member (level 6: warcio's own
    wrapper uses 9, which costs much and gains nothing on images), and the stored bytes of the record are hashed on
    the way to the file."""

    def __init__(self, raw: IO[bytes]) -> None:
        self.raw = raw
        self.position = raw.tell()
        self.digest = hashlib.sha256()
        self._compressor = zlib.compressobj(6, zlib.DEFLATED, 31)

    def _emit(self, data: bytes) -> None:
        if data:
            self.raw.write(data)
            self.digest.update(data)
            self.position += len(data)

    def start(self) -> None:
        """Starts the next record: a new gzip member and a new digest."""
        self.digest = hashlib.sha256()
        self._compressor = zlib.compressobj(6, zlib.DEFLATED, 31)

    def write(self, data: bytes) -> int:
        self._emit(self._compressor.compress(data))
        return len(data)

    def finish(self) -> None:
        """Ends the record's gzip member and hands the bytes to the operating system."""
        self._emit(self._compressor.flush())
        self.raw.flush()

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        """warcio flushes after each record; the member ends in `finish`."""


class _Sha256WARCWriter(WARCWriter):  # type: ignore[misc]  # warcio has no type hints
    """warcio's writer with SHA-256 digests (warcio computes SHA-1 unless told otherwise)."""

    @staticmethod
    def _create_digester() -> Digester:
        return Digester("sha256")


def _clean(value: str) -> str:
    """A header value with no line breaks (they would forge WARC or HTTP headers)."""
    return value.replace("\r", " ").replace("\n", " ").strip()


def _response_headers(headers: list[tuple[str, str]], body: bytes) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for name, value in headers:
        name, value = _clean(name), _clean(value)
        lower = name.lower()
        stale = lower == "transfer-encoding"
        if lower == "content-encoding" and value.lower() not in ("identity", ""):
            stale = not body.startswith((b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"BZh")) or value.lower() == "br"
        if lower == "content-length":
            stale = value != str(len(body))
        out.append((f"X-Tracemark-Original-{name}" if stale else name, value))
    return out


class EvidenceWriter:
    """Writes evidence into a folder: WARC files, and the journal that chains, batches and anchors them.

    Args:
        directory: The evidence folder (created if missing); one writer at a time.
        max_file_bytes: A WARC file is closed and a new one started once it reaches this size.
        batch_size: Records per batch; a batch is sealed (Merkle root entered) when full, and on close.
        anchorer: Anchors each sealed batch on-chain right away when given (a failure is logged and the batch
            stays pending, for `anchor_pending` or `tracemark evidence anchor`).

    Raises:
        EvidenceLockedError: when another writer holds the folder.
    """

    def __init__(self, directory: Path, *, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
                 batch_size: int = DEFAULT_BATCH_SIZE, anchorer: EvidenceAnchorer | None = None) -> None:
        if batch_size < 1 or max_file_bytes < 1024:
            raise ValueError("batch_size must be at least 1 and max_file_bytes at least 1024")
        self.directory = directory
        self.max_file_bytes = max_file_bytes
        self.batch_size = batch_size
        self.anchorer = anchorer
        self._journal = Journal(directory)
        self._lock = threading.Lock()
        self._file: _RecordFile | None = None
        self._writer: _Sha256WARCWriter | None = None
        self._name = ""
        self._warcinfo_id = ""
        self._serial = sum(1 for e in self._journal.entries if e.get("kind") == "record" and e.get("offset") == 0)
        self._closed = False
        try:
            self._account_for_orphans()
        except Exception:
            self._journal.close()
            raise

    def _account_for_orphans(self) -> None:
        """Enters bytes that a crashed writer put into WARC files but not into the journal (the tail of its last
        file, or a file it had just started) as `orphan` entries: chained and hashed like everything else, so the
        folder still verifies, and reported as orphaned rather than as evidence."""
        ends: dict[str, int] = {}
        for entry in self._journal.entries:
            if entry.get("kind") in ("record", "orphan"):
                ends[str(entry["warc"])] = int(entry["offset"]) + int(entry["length"])
        for path in sorted(self.directory.glob("tracemark-*.warc.gz")):
            size = path.stat().st_size
            end = ends.get(path.name, 0)
            if size > end:
                with path.open("rb") as fh:
                    fh.seek(end)
                    tail = fh.read(size - end)
                self._journal.append("orphan", {
                    "warc": path.name, "offset": end, "length": size - end,
                    "record_sha256": hashlib.sha256(tail).hexdigest(),
                    "reason": "written before the writer stopped, never entered in the journal",
                })
                if end == 0:
                    self._serial += 1
                log.warning("%s: bytes %d-%d were never journaled (a crashed writer); entered as orphaned",
                            path.name, end, size - 1)
        self._journal.sync()

    # ---- files ---------------------------------------------------------------------------------------------------

    def _open_file(self) -> None:
        self._serial += 1
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        self._name = f"tracemark-{stamp}-{self._serial:05d}.warc.gz"
        self._file = _RecordFile((self.directory / self._name).open("xb"))  # never an existing file
        self._writer = _Sha256WARCWriter(self._file, gzip=False, warc_version="1.1")  # _RecordFile compresses
        info = self._writer.create_warcinfo_record(self._name, {
            "software": f"Tracemark {__version__} (warcio)",
            "format": "WARC File Format 1.1",
            "conformsTo": "https://iso.org/standard/68004.html",
            "description": "Tracemark evidence: pages and images as fetched; chained in journal.jsonl",
        })
        self._warcinfo_id = info.rec_headers.get_header("WARC-Record-ID")
        self._write(info, target_uri=None)

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.flush()
            self._file.raw.close()
        self._file, self._writer = None, None

    def _write(self, record: Any, target_uri: str | None) -> dict[str, Any]:
        assert self._file is not None and self._writer is not None
        offset = self._file.tell()
        self._file.start()
        self._writer.write_record(record)
        self._file.finish()
        end = self._file.tell()
        headers = record.rec_headers
        entry = self._journal.append("record", {
            "warc": self._name, "offset": offset, "length": end - offset,
            "record_sha256": self._file.digest.hexdigest(),
            "record_id": headers.get_header("WARC-Record-ID"), "type": headers.get_header("WARC-Type"),
            "target_uri": target_uri, "date": headers.get_header("WARC-Date"),
            "block_digest": headers.get_header("WARC-Block-Digest"),
            "payload_digest": headers.get_header("WARC-Payload-Digest"),
        })
        if self._journal.unsealed_count() >= self.batch_size:
            self._seal()
        return entry

    # ---- recording -----------------------------------------------------------------------------------------------

    def record(self, *, url: str, method: str, request_headers: dict[str, str], status: int,
               response_headers: list[tuple[str, str]], body: bytes, peer_address: str | None) -> EvidenceRef:
        """Archives one fetch: a response record and its request record.

        Args:
            url: The URL fetched (the last hop, after redirects).
            method: The HTTP method.
            request_headers: The headers sent.
            status: The HTTP status received.
            response_headers: The headers received, in order (repeated names allowed).
            body: The body received (decoded).
            peer_address: The IP address the connection went to.

        Returns:
            Where the response record lies, and the body's SHA-256.
        """
        url = quote(_clean(url), safe=_URI_SAFE)  # a URI is ASCII: percent-encode the rest (UTF-8)
        parts = urlsplit(url)
        with self._lock:
            if self._closed:
                raise RuntimeError("the evidence writer is closed")
            if self._file is None or self._file.tell() >= self.max_file_bytes:
                self._close_file()
                self._open_file()
            assert self._writer is not None
            try:
                reason = HTTPStatus(status).phrase
            except ValueError:
                reason = "Unknown"
            warc_date = self._writer.curr_warc_date()
            response_fields = {"WARC-Date": warc_date, "WARC-Warcinfo-ID": self._warcinfo_id}
            if peer_address:
                response_fields["WARC-IP-Address"] = _clean(peer_address)
            response = self._writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), length=len(body), warc_headers_dict=response_fields,
                http_headers=StatusAndHeaders(f"{status} {reason}", _response_headers(response_headers, body),
                                              protocol="HTTP/1.1"),
            )
            response_id = response.rec_headers.get_header("WARC-Record-ID")
            path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
            sent = [(_clean(k), _clean(v)) for k, v in request_headers.items()]
            if not any(k.lower() == "host" for k, _ in sent):
                sent.insert(0, ("Host", parts.netloc))
            request = self._writer.create_warc_record(
                url, "request", payload=io.BytesIO(b""), length=0,
                warc_headers_dict={"WARC-Date": warc_date, "WARC-Concurrent-To": response_id,
                                   "WARC-Warcinfo-ID": self._warcinfo_id},
                http_headers=StatusAndHeaders(f"{_clean(method).upper()} {path} HTTP/1.1", sent,
                                              is_http_request=True),
            )
            self._write(response, url)
            self._write(request, url)
            return EvidenceRef(warc=self._name, record_id=response_id, sha256=hashlib.sha256(body).hexdigest())

    # ---- batches and anchors -------------------------------------------------------------------------------------

    def _seal(self) -> dict[str, Any] | None:
        records = self._journal.unsealed_records()
        if not records:
            return None
        leaves = [str(e["hash"]) for e in records]
        root = merkle_root([bytes.fromhex(h) for h in leaves]).hex()
        first, last = int(records[0]["seq"]), int(records[-1]["seq"])
        batch = self._journal.append("batch", {
            "first_seq": first, "last_seq": last, "count": len(records), "root": root,
            "cid": manifest_cid(root, first, last, leaves),
        })
        self._journal.sync()
        if self.anchorer is not None:
            self._anchor_pending(self.anchorer)
        return batch

    def seal_batch(self) -> dict[str, Any] | None:
        """Closes the open batch now (e.g. at the end of a crawl); returns its journal entry, None if empty."""
        with self._lock:
            return self._seal()

    def _anchor_pending(self, anchorer: EvidenceAnchorer, *, raise_errors: bool = False) -> list[dict[str, Any]]:
        done: list[dict[str, Any]] = []
        for batch in self._journal.unanchored_batches():
            try:
                receipt = anchorer.anchor(bytes.fromhex(batch["root"]), int(batch["count"]), str(batch["cid"]))
            except Exception as exc:  # the chain may be away; the batch stays pending
                if raise_errors:
                    raise
                log.warning("anchoring batch %s (root %s) failed: %s", batch["seq"], batch["root"], exc)
                break
            done.append(self._journal.append("anchor", {"batch_seq": batch["seq"], "root": batch["root"],
                                                        **receipt.as_dict()}))
            self._journal.sync()
        return done

    def anchor_pending(self, anchorer: EvidenceAnchorer) -> list[dict[str, Any]]:
        """Anchors every sealed batch that is not anchored yet; returns the anchor entries added.

        Raises:
            Exception: what the anchorer raised (ChainUnavailableError, AnchorError); anchors entered before
                the failure stay entered.
        """
        with self._lock:
            return self._anchor_pending(anchorer, raise_errors=True)

    # ---- closing -------------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Seals the open batch (anchoring it if an anchorer is set), closes the files and releases the folder."""
        with self._lock:
            if self._closed:
                return
            try:
                self._seal()
            finally:
                self._close_file()
                self._journal.close()
                self._closed = True

    def __enter__(self) -> EvidenceWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def anchor_folder(directory: Path, anchorer: EvidenceAnchorer) -> list[dict[str, Any]]:
    """Seals and anchors what a folder has pending (for `tracemark evidence anchor`; takes the folder's lock)."""
    writer = EvidenceWriter(directory)
    try:
        writer.seal_batch()
        return writer.anchor_pending(anchorer)
    finally:
        writer.close()
