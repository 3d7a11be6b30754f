"""The clearing portal's media on a real anvil with the indexer: the registered image (the certificate's preview, found
from the indexed metadata digest in the content store) and the copy found (from our own WARC record) side by side,
with the edits named in the recipient's language; each evidence record downloadable through the case's link, byte for
byte as the journal entered it; the JSON quote the page's script pays with one permit and one `settleClaimWithPermit`
(done here with anvil's unlocked account, as a wallet would), split 70/30 exactly. Whatever a case does not have, or
another case's link asks for, or a damaged file holds, gets the one 404 page."""

from __future__ import annotations

import ast
import hashlib
import io
import json
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from babel.messages.pofile import read_po
from PIL import Image
from skimage import data as photos

from tests.backend.chainops import CPY, GAS
from tests.backend.integration.cases.test_portal import path_of, portal
from tests.backend.integration.cases.test_service import World
from tests.backend.integration.cases.test_service import world as service_world  # noqa: F401 - the fixture
from tests.backend.integration.cases.test_settlement import balance, settling_service
from tests.backend.integration.indexer.conftest import DeployedState
from tests.backend.integration.registration.support import CASEWORKER
from tracemark.api.routes import portal as portal_routes
from tracemark.cases.letters import LOCALE_DIR
from tracemark.cases.workflow import CaseState
from tracemark.domain.metadata import CertificateMetadata
from tracemark.evidence.journal import JOURNAL_NAME, read_lines
from tracemark.evidence.warc import EvidenceWriter
from tracemark.ipfs.cid import raw_cid
from tracemark.ipfs.embedded import EmbeddedStore
from tracemark.services.cases import CasesService, ClaimedUse, Verdict
from tracemark.store.sighting_repository import EvidenceLink, record_sighting, save_site

pytestmark = pytest.mark.integration

EDITS = {"crop_box": [60, 40, 480, 460], "coverage": 0.6729, "scale": 1.0, "rotation_deg": -3.0, "mirrored": True,
         "greyscale": False, "overlay_fraction": 0.0, "stretch": 1.0}


@pytest.fixture
def w(service_world: World) -> World:  # noqa: F811 - the imported fixture, by its name
    """The cases' world of test_service: a deployed anvil, indexed, with sightings, an SMTP server, a database."""
    return service_world


def jpeg(pixels: np.ndarray, quality: int = 90) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=quality)
    return out.getvalue()


@dataclass
class MediaCase:
    """A case in the offer stage whose certificate has a real preview and whose sighting has real WARC evidence."""

    case_id: str
    link: str
    token: int
    preview: bytes
    copy: bytes
    page: bytes
    evidence_dir: Path


