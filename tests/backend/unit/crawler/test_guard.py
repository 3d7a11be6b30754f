"""The fetch guard: how hosts are read, which addresses pass, and that a checked answer is pinned.

Every case runs behind the socket-level `NetGuard`: the guard must refuse before anything could connect, and
the guard's own lookups go to a test resolver, never to DNS. Each test ends by asserting that nothing tried
to leave the machine.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

import pytest

from tests.backend.netguard import NetGuard
from tracemark.crawler.addresses import AddressPolicy, HostError, embedded_ipv4, parse_host
from tracemark.crawler.guard import BlockedHostError, HostGuard, ResolveRule

# Names a hostile page could use, and what the (test) DNS answers for them.
TEST_DNS: dict[str, list[str]] = {
    "private10.evil.test": ["10.1.2.3"],
    "private172.evil.test": ["172.16.5.4"],
    "private192.evil.test": ["192.168.1.1"],
    "loopback.evil.test": ["127.0.0.1"],
    "metadata.evil.test": ["169.254.169.254"],
    "linklocal.evil.test": ["169.254.10.10"],
    "cgnat.evil.test": ["100.64.0.1"],
    "cgnat-top.evil.test": ["100.127.255.254"],
    "zero.evil.test": ["0.0.0.0"],
    "ula.evil.test": ["fd00::1"],
    "ipv6-linklocal.evil.test": ["fe80::1"],
    "ipv6-loopback.evil.test": ["::1"],
    "mapped.evil.test": ["::ffff:10.0.0.1"],
    "mixed.evil.test": ["93.184.216.34", "10.0.0.1"],
    "multicast.evil.test": ["224.0.0.1"],
    "public.example.test": ["93.184.216.34"],
    "public6.example.test": ["2606:4700::1111"],
}

BLOCKED_HOSTS = [
    # private, loopback, link-local, metadata, CGNAT, other special-use IPv4
    "10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.254", "192.168.0.1", "127.0.0.1", "127.1.2.3",
    "169.254.169.254", "169.254.0.1", "100.64.0.1", "100.100.100.200", "0.0.0.0", "192.0.0.170",
    "192.0.2.10", "198.18.0.1", "198.51.100.7", "203.0.113.9", "224.0.0.251", "240.0.0.1", "255.255.255.255",
    # other spellings of 127.0.0.1 / 169.254.169.254 / 10.0.0.1
    "2130706433", "0x7f000001", "0x7f.0x0.0x0.0x1", "0177.0.0.1", "017700000001", "127.1", "127.0.1",
    "2852039166", "0xa9fea9fe", "0251.0376.0251.0376", "169.254.43518", "10.1", "0xa.0.0.1", "127.0.0.1.",
    # IPv6: loopback, unspecified, ULA, link-local, site-local, multicast, documentation
    "[::1]", "[::]", "[fd12:3456:789a::1]", "[fc00::1]", "[fe80::1]", "[fec0::1]", "[ff02::1]", "[2001:db8::1]",
    # IPv4 inside IPv6: mapped, compatible, NAT64, 6to4, Teredo
    "[::ffff:127.0.0.1]", "[::ffff:7f00:1]", "[::ffff:169.254.169.254]", "[::ffff:10.0.0.1]", "[::127.0.0.1]",
    "[64:ff9b::a9fe:a9fe]", "[64:ff9b::10.0.0.1]", "[2002:a9fe:a9fe::1]", "[2002:c0a8:0101::1]",
    "[2002:7f00:1::]", "[2001:0:4136:e378:8000:63bf:3fff:fdd2]",
    # names that resolve to such addresses
    "private10.evil.test", "private172.evil.test", "private192.evil.test", "loopback.evil.test",
    "metadata.evil.test", "linklocal.evil.test", "cgnat.evil.test", "cgnat-top.evil.test", "zero.evil.test",
    "ula.evil.test", "ipv6-linklocal.evil.test", "ipv6-loopback.evil.test", "mapped.evil.test",
    "mixed.evil.test", "multicast.evil.test",
    # names that do not resolve, or malformed hosts
    "unknown.evil.test", "256.1.1.1", "1.2.3.4.5", "0x1g.0.0.1", "08.0.0.1", "[fe80::1%25eth0]", "exa mple.com",
    "-bad-.example", "",
]


@pytest.fixture
def netguard() -> Iterator[NetGuard]:
    guard = NetGuard()
    guard.install()
    try:
        yield guard
    finally:
        NetGuard.uninstall()
    assert guard.attempts == [], f"something tried to leave the machine: {guard.attempts}"


def test_resolver(name: str, port: int) -> list[str]:
    if name not in TEST_DNS:
        raise BlockedHostError(name, port, "NXDOMAIN (test resolver)")
    return TEST_DNS[name]


test_resolver.__test__ = False  # type: ignore[attr-defined]


def guard(*allow: str) -> HostGuard:
    return HostGuard(policy=AddressPolicy(allow), resolver=test_resolver)


def test_there_are_at_least_forty_ssrf_cases() -> None:
    assert len(BLOCKED_HOSTS) >= 40


@pytest.mark.parametrize("host", BLOCKED_HOSTS)
def test_guard_refuses_before_any_connection(host: str, netguard: NetGuard) -> None:
    g = guard()
    with pytest.raises(BlockedHostError) as info:
        g.resolve(host.strip("[]") if host.startswith("[") else host, 80)
    assert info.value.reason
    assert len(g.refusals) == 1
    assert g.pinned(host, 80) is None


@pytest.mark.parametrize("host", ["93.184.216.34", "8.8.8.8", "[2606:4700::1111]", "public.example.test",
                                  "public6.example.test"])
def test_guard_passes_global_addresses_without_connecting(host: str, netguard: NetGuard) -> None:
    addresses = guard().resolve(host.strip("[]"), 443)
    assert addresses and all(a.is_global or embedded_ipv4(a) for a in addresses)


@pytest.mark.parametrize(("spelling", "address"), [
    ("2130706433", "127.0.0.1"), ("0x7f000001", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"), ("127.1", "127.0.0.1"),
    ("0x7f.1", "127.0.0.1"), ("10.1", "10.0.0.1"), ("169.254.43518", "169.254.169.254"), ("0", "0.0.0.0"),
    ("1.2.3.4.", "1.2.3.4"), ("[::ffff:7f00:1]", "::ffff:7f00:1"),
])
def test_numeric_spellings_are_read_as_a_resolver_would(spelling: str, address: str) -> None:
    assert parse_host(spelling).address == ipaddress.ip_address(address)


@pytest.mark.parametrize("name", ["Shop.Example.DE", "shop.example.de.", "bücher.example"])
def test_names_are_normalised(name: str) -> None:
    host = parse_host(name)
    assert host.address is None and host.name == host.name.lower() and not host.name.endswith(".")


@pytest.mark.parametrize("bad", ["256.0.0.1", "1.2.3.4.5", "0x100.0.0.1", "09.1.1.1", "fe80::1%eth0", "a..b"])
def test_malformed_hosts_are_errors(bad: str) -> None:
    with pytest.raises(HostError):
        parse_host(bad)


def test_unwrapping_finds_every_embedded_ipv4() -> None:
    carried = {
        "::ffff:10.0.0.1": "10.0.0.1", "64:ff9b::a9fe:a9fe": "169.254.169.254", "2002:c0a8:101::1": "192.168.1.1",
    }
    for outer, inner in carried.items():
        assert ipaddress.IPv4Address(inner) in embedded_ipv4(ipaddress.ip_address(outer))
    teredo = embedded_ipv4(ipaddress.ip_address("2001:0:4136:e378:8000:63bf:3fff:fdd2"))
    assert ipaddress.IPv4Address("65.54.227.120") in teredo and len(teredo) == 2


@pytest.mark.parametrize("host", ["::ffff:93.184.216.34", "2002:5db8:d822::1", "::93.184.216.34"])
def test_wrapped_forms_are_refused_even_around_a_global_address(host: str, netguard: NetGuard) -> None:
    """Real DNS answers never carry these forms; refusing them all leaves no parser differential to exploit."""
    with pytest.raises(BlockedHostError):
        guard().resolve(host, 80)


def test_allow_list_admits_local_test_servers_only(netguard: NetGuard) -> None:
    g = guard("127.0.0.0/8")
    assert g.resolve("127.0.0.1", 8080) == (ipaddress.ip_address("127.0.0.1"),)
    assert g.resolve("::ffff:127.0.0.1", 8080)
    for still_blocked in ("10.0.0.1", "169.254.169.254", "192.168.0.1", "::1"):
        with pytest.raises(BlockedHostError):
            g.resolve(still_blocked, 8080)


def test_resolve_rules_map_a_name_and_are_still_checked(netguard: NetGuard) -> None:
    rule = ResolveRule.parse("shop.example.de:8080:127.0.0.1")
    assert (rule.host, rule.port) == ("shop.example.de", 8080)
    open_guard = HostGuard(policy=AddressPolicy(["127.0.0.0/8"]), rules=[rule], dns=False)
    assert open_guard.resolve("shop.example.de", 8080) == (ipaddress.ip_address("127.0.0.1"),)
    with pytest.raises(BlockedHostError, match="system DNS is off"):
        open_guard.resolve("shop.example.de", 9090)  # another port is not mapped
    closed = HostGuard(policy=AddressPolicy(), rules=[rule], dns=False)
    with pytest.raises(BlockedHostError, match="loopback"):
        closed.resolve("shop.example.de", 8080)  # mapped, but 127.0.0.1 is not allowed without --allow-network
    for bad in ("shop.example.de:8080", "shop.example.de:x:127.0.0.1", "127.0.0.1:80:127.0.0.1", "a:80:nope"):
        with pytest.raises(ValueError):
            ResolveRule.parse(bad)
    assert ResolveRule.parse("h.example:443:[::1]").address == ipaddress.ip_address("::1")


def test_a_changing_dns_answer_gains_nothing(netguard: NetGuard) -> None:
    """The first answer is checked and pinned; the rebinding second answer is never asked for."""
    answers = iter([["127.0.0.1"], ["10.0.0.1"], ["169.254.169.254"]])
    asked: list[str] = []

    def rebinding(name: str, port: int) -> list[str]:
        asked.append(name)
        return next(answers)

    g = HostGuard(policy=AddressPolicy(["127.0.0.0/8"]), resolver=rebinding)
    first = g.resolve("rebind.example.com", 80)
    for _ in range(20):
        assert g.resolve("rebind.example.com", 80) == first
        assert g.pinned("rebind.example.com", 80) == first
    assert asked == ["rebind.example.com"]


def test_an_expired_pin_is_checked_again(netguard: NetGuard) -> None:
    answers = iter([["127.0.0.1"], ["10.0.0.1"]])
    g = HostGuard(policy=AddressPolicy(["127.0.0.0/8"]), resolver=lambda n, p: next(answers), pin_ttl_s=0.0)
    g.resolve("rebind.example.com", 80)
    with pytest.raises(BlockedHostError, match="private"):
        g.resolve("rebind.example.com", 80)


def test_default_resolver_goes_through_getaddrinfo(netguard: NetGuard) -> None:
    """The production resolver asks `getaddrinfo`; here the test DNS answers it, and nothing leaves."""
    netguard.dns = {"private.example.org": [["10.9.9.9"]], "ok.example.org": [["93.184.216.34"]]}
    g = HostGuard(policy=AddressPolicy())
    with pytest.raises(BlockedHostError, match="private"):
        g.resolve("private.example.org", 80)
    assert g.resolve("ok.example.org", 80) == (ipaddress.ip_address("93.184.216.34"),)
    assert netguard.lookups == ["private.example.org", "ok.example.org"]


def test_peer_check_is_a_last_line(netguard: NetGuard) -> None:
    g = guard("127.0.0.0/8")
    assert g.allows_peer("127.0.0.1") and g.allows_peer(None)
    assert not g.allows_peer("10.0.0.1") and not g.allows_peer("garbage")
