"""Ethereum wallets an operator publishes in its imprint: EIP-55 checksums, where they are found, what is not one."""

from __future__ import annotations

import json

import pytest

from tracemark.sites.operator import MAX_WALLETS, checksum_address, extract_operator, find_wallets, wallet_address

# The test vectors of EIP-55.
EIP55 = ["0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
         "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
         "0x52908400098527886E0F7030069857D2E4169EE7", "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
         "0xde709f2102306220921060314715629080e2fb77", "0x27b1fdb04752bbc536007a920d24acb045561c26"]
IMPRINT = "<h1>Impressum</h1><p>Muster GmbH<br>Musterweg 1<br>10115 Berlin</p><p>E-Mail: info@muster-gmbh.de</p>"


@pytest.mark.parametrize("address", EIP55)
def test_eip55_vectors(address: str) -> None:
    assert wallet_address(address) == checksum_address(address[2:])
    if address[2:] not in (address[2:].lower(), address[2:].upper()):
        assert checksum_address(address[2:]) == address


def test_a_mixed_case_address_needs_a_valid_checksum() -> None:
    good = EIP55[0]
    typo = good[:-1] + good[-1].swapcase()
    assert wallet_address(typo) is None
    assert wallet_address(good.lower()) == good  # no checksum to check
    assert wallet_address("0x" + good[2:].upper()) == good
    assert wallet_address("0X" + good[2:].lower()) == good


@pytest.mark.parametrize("text", [
    "0x" + "0" * 40,  # the zero address is nobody's
    "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",  # 39 digits
    "0x" + "ab" * 32,  # a transaction hash, not an address
    "10x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",  # inside a longer word
    "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaedf",  # 41 digits
    "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaeg",
])
def test_what_is_no_address(text: str) -> None:
    assert find_wallets(f"Wallet: {text}.") == []


def test_wallets_in_imprint_text_links_and_structured_data() -> None:
    org = {"@context": "https://schema.org", "@type": "Organization", "name": "Muster GmbH",
           "identifier": {"@type": "PropertyValue", "propertyID": "ethereum", "value": EIP55[2].lower()}}
    html = (f'<html><head><script type="application/ld+json">{json.dumps(org)}</script></head><body>{IMPRINT}'
            f"<p>Lizenzen kaufen wir mit der Wallet {EIP55[0]}.</p>"
            f'<p><a href="ethereum:{EIP55[1]}@1">Spenden</a> <a href="https://etherscan.io/address/{EIP55[3]}">'
            f"Explorer</a> <a href='https://example.org/tx/0x{'ab' * 32}'>tx</a></p>"
            f"<p>Alt (Tippfehler): {EIP55[0][:-1] + EIP55[0][-1].swapcase()}; wieder: {EIP55[0].lower()}</p>"
            "</body></html>")
    op = extract_operator(html, "https://shop.example.de/impressum")
    assert op is not None and op.name == "Muster GmbH"
    assert op.wallets == (EIP55[0], EIP55[1], EIP55[3], EIP55[2])
    assert op.as_dict()["wallets"] == list(op.wallets)
    assert json.loads(json.dumps(op.as_dict()))["wallets"] == list(op.wallets)


def test_no_wallets_and_bounded() -> None:
    op = extract_operator(IMPRINT, "https://shop.example.de/impressum")
    assert op is not None and op.wallets == () and op.as_dict()["wallets"] == []
    many = " ".join(f"0x{i:040x}" for i in range(1, 100))
    assert len(find_wallets(many)) == MAX_WALLETS
    assert extract_operator(f"<p>{EIP55[0]}</p>", "https://blog.example.de/post") is None  # a wallet alone is
    # no operator
