"""Decoding the logs of the Tracemark contracts into typed events.

The decoders are built once from the shipped ABIs (`tracemark.chain.contracts.abi_of`) and keyed by contract
address and topic 0: the ERC-20 and ERC-721 `Transfer` events share a signature, so the address decides.
Every event parameter of these contracts is a static word (address, uintN, bytes32, bool) or a `string`, so
decoding is slicing hex, with no general ABI decoder in the hot path of a back-fill.

A decoder is built from a `DecoderSpec`: plain, picklable data (addresses, contract names, event ABIs with their
topic 0). The indexer's decode worker (`tracemark.chain.indexer.worker`) receives one and builds its decoder from
it, so this module imports neither web3 nor a keccak implementation at module level: the worker starts in a
fraction of the time the full backend takes to import.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from tracemark.chain.deployments import Deployment

LOG_INDEX_BITS = 20
"""`pos = block_number << LOG_INDEX_BITS | log_index`; a block holds far fewer than 2**20 logs (30M gas / 375)."""

ArgValue = int | str | bool


class RawLog(TypedDict):
    """A log as `eth_getLogs` returns it (hex strings)."""

    address: str
    topics: list[str]
    data: str
    blockNumber: str
    blockHash: str
    transactionHash: str
    transactionIndex: str
    logIndex: str


def pos(block_number: int, log_index: int) -> int:
    """The position of a log in the chain: orders logs, and `pos < pos(B + 1, 0)` means "up to block B"."""
    return (block_number << LOG_INDEX_BITS) | log_index


def block_of(position: int) -> int:
    """The block of a position."""
    return position >> LOG_INDEX_BITS


@dataclass(slots=True)
class ChainLog:
    """A decoded event of a Tracemark contract, with where it sits in the chain, and the log's payload as the store
    keeps it, from which it can always be decoded again: `topics` are the indexed topics after topic 0 (which the
    contract and event name imply), 32 bytes each, and `data` the raw data. An `UnknownLog` keeps every topic.

    Addresses and hashes are lowercase `0x` hex; integers are Python ints; strings are text.
    """

    block_number: int
    block_hash: str
    tx_hash: str
    tx_index: int
    log_index: int
    address: str
    contract: str
    name: str
    args: Mapping[str, ArgValue]
    topics: bytes
    data: bytes

    @property
    def pos(self) -> int:
        """The log's position (see `pos`)."""
        return (self.block_number << LOG_INDEX_BITS) | self.log_index

    def args_json(self) -> str:
        """The arguments as JSON; integers beyond 2**53 as decimal strings, so no JSON reader loses digits."""
        return args_json(self.args)

    def row(self) -> LogRow:
        """The log as a `LogRow`."""
        return (self.pos, self.block_number, self.block_hash, self.tx_hash, self.tx_index, self.log_index,
                self.address, self.contract, self.name, self.args, self.topics, self.data)


def args_json(args: Mapping[str, ArgValue]) -> str:
    """Decoded arguments as JSON; integers beyond 2**53 as decimal strings, so no JSON reader loses digits."""
    return json.dumps(
        {k: (str(v) if type(v) is int and not -(2**53) < v < 2**53 else v) for k, v in args.items()},
        separators=(",", ":"),
    )


class UnknownLogError(Exception):
    """A log that no Tracemark ABI describes (a contract upgrade the backend does not know yet)."""


def _word_decoder(kind: str) -> Callable[[str], ArgValue]:
    """A decoder of one 64-hex-digit ABI word."""
    if kind == "address":
        return lambda word: "0x" + word[24:64]
    if kind.startswith("uint"):
        return lambda word: int(word, 16)
    if kind.startswith("int"):
        bits = 256

        def signed(word: str) -> int:
            value = int(word, 16)
            return value - (1 << bits) if value >> (bits - 1) else value

        return signed
    if kind == "bool":
        return lambda word: int(word, 16) != 0
    if kind == "bytes32":
        return lambda word: "0x" + word
    raise ValueError(f"no decoder for ABI type {kind}")


