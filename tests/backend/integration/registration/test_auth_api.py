"""Sign-In with Ethereum over HTTP: sessions after a valid signature; 401 for replayed, expired, wrong-domain,
wrong-URI, wrong-chain and forged messages; logout; roles; the session dependency on the matching route; limits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.backend.integration.registration.support import make_app, sign_in, signed_login, wallet
from tracemark.auth.sessions import COOKIE_NAME, token_hash
from tracemark.store import Database
from tracemark.store.registration_repository import DatabaseNonceStore, add_session

pytestmark = pytest.mark.integration

ALICE, BOB, CASEWORKER = wallet(0xA11CE), wallet(0xB0B), wallet(0xCA5E)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = make_app(tmp_path, caseworkers=[CASEWORKER.address.lower()])
    with TestClient(app) as c:
        yield c


def test_sign_in_opens_a_session_usable_by_bearer_and_cookie(client: TestClient) -> None:
    answer = client.post("/v1/auth/login", json=signed_login(client, ALICE))
    assert answer.status_code == 200
    body = answer.json()
    assert body["address"] == ALICE.address and body["chain_id"] == 31337 and body["roles"] == ["holder"]
    cookie = answer.headers["set-cookie"]
    assert COOKIE_NAME in cookie and "HttpOnly" in cookie and "samesite=strict" in cookie.lower()
    assert client.get("/v1/auth/session").json()["address"] == ALICE.address  # the cookie
    client.cookies.clear()
    bearer = {"Authorization": f"Bearer {body['token']}"}
    assert client.get("/v1/auth/session", headers=bearer).json()["address"] == ALICE.address


def test_the_token_itself_is_not_stored(client: TestClient, tmp_path: Path) -> None:
    token = sign_in(client, ALICE)["Authorization"].removeprefix("Bearer ")
    raw = (tmp_path / "tracemark.db").read_bytes() + (tmp_path / "tracemark.db-wal").read_bytes()
    assert token.encode() not in raw
    assert token_hash(token).encode() in raw


def test_a_replayed_login_is_401(client: TestClient) -> None:
    login = signed_login(client, ALICE)
    assert client.post("/v1/auth/login", json=login).status_code == 200
    replay = client.post("/v1/auth/login", json=login)
    assert replay.status_code == 401
    assert "already used" in replay.json()["detail"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"domain": "evil.test"}, "not for 'tracemark.test'"),
        ({"uri": "http://evil.test"}, "URI"),
        ({"chain_id": 1}, "chain 1, not chain 31337"),
        ({"issued_at": datetime.now(UTC) - timedelta(hours=1)}, "too old"),
        ({"issued_at": datetime.now(UTC) + timedelta(hours=1)}, "future"),
        ({"nonce": "0123456789abcdef0123456789abcdef"}, "unknown"),
    ],
)
def test_messages_not_for_us_are_401(client: TestClient, change: dict[str, object], reason: str) -> None:
    answer = client.post("/v1/auth/login", json=signed_login(client, ALICE, **change))
    assert answer.status_code == 401
    assert reason in answer.json()["detail"]


def test_an_expired_nonce_is_401(client: TestClient, tmp_path: Path) -> None:
    nonces = DatabaseNonceStore(Database(f"sqlite:///{tmp_path / 'tracemark.db'}"))
    client.post("/v1/auth/nonce")  # opens and migrates the store
    nonces.issue("feedfacefeedfacefeedfacefeedface", datetime.now(UTC) - timedelta(seconds=1))
    answer = client.post("/v1/auth/login", json=signed_login(client, ALICE, nonce="feedfacefeedfacefeedfacefeedface"))
    assert answer.status_code == 401 and "expired" in answer.json()["detail"]


def test_a_signature_by_another_wallet_is_401(client: TestClient) -> None:
    login = signed_login(client, ALICE)
    forged = signed_login(client, BOB)
    answer = client.post("/v1/auth/login", json={"message": login["message"], "signature": forged["signature"]})
    assert answer.status_code == 401 and "not the named address" in answer.json()["detail"]
    garbage = client.post("/v1/auth/login", json={"message": login["message"], "signature": "0x1234"})
    assert garbage.status_code == 401
    nonsense = client.post("/v1/auth/login", json={"message": "hello", "signature": "0x1234"})
    assert nonsense.status_code == 401


def test_logout_ends_the_session(client: TestClient) -> None:
    headers = sign_in(client, ALICE)
    assert client.get("/v1/auth/session", headers=headers).status_code == 200
    assert client.post("/v1/auth/logout", headers=headers).status_code == 204
    assert client.get("/v1/auth/session", headers=headers).status_code == 401
    assert client.post("/v1/auth/logout", headers=headers).status_code == 401


@pytest.mark.parametrize("header", ["Basic abc", "Bearer", "Bearer not-a-token", "Bearer " + "x" * 500])
def test_bad_credentials_are_401(client: TestClient, header: str) -> None:
    answer = client.get("/v1/auth/session", headers={"Authorization": header})
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"


def test_a_session_for_another_chain_is_401(client: TestClient, tmp_path: Path) -> None:
    client.post("/v1/auth/nonce")
    database = Database(f"sqlite:///{tmp_path / 'tracemark.db'}")
    now = datetime.now(UTC)
    with database.write() as session:
        add_session(session, token_hash("other-chain-token"), ALICE.address, 1, now, now + timedelta(hours=1))
    answer = client.get("/v1/auth/session", headers={"Authorization": "Bearer other-chain-token"})
    assert answer.status_code == 401 and "chain 1" in answer.json()["detail"]


def test_caseworkers_have_their_role(client: TestClient) -> None:
    headers = sign_in(client, CASEWORKER)
    assert client.get("/v1/auth/session", headers=headers).json()["roles"] == ["caseworker", "holder"]


def test_a_cross_site_cookie_request_is_refused(client: TestClient) -> None:
    assert client.post("/v1/auth/login", json=signed_login(client, ALICE)).status_code == 200
    evil = client.post("/v1/auth/logout", headers={"Origin": "https://evil.test"})
    assert evil.status_code == 403
    assert client.post("/v1/auth/logout", headers={"Origin": "http://tracemark.test"}).status_code == 204


def test_match_search_needs_a_session(client: TestClient) -> None:
    from tracemark.matching.evaluation import jpeg_bytes, synthetic_scene

    files = {"image": ("q.jpg", jpeg_bytes(synthetic_scene(3)), "image/jpeg")}
    assert client.post("/v1/match/search", files=files).status_code == 401
    answer = client.post("/v1/match/search", files=files, headers=sign_in(client, ALICE))
    assert answer.status_code == 200 and answer.json()["matches"] == []


def test_sign_in_is_rate_limited(tmp_path: Path) -> None:
    with TestClient(make_app(tmp_path, rate_limit_auth_per_minute=3)) as c:
        codes = [c.post("/v1/auth/nonce").status_code for _ in range(5)]
        assert codes == [200, 200, 200, 429, 429]
        limited = c.post("/v1/auth/nonce")
        assert int(limited.headers["retry-after"]) >= 1 and "slow down" in limited.json()["detail"]


def test_every_endpoint_is_rate_limited(tmp_path: Path) -> None:
    with TestClient(make_app(tmp_path, rate_limit_per_minute=2)) as c:
        assert [c.get("/v1/auth/session").status_code for _ in range(3)] == [401, 401, 429]
        assert c.get("/health").status_code == 429


def test_large_bodies_are_413(client: TestClient) -> None:
    answer = client.post("/v1/auth/login", content=b"{" + b" " * 70_000 + b"}",
                         headers={"content-type": "application/json"})
    assert answer.status_code == 413


def test_without_a_chain_sign_in_is_503(tmp_path: Path) -> None:
    with TestClient(make_app(tmp_path, chain_id=None)) as c:
        assert c.post("/v1/auth/nonce").status_code == 503
