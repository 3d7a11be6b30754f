"""A synthetic web for crawl tests: many sites (by Host header) on one real HTTP server on 127.0.0.1.

Each route answers with a status, headers and a body, optionally slowly (`drip_s` between chunks) or
endlessly (`endless`: chunks until the client hangs up). The server counts every request per (host, path),
so a test can prove that robots.txt-disallowed paths were never asked for.
"""

from __future__ import annotations

import io
import ssl
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageOps


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    drip_s: float = 0.0
    endless: bool = False


class SyntheticWeb:
    """Sites by host name; `url(host, path)` gives the address to link to."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.hits: Counter[tuple[str, str]] = Counter()
        self.sent: Counter[tuple[str, str]] = Counter()
        self.times: list[tuple[float, str, str]] = []
        self.user_agents: set[str] = set()
        self.port = 0
        self.scheme = "http"
        self._lock = threading.Lock()

    def url(self, host: str, path: str = "/") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def page(self, host: str, path: str, html: str, **kw: object) -> None:
        self.routes[(host, path)] = Route(body=html.encode("utf-8"), **kw)  # type: ignore[arg-type]

    def image(self, host: str, path: str, data: bytes, content_type: str = "image/jpeg", **kw: object) -> None:
        self.routes[(host, path)] = Route(body=data, content_type=content_type, **kw)  # type: ignore[arg-type]

    def robots(self, host: str, text: str, status: int = 200) -> None:
        self.routes[(host, "/robots.txt")] = Route(body=text.encode(), status=status, content_type="text/plain")

    def redirect(self, host: str, path: str, target: str, status: int = 302) -> None:
        self.routes[(host, path)] = Route(status=status, headers=[("Location", target)], content_type="text/plain")

    def remove(self, host: str, path: str) -> None:
        self.routes.pop((host, path), None)

    def hosts_hit(self, host: str) -> list[str]:
        return sorted(p for (h, p), n in self.hits.items() if h == host and n)

    def handler(self) -> type[BaseHTTPRequestHandler]:
        web = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                host = (self.headers.get("Host") or "").rsplit(":", 1)[0].lower()
                path = self.path.split("?", 1)[0].split("#", 1)[0]
                with web._lock:
                    web.hits[(host, path)] += 1
                    web.times.append((time.monotonic(), host, path))
                    web.user_agents.add(self.headers.get("User-Agent") or "")
                route = web.routes.get((host, path))
                if route is None:
                    route = Route(body=b"not found", status=404, content_type="text/plain")
                try:
                    self.send_response(route.status)
                    self.send_header("Content-Type", route.content_type)
                    for name, value in route.headers:
                        self.send_header(name, value)
                    if route.endless or route.drip_s:
                        self.send_header("Connection", "close")
                        self.end_headers()
                        self._stream(route, (host, path))
                        return
                    self.send_header("Content-Length", str(len(route.body)))
                    self.end_headers()
                    self.wfile.write(route.body)
                    with web._lock:
                        web.sent[(host, path)] += len(route.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _stream(self, route: Route, key: tuple[str, str]) -> None:
                chunk = b"<p>" + b"x" * 65536 + b"</p>\n"
                deadline = time.monotonic() + 60
                sent = 0
                while time.monotonic() < deadline:
                    piece = chunk if route.endless else route.body[sent:sent + 64]
                    if not piece:
                        break
                    self.wfile.write(piece)
                    self.wfile.flush()
                    sent += len(piece)
                    with web._lock:
                        web.sent[key] += len(piece)
                    if route.drip_s:
                        time.sleep(route.drip_s)
                self.close_connection = True

        return Handler

    @contextmanager
    def serving(self, tls_dir: Path | None = None) -> Iterator[SyntheticWeb]:
        """Serves on 127.0.0.1 (HTTPS with a fresh self-signed certificate when `tls_dir` is given)."""
        server = ThreadingHTTPServer(("127.0.0.1", 0), self.handler())
        server.daemon_threads = True
        if tls_dir is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*self_signed(tls_dir))
            server.socket = context.wrap_socket(server.socket, server_side=True)
            self.scheme = "https"
        self.port = int(server.server_address[1])
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()


def self_signed(folder: Path) -> tuple[str, str]:
    """A throw-away self-signed certificate and key (PEM files) for the test server."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "synthetic web")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return str(cert_path), str(key_path)


def scene(seed: int, w: int = 640, h: int = 480) -> Image.Image:
    """A photo-like synthetic picture: smooth noise with random rectangles (distinct per seed)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 1, (h // 16 + 1, w // 16 + 1, 3))
    im = Image.fromarray(np.clip(128 + 60 * base, 0, 255).astype(np.uint8)).resize((w, h), Image.BICUBIC)
    draw = ImageDraw.Draw(im)
    for _ in range(25):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        box = (x, y, x + int(rng.integers(10, 160)), y + int(rng.integers(10, 160)))
        draw.rectangle(box, fill=tuple(int(c) for c in rng.integers(0, 255, 3)), outline=(0, 0, 0))
    return im


def encode(im: Image.Image, fmt: str = "JPEG") -> bytes:
    out = io.BytesIO()
    im.convert("RGB").save(out, fmt, quality=88) if fmt == "JPEG" else im.save(out, fmt)
    return out.getvalue()


def crop(im: Image.Image) -> Image.Image:
    return im.crop((60, 40, 600, 440))


def mirror(im: Image.Image) -> Image.Image:
    return ImageOps.mirror(im)


def overlay(im: Image.Image) -> Image.Image:
    out = im.copy()
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, 400, 640, 480), fill=(20, 20, 20))
    draw.text((20, 420), "SALE -50% www.shop.example", fill=(255, 255, 0))
    draw.rectangle((520, 20, 620, 80), fill=(200, 0, 0))
    return out


def smaller(im: Image.Image) -> Image.Image:
    return im.resize((400, 300), Image.LANCZOS)
