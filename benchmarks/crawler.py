"""Crawl rate with matching and evidence, next to a plain Scrapy crawl of the same site, in the same run.

    .venv/bin/python benchmarks/crawler.py [--pages 2000] [--images 5000] [--workers 2]

Generates a site of `--pages` pages and `--images` distinct JPEGs (256 x 192; every hundredth a crop of one
of ten registered images) served by a threaded HTTP server on 127.0.0.1 under the name bench.example.com,
then crawls it twice, each crawl in its own process (Twisted's reactor runs once per process):

1. **plain**: a minimal Scrapy spider (follow links, download every `img`), Scrapy's own robots.txt
   handling, nothing else;
2. **tracemark**: `tracemark crawl` with the fetch guard, RFC 9309 robots, image discovery, the matching
   engine (`--workers` threads) and WARC evidence.

Both use the same concurrency (16 in total and per host) and no delay. The server timestamps every request,
so both are measured the same way: the page rate is pages / (last page request - first request); the image
rate is images matched or downloaded / whole run (for tracemark that includes matching every image).
Prints one JSON object. Goal (issue 6): tracemark's page rate at least half the plain crawl's.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
HOST = "bench.example.com"
REGISTERED = 10


def picture(seed: int, w: int = 256, h: int = 192) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 1, (h // 8 + 1, w // 8 + 1, 3))
    im = np.clip(128 + 60 * base, 0, 255).astype(np.uint8)
    big = Image.fromarray(im).resize((w, h), Image.BICUBIC)
    arr = np.asarray(big).copy()
    for _ in range(12):
        x, y = int(rng.integers(0, w - 8)), int(rng.integers(0, h - 8))
        arr[y:y + int(rng.integers(4, 60)), x:x + int(rng.integers(4, 60))] = rng.integers(0, 255, 3)
    return Image.fromarray(arr)


def jpeg(im: Image.Image) -> bytes:
    out = io.BytesIO()
    im.save(out, "JPEG", quality=85)
    return out.getvalue()


def build_site(pages: int, images: int) -> tuple[dict[str, bytes], dict[str, Image.Image]]:
    """Path -> body; and the registered originals."""
    originals = {f"ref{i}": picture(10_000 + i, 640, 480) for i in range(REGISTERED)}
    site: dict[str, bytes] = {"/robots.txt": b"User-agent: *\nDisallow: /nowhere/\n"}
    per_page = [images // pages + (1 if i < images % pages else 0) for i in range(pages)]
    n = 0
    for i in range(pages):
        links = [2 * i + 1, 2 * i + 2, (i * 7 + 3) % pages]
        imgs = []
        for _ in range(per_page[i]):
            path = f"/img/{n}.jpg"
            if n % 100 == 0:
                ref = originals[f"ref{(n // 100) % REGISTERED}"]
                site[path] = jpeg(ref.crop((40, 30, 600, 450)).resize((256, 192)))
            else:
                site[path] = jpeg(picture(n))
            imgs.append(path)
            n += 1
        body = "".join(f'<a href="/p/{j}">{j}</a> ' for j in links if j < pages)
        body += "".join(f'<img src="{p}" alt="">' for p in imgs)
        site["/" if i == 0 else f"/p/{i}"] = f"<html lang=en><body>{body}</body></html>".encode()
    return site, originals


class Server:
    def __init__(self, site: dict[str, bytes]) -> None:
        self.site = site
        self.log: list[tuple[float, str]] = []
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: object) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                with lock:
                    outer.log.append((time.monotonic(), path))
                body = outer.site.get(path)
                status = 200 if body is not None else 404
                body = body if body is not None else b"not found"
                self.send_response(status)
                ctype = "image/jpeg" if path.endswith(".jpg") else "text/plain" if path.endswith(".txt") else \
                    "text/html; charset=utf-8"
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = int(self.httpd.server_address[1])
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def rates(self, started: float, ended: float) -> dict[str, float]:
        pages = [t for t, p in self.log if p == "/" or p.startswith("/p/")]
        images = [t for t, p in self.log if p.startswith("/img/")]
        first = min(t for t, _ in self.log)
        return {
            "pages": len(pages),
            "images": len(images),
            "pages_per_s": len(pages) / max(max(pages) - first, 1e-9),
            "images_per_s_whole_run": len(images) / max(ended - started, 1e-9),
            "seconds_whole_run": ended - started,
            "seconds_to_last_page": max(pages) - first,
        }


def plain_worker(url: str, port: int) -> None:
    """The plain Scrapy crawl (runs in its own process)."""
    import scrapy
    from scrapy.crawler import CrawlerProcess

    class Plain(scrapy.Spider):
        name = "plain"
        start_urls: ClassVar[list[str]] = [url]

        def parse(self, response):  # type: ignore[no-untyped-def]
            for src in response.css("img::attr(src)").getall():
                yield response.follow(src, callback=self.image)
            for href in response.css("a::attr(href)").getall():
                yield response.follow(href, callback=self.parse)

        def image(self, response):  # type: ignore[no-untyped-def]
            return None

    process = CrawlerProcess({
        "LOG_LEVEL": "ERROR", "ROBOTSTXT_OBEY": True, "CONCURRENT_REQUESTS": 16,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 16, "DOWNLOAD_DELAY": 0, "TELNETCONSOLE_ENABLED": False,
        "COOKIES_ENABLED": False,
    })
    process.crawl(Plain)
    process.start()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2, help="matching threads")
    parser.add_argument("--plain-worker", nargs=2, metavar=("URL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.plain_worker:
        plain_worker(args.plain_worker[0], int(args.plain_worker[1]))
        return 0

    t0 = time.monotonic()
    site, originals = build_site(args.pages, args.images)
    print(f"site generated: {args.pages} pages, {args.images} images in {time.monotonic() - t0:.1f}s",
          file=sys.stderr)
    server = Server(site)
    url = f"http://127.0.0.1:{server.port}/"
    named = f"http://{HOST}:{server.port}/"
    results: dict[str, object] = {"pages": args.pages, "images": args.images, "match_workers": args.workers}
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        from tracemark.matching import MatchIndex

        with MatchIndex.open(t / "index", create=True) as index:
            for name, im in originals.items():
                index.add(name, jpeg(im))

        server.log.clear()
        started = time.monotonic()
        subprocess.run([sys.executable, __file__, "--plain-worker", url, str(server.port)], check=True, cwd=ROOT)
        results["plain_scrapy"] = server.rates(started, time.monotonic())

        server.log.clear()
        env = dict(os.environ, TRACEMARK_CRAWL_DELAY_S="0", TRACEMARK_CRAWL_PER_HOST_CONCURRENCY="16",
                   TRACEMARK_CRAWL_MATCH_WORKERS=str(args.workers), TRACEMARK_DATA_DIR=str(t / "data"))
        out = t / "sightings.jsonl"
        started = time.monotonic()
        command = [str(ROOT / ".venv" / "bin" / "tracemark"), "crawl", named, "--depth", "50", "--max-pages",
                   str(args.pages + 10), "--index", str(t / "index"), "--resolve", f"{HOST}:{server.port}:127.0.0.1",
                   "--allow-network", "127.0.0.0/8", "--out", str(out), "--warc-dir", str(t / "warc"), "--quiet"]
        subprocess.run(command, check=True, cwd=ROOT, env=env)
        tracemark = server.rates(started, time.monotonic())
        sightings = [json.loads(line) for line in out.read_text().splitlines() if line.strip()]
        tracemark["sightings"] = len(sightings)
        tracemark["expected_sightings"] = sum(1 for p in site if p.startswith("/img/") and int(p[5:-4]) % 100 == 0)
        tracemark["warc_bytes"] = sum(f.stat().st_size for f in (t / "warc").rglob("*") if f.is_file())
        results["tracemark"] = tracemark
    plain_rate = results["plain_scrapy"]["pages_per_s"]  # type: ignore[index]
    results["page_rate_ratio"] = round(tracemark["pages_per_s"] / plain_rate, 3)
    results["goal_half_plain_page_rate_met"] = results["page_rate_ratio"] >= 0.5  # type: ignore[operator]
    server.httpd.shutdown()
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
