"""The fetch guard: every host is resolved once, checked, and pinned to the addresses that were checked.

`HostGuard.resolve(host, port)` is the only way the crawler learns an address:

1. The host is read (`addresses.parse_host`): numeric spellings become addresses without any lookup.
2. A name is looked up in the static map first (`--resolve HOST:PORT:ADDRESS`, as curl has it), then, unless
   system DNS is turned off, with `getaddrinfo`.
3. Every address of the answer is checked by the `AddressPolicy`; if any is refused the host is refused
   (an answer that mixes a public and a private address is an attack, not an accident).
4. The checked answer is *pinned* for the crawl (`pin_ttl_s`). The downloader middleware calls `resolve`
   before a request is handed to the downloader (so a refusal is raised, logged and counted before any
   connection exists), and the reactor's name resolver (`GuardedNameResolver`) answers every connection
   from the same pin. A DNS answer that changes between the check and the connect therefore gains nothing:
   there is no second lookup. When a pin expires the next request resolves and checks again.

Refusals are kept in `HostGuard.refusals` (host, port, reason), so tests and the crawl report can show them.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tracemark.crawler.addresses import AddressPolicy, HostError, IPAddress, parse_host

SystemResolver = Callable[[str, int], Sequence[str]]
"""Looks a name up: (name, port) -> address strings. The default is `getaddrinfo`."""


class BlockedHostError(Exception):
    """The guard refused a host: malformed, unresolvable, or resolving to a non-allowed address."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(f"refused {host}:{port}: {reason}")
        self.host = host
        self.port = port
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Refusal:
    """One refusal, for the crawl report and for tests."""

    host: str
    port: int
    reason: str


@dataclass(frozen=True, slots=True)
class ResolveRule:
    """`HOST:PORT:ADDRESS`: a name mapped to an address for one crawl (port 0 or `*`: every port)."""

    host: str
    port: int
    address: IPAddress

    @classmethod
    def parse(cls, text: str) -> ResolveRule:
        """Reads `HOST:PORT:ADDRESS` (the address may be an IPv6 address, bracketed or not).

        Raises:
            ValueError: Malformed rule.
        """
        parts = text.strip().split(":", 2)
        if len(parts) != 3 or not parts[0] or not parts[2]:
            raise ValueError(f"--resolve wants HOST:PORT:ADDRESS, got {text!r}")
        host_text, port_text, address_text = parts
        try:
            host = parse_host(host_text)
        except HostError as exc:
            raise ValueError(str(exc)) from exc
        if host.name is None:
            raise ValueError(f"--resolve maps a host name, not an address: {text!r}")
        if port_text in ("*", ""):
            port = 0
        elif port_text.isdigit() and 0 < int(port_text) < 65536:
            port = int(port_text)
        else:
            raise ValueError(f"bad port in --resolve {text!r}")
        try:
            address = ipaddress.ip_address(address_text.strip("[]"))
        except ValueError as exc:
            raise ValueError(f"bad address in --resolve {text!r}") from exc
        return cls(host.name, port, address)


def system_resolver(name: str, port: int) -> list[str]:
    """`getaddrinfo` for TCP, addresses only (never called for numeric hosts)."""
    try:
        infos = socket.getaddrinfo(name, port or 80, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise BlockedHostError(name, port, f"name does not resolve ({exc})") from exc
    return [str(info[4][0]) for info in infos]


@dataclass(slots=True)
class _Pin:
    addresses: tuple[IPAddress, ...]
    expires: float


@dataclass
class HostGuard:
    """Resolves, checks and pins hosts for one crawl. Thread-safe.

    Args:
        policy: Which addresses are allowed.
        rules: Static `--resolve` mappings.
        dns: Look names up with the system resolver (`resolver`); False: only `rules` resolve names.
        resolver: The name lookup used when `dns` is on (tests pass their own; the default is getaddrinfo).
        pin_ttl_s: How long a checked answer is used before the host is resolved and checked again.
    """

    policy: AddressPolicy = field(default_factory=AddressPolicy)
    rules: Iterable[ResolveRule] = ()
    dns: bool = True
    resolver: SystemResolver = system_resolver
    pin_ttl_s: float = 300.0
    refusals: list[Refusal] = field(default_factory=list)
    lookups: list[tuple[str, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._rules = {(r.host, r.port): r.address for r in self.rules}
        self._pins: dict[tuple[str, int], _Pin] = {}
        self._lock = threading.Lock()

    def __deepcopy__(self, memo: dict[int, Any]) -> HostGuard:
        # Scrapy deep-copies its settings per crawler; the guard is a shared service, not data.
        return self

    def _refuse(self, host: str, port: int, reason: str) -> BlockedHostError:
        with self._lock:
            self.refusals.append(Refusal(host, port, reason))
        return BlockedHostError(host, port, reason)

    def _lookup(self, name: str, port: int) -> list[IPAddress]:
        static = self._rules.get((name, port), self._rules.get((name, 0)))
        if static is not None:
            return [static]
        if not self.dns:
            raise BlockedHostError(name, port, "name not mapped by --resolve and system DNS is off")
        with self._lock:
            self.lookups.append((name, port))
        answer = self.resolver(name, port)
        addresses: list[IPAddress] = []
        for text in answer:
            try:
                address = ipaddress.ip_address(str(text).split("%", 1)[0])
            except ValueError as exc:
                raise BlockedHostError(name, port, f"resolver gave a non-address {text!r}") from exc
            if address not in addresses:
                addresses.append(address)
        if not addresses:
            raise BlockedHostError(name, port, "name has no address")
        return addresses

    def resolve(self, host: str, port: int) -> tuple[IPAddress, ...]:
        """The checked addresses to connect to for `host:port` (pinned; the same answer until the pin expires).

        Raises:
            BlockedHostError: The host is malformed, does not resolve, or resolves to a refused address.
        """
        try:
            parsed = parse_host(host)
        except HostError as exc:
            raise self._refuse(host, port, str(exc)) from exc
        key = (str(parsed), port)
        now = time.monotonic()
        with self._lock:
            pin = self._pins.get(key)
            if pin is not None and pin.expires > now:
                return pin.addresses
        if parsed.address is not None:
            addresses = [parsed.address]
        else:
            assert parsed.name is not None
            try:
                addresses = self._lookup(parsed.name, port)
            except BlockedHostError as exc:
                raise self._refuse(host, port, exc.reason) from exc
        for address in addresses:
            verdict = self.policy.check(address)
            if not verdict.allowed:
                raise self._refuse(host, port, verdict.reason)
        pinned = tuple(addresses)
        with self._lock:
            self._pins[key] = _Pin(pinned, now + self.pin_ttl_s)
        return pinned

    def pinned(self, host: str, port: int) -> tuple[IPAddress, ...] | None:
        """The pinned answer for `host:port`, if one is live (no lookup)."""
        try:
            key = (str(parse_host(host)), port)
        except HostError:
            return None
        with self._lock:
            pin = self._pins.get(key)
        return pin.addresses if pin is not None and pin.expires > time.monotonic() else None

    def allows_peer(self, address: str | None) -> bool:
        """Whether a connected peer address is allowed (a last check on the response, defence in depth)."""
        if address is None:
            return True
        try:
            return self.policy.check(ipaddress.ip_address(address)).allowed
        except ValueError:
            return False


__all__ = ["BlockedHostError", "HostGuard", "Refusal", "ResolveRule", "SystemResolver", "system_resolver"]
