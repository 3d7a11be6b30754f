"""Helpers of the evidence tests: a writer filled with realistic fetches."""

from __future__ import annotations

import random
from pathlib import Path

from tracemark.evidence.warc import EvidenceRef, EvidenceWriter


def fill(writer: EvidenceWriter, count: int, seed: int = 1) -> list[EvidenceRef]:
    """Records `count` fetches: pages and JPEG-like images of varying size."""
    rng = random.Random(seed)
    refs = []
    for i in range(count):
        if i % 2:
            body = b"\xff\xd8\xff\xe0" + rng.randbytes(rng.randint(200, 3000))
            headers = [("Content-Type", "image/jpeg"), ("Content-Length", str(len(body)))]
            url = f"http://shop.example.de:8080/img/{i}.jpg"
        else:
            body = f"<html lang='de'><body><h1>Seite {i}</h1><img src='/img/{i + 1}.jpg'></body></html>".encode()
            headers = [("Content-Type", "text/html; charset=utf-8"), ("Server", "test")]
            url = f"http://shop.example.de:8080/seite/{i}?q=ä"
        refs.append(writer.record(url=url, method="GET", request_headers={"User-Agent": "TracemarkBot/0.1",
                                                                            "Accept": "*/*"},
                                  status=200, response_headers=headers, body=body, peer_address="127.0.0.1"))
    return refs


def evidence_folder(directory: Path, count: int = 6, batch_size: int = 4, **kwargs: int) -> list[EvidenceRef]:
    with EvidenceWriter(directory, batch_size=batch_size, **kwargs) as writer:
        return fill(writer, count)