@dataclass(frozen=True, slots=True)
class _EventDecoder:
    contract: str
    name: str
    topics: tuple[tuple[str, Callable[[str], ArgValue] | None], ...]  # indexed parameters, in order
    data: tuple[tuple[str, str, Callable[[str], ArgValue] | None], ...]  # (name, type, word decoder or None)

    def decode(self, topics: list[str], data: str) -> dict[str, ArgValue]:
        args: dict[str, ArgValue] = {}
        for (name, decoder), topic in zip(self.topics, topics[1:], strict=True):
            # An indexed string is only its hash; none of the Tracemark events has one.
            args[name] = decoder(topic[2:]) if decoder is not None else topic
        body = data[2:]
        for i, (name, _kind, decoder) in enumerate(self.data):
            word = body[i * 64 : i * 64 + 64]
            if decoder is not None:
                args[name] = decoder(word)
            else:  # string: the word is the offset of (length, bytes)
                offset = int(word, 16) * 2
                length = int(body[offset : offset + 64], 16) * 2
                args[name] = bytes.fromhex(body[offset + 64 : offset + 64 + length]).decode("utf-8", "replace")
        return args


def _decoders_of(contract: str, events: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, _EventDecoder]:
    out: dict[str, _EventDecoder] = {}
    for topic0, item in events:
        inputs = item["inputs"]
        topics = tuple(
            (i["name"], None if i["type"] in ("string", "bytes") else _word_decoder(i["type"]))
            for i in inputs
            if i["indexed"]
        )
        data = tuple(
            (i["name"], i["type"], None if i["type"] == "string" else _word_decoder(i["type"]))
            for i in inputs
            if not i["indexed"]
        )
        out[topic0] = _EventDecoder(contract, item["name"], topics, data)
    return out


@dataclass(frozen=True, slots=True)
class DecoderSpec:
    """What an `EventDecoder` is built from, as plain data that pickles.

    Attributes:
        contracts: (lowercase address, contract name, ((topic 0, event ABI item), ...)) per contract, in the order
            of `tracemark.chain.deployments.CONTRACT_NAMES`.
        args_of: Decode the arguments only of these (contract, event) pairs; None decodes all.
    """

    contracts: tuple[tuple[str, str, tuple[tuple[str, Mapping[str, Any]], ...]], ...]
    args_of: frozenset[tuple[str, str]] | None = None

    @classmethod
    def of(cls, deployment: Deployment, args_of: frozenset[tuple[str, str]] | None = None) -> DecoderSpec:
        """The spec of a deployment's contracts, from the shipped ABIs."""
        # Imported here, not at module level: the decode worker builds its decoder from a spec without them.
        from eth_utils.crypto import keccak

        from tracemark.chain.contracts import abi_of
        from tracemark.chain.deployments import CONTRACT_NAMES

        contracts = []
        for name in CONTRACT_NAMES:
            events = []
            for item in abi_of(name):
                if item.get("type") != "event" or item.get("anonymous"):
                    continue
                signature = f"{item['name']}({','.join(i['type'] for i in item['inputs'])})"
                events.append(("0x" + keccak(text=signature).hex(), item))
            contracts.append((deployment.address_of(name).lower(), name, tuple(events)))
        return cls(tuple(contracts), args_of)


