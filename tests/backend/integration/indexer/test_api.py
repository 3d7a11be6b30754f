"""The HTTP API over the indexed state: certificates with holder history and offers, licences, settlements, each
with the block it was read at; confirmed state by default; clear 400 and 404 answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.backend.chainops import CPY, DevChain
from tests.backend.integration.indexer.conftest import DeployedState
from tests.backend.integration.indexer.support import new_indexer, sqlite
from tracemark.api import create_app
from tracemark.config import Settings

pytestmark = pytest.mark.integration


def test_api_serves_the_indexed_state(dev_chain: DevChain, deployed_state: DeployedState, tmp_path: Path) -> None:
    chain = dev_chain
    alice, bob, carol, dave = chain.users
    for buyer in (bob, carol, dave):
        chain.fund(buyer)
    a = chain.register(alice)
    b = chain.register(alice)
    chain.flush()
    chain.mine()
    chain.set_offer(a, alice, kind=1, price=5 * CPY)
    chain.set_offer(b, alice, kind=2, price=3 * CPY)
    chain.flush()
    chain.mine()
    chain.buy(b, bob, kind=2)
    chain.flush()
    chain.mine()
    chain.transfer(a, alice, carol)  # the offer on `a` dies: the certificate changed hands
    case = chain.settle(b, dave, amount=100 * CPY, share_bps=7000, kind=2)
    hashes = chain.flush()
    chain.mine()
    chain.anchor()
    chain.dispute(b)
    hashes += chain.flush()
    chain.mine(4)
    c = chain.register(bob)  # stays unconfirmed: one block above it
    hashes += chain.flush()
    chain.mine()
    assert chain.receipts_ok(hashes) == len(hashes)

    database = sqlite(tmp_path / "api.db")
    new_indexer(database, chain, confirmations=2).catch_up()
    settings = Settings(rpc_url=chain.url, deployments_dir=deployed_state.deployments_dir,
                        database_url=f"sqlite:///{tmp_path / 'api.db'}")
    client = TestClient(create_app(settings))
    head = chain.block_number()

    body = client.get(f"/v1/certificates/{a}").json()
    assert body["chain_id"] == 31337
    assert body["read_at"]["block"] == head - 2 and body["read_at"]["confirmed"] is True
    assert body["read_at"]["block_hash"].startswith("0x")
    cert = body["certificate"]
    assert cert["holder"] == carol and cert["creator"] == alice and cert["holding"] == 1
    assert [(h["from_address"], h["to_address"]) for h in cert["holders"]] == [("0x" + "00" * 20, alice),
                                                                                (alice, carol)]
    assert cert["offers"] == [{**cert["offers"][0], "kind": 1, "live": False, "dead_because": "changed_hands"}]
    assert client.get(f"/v1/certificates/0x{a:064x}").json()["certificate"] == cert

    cert_b = client.get(f"/v1/certificates/{b}").json()["certificate"]
    assert cert_b["disputed"] is True and cert_b["dispute_cid"] == "bafkreidispute"
    assert [(o["kind"], o["live"], o["dead_because"]) for o in cert_b["offers"]] == [(2, False, "disputed")]

    assert client.get(f"/v1/certificates/{c}").status_code == 404, "unconfirmed state is not served by default"
    late = client.get(f"/v1/certificates/{c}", params={"unconfirmed": "true"}).json()
    assert late["read_at"]["confirmed"] is False and late["certificate"]["confirmed"] is False

    held = client.get("/v1/certificates", params={"holder": alice.lower()}).json()
    assert [item["id"] for item in held["items"]] == [str(b)] and held["next"] is None
    page = client.get("/v1/certificates", params={"holder": carol, "limit": 1}).json()
    assert [item["id"] for item in page["items"]] == [str(a)]

    licences = client.get("/v1/licences", params={"certificate": str(b)}).json()["items"]
    assert [(x["licensee"], x["price"], x["platform_fee"], x["case_id"]) for x in licences] == [
        (bob, str(3 * CPY), str(3 * CPY // 10), None),
        (dave, str(100 * CPY), str(30 * CPY), "0x" + case.hex()),
    ]
    first = client.get("/v1/licences", params={"certificate": str(b), "limit": 1}).json()
    second = client.get("/v1/licences", params={"certificate": str(b), "limit": 1, "after": first["next"]}).json()
    assert [first["items"][0]["id"], second["items"][0]["id"]] == [x["id"] for x in licences]
    assert client.get("/v1/licences", params={"licensee": dave}).json()["items"][0]["case_id"] == "0x" + case.hex()

    settled = client.get("/v1/settlements", params={"case": "0x" + case.hex()}).json()
    (receipt,) = settled["items"]
    assert receipt["amount"] == str(100 * CPY) and receipt["payer"] == dave
    assert [(p["role"], p["to"], p["amount"]) for p in receipt["payouts"]] == [
        ("holder", alice, str(70 * CPY)), ("platform", chain.treasury, str(30 * CPY))
    ]
    assert client.get("/v1/settlements", params={"case": "0x" + "11" * 32}).json()["items"] == []

    for path, params in [
        ("/v1/certificates/not-a-number", {}),
        (f"/v1/certificates/{2**256}", {}),
        ("/v1/certificates", {"holder": "0x1234"}),
        ("/v1/certificates", {"holder": alice[:-1] + ("a" if alice[-1] != "a" else "b")}),
        ("/v1/licences", {}),
        ("/v1/licences", {"licensee": "bob"}),
        ("/v1/licences", {"certificate": str(b), "after": "x"}),
        ("/v1/settlements", {}),
        ("/v1/settlements", {"case": "0x1234"}),
    ]:
        response = client.get(path, params=params)
        assert response.status_code == 400, (path, params, response.text)
        assert response.json()["detail"]
    assert client.get("/v1/certificates/12345").status_code == 404
    assert client.get("/v1/licences", params={"licensee": bob, "limit": 1000}).status_code == 422

    health = client.get("/health").json()
    assert health["status"] == "ok"