def media_case(w: World, svc: CasesService, data_dir: Path, *, name: str = "astronaut",
               copy: bytes | None = None, price: int = 40 * CPY) -> MediaCase:
    """Registers a photograph with its preview and metadata in the app's content store (`data_dir/ipfs`), archives a
    page and an edited copy of it in the app's evidence folder (`data_dir/evidence`), records the sighting with that
    evidence, and takes its case through claim and review to the offer letter."""
    photo = photos.astronaut()
    preview = jpeg(np.asarray(Image.fromarray(photo).resize((384, 384))))
    found = copy if copy is not None else jpeg(np.ascontiguousarray(photo[40:460, 60:480][:, ::-1]), 80)
    metadata = CertificateMetadata(title=name, creator_name="Alice Example", creator_address=w.alice,
                                   sha256="0x" + hashlib.sha256(photo.tobytes()).hexdigest(), fingerprints={},
                                   preview_cid=raw_cid(preview))
    store = EmbeddedStore(data_dir / "ipfs")
    assert store.put(preview) == raw_cid(preview)
    store.put(metadata.encode())
    token = w.chain.register(w.alice, metadata_digest=hashlib.sha256(metadata.encode()).digest())
    hashes = w.chain.flush()
    w.chain.mine()
    w.chain.set_offer(token, w.alice, kind=1, price=price, duration=365 * 86_400)
    hashes += w.chain.flush()
    w.chain.mine(4)
    assert w.chain.receipts_ok(hashes) == len(hashes)
    w.index()

    evidence_dir = data_dir / "evidence"
    evidence_dir.mkdir(parents=True, exist_ok=True)
    page_url, image_url = f"https://shop.example.de/{name}", f"https://shop.example.de/{name}.jpg"
    page = f'<html><body><img src="/{name}.jpg"></body></html>'.encode()
    with EvidenceWriter(evidence_dir) as writer:
        page_ref = writer.record(url=page_url, method="GET", request_headers={"User-Agent": "Tracemark"}, status=200,
                                 response_headers=[("Content-Type", "text/html")], body=page,
                                 peer_address="127.0.0.1")
        image_ref = writer.record(url=image_url, method="GET", request_headers={"User-Agent": "Tracemark"},
                                  status=200, response_headers=[("Content-Type", "image/jpeg")], body=found,
                                  peer_address="127.0.0.1")
    seen = w.clock.now() - timedelta(days=20)
    with w.database.write() as session:
        site = save_site(session, "shop.example.de", checked_at=seen, country_code="DE", country_reason="address",
                         country_basis="address")
        row = record_sighting(session, site=site, certificate_id=f"{token:064x}", page_url=page_url,
                              image_url=image_url, score=0.91, match_report={"score": 0.91, "edits": EDITS},
                              seen_at=seen, image_sha256=image_ref.sha256,
                              evidence=[EvidenceLink("page", page_ref.warc, page_ref.record_id, page_ref.sha256),
                                        EvidenceLink("image", image_ref.warc, image_ref.record_id, image_ref.sha256)])
        sighting = row.id
    case = svc.review_finding(sighting, w.alice, Verdict.ILLEGAL, "no licence given")
    svc.check_licence(case.case_id, w.alice)
    svc.submit_claim(case.case_id, w.alice, ClaimedUse())
    svc.decide(case.case_id, CASEWORKER.address, True, "match, evidence and standing checked")
    svc.scheduler().run_once()
    assert svc.any_case(case.case_id).state is CaseState.OFFER
    return MediaCase(case.case_id, svc.issue_portal_link(case.case_id), token, preview, found, page, evidence_dir)


def journal_records(evidence_dir: Path) -> list[dict[str, object]]:
    entries = [json.loads(line) for _, line in read_lines(evidence_dir / JOURNAL_NAME)]
    return [e for e in entries if e["kind"] == "record" and e["type"] == "response"]


def test_both_images_side_by_side_with_the_edits_in_words(w: World, deployed_state: DeployedState,
                                                         tmp_path: Path) -> None:
    svc = settling_service(w)
    mc = media_case(w, svc, tmp_path)
    client = portal(w, deployed_state, tmp_path)
    page = client.get(path_of(mc.link))
    assert page.status_code == 200, page.text
    text = page.text
    base = path_of(mc.link)
    assert f'<img id="registered" src="{base}/image/registered"' in text
    assert f'<img id="found" src="{base}/image/found"' in text
    assert "Das registrierte Bild" in text and "Die gefundene Kopie" in text
    edits = re.search(r'<ul id="edits">(.*?)</ul>', text, re.S)
    assert edits is not None
    assert re.findall(r"<li>(.*?)</li>", edits.group(1)) == [
        "Übereinstimmungswert: 0,91", "Zugeschnitten: 67,3 % des registrierten Bildes sind zu sehen.",
        "Um -3 Grad gedreht.", "Horizontal gespiegelt."]
    csp = page.headers["content-security-policy"]
    assert "img-src 'self'" in csp and "script-src 'self'" in csp and "default-src 'none'" in csp

    registered = client.get(f"{base}/image/registered")
    assert registered.status_code == 200 and registered.content == mc.preview
    assert registered.headers["content-type"] == "image/jpeg"
    found = client.get(f"{base}/image/found")
    assert found.status_code == 200 and found.content == mc.copy and found.headers["content-type"] == "image/jpeg"
    for answer in (registered, found):
        assert answer.headers["x-content-type-options"] == "nosniff" and answer.headers["cache-control"] == "no-store"
        assert "sandbox" in answer.headers["content-security-policy"]
        assert answer.headers["cross-origin-resource-policy"] == "same-origin"

    not_found = client.get(f"/c/{'A' * 43}").content
    for bad in (f"/c/{'A' * 43}/image/registered", f"/c/{'A' * 43}/image/found", f"{base}/image/original",
                f"{base}/image/..%2F..%2Fetc%2Fpasswd", f"{base}/image/registered.jpg"):
        answer = client.get(bad)
        assert answer.status_code == 404 and answer.content == not_found, bad

    # a case of another sighting (no preview in the store, no evidence): its link shows none of this case's media
    other = svc.review_finding(w.sightings["later"], w.alice, Verdict.ILLEGAL, "copied")
    other_base = path_of(svc.issue_portal_link(other.case_id))
    for which in ("registered", "found"):
        answer = client.get(f"{other_base}/image/{which}")
        assert answer.status_code == 404 and answer.content == not_found
    assert client.get(f"{other_base}/evidence/1").content == not_found


