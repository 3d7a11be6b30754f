"""Limits on every request: body size and rate, per client address, before any route runs.

- **Size.** A multipart upload may carry an original (`originals_max_bytes`) plus a little form overhead; any
  other body at most `request_max_bytes`. A declared `Content-Length` above the limit is refused at once; a body
  without one is counted while it is read, and refused (413) as soon as it passes the limit.
- **Rate.** A token bucket per client address: `rate_limit_per_minute` requests, and `rate_limit_auth_per_minute`
  for the sign-in endpoints (`/v1/auth/nonce`, `/v1/auth/login`), refilled continuously. Over the limit: 429 with
  `Retry-After`. Buckets live in the process (one API process per deployment; put a shared limiter in front when
  running several).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from fastapi import HTTPException, status
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tracemark.config import Settings

MULTIPART_OVERHEAD = 1024 * 1024
"""Room for the form fields and boundaries of a multipart upload, on top of the original."""

MAX_CLIENTS = 100_000
"""Buckets kept at most (least recently used dropped first), so the limiter's memory is bounded."""

_AUTH_PATHS = ("/v1/auth/nonce", "/v1/auth/login")


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Token buckets keyed by (client, class of endpoint)."""

    def __init__(self, per_minute: dict[str, int]) -> None:
        self.per_minute = per_minute
        self._buckets: OrderedDict[tuple[str, str], _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, client: str, kind: str, now: float | None = None) -> float:
        """Takes a token; returns 0 when allowed, else the seconds until a token is free."""
        now = time.monotonic() if now is None else now
        rate = self.per_minute[kind] / 60.0
        capacity = float(self.per_minute[kind])
        with self._lock:
            bucket = self._buckets.pop((client, kind), None) or _Bucket(capacity, now)
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.at) * rate)
            bucket.at = now
            self._buckets[(client, kind)] = bucket
            while len(self._buckets) > MAX_CLIENTS:
                self._buckets.popitem(last=False)
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / rate


class RequestLimits:
    """ASGI middleware enforcing the size and rate limits of every HTTP request."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.json_limit = settings.request_max_bytes
        self.upload_limit = settings.originals_max_bytes + MULTIPART_OVERHEAD
        self.limiter = RateLimiter({"default": settings.rate_limit_per_minute,
                                    "auth": settings.rate_limit_auth_per_minute})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = (scope.get("client") or ("unknown", 0))[0]
        path: str = scope.get("path", "")
        kind = "auth" if path in _AUTH_PATHS else "default"
        wait = self.limiter.take(client, kind)
        if wait > 0:
            await _answer(send, 429, "too many requests; slow down", {"retry-after": str(math.ceil(wait))})
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        content_type = headers.get("content-type", "").lower()
        limit = self.upload_limit if content_type.startswith("multipart/form-data") else self.json_limit
        declared = headers.get("content-length")
        if declared is not None:
            if not declared.isdigit():
                await _answer(send, 400, "malformed Content-Length")
                return
            if int(declared) > limit:
                await _answer(send, 413, f"request body larger than {limit} bytes")
                return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE,
                                        detail=f"request body larger than {limit} bytes")
            return message

        await self.app(scope, limited_receive, send)


async def _answer(send: Send, code: int, detail: str, extra: dict[str, str] | None = None) -> None:
    body = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": code, "headers": headers})
    await send({"type": "http.response.body", "body": body})
