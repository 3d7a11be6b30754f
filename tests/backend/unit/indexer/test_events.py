"""Decoding logs: every Tracemark event shape, the ERC-20 / ERC-721 `Transfer` clash, unknown logs kept."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_utils.crypto import keccak

from tests.backend.unit.indexer.deployment import ADDRESSES, DEPLOYMENT
from tracemark.chain.indexer.events import EventDecoder, RawLog, UnknownLogError, block_of, pos

ALICE = "0x" + "a1" * 20
BOB = "0x" + "b0" * 20


def topic(signature: str) -> str:
    return "0x" + keccak(text=signature).hex()


def word(value: int | str) -> str:
    if isinstance(value, str):
        return "0x" + value[2:].rjust(64, "0")
    return "0x" + f"{value:064x}"


def log(contract: str, topics: list[str], data: bytes = b"", block: int = 7, index: int = 3) -> RawLog:
    return RawLog(address=ADDRESSES[contract], topics=topics, data="0x" + data.hex(), blockNumber=hex(block),
                  blockHash="0x" + "ab" * 32, transactionHash="0x" + "cd" * 32, transactionIndex="0x1",
                  logIndex=hex(index))


def test_erc20_and_erc721_transfer_share_a_topic_and_are_told_apart_by_address() -> None:
    decoder = EventDecoder(DEPLOYMENT)
    transfer = topic("Transfer(address,address,uint256)")
    nft = decoder.decode(log("ImageCertificate", [transfer, word(ALICE), word(BOB), word(2**255 + 1)]))
    assert (nft.contract, nft.name, nft.args) == ("ImageCertificate", "Transfer",
                                                  {"from": ALICE, "to": BOB, "tokenId": 2**255 + 1})
    cpy = decoder.decode(log("CPYToken", [transfer, word(ALICE), word(BOB)], encode(["uint256"], [10**18])))
    assert (cpy.contract, cpy.args["value"]) == ("CPYToken", 10**18)


def test_licence_record_with_all_its_fields() -> None:
    decoder = EventDecoder(DEPLOYMENT)
    data = encode(["uint8", "uint64", "uint64", "uint256", "address", "uint256"],
                  [2, 1_700_000_000, 2**64 - 1, 5 * 10**18, ALICE, 5 * 10**17])
    event = decoder.decode(log("LicenseMarket", [
        topic("LicencePurchased(uint256,uint256,address,uint8,uint64,uint64,uint256,address,uint256)"),
        word(99), word(42), word(BOB)], data))
    assert event.args == {"licenceId": 99, "certificateId": 42, "licensee": BOB, "kind": 2, "start": 1_700_000_000,
                          "end": 2**64 - 1, "price": 5 * 10**18, "holder": ALICE, "platformFee": 5 * 10**17}
    assert event.pos == pos(7, 3) and block_of(event.pos) == 7
    assert event.args_json().count('"18446744073709551615"') == 1, "big integers are strings in JSON"


def test_strings_are_decoded_and_stored_events_decode_again() -> None:
    decoder = EventDecoder(DEPLOYMENT)
    root = "0x" + "12" * 32
    data = encode(["uint256", "string", "uint256"], [3, "bafkreiexample", 1_700_000_123])
    raw = log("EvidenceAnchor", [topic("EvidenceAnchored(bytes32,uint256,string,address,uint256)"), root,
                                 word(ALICE)], data)
    event = decoder.decode(raw)
    assert event.args == {"root": root, "count": 3, "batchCid": "bafkreiexample", "anchorer": ALICE,
                          "timestamp": 1_700_000_123}
    assert len(event.topics) == 64, "topic 0 is implied by the event name"
    assert decoder.decode_stored(event.address, event.name, event.topics, event.data) == dict(event.args)


def test_arguments_only_where_asked_and_unknown_logs_are_kept_not_lost() -> None:
    decoder = EventDecoder(DEPLOYMENT, args_of=frozenset({("LicenseMarket", "OfferWithdrawn")}))
    approval = log("CPYToken", [topic("Approval(address,address,uint256)"), word(ALICE), word(BOB)],
                   encode(["uint256"], [1]))
    assert decoder.decode(approval).args == {}
    strange = log("LicenseMarket", [topic("Nothing()")])
    with pytest.raises(UnknownLogError):
        decoder.decode(strange)
    kept = decoder.decode_or_keep(strange)
    assert (kept.contract, kept.name) == ("LicenseMarket", "UnknownLog")
    assert kept.topics == bytes.fromhex(topic("Nothing()")[2:]), "an unknown log keeps every topic"
