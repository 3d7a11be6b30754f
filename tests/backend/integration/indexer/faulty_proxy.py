"""A loopback JSON-RPC proxy in front of anvil that fails on purpose: HTTP 500s, JSON-RPC errors, dropped
connections, answers slower than the client's timeout, garbage bodies, and "too many results" for wide
`eth_getLogs` ranges."""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


class FaultyProxy:
    """Forwards POSTs to `upstream`, failing a share of them. `faults` counts what was injected."""

    def __init__(self, upstream: str, *, failure_rate: float = 0.3, max_log_range: int = 8,
                 slow_s: float = 1.0, seed: int = 1) -> None:
        self.upstream = upstream
        self.failure_rate = failure_rate
        self.max_log_range = max_log_range
        self.slow_s = slow_s
        self.rng = random.Random(seed)
        self.faults: Counter[str] = Counter()
        self.requests = 0
        self.enabled = True
        self._lock = threading.Lock()
        self._client = httpx.Client(timeout=30)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                proxy.handle(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._client.close()

    def _fault(self, request: Any) -> str | None:
        with self._lock:
            self.requests += 1
            if not self.enabled:
                return None
            calls = request if isinstance(request, list) else [request]
            for call in calls:
                if call.get("method") == "eth_getLogs":
                    span = int(call["params"][0]["toBlock"], 16) - int(call["params"][0]["fromBlock"], 16) + 1
                    if span > self.max_log_range and self.rng.random() < 0.7:
                        return "too_many"
            if self.rng.random() >= self.failure_rate:
                return None
            return self.rng.choice(["http500", "rpc_error", "drop", "slow", "garbage", "http429"])

    def handle(self, handler: BaseHTTPRequestHandler, body: bytes) -> None:
        request = json.loads(body)
        fault = self._fault(request)
        if fault is not None:
            self.faults[fault] += 1
        if fault == "drop":
            handler.close_connection = True
            handler.connection.close()  # no answer at all
            return
        if fault == "slow":
            time.sleep(self.slow_s)
        if fault in ("http500", "http429"):
            self._send(handler, 500 if fault == "http500" else 429, b"upstream trouble")
            return
        if fault == "garbage":
            self._send(handler, 200, b"<html>gateway</html>")
            return
        if fault in ("rpc_error", "too_many"):
            message = ("query returned more than 10000 results" if fault == "too_many"
                       else "internal error: backend unavailable")
            code = -32005 if fault == "too_many" else -32603
            answer: Any = {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}
            if isinstance(request, list):
                answer = [dict(answer, id=call.get("id")) for call in request]
            else:
                answer["id"] = request.get("id")
            self._send(handler, 200, json.dumps(answer).encode())
            return
        try:
            upstream = self._client.post(self.upstream, content=body, headers={"content-type": "application/json"})
        except (httpx.HTTPError, RuntimeError):  # anvil gone, or the proxy closing
            self._send(handler, 502, b"no upstream")
            return
        self._send(handler, upstream.status_code, upstream.content)

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, code: int, content: bytes) -> None:
        try:
            handler.send_response(code)
            handler.send_header("content-type", "application/json")
            handler.send_header("content-length", str(len(content)))
            handler.end_headers()
            handler.wfile.write(content)
        except OSError:
            pass  # the client gave up (timeout) before the answer
