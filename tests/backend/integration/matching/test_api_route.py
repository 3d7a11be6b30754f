"""`POST /v1/match/search` on an app that mounts the router (the real app wires it with authentication)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tracemark.api.routes import match as match_route
from tracemark.matching import MatchIndex
from tracemark.matching.evaluation import jpeg_bytes, synthetic_scene


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    app = FastAPI()
    app.include_router(match_route.router)
    index = MatchIndex.open(tmp_path / "ix")
    index.add("alpha", jpeg_bytes(synthetic_scene(1)))
    app.state.match_index = index
    with TestClient(app) as c:
        yield c
    index.close()


def test_search_returns_the_cli_shape(client: TestClient) -> None:
    copy = jpeg_bytes(synthetic_scene(1).crop((0, 0, 500, 400)), 85)
    r = client.post("/v1/match/search", files={"image": ("copy.jpg", copy, "image/jpeg")})
    assert r.status_code == 200
    body = r.json()
    assert body["query"] == "copy.jpg"
    assert [m["id"] for m in body["matches"]] == ["alpha"]
    edits = body["matches"][0]["edits"]
    assert set(edits) >= {"crop_box", "coverage", "scale", "rotation_deg", "mirrored", "greyscale", "overlay_fraction"}


def test_unrelated_upload_has_no_match(client: TestClient) -> None:
    r = client.post("/v1/match/search", files={"image": ("o.jpg", jpeg_bytes(synthetic_scene(2)), "image/jpeg")})
    assert r.status_code == 200 and r.json()["matches"] == []


def test_unreadable_upload_is_422_with_error(client: TestClient) -> None:
    r = client.post("/v1/match/search", files={"image": ("bad.jpg", b"nope", "image/jpeg")})
    assert r.status_code == 422
    assert r.json() == {"query": "bad.jpg", "error": "not a recognised image format"}


def test_too_large_upload_is_413(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(match_route, "MAX_UPLOAD_BYTES", 1000)
    r = client.post("/v1/match/search", files={"image": ("big.jpg", jpeg_bytes(synthetic_scene(1)), "image/jpeg")})
    assert r.status_code == 413


def test_without_an_index_is_503() -> None:
    app = FastAPI()
    app.include_router(match_route.router)
    with TestClient(app) as c:
        r = c.post("/v1/match/search", files={"image": ("a.jpg", b"x", "image/jpeg")})
    assert r.status_code == 503