class EventDecoder:
    """Decodes the logs of one deployment's contracts.

    Args:
        deployment: The contracts.
        args_of: Decode the arguments only of these (contract, event) pairs; others get empty `args` (their raw
            topics and data are still there for `decode_stored`). None decodes all.
    """

    def __init__(self, deployment: Deployment, args_of: frozenset[tuple[str, str]] | None = None) -> None:
        self._build(DecoderSpec.of(deployment, args_of))

    @classmethod
    def from_spec(cls, spec: DecoderSpec) -> EventDecoder:
        """A decoder built from plain data (what the decode worker receives)."""
        decoder = cls.__new__(cls)
        decoder._build(spec)
        return decoder

    def _build(self, spec: DecoderSpec) -> None:
        self.spec = spec
        self._args_of = spec.args_of
        self.addresses = [address for address, _name, _events in spec.contracts]
        self._names = {address: name for address, name, _events in spec.contracts}
        self._by_name: dict[str, dict[str, tuple[str, _EventDecoder]]] = {}
        self._by_address: dict[str, dict[str, _EventDecoder]] = {
            address: _decoders_of(name, events) for address, name, events in spec.contracts
        }
        for address, decoders in self._by_address.items():
            self._by_name[address] = {d.name: (topic0, d) for topic0, d in decoders.items()}

    def decode_or_keep(self, log: RawLog) -> ChainLog:
        """Decodes a log; one no ABI describes is kept undecoded as `UnknownLog` (topics and data), not lost."""
        return ChainLog(*self.decode_row(log)[1:])

    def decode_row(self, log: RawLog) -> LogRow:
        """`decode_or_keep` as a plain tuple (`LogRow`): what a back-fill decodes tens of thousands of times."""
        try:
            return self._row(log)
        except UnknownLogError:
            address = log["address"].lower()
            topics = b"".join(bytes.fromhex(t[2:]) for t in log["topics"])
            return _row(log, address, self._names.get(address, "unknown"), "UnknownLog", {}, topics)

    def decode_stored(self, address: str, name: str, topics: bytes, data: bytes) -> dict[str, ArgValue]:
        """Decodes the arguments of an event as the store keeps it (`chain_events`).

        Raises:
            UnknownLogError: no Tracemark ABI describes it.
        """
        try:
            topic0, decoder = self._by_name[address.lower()][name]
            words = [topic0] + ["0x" + topics[i : i + 32].hex() for i in range(0, len(topics), 32)]
            return decoder.decode(words, "0x" + data.hex())
        except (KeyError, IndexError, ValueError):
            raise UnknownLogError(f"unknown event {name} at {address}") from None

    def decode(self, log: RawLog) -> ChainLog:
        """Decodes one log.

        Raises:
            UnknownLogError: the log is not from a Tracemark contract or has an unknown signature.
        """
        return ChainLog(*self._row(log)[1:])

    def _row(self, log: RawLog) -> LogRow:
        address = log["address"].lower()
        topics = log["topics"]
        try:
            decoder = self._by_address[address][topics[0]]
        except (KeyError, IndexError):
            raise UnknownLogError(f"unknown log at {address}: topics {topics[:1]}") from None
        args: dict[str, ArgValue] = {}
        if self._args_of is None or (decoder.contract, decoder.name) in self._args_of:
            try:
                args = decoder.decode(topics, log["data"])
            except (ValueError, IndexError) as exc:
                raise UnknownLogError(f"malformed {decoder.contract}.{decoder.name} log: {exc}") from exc
        indexed = bytes.fromhex("".join([t[2:] for t in topics[1:]]))
        return _row(log, address, decoder.contract, decoder.name, args, indexed)


LogRow = tuple[int, int, str, str, int, int, str, str, str, Mapping[str, ArgValue], bytes, bytes]
"""A decoded log as a tuple: its position (`pos`), then the fields of `ChainLog` in order."""


def _row(log: RawLog, address: str, contract: str, name: str, args: Mapping[str, ArgValue], topics: bytes) -> LogRow:
    """The `LogRow` of a raw log: its place in the chain from the log, the rest as decoded."""
    block_number = int(log["blockNumber"], 16)
    log_index = int(log["logIndex"], 16)
    return (
        (block_number << LOG_INDEX_BITS) | log_index, block_number, log["blockHash"], log["transactionHash"],
        int(log["transactionIndex"], 16), log_index, address, contract, name, args, topics,
        bytes.fromhex(log["data"][2:]),
    )
