"""The cases service's own rules without a chain: the claimed use round-trips, and nothing is decided about a
certificate before the chain is indexed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tracemark.cases.clock import ManualClock
from tracemark.cases.compensation import Medium, Prominence, Usage
from tracemark.services.cases import CaseNotFoundError, CasesService, ChainNotIndexedError, ClaimedUse, Verdict
from tracemark.store import Database
from tracemark.store.sighting_repository import record_sighting, save_site

NOW = datetime(2026, 12, 5, tzinfo=UTC)


def test_the_claimed_use_round_trips() -> None:
    use = ClaimedUse(Usage.EDITORIAL, Medium.PRINT, 1200, Prominence.FEATURED, True, True, False)
    assert ClaimedUse.from_dict(use.as_dict()) == use
    assert ClaimedUse.from_dict(ClaimedUse().as_dict()) == ClaimedUse()


def test_nothing_is_decided_before_the_chain_is_indexed(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 't.db'}")
    database.migrate()
    with database.write() as session:
        site = save_site(session, "shop.example.de", checked_at=NOW, country_code="DE")
        row = record_sighting(session, site=site, certificate_id="ab" * 32, page_url="https://shop.example.de/p",
                              image_url="https://shop.example.de/i.jpg", score=0.9, match_report={}, seen_at=NOW)
        sighting = row.id
    service = CasesService(database, 31337, ManualClock(NOW))
    holder = "0x" + "a" * 40
    with pytest.raises(ChainNotIndexedError):
        service.review_finding(sighting, holder, Verdict.ILLEGAL, "copied")
    with pytest.raises(CaseNotFoundError):
        service.review_finding(sighting + 1, holder, Verdict.ILLEGAL, "copied")
    assert service.cases_of(holder) == [] and service.review_queue() == []
    database.dispose()
