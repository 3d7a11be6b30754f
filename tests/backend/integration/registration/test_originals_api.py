"""Uploading originals: checked and decoded whole before anything is kept, private to the uploader, and at least 50
hostile uploads that each get a clear 4xx and leave no file and no row behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.backend.integration.registration.hostile import good_jpeg, good_png, good_webp, hostile_uploads
from tests.backend.integration.registration.support import make_app, sign_in, wallet
from tracemark.store import Database
from tracemark.store.registration_models import Original

pytestmark = pytest.mark.integration

ALICE, BOB = wallet(0xA11CE), wallet(0xB0B)


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(make_app(tmp_path)) as c:
        yield c


def stored(tmp_path: Path) -> tuple[int, int]:
    """(files in the originals folder, rows in the originals table)."""
    folder = tmp_path / "originals"
    files = sum(1 for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0
    database = Database(f"sqlite:///{tmp_path / 'tracemark.db'}")
    with database.read() as session:
        rows = session.scalar(select(func.count()).select_from(Original)) or 0
    database.dispose()
    return files, rows


@pytest.mark.parametrize(("data", "media_type", "size"), [
    (good_jpeg(), "image/jpeg", (512, 512)), (good_png(), "image/png", (600, 400)),
    (good_webp(), "image/webp", (451, 300)),
])
def test_an_original_is_kept_for_its_uploader_only(client: TestClient, data: bytes, media_type: str,
                                                   size: tuple[int, int]) -> None:
    alice, bob = sign_in(client, ALICE), sign_in(client, BOB)
    answer = client.post("/v1/originals", files={"image": ("photo", data, media_type)}, headers=alice)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["width"], body["height"]) == size and body["media_type"] == media_type and body["size"] == len(data)
    download = client.get(f"/v1/originals/{body['sha256']}", headers=alice)
    assert download.status_code == 200 and download.content == data
    assert download.headers["content-type"] == media_type
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-disposition"].startswith("attachment")
    assert "sandbox" in download.headers["content-security-policy"]
    assert client.get(f"/v1/originals/{body['sha256']}", headers=bob).status_code == 404
    assert client.get(f"/v1/originals/{body['sha256']}").status_code == 401
    assert [o["sha256"] for o in client.get("/v1/originals", headers=alice).json()] == [body["sha256"]]
    assert client.get("/v1/originals", headers=bob).json() == []


def test_the_same_bytes_by_two_uploaders_are_stored_once(client: TestClient, tmp_path: Path) -> None:
    for account in (ALICE, BOB):
        answer = client.post("/v1/originals", files={"image": ("a.jpg", good_jpeg(), "image/jpeg")},
                             headers=sign_in(client, account))
        assert answer.status_code == 201
    assert stored(tmp_path) == (1, 2)
    sha = answer.json()["sha256"]
    assert client.get(f"/v1/originals/{sha}", headers=sign_in(client, ALICE)).status_code == 200
    assert client.get(f"/v1/originals/{sha}", headers=sign_in(client, wallet(7))).status_code == 404


@pytest.mark.parametrize("name", ["0" * 64, "../../etc/passwd", "zz", "0x" + "f" * 64])
def test_unknown_or_malformed_digests_are_404(client: TestClient, name: str) -> None:
    assert client.get(f"/v1/originals/{name}", headers=sign_in(client, ALICE)).status_code == 404


def test_hostile_uploads_are_refused_with_a_reason_and_nothing_is_stored(client: TestClient, tmp_path: Path) -> None:
    headers = sign_in(client, ALICE)
    cases = hostile_uploads()
    assert len(cases) >= 50
    answers = {}
    for name, data, declared in cases:
        answer = client.post("/v1/originals", files={"image": ("upload", data, declared)}, headers=headers)
        answers[name] = (answer.status_code, answer.json().get("detail"))
    failures = {name: a for name, a in answers.items() if not 400 <= a[0] < 500 or not isinstance(a[1], str)}
    assert failures == {}
    assert all(len(detail) > 15 for _, detail in answers.values()), answers
    assert stored(tmp_path) == (0, 0)
    assert answers["png decompression bomb (20000x20000)"][1].startswith("the image is too large to decode")
    assert "other data follow the end of the image" in answers["jpeg followed by a zip (polyglot)"][1]
    assert answers["jpeg declared as html"][0] == 415


def test_unauthenticated_uploads_are_401_and_store_nothing(client: TestClient, tmp_path: Path) -> None:
    answer = client.post("/v1/originals", files={"image": ("a.jpg", good_jpeg(), "image/jpeg")})
    assert answer.status_code == 401
    assert stored(tmp_path) == (0, 0)


def test_uploads_over_the_size_limit_are_413(tmp_path: Path) -> None:
    with TestClient(make_app(tmp_path, originals_max_bytes=50_000)) as c:
        headers = sign_in(c, ALICE)
        big = good_jpeg()  # about 70 kB
        answer = c.post("/v1/originals", files={"image": ("a.jpg", big, "image/jpeg")}, headers=headers)
        assert answer.status_code == 413 and "limit" in answer.json()["detail"]
        body = b"x" * 2_000_000

        def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is enforced while the body is read
            for start in range(0, len(body), 65_536):
                yield body[start : start + 65_536]

        streamed = c.post("/v1/originals", content=chunks(), headers=headers | {
            "content-type": "multipart/form-data; boundary=xyz"})
        assert streamed.status_code == 413
    assert stored(tmp_path) == (0, 0)


def test_malformed_forms_are_4xx(client: TestClient) -> None:
    headers = sign_in(client, ALICE)
    assert client.post("/v1/originals", json={"image": "x"}, headers=headers).status_code == 422
    assert client.post("/v1/originals", files={"other": ("a.jpg", good_jpeg(), "image/jpeg")},
                       headers=headers).status_code == 422
