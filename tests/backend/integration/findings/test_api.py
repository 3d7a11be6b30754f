"""`GET /v1/findings`: a holder's findings (certificates held as of the confirmed block of a real indexed anvil),
grouped by country and operator, behind a real SIWE session; caseworkers may read any holder's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.backend.chainops import DevChain
from tests.backend.integration.indexer.support import new_indexer, sqlite
from tests.backend.integration.registration.support import CASEWORKER, make_app, sign_in, wallet
from tracemark.store.sighting_repository import EvidenceLink, mark_gone, record_sighting, save_site

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
ALICE, BOB, CAROL = wallet(0xA11CE), wallet(0xB0B), wallet(0xCA201)


def hex_id(token: int) -> str:
    return f"{token:064x}"


@pytest.fixture
def world(dev_chain: DevChain, tmp_path: Path) -> dict[str, str]:
    chain = dev_chain
    a1, a2 = chain.register(ALICE.address), chain.register(ALICE.address)
    b1 = chain.register(BOB.address)
    hashes = chain.flush()
    chain.mine()
    # Carol holds a certificate nobody has seen anywhere.
    chain.register(CAROL.address)
    hashes += chain.flush()
    chain.mine(4)
    assert chain.receipts_ok(hashes) == len(hashes)
    database = sqlite(tmp_path / "tracemark.db")
    new_indexer(database, chain, confirmations=2).catch_up()
    with database.write() as session:
        de = save_site(session, "shop.example.de", checked_at=T0, country_code="DE",
                       country_reason="the operator's postal address lies in DE", country_basis="address",
                       operator={"name": "Muster GmbH", "email": "info@muster-gmbh.de",
                                 "address": "Musterweg 1, 10115 Berlin"})
        fr = save_site(session, "photos.example.fr", checked_at=T0, country_code="FR", country_reason="TLD .fr",
                       country_basis="tld")
        for i in range(3):
            record_sighting(session, site=de, certificate_id=hex_id(a1), page_url=f"http://shop.example.de/p{i}",
                            image_url="http://shop.example.de/img/foto.jpg", score=0.9,
                            match_report={"score": 0.9, "edits": {"crop": [0, 0, 10, 10]}},
                            seen_at=T0 + timedelta(hours=i),
                            evidence=[EvidenceLink("page", "t-1.warc.gz", f"<urn:uuid:p{i}>", "00" * 32),
                                      EvidenceLink("image", "t-1.warc.gz", f"<urn:uuid:i{i}>", "11" * 32)])
        gone = record_sighting(session, site=fr, certificate_id=hex_id(a2), page_url="http://photos.example.fr/a",
                               image_url="http://photos.example.fr/a.jpg", score=0.8, match_report={}, seen_at=T0)
        record_sighting(session, site=fr, certificate_id=hex_id(a2), page_url="http://photos.example.fr/a",
                        image_url="http://photos.example.fr/a.jpg", score=0.8, match_report={},
                        seen_at=T0 + timedelta(days=2))
        mark_gone(session, gone.id, T0 + timedelta(days=4))
        record_sighting(session, site=fr, certificate_id=hex_id(b1), page_url="http://photos.example.fr/b",
                        image_url="http://photos.example.fr/b.jpg", score=0.7, match_report={}, seen_at=T0)
    database.dispose()
    return {"a1": hex_id(a1), "a2": hex_id(a2), "b1": hex_id(b1)}


@pytest.fixture
def client(world: dict[str, str], tmp_path: Path) -> TestClient:
    return TestClient(make_app(tmp_path, caseworkers=[CASEWORKER.address]))


def test_a_holder_sees_its_findings_grouped(client: TestClient, world: dict[str, str]) -> None:
    body = client.get("/v1/findings", headers=sign_in(client, ALICE)).json()
    assert body["holder"] == ALICE.address and body["chain_id"] == 31337 and body["read_block"] > 0
    assert {item["certificate_id"] for item in body["items"]} == {world["a1"], world["a2"]}
    assert [(g["country"], g["sightings"]) for g in body["groups"]] == [("DE", 3), ("FR", 1)]
    de = body["groups"][0]["operators"][0]
    assert de["operator"] == "Muster GmbH" and de["hosts"] == ["shop.example.de"] and de["images"] == 1
    assert de["online"] == 3
    fr = body["groups"][1]["operators"][0]
    assert fr["operator"] is None and fr["online"] == 0
    newest = body["items"][0]
    assert newest["host"] in ("shop.example.de", "photos.example.fr")
    item = next(i for i in body["items"] if i["page_url"] == "http://shop.example.de/p2")
    assert item["country"] == {"code": "DE", "reason": "the operator's postal address lies in DE", "basis": "address"}
    assert item["operator"]["email"] == "info@muster-gmbh.de"
    assert item["match_report"]["edits"]["crop"] == [0, 0, 10, 10]
    assert [e["kind"] for e in item["evidence"]] == ["page", "image"]
    assert item["evidence"][0]["record_id"] == "<urn:uuid:p2>"
    gone = next(i for i in body["items"] if i["certificate_id"] == world["a2"])
    assert gone["times_seen"] == 2 and gone["gone_at"] is not None and gone["online_days"] == 4.0
    assert body["next_before"] is None


def test_filters_and_pages(client: TestClient, world: dict[str, str]) -> None:
    headers = sign_in(client, ALICE)
    body = client.get("/v1/findings?country=fr", headers=headers).json()
    assert [i["certificate_id"] for i in body["items"]] == [world["a2"]]
    assert client.get("/v1/findings?country=DE&include_gone=false", headers=headers).json()["groups"][0][
        "sightings"] == 3
    assert client.get("/v1/findings?country=FR&include_gone=false", headers=headers).json()["items"] == []
    assert client.get("/v1/findings?country=unknown", headers=headers).json()["items"] == []
    first = client.get("/v1/findings?limit=2", headers=headers).json()
    assert len(first["items"]) == 2 and first["next_before"] == first["items"][-1]["id"]
    rest = client.get(f"/v1/findings?limit=2&before={first['next_before']}", headers=headers).json()
    seen = [i["id"] for i in first["items"] + rest["items"]]
    assert len(seen) == len(set(seen)) == 4
    for bad in ("country=DEU", "country=1x", "limit=0", "limit=101", "before=0", "holder=0x123"):
        assert client.get(f"/v1/findings?{bad}", headers=headers).status_code == 422, bad


def test_only_own_findings_unless_caseworker(client: TestClient, world: dict[str, str]) -> None:
    assert client.get("/v1/findings").status_code == 401
    assert client.get("/v1/findings", headers={"Authorization": "Bearer nope"}).status_code == 401
    bob = sign_in(client, BOB)
    assert [i["certificate_id"] for i in client.get("/v1/findings", headers=bob).json()["items"]] == [world["b1"]]
    assert client.get(f"/v1/findings?holder={ALICE.address}", headers=bob).status_code == 403
    assert client.get(f"/v1/findings?holder={BOB.address.lower()}", headers=bob).status_code == 200
    carol = client.get("/v1/findings", headers=sign_in(client, CAROL)).json()
    assert carol["items"] == [] and carol["groups"] == []
    worker = sign_in(client, CASEWORKER)
    as_alice = client.get(f"/v1/findings?holder={ALICE.address}", headers=worker).json()
    assert as_alice["holder"] == ALICE.address and len(as_alice["items"]) == 4
    everyone = client.get("/v1/findings", headers=worker).json()
    assert everyone["holder"] is None and len(everyone["items"]) == 5
    assert sum(g["sightings"] for g in everyone["groups"]) == 5
