"""End to end on a real anvil (the real deploy script) and the real js-ipfs daemon: publish, register with the
publication's digest and fingerprint, then `tracemark verify` (a subprocess) from chain and IPFS alone; transfers,
disputes, unregistered and modified images, tampered metadata, `--match` against a running API, and the HTTP side.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from skimage import data as photos

from tests.backend.chainops import DevChain, deploy, start_anvil
from tests.backend.conftest import ROOT, free_port, tool_env, wait_for_rpc
from tests.backend.unit.verification.images import astronaut_png, chelsea_jpeg, coffee_png, encode
from tracemark.api import create_app
from tracemark.api.routes import match as match_routes
from tracemark.chain.deployments import Deployment, load_deployment
from tracemark.config import Settings
from tracemark.domain.registration import AuditReport
from tracemark.ipfs.daemon import JsIpfsDaemon
from tracemark.ipfs.kubo import KuboStore
from tracemark.matching import MatchIndex
from tracemark.services.publication import Publication, publish_certificate

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Stack:
    rpc: str
    deployments_dir: Path
    deployment: Deployment
    ipfs: JsIpfsDaemon
    chain: DevChain


@pytest.fixture(scope="module")
def stack(anvil_bin: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    port = free_port()
    proc = start_anvil(anvil_bin, port)
    rpc = f"http://127.0.0.1:{port}"
    deployments = tmp_path_factory.mktemp("deployments")
    daemon = JsIpfsDaemon(tmp_path_factory.mktemp("ipfs") / "repo", free_port(), free_port(), free_port())
    try:
        wait_for_rpc(rpc, proc)
        deploy(rpc, deployments, ROOT, tool_env())
        daemon.start()
        deployment = load_deployment(deployments, 31337)
        yield Stack(rpc, deployments, deployment, daemon, DevChain(rpc, deployment))
    finally:
        daemon.stop()
        proc.terminate()
        proc.wait(timeout=10)


def publish(stack: Stack, original: bytes, holder: str, title: str = "Astronaut") -> Publication:
    return publish_certificate(KuboStore(stack.ipfs.api_url), original, title=title, creator_name="Jane Doe",
                               holder=holder, audit=AuditReport(()), captured_at="2024-03-01T10:00:00Z")


def register(stack: Stack, publication: Publication, creator: str, metadata_digest: bytes | None = None) -> int:
    chain = stack.chain
    token = chain.register(creator, content=publication.content_hash, fingerprint=publication.fingerprint,
                           metadata_digest=metadata_digest or publication.metadata_digest)
    assert chain.receipts_ok(chain.flush()) == 1
    return token


def run(stack: Stack, tmp_path: Path, image: bytes, *args: str, name: str = "image.png",
        ipfs: bool = True) -> subprocess.CompletedProcess[str]:
    """`tracemark verify` as an auditor runs it: nothing but the chain node and IPFS (no TRACEMARK_* settings)."""
    path = tmp_path / name
    path.write_bytes(image)
    env = {k: v for k, v in tool_env().items() if not k.startswith("TRACEMARK_")}
    command = [str(ROOT / ".venv" / "bin" / "tracemark"), "verify", str(path), "--rpc", stack.rpc,
               "--deployments", str(stack.deployments_dir), *(["--ipfs", stack.ipfs.api_url] if ipfs else []), *args]
    return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False)


def as_json(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(result.stdout)
    return body


@contextlib.contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Serves an app with uvicorn on a loopback port, in a thread."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def test_verify_from_chain_and_ipfs_alone_follows_the_holder(stack: Stack, tmp_path: Path) -> None:
    creator, buyer = stack.chain.users[0], stack.chain.users[1]
    original = astronaut_png()
    publication = publish(stack, original, creator)
    token = register(stack, publication, creator)
    assert token == int.from_bytes(hashlib.sha256(original).digest(), "big")
    registered_block = stack.chain.block_number()

    verified = run(stack, tmp_path, original, "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    body = as_json(verified)
    assert body["verdict"] == "verified"
    assert body["certificate"]["id"] == str(token) and body["certificate"]["holder"] == creator
    assert body["certificate"]["creator"] == creator
    assert body["certificate"]["registered_block"] == registered_block
    assert body["certificate"]["registered_tx"].startswith("0x")
    assert body["certificate"]["token_uri"] == f"ipfs://{publication.metadata_cid}"
    assert body["metadata"]["cid"] == publication.metadata_cid and body["metadata"]["title"] == "Astronaut"
    assert {c["status"] for c in body["checks"]} == {"pass"}, body["checks"]
    assert body["sources"]["contract"] == stack.deployment.address_of("ImageCertificate")

    text = run(stack, tmp_path, original)
    assert text.returncode == 0
    assert text.stdout.startswith("VERIFIED") and f"holder        {creator}" in text.stdout
    assert "only the chain node and the IPFS sources" in text.stdout

    stack.chain.transfer(token, creator, buyer)
    assert stack.chain.receipts_ok(stack.chain.flush()) == 1
    after = as_json(run(stack, tmp_path, original, "--json"))
    assert after["verdict"] == "verified"
    assert after["certificate"]["holder"] == buyer and after["certificate"]["creator"] == creator
    assert after["certificate"]["holding"] == 1
    assert after["certificate"]["holder_since_block"] > registered_block

    stack.chain.dispute(token)
    assert stack.chain.receipts_ok(stack.chain.flush()) == 1
    disputed = run(stack, tmp_path, original)
    assert disputed.returncode == 4, disputed.stdout
    assert disputed.stdout.startswith("DISPUTED") and "disputed      YES" in disputed.stdout
    stack.chain.clear_dispute(token)
    assert stack.chain.receipts_ok(stack.chain.flush()) == 1
    assert run(stack, tmp_path, original).returncode == 0


def test_an_unregistered_image_says_so(stack: Stack, tmp_path: Path) -> None:
    result = run(stack, tmp_path, coffee_png())
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.startswith("NOT REGISTERED")
    assert as_json(run(stack, tmp_path, coffee_png(), "--json"))["verdict"] == "not_registered"


class LyingGateway:
    """An HTTP gateway that answers every /ipfs/<cid> with the same forged document."""

    def __init__(self, document: bytes) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(document)))
                self.end_headers()
                self.wfile.write(document)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def test_tampered_metadata_makes_verify_fail(stack: Stack, tmp_path: Path) -> None:
    import dataclasses

    creator = stack.chain.users[2]
    original = chelsea_jpeg()
    publication = publish(stack, original, creator, title="Chelsea")
    register(stack, publication, creator)
    forged = dataclasses.replace(publication.metadata, creator_name="Mallory", creator_address=creator).encode()
    gateway = LyingGateway(forged)
    try:
        result = run(stack, tmp_path, original, "--gateway", gateway.url, name="chelsea.jpg", ipfs=False)
    finally:
        gateway.close()
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stdout.startswith("FAILED") and "does not match the digest on chain" in result.stdout
    assert "[FAIL] metadata_digest" in result.stdout


def test_metadata_of_another_image_makes_verify_fail(stack: Stack, tmp_path: Path) -> None:
    creator = stack.chain.users[3]
    genuine = publish(stack, encode(photos.rocket()), creator, title="Rocket")
    # A registration whose digest names an intact document, written for another image.
    target = encode(photos.coffee(), "JPEG", quality=88)
    borrowed = publish(stack, target, creator, title="Coffee")
    register(stack, borrowed, creator, metadata_digest=genuine.metadata_digest)
    result = run(stack, tmp_path, target, "--json", name="coffee.jpg")
    assert result.returncode == 3, result.stdout
    body = as_json(result)
    assert body["verdict"] == "failed"
    statuses = {c["name"]: c["status"] for c in body["checks"]}
    assert statuses["metadata_digest"] == "pass" and statuses["metadata_sha256"] == "fail"
    assert "describes another file" in body["summary"]


def test_a_modified_image_is_not_registered_and_match_relies_on_the_service(
    stack: Stack, tmp_path: Path
) -> None:
    creator = stack.chain.users[0]
    original = encode(photos.astronaut()[::-1].copy())  # a registered photograph of its own
    publication = publish(stack, original, creator, title="Upside down")
    register(stack, publication, creator)
    modified = encode(photos.astronaut()[::-1][40:480, 30:500].copy(), "JPEG", quality=85)  # cropped, recompressed

    plain = run(stack, tmp_path, modified, name="copy.jpg")
    assert plain.returncode == 1 and plain.stdout.startswith("NOT REGISTERED")

    service = FastAPI()
    service.include_router(match_routes.router)
    index = MatchIndex.open(tmp_path / "index")
    index.add(publication.content_hash.hex(), original)
    service.state.match_index = index
    try:
        with serving(service) as api:
            matched = run(stack, tmp_path, modified, "--match", "--api", api, name="copy.jpg")
            matched_json = as_json(run(stack, tmp_path, modified, "--match", "--api", api, "--json", name="copy.jpg"))
    finally:
        index.close()
    assert matched.returncode == 1, "the file itself is still not registered"
    assert "RELIES ON THE SERVICE" in matched.stdout and api in matched.stdout
    assert f"nearest registered image: {publication.content_hash.hex()}" in matched.stdout
    assert f"held by {creator}" in matched.stdout
    match = matched_json["match"]
    assert match["relies_on_service"] is True and match["reference"] == publication.content_hash.hex()
    assert match["certificate"]["holder"] == creator and match["edits"]["coverage"] < 1

    with serving(create_app(settings(stack, tmp_path))) as api:  # the real app: matching needs a session
        refused = run(stack, tmp_path, modified, "--match", "--api", api, name="copy.jpg")
    assert refused.returncode == 1 and "RELIES ON THE SERVICE" in refused.stdout
    if "answered 401" in refused.stdout:  # while the app keeps matching behind sign-in, the CLI says what is needed
        assert "signed-in session" in refused.stdout


def settings(stack: Stack, tmp_path: Path, **extra: object) -> Settings:
    return Settings(rpc_url=stack.rpc, deployments_dir=stack.deployments_dir, data_dir=tmp_path / "var",
                    ipfs_api_url=stack.ipfs.api_url, **extra)  # type: ignore[arg-type]


def test_the_http_side_verifies_and_serves_the_blocks(stack: Stack, tmp_path: Path) -> None:
    creator = stack.chain.users[1]
    original = encode(photos.coffee()[::-1].copy())
    publication = publish(stack, original, creator, title="Coffee, turned")
    register(stack, publication, creator)
    app = create_app(settings(stack, tmp_path))
    client = TestClient(app)

    answer = client.post("/v1/verify", files={"image": ("coffee.png", original, "image/png")})
    assert answer.status_code == 200, answer.text
    assert answer.json()["verdict"] == "verified" and answer.json()["certificate"]["holder"] == creator
    other = client.post("/v1/verify", files={"image": ("other.png", coffee_png(), "image/png")})
    assert other.status_code == 200 and other.json()["verdict"] == "not_registered"

    page = client.post("/verify", files={"image": ("coffee.png", original, "image/png")})
    assert page.status_code == 200 and "VERIFIED" in page.text and creator in page.text
    assert f'src="ipfs/{publication.preview_cid}"' in page.text

    block = client.get(f"/ipfs/{publication.metadata_cid}")
    assert block.status_code == 200 and hashlib.sha256(block.content).digest() == publication.metadata_digest
    assert block.headers["content-type"] == "application/json"
    assert client.get(f"/ipfs/{publication.preview_cid}").headers["content-type"] == "image/jpeg"
    started = time.monotonic()
    assert client.get(f"/ipfs/{hashlib.sha256(b'x').hexdigest()}").status_code == 400
    from tracemark.ipfs import raw_cid

    assert client.get(f"/ipfs/{raw_cid(b'never pinned')}").status_code == 404
    assert time.monotonic() - started < 5, "an unknown block is answered at once, not after the daemon's search"

    with serving(app) as api:  # the API as an IPFS gateway for the auditor's CLI (still checked against the chain)
        via_gateway = run(stack, tmp_path, original, "--gateway", api, "--json", ipfs=False)
        assert httpx.get(f"{api}/verify", timeout=10).status_code == 200
    assert via_gateway.returncode == 0, via_gateway.stdout + via_gateway.stderr
    assert as_json(via_gateway)["sources"]["ipfs"] == [f"gateway {api}"]
