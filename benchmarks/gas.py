"""Gas used per Tracemark operation on a local chain, next to an OpenZeppelin ERC721URIStorage mint.

    .venv/bin/python benchmarks/gas.py [--network ethereum:local:test]

Prints one JSON object. Where the first and a later call cost differently (a new storage slot for a holder, a
licensee or a recipient of CPY), both are printed: `<op>` is the first, costlier case; `<op>_warm` the later one.
The approve path approves exactly the price right before buying, as the web app does (the allowance returns to
zero); `buyLicence_remaining_allowance` is the same purchase when a larger allowance stays behind.
Goals (issue "Chain foundation"): register <= 130,000; buyLicence <= 110,000; settleClaim <= 130,000.
Attestation nonces are 64-bit numbers with no zero byte, the costliest calldata a verifier can produce.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("SOLCX_BINARY_PATH", str(ROOT / "tools" / "solc"))
os.environ["PATH"] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}"
os.chdir(ROOT)

from ape import accounts, chain, networks, project  # noqa: E402

from tracemark.chain.eip712 import (  # noqa: E402
    CERTIFICATE_DOMAIN,
    CPY_DOMAIN,
    MARKET_DOMAIN,
    Domain,
    Permit,
    Registration,
    SettlementQuote,
    sign,
)

GOALS = {"register": 130_000, "buyLicence": 110_000, "settleClaim": 130_000}
WEB, PRINT = 1, 2
CPY = 10**18
YEAR = 365 * 86400


def _domain(name_version: tuple[str, str], contract: object) -> Domain:
    return Domain(name_version[0], name_version[1], chain.chain_id, contract.address)  # type: ignore[attr-defined]


def measure() -> dict[str, int]:
    """Deploys the contracts and returns the gas of each operation."""
    deployer, verifier, settler, anchorer, treasury, alice, bob, carol, dave, relayer = accounts.test_accounts[:10]
    cpy = deployer.deploy(project.CPYToken, treasury, 10**9 * CPY)
    cert = deployer.deploy(project.ImageCertificate, 0, deployer)
    market = deployer.deploy(project.LicenseMarket, cpy, cert, treasury, 1000, 0, deployer)
    anchor = deployer.deploy(project.EvidenceAnchor, 0, deployer)
    cert.grantRole(cert.VERIFIER_ROLE(), verifier, sender=deployer)
    market.grantRole(market.SETTLEMENT_ROLE(), settler, sender=deployer)
    anchor.grantRole(anchor.ANCHOR_ROLE(), anchorer, sender=deployer)
    baseline = deployer.deploy(project.URIStorageBaseline)
    cert_domain, market_domain, cpy_domain = (
        _domain(CERTIFICATE_DOMAIN, cert), _domain(MARKET_DOMAIN, market), _domain(CPY_DOMAIN, cpy))
    deadline = chain.pending_timestamp + 3600
    gas: dict[str, int] = {}

    def register(creator: object, n: int, key: str) -> int:
        content = hashlib.sha256(f"image {n}".encode()).digest()
        reg = Registration(creator.address, content, hashlib.sha256(f"meta {n}".encode()).digest(),  # type: ignore[attr-defined]
                           hashlib.sha256(f"fp {n}".encode()).digest(), 500, 2**64 - 1 - n, deadline)
        receipt = cert.register(tuple(vars(reg).values()), sign(reg, cert_domain, verifier.private_key).signature,
                                sender=relayer)
        gas[key] = receipt.gas_used
        return int.from_bytes(content, "big")

    token_a = register(alice, 1, "register")
    register(alice, 2, "register_warm")
    token_b = register(bob, 3, "register_other_creator")

    uri = "ipfs://bafkreidgvpkjawlxz6sffxzwgooowe5yt7i6wsyg236mfoks77nywkptdq"
    gas["baseline_ERC721URIStorage_mint"] = baseline.mint(alice, uri, sender=relayer).gas_used
    gas["baseline_ERC721URIStorage_mint_warm"] = baseline.mint(alice, uri, sender=relayer).gas_used

    gas["transfer"] = cert.transferFrom(alice, carol, token_a, sender=alice).gas_used
    gas["transfer_warm"] = cert.transferFrom(carol, bob, token_a, sender=carol).gas_used

    gas["setOffer"] = market.setOffer(token_b, WEB, 50 * CPY, YEAR, sender=bob).gas_used
    gas["setOffer_warm"] = market.setOffer(token_b, WEB, 40 * CPY, YEAR, sender=bob).gas_used
    market.setOffer(token_b, PRINT, 80 * CPY, 0, sender=bob)

    for buyer in (carol, dave):
        cpy.transfer(buyer, 1_000 * CPY, sender=treasury)
    # bob has never held CPY: the first sale creates his balance slot.
    cpy.approve(market, 40 * CPY, sender=carol)
    gas["buyLicence"] = market.buyLicence(token_b, WEB, carol, 40 * CPY, YEAR, sender=carol).gas_used
    cpy.approve(market, 80 * CPY, sender=carol)
    gas["buyLicence_warm"] = market.buyLicence(token_b, PRINT, carol, 80 * CPY, 0, sender=carol).gas_used
    cpy.approve(market, 10**6 * CPY, sender=carol)
    gas["buyLicence_remaining_allowance"] = market.buyLicence(
        token_b, WEB, relayer, 40 * CPY, YEAR, sender=carol
    ).gas_used

    permit = Permit(dave.address, market.address, 40 * CPY, cpy.nonces(dave), deadline)
    sig = sign(permit, cpy_domain, dave.private_key)
    gas["buyLicenceWithPermit"] = market.buyLicenceWithPermit(
        token_b, WEB, dave, 40 * CPY, YEAR, deadline, sig.v, sig.r, sig.s, sender=dave).gas_used

    for n, (payer, key) in enumerate(((carol, "settleClaim"), (dave, "settleClaim_warm"))):
        quote = SettlementQuote(hashlib.sha256(f"case {n}".encode()).digest(), token_a, payer.address, 300 * CPY,
                                7000, 3, 0, deadline)
        cpy.approve(market, quote.amount, sender=payer)
        signature = sign(quote, market_domain, settler.private_key).signature
        gas[key] = market.settleClaim(tuple(vars(quote).values()), signature, sender=payer).gas_used

    root = hashlib.sha256(b"batch 1").digest()
    gas["anchorEvidence"] = anchor.anchor(root, 128, "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi",
                                          sender=anchorer).gas_used
    return gas


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", default="ethereum:local:test", help="Ape network choice")
    args = parser.parse_args()
    with networks.parse_network_choice(args.network):
        gas = measure()
    gas["register_vs_baseline"] = round(gas["register"] / gas["baseline_ERC721URIStorage_mint"], 3)  # type: ignore[assignment]
    print(json.dumps(gas, indent=2))
    over = {op: gas[op] for op, goal in GOALS.items() if gas[op] > goal}
    if over:
        print(f"over goal: {over}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
