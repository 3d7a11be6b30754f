"""The sightings store: migration 0003 on top of the single head, sites, sightings through recrawls, evidence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.exc import IntegrityError

from tracemark.store import Database
from tracemark.store.database import MIGRATIONS_DIR
from tracemark.store.sighting_repository import (
    EvidenceLink,
    FindingScope,
    evidence_of,
    finding_groups,
    findings,
    mark_gone,
    record_sighting,
    save_site,
    sightings_on_page,
    subject_of,
)

pytestmark = pytest.mark.integration
T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
CERT = "ab" * 32


def test_a_single_head_and_a_clean_downgrade(tmp_path: Path) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(config)
    assert script.get_heads() == [script.get_current_head()]
    assert script.get_revision("0003_sightings").down_revision == "0002_registration"
    database = Database(f"sqlite:///{tmp_path / 'm.db'}")
    database.migrate()
    assert {"sites", "sightings", "sighting_evidence"} <= set(database.table_names())
    database.downgrade("0002_registration")
    assert not {"sites", "sightings", "sighting_evidence"} & set(database.table_names())
    assert "registrations" in database.table_names()
    database.migrate()
    assert "sightings" in database.table_names()


def test_sightings_through_recrawls(any_database: Database) -> None:
    db = any_database
    with db.write() as session:
        site = save_site(session, "Shop.Example.DE", checked_at=T0, country_code="de", country_reason="tld .de",
                         country_basis="tld", operator={"name": "Muster GmbH", "email": "info@muster-gmbh.de"})
        first = record_sighting(
            session, site=site, certificate_id=CERT, page_url="http://shop.example.de/bilder",
            image_url="http://shop.example.de/img/foto.jpg", score=0.91, match_report={"edits": {"crop": True}},
            seen_at=T0, image_sha256="cd" * 32,
            evidence=[EvidenceLink("page", "a.warc.gz", "<urn:uuid:1>", "11" * 32),
                      EvidenceLink("image", "a.warc.gz", "<urn:uuid:2>", "cd" * 32)])
        sighting_id = first.id
        assert site.host == "shop.example.de" and site.country_code == "DE"
    # A recrawl a day later moves last_seen and counts; the site reading without operator keeps the operator.
    with db.write() as session:
        site = save_site(session, "shop.example.de", checked_at=T0 + timedelta(days=1), country_code="AT",
                         country_reason="address", country_basis="address")
        again = record_sighting(
            session, site=site, certificate_id=CERT, page_url="http://shop.example.de/bilder",
            image_url="http://shop.example.de/img/foto.jpg", score=0.88, match_report={"edits": {}},
            seen_at=T0 + timedelta(days=1),
            evidence=[EvidenceLink("image", "b.warc.gz", "<urn:uuid:3>", "cd" * 32)])
        assert again.id == sighting_id
        assert (again.first_seen, again.last_seen, again.times_seen) == (T0, T0 + timedelta(days=1), 2)
        assert again.score == 0.88 and again.image_sha256 == "cd" * 32
        assert site.operator_name == "Muster GmbH" and site.country_code == "AT"
    # Gone, then found again.
    with db.write() as session:
        assert mark_gone(session, sighting_id, T0 + timedelta(days=3))
        assert not mark_gone(session, sighting_id, T0 + timedelta(days=4))  # once
        assert not mark_gone(session, 999_999, T0)
    with db.read() as session:
        (row, site), = findings(session, FindingScope())
        assert row.gone_at == T0 + timedelta(days=3)
        assert findings(session, FindingScope(include_gone=False)) == []
        assert [e.record_id for e in evidence_of(session, [row.id])[row.id]] == ["<urn:uuid:1>", "<urn:uuid:2>",
                                                                                 "<urn:uuid:3>"]
        assert [s.id for s in sightings_on_page(session, "http://shop.example.de/bilder")] == [sighting_id]
    with db.write() as session:
        site = save_site(session, "shop.example.de", checked_at=T0 + timedelta(days=5))
        back = record_sighting(session, site=site, certificate_id=CERT, page_url="http://shop.example.de/bilder",
                               image_url="http://shop.example.de/img/foto.jpg", score=0.9, match_report={},
                               seen_at=T0 + timedelta(days=5))
        assert back.gone_at is None and back.times_seen == 3
        # An older report arriving late does not move last_seen back.
        late = record_sighting(session, site=site, certificate_id=CERT, page_url="http://shop.example.de/bilder",
                               image_url="http://shop.example.de/img/foto.jpg", score=0.1, match_report={"late": 1},
                               seen_at=T0 - timedelta(days=1))
        assert late.last_seen == T0 + timedelta(days=5) and late.first_seen == T0 - timedelta(days=1)
        assert late.score == 0.9


def test_groups_by_country_and_operator(any_database: Database) -> None:
    db = any_database
    other = "cd" * 32
    with db.write() as session:
        a = save_site(session, "shop.example.de", checked_at=T0, country_code="DE", operator={"name": "Muster GmbH"})
        b = save_site(session, "blog.example.de", checked_at=T0, country_code="DE", operator={"name": "MUSTER GmbH"})
        c = save_site(session, "example.fr", checked_at=T0, country_code="FR")
        d = save_site(session, "example.com", checked_at=T0)
        for site, cert, n in ((a, CERT, 2), (b, other, 1), (c, CERT, 1), (d, other, 1)):
            for i in range(n):
                record_sighting(session, site=site, certificate_id=cert, page_url=f"http://{site.host}/p{i}",
                                image_url=f"http://{site.host}/i{i}.jpg", score=0.9, match_report={}, seen_at=T0)
        record_sighting(session, site=c, reference_id="original", page_url="http://example.fr/x",
                        image_url="http://example.fr/x.jpg", score=0.5, match_report={}, seen_at=T0)
    with db.read() as session:
        groups = finding_groups(session, FindingScope())
        assert [(g.country_code, (g.operator_name or "").casefold() or None, g.hosts, g.sightings, g.certificates)
                for g in groups] == [
            ("DE", "muster gmbh", ("blog.example.de", "shop.example.de"), 3, 2),
            ("FR", None, ("example.fr",), 2, 2),
            (None, None, ("example.com",), 1, 1),
        ]
        assert [g.country_code for g in finding_groups(session, FindingScope(country="fr"))] == ["FR"]
        assert [g.hosts for g in finding_groups(session, FindingScope(country="unknown"))] == [("example.com",)]
        # Pages of findings, newest first, by keyset.
        page1 = findings(session, FindingScope(), limit=4)
        page2 = findings(session, FindingScope(), before=page1[-1][0].id, limit=4)
        ids = [r.id for r, _ in page1 + page2]
        assert ids == sorted(ids, reverse=True) and len(set(ids)) == 6


def test_bad_subjects_and_duplicates(any_database: Database) -> None:
    with pytest.raises(ValueError):
        subject_of(None, None)
    with pytest.raises(ValueError):
        subject_of("XYZ", None)
    assert subject_of(CERT, "ignored") == f"certificate:{CERT}"
    with pytest.raises(IntegrityError), any_database.write() as session:
        save_site(session, "a.example", checked_at=T0)
        from tracemark.store.sighting_models import SiteRecord

        session.add(SiteRecord(host="a.example", checked_at=T0))
        session.flush()


CRAWL_LINE = {
    "id": "original", "image_url": "http://shop.example.de:36539/img/foto.jpg",
    "page_url": "http://shop.example.de:36539/bilder", "score": 0.9871,
    "edits": {"crop_box": [49, 39, 600, 440], "coverage": 0.7163, "mirrored": False},
    "first_seen": "2026-12-05T00:05:08.618Z", "last_seen": "2026-12-05T00:05:08.618Z", "times_seen": 1,
    "status": "online", "gone_at": None, "image_sha256": "36" * 32, "shown_as": ["img"],
    "country": {"code": "DE", "reason": "the operator's postal address (Musterweg 1, 10115 Berlin) lies in DE",
                "basis": "address"},
    "operator": {"name": "Muster GmbH", "address": "Musterweg 1, 10115 Berlin", "email": "info@muster-gmbh.de"},
    "evidence": {"warc": "tracemark-1.warc.gz", "record_id": "<urn:uuid:img>", "sha256": "36" * 32,
                 "page": {"warc": "tracemark-1.warc.gz", "record_id": "<urn:uuid:page>", "sha256": "46" * 32}},
}


def test_crawl_output_lines_are_stored(any_database: Database) -> None:
    from tracemark.store.sighting_repository import record_crawl_line

    with any_database.write() as session:
        first = record_crawl_line(session, CRAWL_LINE)
        assert first.reference_id == "original" and first.certificate_id is None
    later = CRAWL_LINE | {"id": CERT, "last_seen": "2026-12-07T00:00:00Z", "first_seen": "2026-12-06T00:00:00Z",
                          "gone_at": "2026-12-08T00:00:00+00:00", "status": "gone"}
    with any_database.write() as session:
        row = record_crawl_line(session, later)
        assert row.certificate_id == CERT and row.gone_at == datetime(2026, 12, 8, tzinfo=UTC)
        assert row.first_seen == datetime(2026, 12, 6, tzinfo=UTC)
    with any_database.read() as session:
        rows = findings(session, FindingScope())
        assert len(rows) == 2 and rows[0][1].host == "shop.example.de" and rows[0][1].operator_name == "Muster GmbH"
        kinds = [e.kind for e in evidence_of(session, [rows[1][0].id])[rows[1][0].id]]
        assert kinds == ["image", "page"]
    for bad in ({}, CRAWL_LINE | {"page_url": "nohost"}, CRAWL_LINE | {"first_seen": "yesterday", "last_seen": None}):
        with pytest.raises(ValueError), any_database.write() as session:
            record_crawl_line(session, bad)
