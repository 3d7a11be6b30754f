"""The API when its chain is down or has no deployment: clear, honest answers instead of errors."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.backend.conftest import free_port
from tracemark.api import create_app
from tracemark.config import Settings


def client_for(tmp_path: Path, rpc_url: str) -> TestClient:
    settings = Settings(rpc_url=rpc_url, deployments_dir=tmp_path, rpc_timeout_s=1)
    return TestClient(create_app(settings))


def test_health_is_degraded_when_the_node_does_not_answer(tmp_path: Path) -> None:
    # Nothing listens on this loopback port: the connection is refused at once.
    client = client_for(tmp_path, f"http://127.0.0.1:{free_port()}")
    body = client.get("/health").json()
    assert body["status"] == "degraded"
    assert body["chain_id"] is None
    assert body["deployment"] is False
    assert any("no answer from" in p for p in body["problems"])


def test_contracts_is_503_with_the_reason_when_the_node_does_not_answer(tmp_path: Path) -> None:
    client = client_for(tmp_path, f"http://127.0.0.1:{free_port()}")
    response = client.get("/v1/contracts")
    assert response.status_code == 503
    assert "no answer from" in response.json()["detail"]


def test_openapi_schema_lists_the_routes(tmp_path: Path) -> None:
    client = client_for(tmp_path, f"http://127.0.0.1:{free_port()}")
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/health", "/v1/contracts"} <= set(paths)
    assert client.get("/docs").status_code == 200
