"""The chain-state routes without a chain: input checks come first, then an honest 503."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.backend.conftest import free_port
from tracemark.api import create_app
from tracemark.api.chain_views import parse_address, parse_u256
from tracemark.config import Settings


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    settings = Settings(rpc_url=f"http://127.0.0.1:{free_port()}", deployments_dir=tmp_path, rpc_timeout_s=1,
                        data_dir=tmp_path / "var")
    return TestClient(create_app(settings))


def test_ids_and_addresses() -> None:
    assert parse_u256("255", "id") == parse_u256("0xff", "id") == "0" * 62 + "ff"
    upper = "0xF39FD6E51AAD88F6F4CE6AB8827279CFFFB92266"
    assert parse_address(upper, "a") == "0x" + upper[2:].lower()
    assert parse_address("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "a").startswith("0xf39fd6")


@pytest.mark.parametrize(("path", "params"), [
    ("/v1/certificates/0xzz", {}),
    ("/v1/certificates/" + "9" * 79, {}),
    ("/v1/certificates", {"holder": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92267"}),
    ("/v1/licences", {"certificate": "-1"}),
    ("/v1/settlements", {"payer": "nobody"}),
])
def test_bad_input_is_400_before_anything_else(client: TestClient, path: str, params: dict[str, str]) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 400
    assert response.json()["detail"]


def test_no_chain_and_no_index_is_503(client: TestClient) -> None:
    response = client.get("/v1/certificates/1")
    assert response.status_code == 503
    assert "no answer from" in response.json()["detail"]


def test_the_routes_are_in_the_openapi_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert {"/v1/certificates/{certificate_id}", "/v1/certificates", "/v1/licences", "/v1/settlements"} <= set(paths)
