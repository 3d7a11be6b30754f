"""A deployed dev chain (the real deploy script, once per session) and an app serving it, for the end-to-end tests."""

from __future__ import annotations

import io
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from PIL import Image
from web3 import HTTPProvider, Web3

from tests.backend.chainops import load_state, start_anvil
from tests.backend.conftest import free_port, wait_for_rpc
from tests.backend.integration.indexer.conftest import DeployedState
from tests.backend.integration.registration.support import CASEWORKER, make_app, sign_in, sign_text
from tracemark.chain.contracts import abi_of


@dataclass
class Stack:
    """A chain with the contracts and the API in front of it."""

    url: str
    client: TestClient
    deployed: DeployedState
    data_dir: Path

    @property
    def w3(self) -> Web3:
        return Web3(HTTPProvider(self.url))

    def certificate_contract(self) -> Any:
        address = self.deployed.deployment.address_of("ImageCertificate")
        return self.w3.eth.contract(address=address, abi=abi_of("ImageCertificate"))

    def fund(self, address: str) -> None:
        httpx.post(self.url, json={"jsonrpc": "2.0", "id": 1, "method": "anvil_setBalance",
                                   "params": [address, hex(10**20)]}, timeout=10).raise_for_status()

    def upload(self, account: LocalAccount, data: bytes, media_type: str = "image/jpeg") -> str:
        headers = sign_in(self.client, account)
        answer = self.client.post("/v1/originals", files={"image": ("photo", data, media_type)}, headers=headers)
        assert answer.status_code == 201, answer.text
        return str(answer.json()["sha256"])

    def apply(self, account: LocalAccount, sha256: str, title: str, creator_name: str = "",
              **extra: Any) -> httpx.Response:
        headers = sign_in(self.client, account)
        fields = {"original": sha256, "title": title, "creator_name": creator_name}
        text = self.client.post("/v1/registrations/declaration", json=fields, headers=headers).json()["text"]
        body = fields | {"declaration_signature": sign_text(account, text)} | extra
        return self.client.post("/v1/registrations", json=body, headers=headers)

    def register(self, account: LocalAccount, data: bytes, title: str, creator_name: str = "",
                 **extra: Any) -> dict[str, Any]:
        answer = self.apply(account, self.upload(account, data), title, creator_name, **extra)
        assert answer.status_code == 201, answer.text
        body: dict[str, Any] = answer.json()
        return body


@contextmanager
def running_stack(anvil_bin: str, deployed: DeployedState, data_dir: Path, database_url: str = "",
                  **settings: Any) -> Iterator[Stack]:
    """A fresh anvil (auto-mining) with the deployment loaded, and the real app on a temporary data folder."""
    port = free_port()
    proc: subprocess.Popen[bytes] = start_anvil(anvil_bin, port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_rpc(url, proc)
        load_state(url, deployed.state)
        app = make_app(data_dir, chain_id=None, rpc_url=url, deployments_dir=deployed.deployments_dir,
                       caseworkers=[CASEWORKER.address.lower()], database_url=database_url, **settings)
        with TestClient(app) as client:
            yield Stack(url, client, deployed, data_dir)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def stack(anvil_bin: str, deployed_state: DeployedState, tmp_path: Path) -> Iterator[Stack]:
    """The stack on SQLite."""
    with running_stack(anvil_bin, deployed_state, tmp_path) as running:
        yield running


@pytest.fixture
def pg_stack(anvil_bin: str, deployed_state: DeployedState, tmp_path: Path, postgres_url: str) -> Iterator[Stack]:
    """The stack on PostgreSQL (an emptied database of the shared server)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    with running_stack(anvil_bin, deployed_state, tmp_path, postgres_url) as running:
        yield running


def jpeg(im: Image.Image, quality: int = 92, **options: Any) -> bytes:
    buffer = io.BytesIO()
    im.save(buffer, "JPEG", quality=quality, **options)
    return buffer.getvalue()


def with_artist(im: Image.Image, artist: str) -> bytes:
    exif = Image.Exif()
    exif[0x013B] = artist
    return jpeg(im, exif=exif)


@contextmanager
def served(app: Any) -> Iterator[str]:
    """Serves an app over real HTTP (uvicorn on a loopback port, in a thread); yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)
