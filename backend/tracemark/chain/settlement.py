"""Paying a settlement quote from the payer's own wallet: the one-transaction form the clearing portal's script
sends (`LicenseMarket.settleClaimWithPermit`), prepared on the server so the script only asks the wallet to sign
the permit and to send the call."""

from __future__ import annotations

import json
from typing import Any

from web3 import HTTPProvider, Web3

from tracemark.chain.contracts import abi_of
from tracemark.chain.eip712 import CPY_DOMAIN, Domain, Permit, SettlementQuote, typed_data
from tracemark.chain.node import ChainUnavailableError


def _word_positions(blank: str, marked: str) -> dict[str, int]:
    """Where (hex characters into `blank`) the words of the sentinel values v = 0xff, r = 0xaa.., s = 0xbb.. lie."""
    found: dict[str, int] = {}
    for at in range(10, len(marked), 64):
        word = marked[at : at + 64]
        if word == blank[at : at + 64]:
            continue
        name = {"0" * 62 + "ff": "v_at", "aa" * 32: "r_at", "bb" * 32: "s_at"}.get(word)
        if name is None or name in found:
            raise ValueError("unexpected layout of settleClaimWithPermit")
        found[name] = at
    if len(found) != 3:
        raise ValueError("unexpected layout of settleClaimWithPermit")
    return found


def wallet_payment(quote: SettlementQuote, signature: bytes, market_address: str, chain_id: int, node_url: str,
                   timeout_s: float, cpy_address: str) -> dict[str, Any]:
    """What a wallet needs to pay a signed settlement quote with one transaction: the EIP-2612 permit of exactly the
    quote's amount to the market (typed data for `eth_signTypedData_v4`, as a JSON text with every integer a decimal
    string), and the `settleClaimWithPermit` calldata with zero words where the permit's v, r and s go (and where
    they lie), with the payer's CPY balance.

    Raises:
        ChainUnavailableError: the node does not answer.
    """
    w3 = Web3(HTTPProvider(node_url, request_kwargs={"timeout": timeout_s}))
    token = w3.eth.contract(Web3.to_checksum_address(cpy_address), abi=abi_of("CPYToken"))
    payer = Web3.to_checksum_address(quote.payer)
    try:
        nonce = int(token.functions.nonces(payer).call())
        balance = int(token.functions.balanceOf(payer).call())
    except Exception as exc:  # web3 raises many transport errors; all mean the same here
        raise ChainUnavailableError(f"no answer from {node_url}: {exc}") from exc
    permit = Permit(owner=payer, spender=market_address, value=quote.amount, nonce=nonce, deadline=quote.deadline)
    document = typed_data(permit, Domain(*CPY_DOMAIN, chain_id=chain_id, verifying_contract=token.address))
    document["message"] = {k: str(v) if isinstance(v, int) else v for k, v in document["message"].items()}
    market = w3.eth.contract(Web3.to_checksum_address(market_address), abi=abi_of("LicenseMarket"))
    args = [tuple(vars(quote).values()), signature, quote.deadline]
    blank = market.encode_abi("settleClaimWithPermit", args=[*args, 0, b"\0" * 32, b"\0" * 32])
    marked = market.encode_abi("settleClaimWithPermit", args=[*args, 0xFF, b"\xaa" * 32, b"\xbb" * 32])
    return {"chain_id": chain_id, "payer": payer, "amount": str(quote.amount), "balance": str(balance),
            "sufficient": balance >= quote.amount, "deadline": quote.deadline,
            "permit": json.dumps(document, separators=(",", ":")),
            "tx": {"to": market.address, "data": blank, **_word_positions(blank, marked)}}
