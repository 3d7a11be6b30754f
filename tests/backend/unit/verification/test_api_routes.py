"""`GET /ipfs/{cid}`, `POST /v1/verify` and the `/verify` page, without a chain (its absence is part of the test)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.backend.conftest import free_port
from tests.backend.unit.verification.images import astronaut_png
from tracemark.api import create_app
from tracemark.config import Settings
from tracemark.ipfs import raw_cid
from tracemark.ipfs.embedded import EmbeddedStore


def make_settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        rpc_url=f"http://127.0.0.1:{free_port()}", rpc_timeout_s=2, data_dir=tmp_path / "var",
        deployments_dir=tmp_path / "deployments", ipfs_api_url="", **extra,  # type: ignore[arg-type]
    )


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return TestClient(create_app(make_settings(tmp_path)))


def test_blocks_are_served_with_their_type_and_an_immutable_cache(tmp_path: Path, client: TestClient) -> None:
    store = EmbeddedStore(tmp_path / "var" / "ipfs")
    document = b'{"name":"Astronaut","tracemark":{}}'
    cid = store.put(document)
    answer = client.get(f"/ipfs/{cid}")
    assert answer.status_code == 200 and answer.content == document
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert answer.headers["etag"] == f'"{cid}"' and answer.headers["x-content-type-options"] == "nosniff"
    assert client.get(f"/ipfs/{cid}", headers={"If-None-Match": f'"{cid}"'}).status_code == 304

    jpeg = store.put(b"\xff\xd8\xff\xe0 a jpeg, as far as the first bytes go")
    assert client.get(f"/ipfs/{jpeg}").headers["content-type"] == "image/jpeg"
    other = store.put(b"<script>alert(1)</script>")
    assert client.get(f"/ipfs/{other}").headers["content-type"] == "application/octet-stream"
    base58 = "zb2rhZqtjrwjJqfraJTFumTJCLgTMnTs3AqYgD8PruoENyr4s"  # raw_cid(b"hello tracemark") in base58btc
    store.put(b"hello tracemark")
    assert client.get(f"/ipfs/{base58}").content == b"hello tracemark"


def test_unknown_bad_and_damaged_blocks(tmp_path: Path, client: TestClient) -> None:
    assert client.get(f"/ipfs/{raw_cid(b'never stored')}").status_code == 404
    dag_pb = "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi"  # a CIDv1, but not of a raw block
    cid_v0 = "QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG"
    for bad in ("hello", cid_v0, dag_pb, "b" + "a" * 58, "bafkrei" + "!" * 52):
        answer = client.get(f"/ipfs/{bad}")
        assert answer.status_code == 400, bad
        assert answer.json()["detail"]
    store = EmbeddedStore(tmp_path / "var" / "ipfs")
    cid = store.put(b"intact")
    next((tmp_path / "var" / "ipfs" / "blocks").rglob(cid)).write_bytes(b"damaged")
    assert client.get(f"/ipfs/{cid}").status_code == 502


def test_the_page_is_plain_html_without_external_assets(client: TestClient) -> None:
    page = client.get("/verify")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<form" in page.text and 'type="file"' in page.text and 'enctype="multipart/form-data"' in page.text
    assert "http://" not in page.text.replace(client.app.state.settings.rpc_url, "")  # type: ignore[attr-defined]
    assert "https://" not in page.text and "<script" not in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_verify_without_a_chain_is_unavailable_not_an_error(client: TestClient) -> None:
    answer = client.post("/v1/verify", files={"image": ("a.png", astronaut_png(), "image/png")})
    assert answer.status_code == 503
    body = answer.json()
    assert body["verdict"] == "unavailable" and body["file_sha256"]
    page = client.post("/verify", files={"image": ("a.png", astronaut_png(), "image/png")})
    assert page.status_code == 503 and "UNAVAILABLE" in page.text


def test_verify_refuses_empty_and_oversized_files(tmp_path: Path) -> None:
    client = TestClient(create_app(make_settings(tmp_path, verify_max_bytes=4096)))
    assert client.post("/v1/verify", files={"image": ("empty.png", b"", "image/png")}).status_code == 400
    big = client.post("/v1/verify", files={"image": ("big.png", b"x" * 5000, "image/png")})
    assert big.status_code == 413 and "larger than 4096" in big.json()["detail"]
    page = client.post("/verify", files={"image": ("big.png", b"x" * 5000, "image/png")})
    assert page.status_code == 413 and "larger than 4096" in page.text
    assert client.post("/v1/verify").status_code == 422, "the image field is required"


def test_verify_is_rate_limited_per_client(tmp_path: Path) -> None:
    client = TestClient(create_app(make_settings(tmp_path, verify_per_minute=3)))
    codes = [client.post("/v1/verify", files={"image": ("x.bin", b"abc", "image/png")}).status_code
             for _ in range(5)]
    assert codes[:3] == [503, 503, 503] and codes[3:] == [429, 429]
    limited = client.post("/v1/verify", files={"image": ("x.bin", b"abc", "image/png")})
    assert int(limited.headers["retry-after"]) >= 1
    assert client.post("/verify", files={"image": ("x.bin", b"abc", "image/png")}).status_code == 429


def test_html_of_a_result_is_escaped(tmp_path: Path, client: TestClient) -> None:
    page = client.post("/verify", files={"image": ("<img src=x onerror=alert(1)>.png", b"abc", "image/png")})
    assert "<img src=x" not in page.text and "&lt;img src=x onerror=alert(1)&gt;" in page.text
