"""Which addresses the crawler may connect to, and how a URL's host is read.

The crawler fetches whatever pages link to, so every host it is given is hostile input. Two rules keep it
from being turned against the machine it runs on or the network around it (server-side request forgery):

1. **A host is read the way a resolver would read it.** `parse_host` turns a URL host into either a name (to
   be resolved) or an address. Numeric hosts are read like `inet_aton` and the WHATWG URL parser read them:
   `2130706433`, `0x7f.1`, `0177.0.0.1` and `127.1` are all 127.0.0.1. A host whose last label is numeric but
   that is not a valid address is refused rather than handed to DNS. IPv6 zone ids (`fe80::1%eth0`) are refused.
2. **Only global addresses pass.** `AddressPolicy.check` unwraps addresses that carry an IPv4 address inside
   an IPv6 one (IPv4-mapped `::ffff:a.b.c.d`, IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4
   `2002::/16`, Teredo `2001::/32`) and refuses the address when it or anything inside it is in a special-use
   range: private, loopback, link-local (with the cloud metadata address 169.254.169.254), shared address space
   (CGNAT, 100.64.0.0/10), documentation, benchmarking, multicast, reserved, unique-local IPv6 and the rest
   of the IANA special-purpose registries. Python's `is_global` is consulted as well, so either source refusing
   is enough. An explicit allow-list (CIDRs; empty by default) lets tests reach servers on 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_V4_SPECIAL: tuple[tuple[str, str], ...] = (
    ("0.0.0.0/8", "'this network'"),
    ("10.0.0.0/8", "private network"),
    ("100.64.0.0/10", "shared address space (CGNAT)"),
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local (cloud metadata)"),
    ("172.16.0.0/12", "private network"),
    ("192.0.0.0/24", "IETF protocol assignments"),
    ("192.0.2.0/24", "documentation"),
    ("192.31.196.0/24", "AS112"),
    ("192.52.193.0/24", "AMT"),
    ("192.88.99.0/24", "6to4 relay anycast"),
    ("192.168.0.0/16", "private network"),
    ("192.175.48.0/24", "AS112 direct delegation"),
    ("198.18.0.0/15", "benchmarking"),
    ("198.51.100.0/24", "documentation"),
    ("203.0.113.0/24", "documentation"),
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),
)
_V6_SPECIAL: tuple[tuple[str, str], ...] = (
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("::/96", "IPv4-compatible (deprecated)"),
    ("::ffff:0:0/96", "IPv4-mapped"),
    ("64:ff9b:1::/48", "local-use IPv4/IPv6 translation"),
    ("100::/64", "discard-only"),
    ("2001::/23", "IETF protocol assignments"),
    ("2001:db8::/32", "documentation"),
    ("2002::/16", "6to4"),
    ("3fff::/20", "documentation"),
    ("5f00::/16", "segment routing SIDs"),
    ("fc00::/7", "unique local"),
    ("fe80::/10", "link-local"),
    ("fec0::/10", "site-local (deprecated)"),
    ("ff00::/8", "multicast"),
)
_SPECIAL: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(net), why) for net, why in _V4_SPECIAL + _V6_SPECIAL
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_SIX_TO_FOUR = ipaddress.IPv6Network("2002::/16")
_TEREDO = ipaddress.IPv6Network("2001::/32")
_V4_COMPAT = ipaddress.IPv6Network("::/96")

_NAME_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_NUMERIC_PART = re.compile(r"^(0[xX][0-9a-fA-F]*|[0-9]+)$")


class HostError(ValueError):
    """A URL host that is neither a valid name nor a valid address."""


@dataclass(frozen=True, slots=True)
class Host:
    """A URL host, read: `address` for a numeric host, otherwise `name` (lower case, IDNA, no trailing dot)."""

    name: str | None = None
    address: IPAddress | None = None

    def __str__(self) -> str:
        return self.name if self.name is not None else str(self.address)


def _parse_ipv4_number(part: str) -> int:
    if part[:2] in ("0x", "0X"):
        return int(part[2:], 16) if len(part) > 2 else 0
    if len(part) > 1 and part.startswith("0"):
        if not all(c in "01234567" for c in part):
            raise HostError(f"bad octal number {part!r} in an IPv4 address")
        return int(part, 8)
    return int(part, 10)


def _parse_ipv4(host: str) -> ipaddress.IPv4Address:
    """Reads an IPv4 address in any spelling `inet_aton` accepts (1 to 4 parts; decimal, octal, hex)."""
    parts = host.split(".")
    if parts and parts[-1] == "":
        parts.pop()
    if not 1 <= len(parts) <= 4 or not all(_NUMERIC_PART.match(p) for p in parts):
        raise HostError(f"{host!r} looks like an IPv4 address but is not one")
    numbers = [_parse_ipv4_number(p) for p in parts]
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise HostError(f"{host!r} is out of range as an IPv4 address")
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def parse_host(host: str) -> Host:
    """Reads a URL host as a resolver would.

    Args:
        host: The host part of a URL (brackets around an IPv6 address allowed).

    Returns:
        The address for a numeric host, otherwise the normalised name.

    Raises:
        HostError: The host is empty, malformed, carries an IPv6 zone id, or is a number that is no address.
    """
    text = host.strip()
    if not text:
        raise HostError("empty host")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    if ":" in text:
        if "%" in text:
            raise HostError(f"IPv6 zone ids are not accepted: {host!r}")
        try:
            return Host(address=ipaddress.IPv6Address(text))
        except ValueError as exc:
            raise HostError(f"malformed IPv6 address {host!r}") from exc
    text = text.lower()
    labels = text.rstrip(".").split(".")
    if _NUMERIC_PART.match(labels[-1]):
        return Host(address=_parse_ipv4(text))
    try:
        ascii_name = text.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise HostError(f"host name {host!r} cannot be IDNA-encoded") from exc
    if len(ascii_name) > 253 or not all(_NAME_LABEL.match(label) for label in ascii_name.split(".")):
        raise HostError(f"malformed host name {host!r}")
    return Host(name=ascii_name)


def embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries (mapped, compatible, NAT64, 6to4, Teredo server and client)."""
    if isinstance(address, ipaddress.IPv4Address):
        return []
    found: list[ipaddress.IPv4Address] = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address in _V4_COMPAT and int(address) > 1:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address in _NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if address in _SIX_TO_FOUR and address.sixtofour is not None:
        found.append(address.sixtofour)
    if address in _TEREDO and address.teredo is not None:
        found.extend(address.teredo)
    return found


