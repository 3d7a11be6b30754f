"""The JSON-RPC calls the indexer makes, with the failures it must tell apart.

The client speaks plain JSON-RPC over httpx (web3's result formatting costs more than the whole decoding of a
log). The decode worker process uses `PlainHttpRpcClient` instead where it can (`client_for`): the same client over
the standard library's `http.client`, because importing httpx and building its first client takes about 0.17 s,
most of the worker's start-up.

The clients do not retry by themselves: the indexer decides, because a failed `eth_getLogs` over a wide range is
answered by a narrower range, and anything else by waiting and asking again (`Backoff`).
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import random
import re
import threading
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

from tracemark.chain.indexer.events import RawLog
from tracemark.chain.indexer.gcpause import gc_paused

# What providers say when an eth_getLogs answer would be too large (geth, erigon, nethermind, besu, reth,
# anvil, hosted providers). Such an error is answered by a narrower range, not by waiting.
_RANGE_HINTS = re.compile(
    r"too many|more than \d+|limit exceeded|exceed|response size|range (is )?too (large|wide|big)|block range"
    r"|query timeout|timed? ?out|try with this block range|max.*results",
    re.IGNORECASE,
)
_SUGGESTED_RANGE = re.compile(r"\[(0x[0-9a-fA-F]+),\s*(0x[0-9a-fA-F]+)\]")


class RpcError(Exception):
    """A JSON-RPC request failed."""


class RpcTransportError(RpcError):
    """No usable answer: connection refused or reset, an HTTP error status, a timeout, or a body that is not
    JSON-RPC. Worth retrying after a pause."""


class RpcTimeoutError(RpcTransportError):
    """The request timed out."""


class RpcResponseError(RpcError):
    """The node answered with a JSON-RPC error object."""

    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"{method}: error {code}: {message}")
        self.method = method
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[object, ...]:
        # Pickled with the constructor's arguments (it crosses over from the decode worker), notes included.
        return (type(self), (self.method, self.code, self.message), self.__dict__)


def is_range_too_large(exc: RpcError) -> bool:
    """Whether a failed `eth_getLogs` should be retried over a narrower range."""
    if isinstance(exc, RpcTimeoutError):
        return True
    return isinstance(exc, RpcResponseError) and bool(_RANGE_HINTS.search(exc.message))


def suggested_range_end(exc: RpcError) -> int | None:
    """The end of the range a provider suggests in its error (`... try with this block range [0x1, 0x2]`)."""
    if isinstance(exc, RpcResponseError):
        match = _SUGGESTED_RANGE.search(exc.message)
        if match:
            return int(match.group(2), 16)
    return None


@dataclass(frozen=True, slots=True)
class BlockHeader:
    """What the indexer needs of a block."""

    number: int
    hash: str
    parent_hash: str
    timestamp: int


class RpcClient:
    """A JSON-RPC endpoint for the indexer; safe to share between threads (httpx's pool is).

    Args:
        url: The endpoint.
        timeout_s: Timeout of one request (connect, read and write each).
    """

    def __init__(self, url: str, timeout_s: float = 30.0) -> None:
        import httpx  # here, not at module level: `PlainHttpRpcClient` (the decode worker's) never needs it

        self.url = url
        self.timeout_s = timeout_s
        # An http:// endpoint never negotiates TLS (and the client follows no redirects), so its client needs no
        # CA bundle: loading one takes 0.02 s, which every decode worker would pay before its first range.
        verify = not url.lower().startswith("http://")
        self._httpx = httpx
        self._http = httpx.Client(timeout=httpx.Timeout(timeout_s), headers={"content-type": "application/json"},
                                  verify=verify)
        self._ids = itertools.count(1)

    def close(self) -> None:
        """Closes the connection pool."""
        self._http.close()

    def _post(self, payload: Any, method: str) -> Any:
        with gc_paused():  # a large answer is a heap of small objects and no cycles (see gcpause)
            return self._post_unpaused(payload, method)

    def _post_unpaused(self, payload: Any, method: str) -> Any:
        status, content = self._exchange(json.dumps(payload).encode(), method)
        if status != 200:
            raise RpcTransportError(f"{method}: HTTP {status}: {_text(content)[:200]}")
        try:
            return json.loads(content)
        except ValueError as exc:
            raise RpcTransportError(f"{method}: the answer is not JSON: {_text(content)[:200]!r}") from exc

    def _exchange(self, body: bytes, method: str) -> tuple[int, bytes]:
        """POSTs a request body; returns the HTTP status and the answer's body.

        Raises:
            RpcTransportError: no answer (RpcTimeoutError for a timeout).
        """
        httpx = self._httpx
        try:
            response = self._http.post(self.url, content=body)
        except httpx.TimeoutException as exc:
            raise RpcTimeoutError(f"{method}: timed out after {self.timeout_s} s") from exc
        except httpx.HTTPError as exc:
            raise RpcTransportError(f"{method}: {type(exc).__name__}: {exc}") from exc
        return response.status_code, response.content

    @staticmethod
    def _result(method: str, body: Any) -> Any:
        if not isinstance(body, dict):
            raise RpcTransportError(f"{method}: not a JSON-RPC answer: {str(body)[:200]}")
        if body.get("error") is not None:
            error = body["error"]
            if isinstance(error, dict):
                raise RpcResponseError(method, int(error.get("code", 0)), str(error.get("message", "")))
            raise RpcResponseError(method, 0, str(error))
        if "result" not in body:
            raise RpcTransportError(f"{method}: a JSON-RPC answer without a result: {str(body)[:200]}")
        return body["result"]

    def call(self, method: str, params: list[Any]) -> Any:
        """One JSON-RPC call; returns its `result`.

        Raises:
            RpcTransportError: no usable answer (RpcTimeoutError for a timeout).
            RpcResponseError: the node answered with an error.
        """
        body = self._post({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}, method)
        return self._result(method, body)

    def batch(self, method: str, params: list[list[Any]]) -> list[Any]:
        """The same method with several parameter lists, in one HTTP request; results in order."""
        if not params:
            return []
        ids = [next(self._ids) for _ in params]  # next() on a count is atomic: the client is shared by threads
        payload = [{"jsonrpc": "2.0", "id": i, "method": method, "params": p} for i, p in zip(ids, params, strict=True)]
        body = self._post(payload, method)
        if not isinstance(body, list) or len(body) != len(params):
            raise RpcTransportError(f"{method}: a batch of {len(params)} got {str(body)[:200]}")
        by_id = {item.get("id"): item for item in body if isinstance(item, dict)}
        return [self._result(method, by_id.get(i)) for i in ids]

    def chain_id(self) -> int:
        """The chain id."""
        return int(self.call("eth_chainId", []), 16)

    def block_number(self) -> int:
        """The number of the latest block."""
        return int(self.call("eth_blockNumber", []), 16)

    def headers(self, numbers: list[int]) -> list[BlockHeader | None]:
        """The headers of some blocks (None for a block the chain does not have), in one request."""
        results = self.batch("eth_getBlockByNumber", [[hex(n), False] for n in numbers])
        return [None if r is None else _header(r) for r in results]

    def get_logs(self, addresses: list[str], from_block: int, to_block: int) -> list[RawLog]:
        """The logs of some contracts in a range of blocks (both ends included)."""
        logs = self.call(
            "eth_getLogs", [{"address": addresses, "fromBlock": hex(from_block), "toBlock": hex(to_block)}]
        )
        if not isinstance(logs, list):
            raise RpcTransportError(f"eth_getLogs: expected a list, got {str(logs)[:200]}")
        return cast(list[RawLog], logs)


class PlainHttpRpcClient(RpcClient):
    """`RpcClient` over the standard library's `http.client`, for a plain `http://` endpoint reached without a
    proxy: one kept-alive connection (requests are serialised; the decode worker makes one at a time), the same
    timeouts, answers and exceptions.

    Args:
        url: The endpoint (`http://host[:port][/path]`).
        timeout_s: Timeout of one request (connect, read and write each).
    """

    def __init__(self, url: str, timeout_s: float = 30.0) -> None:
        parts = urlsplit(url)
        if parts.scheme.lower() != "http" or not parts.hostname:
            raise ValueError(f"not a plain http:// URL: {url}")
        self.url = url
        self.timeout_s = timeout_s
        self._host, self._port = parts.hostname, parts.port or 80
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._connection: http.client.HTTPConnection | None = None
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def close(self) -> None:
        """Closes the connection."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

    def _exchange(self, body: bytes, method: str) -> tuple[int, bytes]:
        with self._lock:
            if self._connection is None:
                self._connection = http.client.HTTPConnection(self._host, self._port, timeout=self.timeout_s)
            connection = self._connection
            try:
                connection.request("POST", self._path, body=body, headers={"content-type": "application/json"})
                response = connection.getresponse()
                content = response.read()
            except TimeoutError as exc:
                self._drop(connection)
                raise RpcTimeoutError(f"{method}: timed out after {self.timeout_s} s") from exc
            except (OSError, http.client.HTTPException) as exc:
                self._drop(connection)
                raise RpcTransportError(f"{method}: {type(exc).__name__}: {exc}") from exc
            if response.will_close:
                self._drop(connection)
            return response.status, content

    def _drop(self, connection: http.client.HTTPConnection) -> None:
        connection.close()
        self._connection = None


_PROXY_VARIABLES = ("http_proxy", "all_proxy")


def client_for(url: str, timeout_s: float = 30.0) -> RpcClient:
    """The cheapest client to start for an endpoint: `PlainHttpRpcClient` for a plain http:// URL when no proxy
    is configured in the environment (httpx would honour one; `http.client` would not), else `RpcClient`."""
    proxied = any(os.environ.get(name) or os.environ.get(name.upper()) for name in _PROXY_VARIABLES)
    if url.lower().startswith("http://") and not proxied:
        return PlainHttpRpcClient(url, timeout_s)
    return RpcClient(url, timeout_s)


def _text(content: bytes) -> str:
    """An answer's body as text, for error messages."""
    return content.decode("utf-8", "replace")


def _header(raw: dict[str, Any]) -> BlockHeader:
    try:
        return BlockHeader(
            number=int(raw["number"], 16),
            hash=str(raw["hash"]).lower(),
            parent_hash=str(raw["parentHash"]).lower(),
            timestamp=int(raw["timestamp"], 16),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RpcTransportError(f"eth_getBlockByNumber: not a block: {str(raw)[:200]}") from exc


class Backoff:
    """Exponential back-off with full jitter: the n-th pause is uniform in [0, min(max, base * 2**n)], at least
    a tenth of that bound.

    Args:
        base_s: Bound of the first pause.
        max_s: Largest bound.
    """

    def __init__(self, base_s: float, max_s: float) -> None:
        self.base_s = base_s
        self.max_s = max_s
        self.failures = 0

    def next_delay(self) -> float:
        """Counts a failure and returns how long to wait before the next try."""
        bound = min(self.max_s, self.base_s * (2 ** min(self.failures, 30)))
        self.failures += 1
        return random.uniform(bound / 10, bound)  # noqa: S311 - jitter, not cryptography

    def reset(self) -> None:
        """A success: the next failure starts from the base again."""
        self.failures = 0
