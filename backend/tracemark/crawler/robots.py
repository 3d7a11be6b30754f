"""robots.txt as RFC 9309 has it, parsed by Protego.

- One robots.txt per origin (scheme, host, port), fetched before the first other request to that origin;
  requests to the same origin wait for it.
- 2xx: the rules apply (the first 500 KiB are parsed, as the RFC allows). Redirects are followed (at most 5,
  each hop through the fetch guard).
- 4xx (including 404 and a redirect chain that never arrives): no rules, everything is allowed; except 429,
  which asks the crawler to back off and is treated like 5xx.
- 5xx, a network error, a timeout, or a host the fetch guard refuses: everything is disallowed.
- A result is cached for at most 24 hours (`ttl_s`, capped at 24 h), then fetched again.

The user agent's product token (`tracemark`) is what groups are matched against.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum

from protego import Protego

MAX_ROBOTS_BYTES = 500 * 1024
MAX_TTL_S = 24 * 3600.0


class RobotsState(Enum):
    """What an origin's robots.txt said."""

    RULES = "rules"
    ALLOW_ALL = "allow-all"
    DISALLOW_ALL = "disallow-all"


@dataclass(slots=True)
class RobotsRules:
    """The rules of one origin and when they were fetched."""

    state: RobotsState
    fetched_at: float
    parser: Protego | None = None
    why: str = ""

    @classmethod
    def from_response(cls, status: int | None, body: bytes, *, now: float | None = None) -> RobotsRules:
        """Rules from a fetch result (`status` None: the fetch failed or the guard refused the host)."""
        when = time.monotonic() if now is None else now
        if status is None:
            return cls(RobotsState.DISALLOW_ALL, when, why="robots.txt unreachable")
        if 200 <= status < 300:
            text = body[:MAX_ROBOTS_BYTES].decode("utf-8", errors="replace")
            return cls(RobotsState.RULES, when, Protego.parse(text), why=f"robots.txt {status}")
        if status == 429:  # "too many requests" asks us to back off: not a licence to fetch everything
            return cls(RobotsState.DISALLOW_ALL, when, why="robots.txt rate-limited (429)")
        if 400 <= status < 500 or 300 <= status < 400:
            return cls(RobotsState.ALLOW_ALL, when, why=f"robots.txt unavailable ({status})")
        return cls(RobotsState.DISALLOW_ALL, when, why=f"robots.txt unreachable ({status})")

    def allowed(self, url: str, user_agent: str) -> bool:
        """Whether `url` may be fetched by `user_agent` (its product token is what matters)."""
        if self.state is RobotsState.ALLOW_ALL:
            return True
        if self.state is RobotsState.DISALLOW_ALL:
            return False
        assert self.parser is not None
        return bool(self.parser.can_fetch(url, user_agent))

    def crawl_delay(self, user_agent: str) -> float | None:
        """The `Crawl-delay` for the agent, if the file gives one."""
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(user_agent)
        return float(delay) if delay is not None else None

    def fresh(self, ttl_s: float, now: float | None = None) -> bool:
        """Whether the cached result may still be used (never older than 24 h)."""
        when = time.monotonic() if now is None else now
        return when - self.fetched_at < min(ttl_s, MAX_TTL_S)


__all__ = ["MAX_ROBOTS_BYTES", "MAX_TTL_S", "RobotsRules", "RobotsState"]
