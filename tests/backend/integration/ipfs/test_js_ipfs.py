"""The IPFS adapter against a real js-ipfs daemon on loopback, and against a daemon that lies."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.backend.conftest import free_port
from tracemark.ipfs import ContentUnavailableError, IntegrityError, raw_cid
from tracemark.ipfs.daemon import JsIpfsDaemon
from tracemark.ipfs.kubo import KuboStore

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JsIpfsDaemon]:
    d = JsIpfsDaemon(tmp_path_factory.mktemp("ipfs"), free_port(), free_port(), free_port())
    d.start()
    try:
        yield d
    finally:
        d.stop()


def test_put_pins_and_returns_the_local_cid(daemon: JsIpfsDaemon) -> None:
    store = KuboStore(daemon.api_url)
    data = json.dumps({"name": "Sunset", "tracemark": {"sha256": "00" * 32}}).encode()
    cid = store.put(data)
    assert cid == raw_cid(data)
    assert store.get(cid) == data
    assert store.has(cid)
    assert not store.has(raw_cid(b"something never added"))


def test_a_daemon_that_is_down_is_a_clear_error() -> None:
    store = KuboStore(f"http://127.0.0.1:{free_port()}", timeout_s=2)
    with pytest.raises(ContentUnavailableError, match=r"cannot be reached|did not store"):
        store.put(b"x")


class _LyingProxy:
    """Forwards to the daemon, and lets a test rewrite the answer of one API path."""

    def __init__(self, upstream: str, path: str, rewrite: Callable[[bytes], bytes]) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self._body()
                headers = {
                    k: v for k, v in self.headers.items()
                    if k.lower() not in {"host", "content-length", "transfer-encoding"}
                }
                answer = httpx.post(upstream + self.path, content=body, headers=headers, timeout=30)
                content = answer.content
                if self.path.startswith(path):
                    content = rewrite(content)
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("content-type", "application/octet-stream"))
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
                    return self.rfile.read(int(self.headers.get("Content-Length") or 0))
                chunks = []
                while True:
                    size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                    if size == 0:
                        self.rfile.readline()
                        return b"".join(chunks)
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=proxy.server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self.server.shutdown()


def test_a_daemon_returning_other_bytes_is_caught(daemon: JsIpfsDaemon) -> None:
    cid = KuboStore(daemon.api_url).put(b"the real metadata")
    proxy = _LyingProxy(daemon.api_url, "/api/v0/cat", lambda _: b"a different document")
    try:
        with pytest.raises(IntegrityError, match="do not match"):
            KuboStore(proxy.url).get(cid)
    finally:
        proxy.close()


def test_a_daemon_answering_another_cid_is_caught(daemon: JsIpfsDaemon) -> None:
    other = raw_cid(b"not what was sent")
    proxy = _LyingProxy(
        daemon.api_url, "/api/v0/add",
        lambda body: json.dumps(json.loads(body.splitlines()[-1]) | {"Hash": other}).encode(),
    )
    try:
        with pytest.raises(IntegrityError, match="answered CID"):
            KuboStore(proxy.url).put(b"what was sent")
    finally:
        proxy.close()


def test_restart_keeps_pins(tmp_path: Path) -> None:
    d = JsIpfsDaemon(tmp_path / "repo", free_port(), free_port(), free_port())
    d.start()
    try:
        cid = KuboStore(d.api_url).put(b"kept across restarts")
    finally:
        d.stop()
    d.start()
    try:
        assert KuboStore(d.api_url).get(cid) == b"kept across restarts"
    finally:
        d.stop()
