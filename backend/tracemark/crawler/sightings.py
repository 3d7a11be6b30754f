"""Sightings: where a registered image was seen, since when, until when, and with which evidence.

A `Sighting` is keyed by (reference id, image URL, page URL). The first crawl that sees it sets `first_seen`;
every crawl that sees it again moves `last_seen` and counts `times_seen`; a crawl that finds the page or the
image gone (HTTP 404 or 410, or the page no longer showing the image) records `gone_at` and why. Together
they tell how long the image was online. The type is plain, JSON-serialisable data (pydantic), so the
server-side store can keep it as it is.

`SightingLedger` keeps sightings across crawls in a small SQLite file (the command line's `--state`).
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


def utc_now() -> str:
    """The current time as ISO 8601 UTC with milliseconds (`2026-12-04T23:59:01.123Z`)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EvidencePointer(BaseModel):
    """Where a response is archived: WARC file (relative to the evidence folder), record id, body SHA-256."""

    model_config = ConfigDict(frozen=True)

    warc: str
    record_id: str
    sha256: str


class Sighting(BaseModel):
    """One registered image seen on one page."""

    id: str = Field(description="The matched reference (certificate or index id).")
    image_url: str
    page_url: str
    score: float = Field(ge=0, le=1)
    edits: dict[str, Any] = Field(default_factory=dict, description="The match report's edits.")
    first_seen: str
    last_seen: str
    times_seen: int = Field(default=1, ge=1)
    status: Literal["online", "gone"] = "online"
    gone_at: str | None = None
    gone_reason: str | None = None
    image_sha256: str | None = None
    shown_as: list[str] = Field(default_factory=list, description="How the page shows the image (img, css, ...).")
    country: dict[str, Any] | None = None
    operator: dict[str, Any] | None = None
    evidence: dict[str, Any] | None = Field(
        default=None, description="The image response's WARC record {warc, record_id, sha256}, with the page's "
        "record under `page`.",
    )
    page_licence: dict[str, Any] | None = Field(
        default=None, description="Licence data the page gives for the image (`PageLicenceData.as_dict()`: "
        "licence_urls, acquire_licence_pages, credit_text); None when the page was not read.",
    )
    image_rights: dict[str, Any] | None = Field(
        default=None, description="Rights fields the image's bytes carry (XMP, IPTC; `ImageRights.as_dict()`); "
        "None when not read.",
    )

    @property
    def key(self) -> tuple[str, str, str]:
        """(id, image URL, page URL)."""
        return (self.id, self.image_url, self.page_url)

    def to_json_line(self) -> str:
        """One line of JSON in the crawl output format."""
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, sort_keys=False)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS sightings (
    ref_id TEXT NOT NULL,
    image_url TEXT NOT NULL,
    page_url TEXT NOT NULL,
    doc TEXT NOT NULL,
    PRIMARY KEY (ref_id, image_url, page_url)
);
"""


class SightingLedger:
    """Sightings kept across crawls in SQLite (one JSON document per sighting)."""

    def __init__(self, path: Path | None) -> None:
        """Opens (creating) the ledger at `path`; None keeps it in memory for one crawl."""
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path) if path is not None else ":memory:")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Closes the file."""
        self._db.close()

    def get(self, key: tuple[str, str, str]) -> Sighting | None:
        """The stored sighting with that key, if any."""
        row = self._db.execute(
            "SELECT doc FROM sightings WHERE ref_id = ? AND image_url = ? AND page_url = ?", key
        ).fetchone()
        return Sighting.model_validate_json(row[0]) if row else None

    def all(self) -> list[Sighting]:
        """Every stored sighting."""
        return [Sighting.model_validate_json(r[0]) for r in self._db.execute("SELECT doc FROM sightings")]

    def put(self, sighting: Sighting) -> None:
        """Stores (replaces) a sighting."""
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO sightings (ref_id, image_url, page_url, doc) VALUES (?, ?, ?, ?)",
                (*sighting.key, sighting.model_dump_json()),
            )

    def seen(self, fresh: Sighting) -> Sighting:
        """Merges a sighting seen now with what was stored: keeps `first_seen`, moves `last_seen`, counts it.

        A sighting that was gone and is seen again is online again (its `gone_at` is cleared).
        """
        old = self.get(fresh.key)
        merged = fresh if old is None else fresh.model_copy(update={
            "first_seen": old.first_seen,
            "times_seen": old.times_seen + 1,
        })
        merged = merged.model_copy(update={"status": "online", "gone_at": None, "gone_reason": None})
        self.put(merged)
        return merged

    def gone(self, key: tuple[str, str, str], when: str, reason: str) -> Sighting | None:
        """Records that a stored, online sighting is gone; returns it (None when unknown or already gone)."""
        old = self.get(key)
        if old is None or old.status == "gone":
            return None
        updated = old.model_copy(update={"status": "gone", "gone_at": when, "gone_reason": reason})
        self.put(updated)
        return updated


__all__ = ["EvidencePointer", "Sighting", "SightingLedger", "utc_now"]
