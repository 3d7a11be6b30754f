"""The registration workflow end to end on a real anvil with the deployed contracts, the embedded IPFS store and the
real app: audit, review, IPFS metadata, attestation, relayed and wallet-sent mints, and who may see what."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import skimage.data
from eth_account import Account
from PIL import Image

from tests.backend.integration.registration.chain_stack import Stack, jpeg, with_artist
from tests.backend.integration.registration.support import CASEWORKER, sign_in, sign_text, wallet
from tracemark.domain.metadata import parse_metadata
from tracemark.domain.registration import EarlierSighting
from tracemark.ipfs.embedded import EmbeddedStore
from tracemark.services.registration import NoSightings

pytestmark = pytest.mark.integration

ALICE, BOB, CAROL, DAVE = wallet(0xA11CE), wallet(0xB0B), wallet(0xCA401), wallet(0xDA7E)


def astronaut() -> Image.Image:
    return Image.fromarray(skimage.data.astronaut())


def checks(body: dict[str, object]) -> dict[str, str]:
    audit = body["audit"]
    assert isinstance(audit, dict)
    return {c["check"]: c["outcome"] for c in audit["checks"]}


def test_register_then_duplicates_and_copies_fail(stack: Stack) -> None:
    register_then_duplicates_and_copies_fail(stack)


def test_the_same_on_postgresql(pg_stack: Stack) -> None:
    register_then_duplicates_and_copies_fail(pg_stack)


def register_then_duplicates_and_copies_fail(stack: Stack) -> None:
    original = with_artist(astronaut(), "Alice Example")
    body = stack.register(ALICE, original, "Astronaut", "Alice Example", relay=True)
    assert body["status"] == "minting", body
    assert set(checks(body).values()) == {"pass"}
    assert body["attestation"]["typed_data"]["primaryType"] == "Registration"
    headers = sign_in(stack.client, ALICE)
    minted = stack.client.get(f"/v1/registrations/{body['id']}", headers=headers).json()
    assert minted["status"] == "minted"
    sha = body["original"]
    token = int(sha, 16)
    assert minted["certificate_id"] == str(token)
    contract = stack.certificate_contract()
    assert contract.functions.ownerOf(token).call() == ALICE.address
    assert contract.functions.certificateOf(bytes.fromhex(sha)).call() == token
    # The metadata on IPFS names the image and matches the digest on chain.
    block = EmbeddedStore(stack.data_dir / "ipfs").get(minted["metadata_cid"])
    metadata = parse_metadata(block)
    assert metadata.sha256 == sha and metadata.creator_address == ALICE.address
    assert metadata.audit_sha256 == minted["audit"]["digest"]
    assert "0x" + contract.functions.metadataDigest(token).call().hex() == minted["metadata_digest"]
    assert contract.functions.tokenURI(token).call() == minted["metadata_uri"]
    assert [t["to_status"] for t in minted["history"]] == ["approved", "published", "minting", "minted"]

    # The same image by another wallet fails, naming the certificate.
    same = stack.apply(BOB, stack.upload(BOB, original), "Mine", "Bob")
    assert same.status_code == 201 and same.json()["status"] == "audit_failed"
    assert checks(same.json())["exact_duplicate"] == "fail"
    assert f"{token:#x}" in same.json()["audit"]["checks"][0]["reason"]

    # A cropped, re-encoded copy by another wallet fails or goes to review.
    crop = jpeg(astronaut().crop((40, 30, 470, 480)).resize((380, 398)), quality=80)
    copy = stack.apply(CAROL, stack.upload(CAROL, crop), "My astronaut", "Carol").json()
    assert checks(copy)["near_duplicate"] in ("fail", "review")
    assert copy["status"] in ("audit_failed", "in_review")

    # A caseworker sees the registered image a copy was matched with (and only images the report names).
    caseworker = sign_in(stack.client, CASEWORKER)
    matched = stack.client.get(f"/v1/review/registrations/{copy['id']}/matches/{sha}", headers=caseworker)
    assert matched.status_code == 200 and matched.content == original
    other = stack.client.get(f"/v1/review/registrations/{copy['id']}/matches/{'0' * 64}", headers=caseworker)
    assert other.status_code == 404

    # The holder may register an edit of its own image.
    own = stack.apply(ALICE, stack.upload(ALICE, crop), "Astronaut, cropped", "Alice Example").json()
    assert checks(own)["near_duplicate"] == "pass"


def test_conflicting_creator_goes_to_review_and_a_caseworker_approves(stack: Stack) -> None:
    coffee = with_artist(Image.fromarray(skimage.data.coffee()), "Someone Else")
    body = stack.register(DAVE, coffee, "Coffee", "Dave Doe")
    assert body["status"] == "in_review" and checks(body)["creator_metadata"] == "review"
    assert "Someone Else" in body["audit"]["checks"][3]["reason"]
    assert body["attestation"] is None

    # While it is in review it holds the image: the same bytes from another wallet fail at once.
    pending = stack.apply(BOB, stack.upload(BOB, coffee), "Coffee", "Someone Else").json()
    assert pending["status"] == "audit_failed"
    assert pending["audit"]["checks"][0]["reason"] == "this exact image is being registered by another holder"

    caseworker = sign_in(stack.client, CASEWORKER)
    queue = stack.client.get("/v1/review/registrations", headers=caseworker).json()
    assert [r["id"] for r in queue] == [body["id"]]
    assert stack.client.get(f"/v1/review/registrations/{body['id']}/original", headers=caseworker).content == coffee
    decided = stack.client.post(f"/v1/review/registrations/{body['id']}/decision", headers=caseworker,
                                json={"approve": True, "reason": "the photographer's contract names Dave"})
    assert decided.status_code == 200, decided.text
    published = decided.json()
    assert published["status"] == "published" and published["review"]["reason"].startswith("the photographer")
    again = stack.client.post(f"/v1/review/registrations/{body['id']}/decision", headers=caseworker,
                              json={"approve": False, "reason": "changed my mind"})
    assert again.status_code == 409

    # Dave's wallet sends the attested registration itself, then tells the service.
    stack.fund(DAVE.address)
    w3 = stack.w3
    attestation = published["attestation"]
    tx = {"to": attestation["contract"], "data": attestation["calldata"], "from": DAVE.address, "chainId": 31337,
          "nonce": w3.eth.get_transaction_count(DAVE.address), "gas": 400_000, "maxFeePerGas": 10**10,
          "maxPriorityFeePerGas": 1}
    tx_hash = w3.eth.send_raw_transaction(DAVE.sign_transaction(tx).raw_transaction).to_0x_hex()
    w3.eth.wait_for_transaction_receipt(tx_hash)
    # The chain indexer sees the mint before the wallet reports it: the registration is minted from the indexer's
    # table, with the transaction the indexer recorded.
    from tracemark.chain.indexer import ChainIndexer, IndexerConfig
    from tracemark.chain.indexer.rpc import RpcClient

    service = stack.client.app.state.registration_service  # type: ignore[attr-defined]
    ChainIndexer(service.database, RpcClient(stack.url), stack.deployed.deployment,
                 IndexerConfig(confirmations=0, retry_base_s=0.01, retry_max_s=0.05)).catch_up()
    dave = sign_in(stack.client, DAVE)
    sent = stack.client.post(f"/v1/registrations/{body['id']}/transaction", json={"tx_hash": tx_hash}, headers=dave)
    assert sent.status_code == 200 and sent.json()["status"] == "minted"
    assert sent.json()["tx_hash"] == tx_hash and sent.json()["minted_block"] is not None
    assert stack.certificate_contract().functions.ownerOf(int(body["original"], 16)).call() == DAVE.address


def test_an_earlier_sighting_goes_to_review_and_a_rejection_frees_the_image(stack: Stack) -> None:
    class Sightings:
        def earlier_sightings(self, sha256: str, image: bytes) -> list[EarlierSighting]:
            return [EarlierSighting("https://other.example/p", "other.example", datetime(2020, 1, 1, tzinfo=UTC))]

    chelsea = jpeg(Image.fromarray(skimage.data.chelsea()))
    sha = stack.upload(BOB, chelsea)
    stack.client.get("/v1/registrations", headers=sign_in(stack.client, BOB))  # builds the service
    stack.client.app.state.registration_service.sightings = Sightings()  # type: ignore[attr-defined]
    body = stack.apply(BOB, sha, "Cat", "Bob").json()
    assert body["status"] == "in_review" and checks(body)["earlier_sightings"] == "review"
    assert "other.example" in body["audit"]["checks"][2]["reason"]
    caseworker = sign_in(stack.client, CASEWORKER)
    no_reason = stack.client.post(f"/v1/review/registrations/{body['id']}/decision", headers=caseworker,
                                  json={"approve": False, "reason": ""})
    assert no_reason.status_code == 422
    rejected = stack.client.post(f"/v1/review/registrations/{body['id']}/decision", headers=caseworker,
                                 json={"approve": False, "reason": "published on other.example since 2020"}).json()
    assert rejected["status"] == "rejected"
    assert rejected["history"][-1]["actor"] == CASEWORKER.address.lower()
    # The image is free again: its first publisher can apply (the sighting is on its own site, say).
    stack.client.app.state.registration_service.sightings = NoSightings()  # type: ignore[attr-defined]
    assert stack.apply(CAROL, stack.upload(CAROL, chelsea), "Cat", "Carol").json()["status"] == "published"


def test_bad_applications(stack: Stack) -> None:
    sha = stack.upload(ALICE, jpeg(Image.fromarray(skimage.data.rocket())))
    headers = sign_in(stack.client, ALICE)
    base = {"original": sha, "title": "Rocket", "creator_name": "Alice", "declaration_signature": "0x00"}
    forged = stack.client.post("/v1/registrations", json=base, headers=headers).json()
    assert forged["status"] == "audit_failed" and checks(forged)["declaration"] == "fail"
    text = stack.client.post("/v1/registrations/declaration", json={"original": sha, "title": "Rocket",
                                                                     "creator_name": "Alice"}, headers=headers)
    by_other = sign_text(Account.from_key(b"\x42" * 32), text.json()["text"])
    signed_by_other = stack.client.post("/v1/registrations", headers=headers,
                                        json=base | {"declaration_signature": by_other}).json()
    assert checks(signed_by_other)["declaration"] == "fail"
    for change, code in [({"title": ""}, 422), ({"royalty_bps": 2501}, 422), ({"original": "12"}, 422),
                         ({"original": "ab" * 32}, 404), ({"licence_terms": "x"}, 422)]:
        assert stack.client.post("/v1/registrations", json=base | change, headers=headers).status_code == code
    good = stack.apply(ALICE, sha, "Rocket", "Alice").json()
    assert good["status"] == "published"
    assert stack.apply(ALICE, sha, "Rocket again", "Alice").status_code == 409
    assert stack.client.post("/v1/registrations", json={"original": sha}).status_code == 401


def test_nobody_sees_or_moves_another_holders_registration(stack: Stack) -> None:
    sha = stack.upload(ALICE, jpeg(Image.fromarray(skimage.data.coffee()).rotate(180)))
    mine = stack.apply(ALICE, sha, "Coffee upside down", "Alice").json()
    assert mine["status"] == "published"
    bob = sign_in(stack.client, BOB)
    rid = mine["id"]
    c = stack.client
    assert c.get(f"/v1/registrations/{rid}", headers=bob).status_code == 404
    assert c.post(f"/v1/registrations/{rid}/relay", headers=bob).status_code == 404
    assert c.post(f"/v1/registrations/{rid}/attestation", headers=bob).status_code == 404
    assert c.post(f"/v1/registrations/{rid}/transaction", headers=bob,
                  json={"tx_hash": "0x" + "1" * 64}).status_code == 404
    assert c.get("/v1/registrations", headers=bob).json() == []
    assert c.get(f"/v1/originals/{sha}", headers=bob).status_code == 404
    assert c.post("/v1/registrations/declaration", headers=bob,
                  json={"original": sha, "title": "x", "creator_name": ""}).status_code == 404
    assert c.post("/v1/registrations", headers=bob, json={"original": sha, "title": "x",
                                                          "declaration_signature": "0x00"}).status_code == 404
    for method, path in [("GET", "/v1/review/registrations"), ("GET", f"/v1/review/registrations/{rid}"),
                         ("GET", f"/v1/review/registrations/{rid}/original"),
                         ("GET", f"/v1/review/registrations/{rid}/matches/{sha}"),
                         ("POST", f"/v1/review/registrations/{rid}/decision")]:
        kwargs = {"json": {"approve": True, "reason": "x"}} if method == "POST" else {}
        assert c.request(method, path, headers=bob, **kwargs).status_code == 403
        assert c.request(method, path, **kwargs).status_code == 401
    # A caseworker cannot decide an own application, nor one that is not in review.
    own = stack.apply(CASEWORKER, stack.upload(CASEWORKER, with_artist(astronaut().rotate(90), "Nobody")),
                      "Mine", "Case Worker").json()
    assert own["status"] == "in_review"
    caseworker = sign_in(stack.client, CASEWORKER)
    assert c.post(f"/v1/review/registrations/{own['id']}/decision", headers=caseworker,
                  json={"approve": True, "reason": "fine"}).status_code == 403
    assert c.post(f"/v1/review/registrations/{rid}/decision", headers=caseworker,
                  json={"approve": True, "reason": "fine"}).status_code == 409
    # Alice relays her own: the relayer sends it, and it is minted.
    relayed = c.post(f"/v1/registrations/{rid}/relay", headers=sign_in(c, ALICE))
    assert relayed.status_code == 200 and relayed.json()["status"] in ("minting", "minted")
    assert "mint;dur=" in relayed.headers["server-timing"]
    assert c.get(f"/v1/registrations/{rid}", headers=sign_in(c, ALICE)).json()["status"] == "minted"
    assert c.post(f"/v1/registrations/{rid}/relay", headers=sign_in(c, ALICE)).status_code == 409


def test_a_certificate_minted_elsewhere_is_found_in_the_indexer(stack: Stack) -> None:
    """A certificate minted without this service (another front end, a script) is found through the chain
    indexer's table, even when the contract itself is not asked."""
    import hashlib
    import time

    from tests.backend.chainops import VERIFIER_KEY
    from tracemark.chain.eip712 import CERTIFICATE_DOMAIN, Domain, Registration, sign
    from tracemark.chain.indexer import ChainIndexer, IndexerConfig
    from tracemark.chain.indexer.rpc import RpcClient
    from tracemark.services.registration import RegistrationService

    image = jpeg(Image.fromarray(skimage.data.astronaut()).transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    content = hashlib.sha256(image).digest()
    contract = stack.certificate_contract()
    registration = Registration(creator=DAVE.address, contentHash=content, metadataDigest=b"\x01" * 32,
                                fingerprint=b"\x02" * 32, royaltyBps=0, nonce=77, deadline=int(time.time()) + 600)
    domain = Domain(*CERTIFICATE_DOMAIN, chain_id=31337, verifying_contract=contract.address)
    signature = sign(registration, domain, VERIFIER_KEY).signature
    stack.fund(DAVE.address)
    tx = contract.functions.register(tuple(vars(registration).values()), signature).build_transaction(
        {"from": DAVE.address, "nonce": stack.w3.eth.get_transaction_count(DAVE.address)})
    stack.w3.eth.wait_for_transaction_receipt(
        stack.w3.eth.send_raw_transaction(DAVE.sign_transaction(tx).raw_transaction))

    sha = stack.upload(BOB, image)
    stack.client.get("/v1/registrations", headers=sign_in(stack.client, BOB))  # builds the service
    service: RegistrationService = stack.client.app.state.registration_service  # type: ignore[attr-defined]
    indexer = ChainIndexer(service.database, RpcClient(stack.url), stack.deployed.deployment,
                           IndexerConfig(confirmations=0, retry_base_s=0.01, retry_max_s=0.05))
    indexer.catch_up()
    service.registrar.is_registered = lambda content_hash: False  # type: ignore[method-assign]
    body = stack.apply(BOB, sha, "Flipped", "Bob").json()
    assert body["status"] == "audit_failed"
    assert f"certificate {int(sha, 16):#x}" in body["audit"]["checks"][0]["reason"]


def test_registered_images_are_fingerprinted_again_after_an_engine_upgrade(stack: Stack) -> None:
    """The matching engine searches only fingerprints of its own version: after an upgrade the service fingerprints
    its registered images again from the originals, so the near-duplicate check keeps seeing them."""
    import sqlite3

    from tracemark.matching import MatchIndex
    from tracemark.matching.store import DB_NAME
    from tracemark.services.registration import RegistrationService

    original = jpeg(astronaut())
    body = stack.register(ALICE, original, "Astronaut", "Alice")
    assert body["status"] == "published"
    service: RegistrationService = stack.client.app.state.registration_service  # type: ignore[attr-defined]
    folder = stack.data_dir / "registry-index"
    service.index.close()
    with sqlite3.connect(folder / DB_NAME) as db:
        db.execute("UPDATE refs SET version = version - 1")
    service.index = MatchIndex.open(folder)
    assert service.index.stale == [body["original"]]
    assert service.refingerprint_stale() == 1 and service.index.stale == []
    crop = jpeg(astronaut().crop((60, 60, 450, 470)), quality=85)
    copy = stack.apply(BOB, stack.upload(BOB, crop), "Mine", "Bob").json()
    assert checks(copy)["near_duplicate"] in ("fail", "review")


def test_failures_on_the_way_to_the_chain_are_clear_and_recoverable(stack: Stack) -> None:
    from datetime import timedelta

    from tests.backend.conftest import free_port
    from tracemark.ipfs.kubo import KuboStore
    from tracemark.services.registration import RegistrationService

    sha = stack.upload(ALICE, jpeg(Image.fromarray(skimage.data.coffee()).transpose(Image.Transpose.FLIP_TOP_BOTTOM)))
    stack.client.get("/v1/registrations", headers=sign_in(stack.client, ALICE))  # builds the service
    service: RegistrationService = stack.client.app.state.registration_service  # type: ignore[attr-defined]
    working_store = service.content_store

    # IPFS is down: the application is approved, says why it stopped, and goes on once IPFS is back.
    service.content_store = KuboStore(f"http://127.0.0.1:{free_port()}", timeout_s=2)
    stopped = stack.apply(ALICE, sha, "Coffee", "Alice", relay=True)
    assert stopped.status_code == 201
    body = stopped.json()
    assert body["status"] == "approved" and "could not be pinned to IPFS" in body["problem"]
    service.content_store = working_store
    alice = sign_in(stack.client, ALICE)
    resumed = stack.client.post(f"/v1/registrations/{body['id']}/attestation", headers=alice)
    assert resumed.status_code == 200 and resumed.json()["status"] == "published"
    assert "pin;dur=" in resumed.headers["server-timing"]

    # No relayer configured: 503, and the attestation stays usable from the wallet.
    relayer, service.relayer_key = service.relayer_key, None
    assert stack.client.post(f"/v1/registrations/{body['id']}/relay", headers=alice).status_code == 503
    service.relayer_key = relayer

    # An expired attestation is not relayed; a fresh one is signed on request.
    clock = service.clock
    service.clock = lambda: clock() + timedelta(hours=2)
    expired = stack.client.post(f"/v1/registrations/{body['id']}/relay", headers=alice)
    assert expired.status_code == 409 and "expired" in expired.json()["detail"]
    service.clock = clock

    # An attestation by a key without the verifier role: the contract's refusal is named, nothing is sent.
    verifier, service.verifier_key = service.verifier_key, "0x" + "77" * 32
    stack.client.post(f"/v1/registrations/{body['id']}/attestation", headers=alice)
    refused = stack.client.post(f"/v1/registrations/{body['id']}/relay", headers=alice)
    assert refused.status_code == 409 and "CertificateInvalidAttestation" in refused.json()["detail"]
    assert stack.client.get(f"/v1/registrations/{body['id']}", headers=alice).json()["mint_error"]
    service.verifier_key = verifier
    stack.client.post(f"/v1/registrations/{body['id']}/attestation", headers=alice)
    relayed = stack.client.post(f"/v1/registrations/{body['id']}/relay", headers=alice)
    assert relayed.status_code == 200
    final = stack.client.get(f"/v1/registrations/{body['id']}", headers=alice).json()
    assert final["status"] == "minted" and final["mint_error"] is None


def test_two_wallets_racing_for_one_image_cannot_both_pass(stack: Stack) -> None:
    import threading

    from tracemark.services.registration import Application, RegistrationService

    image = jpeg(Image.fromarray(skimage.data.chelsea()).rotate(180))
    contenders = [wallet(0x5001), wallet(0x5002), wallet(0x5003)]
    shas = [stack.upload(account, image) for account in contenders]
    stack.client.get("/v1/registrations", headers=sign_in(stack.client, contenders[0]))  # builds the service
    service: RegistrationService = stack.client.app.state.registration_service  # type: ignore[attr-defined]
    texts = [service.declaration(a.address, shas[0], "Cat", "") for a in contenders]
    results: list[str] = []
    barrier = threading.Barrier(len(contenders))

    def apply(k: int) -> None:
        application = Application(sha256=shas[k], title="Cat", creator_name="",
                                  declaration_signature=sign_text(contenders[k], texts[k]))
        barrier.wait()
        results.append(service.apply(contenders[k].address, application).registration.status.value)

    threads = [threading.Thread(target=apply, args=(k,)) for k in range(len(contenders))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["audit_failed", "audit_failed", "published"]


def test_a_sighting_the_crawler_recorded_sends_the_application_to_review(stack: Stack) -> None:
    from tracemark.services.registration import RegistrationService
    from tracemark.store.sighting_models import SightingRecord, SiteRecord

    image = jpeg(Image.fromarray(skimage.data.rocket()).transpose(Image.Transpose.FLIP_LEFT_RIGHT))
    sha = stack.upload(CAROL, image)
    stack.client.get("/v1/registrations", headers=sign_in(stack.client, CAROL))  # builds the service
    service: RegistrationService = stack.client.app.state.registration_service  # type: ignore[attr-defined]
    seen = datetime(2024, 5, 1, tzinfo=UTC)
    with service.database.write() as session:
        site = SiteRecord(host="photos.example", checked_at=seen)
        session.add(site)
        session.flush()
        session.add(SightingRecord(
            subject="index:other", reference_id="other", site_id=site.id, page_url="https://photos.example/a",
            image_url="https://photos.example/a.jpg", page_url_sha256="1" * 64, image_url_sha256="2" * 64,
            image_sha256=sha, score=1.0, match_report="{}", first_seen=seen, last_seen=seen, times_seen=1,
        ))
    body = stack.apply(CAROL, sha, "Rocket", "Carol").json()
    assert body["status"] == "in_review" and checks(body)["earlier_sightings"] == "review"
    assert "photos.example since 2024-05-01" in body["audit"]["checks"][2]["reason"]