def test_the_found_copy_is_only_ever_an_image_from_the_evidence(w: World, deployed_state: DeployedState,
                                                               tmp_path: Path) -> None:
    svc = settling_service(w)
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    mc = media_case(w, svc, tmp_path, name="vector", copy=svg)
    client = portal(w, deployed_state, tmp_path)
    not_found = client.get(f"/c/{'A' * 43}").content
    answer = client.get(f"{path_of(mc.link)}/image/found")
    assert answer.status_code == 404 and answer.content == not_found  # never served as a document of ours
    assert client.get(f"{path_of(mc.link)}/image/registered").status_code == 200


def test_evidence_records_are_downloadable_byte_for_byte(w: World, deployed_state: DeployedState,
                                                        tmp_path: Path) -> None:
    svc = settling_service(w)
    mc = media_case(w, svc, tmp_path)
    client = portal(w, deployed_state, tmp_path)
    base = path_of(mc.link)
    text = client.get(base).text
    records = journal_records(mc.evidence_dir)
    assert len(records) == 2
    for number, entry in enumerate(records, 1):
        warc = (mc.evidence_dir / str(entry["warc"])).read_bytes()
        offset, length = int(str(entry["offset"])), int(str(entry["length"]))
        expected = warc[offset : offset + length]
        answer = client.get(f"{base}/evidence/{number}")
        assert answer.status_code == 200 and answer.content == expected
        assert hashlib.sha256(answer.content).hexdigest() == entry["record_sha256"]
        assert answer.headers["content-type"] == "application/gzip"
        assert answer.headers["content-disposition"].startswith("attachment;")
        kind = "page" if number == 1 else "image"
        assert f'filename="evidence-{number}-{kind}.warc.gz"' in answer.headers["content-disposition"]
        assert f'href="{base}/evidence/{number}"' in text
        assert f"SHA-256 der heruntergeladenen Datei: {entry['record_sha256']}" in text
    assert "tracemark evidence verify" in text and "sha256sum" in text

    not_found = client.get(f"/c/{'A' * 43}").content
    for bad in ("0", "3", "-1", "01", "1.5", "..%2Fjournal.jsonl", "%2E%2E", "1%2F..%2F..%2Fetc%2Fpasswd",
                "99999999999"):
        answer = client.get(f"{base}/evidence/{bad}")
        assert answer.status_code == 404 and answer.content == not_found, bad
    assert client.get(f"/c/{'A' * 43}/evidence/1").content == not_found

    # a changed byte in the WARC file: the record no longer matches the journal and is not served, nor its image
    entry = records[1]
    path = mc.evidence_dir / str(entry["warc"])
    data = bytearray(path.read_bytes())
    data[int(str(entry["offset"])) + int(str(entry["length"])) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    assert client.get(f"{base}/evidence/2").content == not_found
    assert client.get(f"{base}/image/found").content == not_found
    assert client.get(f"{base}/evidence/1").status_code == 200  # the page's record is untouched
    assert f'href="{base}/evidence/2"' not in client.get(base).text


def test_the_scripts_quote_pays_with_one_permit_and_splits_70_30(w: World, deployed_state: DeployedState,
                                                                tmp_path: Path) -> None:
    svc = settling_service(w)
    mc = media_case(w, svc, tmp_path)
    client = portal(w, deployed_state, tmp_path)
    base = path_of(mc.link)
    payer = w.chain.users[3]
    # CPY only, no allowance: the permit is what lets the market take the payment
    w.chain._queue(w.chain.treasury, w.chain.cpy.address, w.chain.cpy.encode_abi("transfer", args=[payer, 100 * CPY]),
                   GAS["cpy"])
    hashes = w.chain.flush()
    w.chain.mine()
    assert w.chain.receipts_ok(hashes) == 1

    not_found = client.get(f"/c/{'A' * 43}").content
    assert client.post(f"/c/{'A' * 43}/quote.json", data={"payer": payer}).content == not_found
    bad = client.post(f"{base}/quote.json", data={"payer": "nope"})
    assert bad.status_code == 422 and bad.json() == {"error": "not_an_address"}
    poor = client.post(f"{base}/quote.json", data={"payer": "0x" + "12" * 20})
    assert poor.status_code == 200 and poor.json()["sufficient"] is False and poor.json()["balance"] == "0"

    answer = client.post(f"{base}/quote.json", data={"payer": payer})
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store" and answer.headers["content-type"] == "application/json"
    quote = answer.json()
    assert quote["chain_id"] == 31337 and quote["sufficient"] is True and quote["amount"] == str(40 * CPY)
    permit = json.loads(quote["permit"])
    assert permit["primaryType"] == "Permit" and permit["domain"]["verifyingContract"] == w.chain.cpy.address
    assert permit["message"]["spender"] == w.chain.market.address and permit["message"]["value"] == str(40 * CPY)
    assert permit["message"]["owner"].lower() == payer.lower()
    tx = quote["tx"]
    assert tx["to"] == w.chain.market.address
    selector = w.chain.market.encode_abi("settleClaimWithPermit", args=[
        (b"\0" * 32, 0, payer, 0, 0, 0, 0, 0), b"", 0, 0, b"\0" * 32, b"\0" * 32])[:10]
    assert tx["data"].startswith(selector)
    assert {tx["v_at"], tx["r_at"], tx["s_at"]} <= set(range(10, len(tx["data"]), 64))  # whole words

    holder0, treasury0, payer0 = balance(w, w.alice), balance(w, w.chain.treasury), balance(w, payer)
    signature = w.chain.rpc("eth_signTypedData_v4", [payer, quote["permit"]])[2:]  # as the wallet signs it
    data = tx["data"]
    for at, value in ((tx["r_at"], signature[:64]), (tx["s_at"], signature[64:128]),
                      (tx["v_at"], f"{int(signature[128:], 16):064x}")):
        data = data[:at] + value + data[at + 64 :]
    w.chain._queue(payer, tx["to"], data, GAS["settle"] + 80_000)
    hashes = w.chain.flush()
    w.chain.mine(4)
    assert w.chain.receipts_ok(hashes) == 1
    w.index()
    assert svc.close_settled() == [mc.case_id]
    assert svc.any_case(mc.case_id).state is CaseState.SETTLED
    assert balance(w, w.alice) - holder0 == 28 * CPY and balance(w, w.chain.treasury) - treasury0 == 12 * CPY
    assert payer0 - balance(w, payer) == 40 * CPY
    allowance = w.chain.cpy.encode_abi("allowance", args=[payer, w.chain.market.address])
    assert int(w.chain.rpc("eth_call", [{"to": w.chain.cpy.address, "data": allowance}, "latest"]), 16) == 0
    settled = client.post(f"{base}/quote.json", data={"payer": payer})
    assert settled.status_code == 409 and settled.json() == {"error": "nothing_to_settle"}


def test_the_script_is_served_alone_and_pages_load_it_only_from_here(w: World, deployed_state: DeployedState,
                                                                    tmp_path: Path) -> None:
    client = portal(w, deployed_state, tmp_path)
    script = client.get(portal_routes.SCRIPT_PATH)
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert script.headers["x-content-type-options"] == "nosniff"
    body = script.text
    assert "innerHTML" not in body and "eval(" not in body and "http" not in body  # text only, nothing external
    assert "eth_signTypedData_v4" in body and "eth_sendTransaction" in body and "window.ethereum" in body
    not_found = client.get(f"/c/{'A' * 43}")
    assert "<script" not in not_found.text  # the 404 page loads nothing


def test_every_portal_text_is_in_every_catalog() -> None:
    source = Path(portal_routes.__file__).read_text(encoding="utf-8")
    ids = set(portal_routes.MESSAGES)
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("t", "translate")
                and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant)):
            ids.add(node.args[1].value)
    assert len(ids) > 40
    for language in ("de", "fr", "ja"):
        with (LOCALE_DIR / language / "LC_MESSAGES" / "letters.po").open("rb") as po:
            catalog = read_po(po)
        for msgid in sorted(ids):
            message = catalog.get(msgid)
            assert message is not None and message.string, (language, msgid)
            assert set(re.findall(r"\{\w+\}", str(message.string))) == set(re.findall(r"\{\w+\}", msgid)), msgid