def special_range(address: IPAddress) -> str | None:
    """Why an address (on its own, not unwrapped) is not global, or None when it is."""
    for network, why in _SPECIAL:
        if address.version == network.version and address in network:
            return f"{why} ({network})"
    if not address.is_global:
        return "not a global address"
    return None


@dataclass(frozen=True, slots=True)
class Verdict:
    """The answer of the policy for one address."""

    address: IPAddress
    allowed: bool
    reason: str


class AddressPolicy:
    """Global addresses only, plus an explicit allow-list.

    Args:
        allow: Networks (CIDR strings or networks) that are allowed although not global, e.g. `127.0.0.0/8`
            for tests against local servers. An address inside an allowed network is allowed; for an IPv6
            address carrying an IPv4 one, the carried address may be the one inside.
    """

    def __init__(self, allow: Iterable[str | IPNetwork] = ()) -> None:
        self.allow: tuple[IPNetwork, ...] = tuple(
            n if isinstance(n, ipaddress.IPv4Network | ipaddress.IPv6Network) else parse_network(n) for n in allow
        )

    def _allowed_by_list(self, address: IPAddress) -> IPNetwork | None:
        for network in self.allow:
            if address.version == network.version and address in network:
                return network
        return None

    def check(self, address: IPAddress) -> Verdict:
        """Decides whether the crawler may connect to `address`."""
        inner = embedded_ipv4(address)
        for candidate in (address, *inner):
            network = self._allowed_by_list(candidate)
            if network is not None:
                return Verdict(address, True, f"allow-listed ({network})")
        for candidate in inner:
            why = special_range(candidate)
            if why is not None:
                return Verdict(address, False, f"{address} carries {candidate}: {why}")
        why = special_range(address)
        if why is not None:
            return Verdict(address, False, f"{address}: {why}")
        return Verdict(address, True, "global")


def parse_network(text: str) -> IPNetwork:
    """Reads a CIDR (`127.0.0.0/8`, `::1/128`; a bare address means a single host).

    Raises:
        ValueError: Not a network.
    """
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError as exc:
        raise ValueError(f"not a network (CIDR): {text!r}") from exc


__all__ = [
    "AddressPolicy",
    "Host",
    "HostError",
    "IPAddress",
    "IPNetwork",
    "Verdict",
    "embedded_ipv4",
    "parse_host",
    "parse_network",
    "special_range",
]
