"""Which RPC failures narrow the range and which wait; the back-off's bounds; the two HTTP clients alike."""

from __future__ import annotations

from typing import Any

import pytest

from tests.backend.conftest import free_port
from tests.backend.unit.indexer.test_worker import StubNode
from tracemark.chain.indexer.rpc import (
    Backoff,
    PlainHttpRpcClient,
    RpcClient,
    RpcResponseError,
    RpcTimeoutError,
    RpcTransportError,
    client_for,
    is_range_too_large,
    suggested_range_end,
)


@pytest.mark.parametrize("message", [
    "query returned more than 10000 results",
    "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range",
    "block range is too wide",
    "exceed maximum block range: 5000",
    "query timeout exceeded",
])
def test_provider_limits_narrow_the_range(message: str) -> None:
    assert is_range_too_large(RpcResponseError("eth_getLogs", -32005, message))


def test_other_errors_wait_and_timeouts_narrow() -> None:
    assert not is_range_too_large(RpcResponseError("eth_getLogs", -32603, "internal error"))
    assert not is_range_too_large(RpcTransportError("eth_getLogs: HTTP 502"))
    assert is_range_too_large(RpcTimeoutError("eth_getLogs: timed out"))


def test_a_suggested_range_is_followed() -> None:
    error = RpcResponseError("eth_getLogs", -32602, "this block range should work: [0x10, 0x2f]")
    assert suggested_range_end(error) == 0x2F
    assert suggested_range_end(RpcResponseError("eth_getLogs", -1, "no hint")) is None


def test_backoff_grows_to_its_cap_with_jitter_and_resets() -> None:
    backoff = Backoff(0.5, 4.0)
    delays = [backoff.next_delay() for _ in range(8)]
    bounds = [0.5, 1, 2, 4, 4, 4, 4, 4]
    assert all(bound / 10 <= d <= bound for d, bound in zip(delays, bounds, strict=True))
    backoff.reset()
    assert backoff.next_delay() <= 0.5


def test_a_closed_port_is_a_transport_error() -> None:
    client = RpcClient(f"http://127.0.0.1:{free_port()}", timeout_s=1)
    with pytest.raises(RpcTransportError, match="eth_blockNumber"):
        client.block_number()


def test_the_plain_client_is_taken_only_for_http_without_a_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert type(client_for("http://127.0.0.1:8545")) is PlainHttpRpcClient
    assert type(client_for("https://node.example")) is RpcClient
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    assert type(client_for("http://127.0.0.1:8545")) is RpcClient


ANSWERS: dict[str, Any] = {
    "ok": "0x2a",
    "rpc_error": RuntimeError("query returned more than 10000 results"),
    "garbage": b"<html>gateway</html>",
    "hang": None,
}


@pytest.mark.parametrize("client_class", [RpcClient, PlainHttpRpcClient])
def test_both_clients_answer_and_fail_alike(client_class: type[RpcClient]) -> None:
    script = ["ok", "rpc_error", "garbage", "hang", "ok"]
    node = StubNode(lambda request: ANSWERS[script.pop(0)])
    client = client_class(node.url + "/rpc", timeout_s=0.5)
    try:
        assert client.block_number() == 42
        with pytest.raises(RpcResponseError) as error:
            client.block_number()
        assert (error.value.code, error.value.message) == (-32005, "query returned more than 10000 results")
        with pytest.raises(RpcTransportError, match="eth_blockNumber: the answer is not JSON"):
            client.block_number()
        with pytest.raises(RpcTimeoutError, match="eth_blockNumber: timed out"):
            client.block_number()
        assert client.block_number() == 42, "the client recovers after a timeout"
    finally:
        client.close()
        node.close()
    closed = client_class(f"http://127.0.0.1:{free_port()}", timeout_s=1)
    with pytest.raises(RpcTransportError, match="eth_blockNumber"):
        closed.block_number()
