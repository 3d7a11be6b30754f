"""The reactor's name resolver for a crawl: answers every connection from the `HostGuard`'s checked pins.

Scrapy builds it from the `TWISTED_DNS_RESOLVER` setting when the crawler process starts, and Twisted's
`HostnameEndpoint` (which every HTTP connection goes through) asks it for the addresses of a host, numeric
hosts included. It never asks DNS on its own: it returns what `HostGuard.resolve` checked (normally already
pinned by the downloader middleware), and an empty answer when the guard refuses, which fails the connection
before a socket exists. The simple (`IResolverSimple`) resolver of the reactor is replaced as well, so no
other code path of the reactor resolves names unchecked.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from typing import Any

from twisted.internet import defer, error
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import (
    IAddress,
    IHostnameResolver,
    IHostResolution,
    IResolverSimple,
)
from twisted.internet.threads import deferToThreadPool
from zope.interface import implementer  # type: ignore[import-untyped]

from tracemark.crawler.guard import BlockedHostError, HostGuard

log = logging.getLogger(__name__)

GUARD_SETTING = "TRACEMARK_HOST_GUARD"
"""The Scrapy setting that carries the crawl's `HostGuard` (shared by the resolver and the middleware)."""


@implementer(IHostResolution)
class _Resolution:
    def __init__(self, name: str) -> None:
        self.name = name

    def cancel(self) -> None:
        """Resolution is short and cannot be cancelled half-way; the connection attempt is cancelled instead."""


@implementer(IHostnameResolver, IResolverSimple)
class GuardedNameResolver:
    """`IHostnameResolver` (and `IResolverSimple`) answering from a `HostGuard`."""

    def __init__(self, reactor: Any, guard: HostGuard) -> None:
        self.reactor = reactor
        self.guard = guard

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> GuardedNameResolver:
        """Built by Scrapy with the crawler process; the guard comes from the `TRACEMARK_HOST_GUARD` setting."""
        guard = crawler.settings.get(GUARD_SETTING)
        if not isinstance(guard, HostGuard):
            raise RuntimeError(f"the {GUARD_SETTING} setting must hold a HostGuard")
        return cls(reactor, guard)

    def install_on_reactor(self) -> None:
        """Makes this the reactor's only resolver (simple and hostname interfaces)."""
        self.reactor.installResolver(self)
        self.reactor.installNameResolver(self)

    def _answer(self, host: str, port: int) -> defer.Deferred[tuple[Any, ...]]:
        pinned = self.guard.pinned(host, port)
        if pinned is not None:
            return defer.succeed(pinned)
        return deferToThreadPool(self.reactor, self.reactor.getThreadPool(), self.guard.resolve, host, port)

    def resolveHostName(  # noqa: N802 - Twisted's interface
        self,
        resolutionReceiver: Any,  # noqa: N803
        hostName: str,  # noqa: N803
        portNumber: int = 0,  # noqa: N803
        addressTypes: Sequence[type[IAddress]] | None = None,  # noqa: N803
        transportSemantics: str = "TCP",  # noqa: N803
    ) -> Any:
        """Reports the guard's checked addresses for the host (none when refused)."""
        resolution = _Resolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)

        def done(addresses: tuple[Any, ...]) -> None:
            for address in addresses:
                if isinstance(address, ipaddress.IPv6Address):
                    if addressTypes is None or IPv6Address in addressTypes:
                        resolutionReceiver.addressResolved(IPv6Address("TCP", str(address), portNumber))
                elif addressTypes is None or IPv4Address in addressTypes:
                    resolutionReceiver.addressResolved(IPv4Address("TCP", str(address), portNumber))
            resolutionReceiver.resolutionComplete()

        def failed(failure: Any) -> None:
            if failure.check(BlockedHostError):
                log.info("connection refused by the fetch guard: %s", failure.value)
            else:
                log.warning("name resolution failed for %s: %s", hostName, failure.value)
            resolutionReceiver.resolutionComplete()

        self._answer(hostName, portNumber).addCallbacks(done, failed)
        return resolution

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> defer.Deferred[str]:  # noqa: N802
        """The simple interface: the first checked address, or a DNS lookup error when refused."""

        def first(addresses: tuple[Any, ...]) -> str:
            return str(addresses[0])

        def refused(failure: Any) -> Any:
            if failure.check(BlockedHostError):
                raise error.DNSLookupError(str(failure.value))
            return failure

        return self._answer(name, 0).addCallbacks(first, refused)


__all__ = ["GUARD_SETTING", "GuardedNameResolver"]
