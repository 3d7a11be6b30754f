"""`/v1/cases` over a real indexed anvil behind real SIWE sessions, and `tracemark cases scheduler --once` sending
the offer over a real SMTP server: the holder reviews a finding, checks, previews and claims; a caseworker decides;
another holder gets 404 everywhere; bad requests get clear 4xx answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from tests.backend.chainops import DevChain
from tests.backend.integration.indexer.support import new_indexer, sqlite
from tests.backend.integration.mail.conftest import Server
from tests.backend.integration.registration.support import CASEWORKER, make_app, sign_in, wallet
from tracemark.cli import main
from tracemark.config import get_settings
from tracemark.store.sighting_repository import record_sighting, save_site

pytestmark = pytest.mark.integration
ALICE, BOB = wallet(0xA11CE), wallet(0xB0B)
OPERATOR_MAIL = "info@muster-gmbh.de"


@pytest.fixture
def world(dev_chain: DevChain, tmp_path: Path) -> dict[str, int]:
    chain = dev_chain
    tokens = {"alice": chain.register(ALICE.address), "bob": chain.register(BOB.address)}
    hashes = chain.flush()
    chain.mine(4)
    assert chain.receipts_ok(hashes) == len(hashes)
    database = sqlite(tmp_path / "tracemark.db")
    new_indexer(database, chain, confirmations=2).catch_up()
    now = datetime.now(UTC)
    out: dict[str, int] = {}
    with database.write() as session:
        site = save_site(session, "shop.example.de", checked_at=now, country_code="DE", country_reason="address",
                         country_basis="address", operator={"name": "Muster GmbH", "email": OPERATOR_MAIL})
        for name, token in tokens.items():
            for seen in (now - timedelta(days=40), now - timedelta(hours=1)):
                row = record_sighting(session, site=site, certificate_id=f"{token:064x}",
                                      page_url=f"https://shop.example.de/{name}",
                                      image_url=f"https://shop.example.de/{name}.jpg", score=0.9,
                                      match_report={"score": 0.9}, seen_at=seen)
            out[name] = row.id
    database.dispose()
    return out


@pytest.fixture
def client(world: dict[str, int], tmp_path: Path) -> TestClient:
    return TestClient(make_app(tmp_path, caseworkers=[CASEWORKER.address]))


def test_the_holders_way_to_a_claim_and_the_caseworkers_decision(
    client: TestClient, world: dict[str, int], plain_smtp: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    alice, bob, worker = sign_in(client, ALICE), sign_in(client, BOB), sign_in(client, CASEWORKER)
    url = f"/v1/cases/findings/{world['alice']}/review"
    assert client.post(url, json={"verdict": "illegal", "reason": "x"}).status_code == 401
    assert client.post(url, json={"verdict": "illegal", "reason": "x"}, headers=bob).status_code == 404
    assert client.post(url, json={"verdict": "maybe", "reason": "x"}, headers=alice).status_code == 422
    assert client.post(url, json={"verdict": "illegal", "reason": ""}, headers=alice).status_code == 422
    answer = client.post(url, json={"verdict": "illegal", "reason": "no licence given"}, headers=alice)
    assert answer.status_code == 200, answer.text
    case_id = answer.json()["id"]
    assert answer.json()["state"] == "illegal"
    assert client.post(url, json={"verdict": "illegal", "reason": "again"}, headers=alice).status_code == 409

    # another holder learns nothing: every endpoint answers 404
    for method, path, body in (("get", f"/v1/cases/{case_id}", None),
                               ("post", f"/v1/cases/{case_id}/licence-check", None),
                               ("post", f"/v1/cases/{case_id}/preview", {}),
                               ("post", f"/v1/cases/{case_id}/claim", {})):
        assert getattr(client, method)(path, headers=bob, **({"json": body} if body is not None else {})
                                       ).status_code == 404
    assert client.get("/v1/cases", headers=bob).json() == []

    assert client.post(f"/v1/cases/{case_id}/claim", json={}, headers=alice).status_code == 409  # not checked yet
    checked = client.post(f"/v1/cases/{case_id}/licence-check", headers=alice)
    assert checked.status_code == 200 and checked.json()["state"] == "checked"
    assert checked.json()["licence_checks"][-1]["outcome"] == "clear"
    preview = client.post(f"/v1/cases/{case_id}/preview", json={"usage": "editorial"}, headers=alice)
    assert preview.status_code == 200, preview.text
    data = preview.json()
    total = int(data["compensation"]["total"])
    assert total > 0 and int(data["split"]["holder"]) + int(data["split"]["platform"]) == total
    assert data["split"]["holder_bps"] == 7000 and data["compensation"]["lines"]
    assert client.post(f"/v1/cases/{case_id}/preview", json={"display_width": 0}, headers=alice).status_code == 422

    assert client.get("/v1/cases/review-queue", headers=alice).status_code == 403
    claimed = client.post(f"/v1/cases/{case_id}/claim", json={"reason": "my photograph"}, headers=alice)
    assert claimed.status_code == 200 and claimed.json()["state"] == "claim_submitted"
    assert [c["id"] for c in client.get("/v1/cases/review-queue", headers=worker).json()] == [case_id]
    assert client.post(f"/v1/cases/{case_id}/decision", json={"decision": "approve", "reason": "ok"},
                       headers=alice).status_code == 403
    assert client.post(f"/v1/cases/{case_id}/decision", json={"decision": "approve", "reason": ""},
                       headers=worker).status_code == 422
    assert client.post("/v1/cases/nope/decision", json={"decision": "approve", "reason": "ok"},
                       headers=worker).status_code == 404
    decided = client.post(f"/v1/cases/{case_id}/decision",
                          json={"decision": "approve", "reason": "match, evidence and standing verified"},
                          headers=worker)
    assert decided.status_code == 200 and decided.json()["state"] == "approved"
    assert client.post(f"/v1/cases/{case_id}/decision", json={"decision": "reject", "reason": "late"},
                       headers=worker).status_code == 409
    assert client.get(f"/v1/cases/{case_id}", headers=worker).status_code == 200  # caseworkers see any case

    # the scheduler, as a command, sends the offer once
    monkeypatch.setenv("TRACEMARK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TRACEMARK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("TRACEMARK_SMTP_PORT", str(plain_smtp.port))
    monkeypatch.setenv("TRACEMARK_SMTP_SECURITY", "none")
    get_settings.cache_clear()
    try:
        for expected in (["offer"], []):
            result = CliRunner().invoke(main, ["cases", "scheduler", "--once"])
            assert result.exit_code == 0, result.output
            assert '"to": "offer"' in result.output if expected else '"applied": []' in result.output
    finally:
        get_settings.cache_clear()
    assert [m.rcpt_tos for m in plain_smtp.inbox.messages] == [[OPERATOR_MAIL]]

    view = client.get(f"/v1/cases/{case_id}", headers=alice).json()
    assert view["state"] == "offer"
    assert [h["state"] for h in view["history"]] == ["finding", "illegal", "checked", "claim_submitted", "in_review",
                                                      "approved", "offer"]
    assert all(h["why"] and h["who"] for h in view["history"])
    assert [(x["kind"], x["to"], x["language"]) for x in view["letters"]] == [("offer", OPERATOR_MAIL, "de")]
    assert view["letters"][0]["sent_at"] is not None and case_id in view["letters"][0]["body"]
    assert [c["id"] for c in client.get("/v1/cases", headers=alice).json()] == [case_id]


def test_the_scheduler_refuses_to_run_without_a_mail_server(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TRACEMARK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TRACEMARK_SMTP_HOST", "")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(main, ["cases", "scheduler", "--once"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 2 and "TRACEMARK_SMTP_HOST" in result.output
