"""Decoding the logs of the Tracemark contracts into typed events.

The decoders are built once from the shipped ABIs (`tracemark.chain.contracts.abi_of`) and keyed by contract
address and topic 0: the ERC-20 and ERC-721 `Transfer` events share a signature, so the address decides.
Every event parameter of these contracts is a static word (address, uintN, bytes32, bool) or a `string`, so
decoding is slicing hex, with no general ABI decoder in the hot path of a back-fill.

A back-fill does not need the arguments as Python values, only as the store keeps them: `EventDecoder.read_row`
reads the fields a `FieldSpec` names (the planner's, `tracemark.chain.indexer.batch.PLANNED`) straight out of the
hex, in their stored form (`FIELD_*`), and falls back to the full decoding for any log whose shape it does not
recognise, so both ways give the same row. `EventDecoder.read_rows` does the same for a whole range with the
compiled reader `_logrows` (C, built by `make setup`; about three times faster), which reads the well-formed logs
of events without strings and hands every other log to `read_row`; where it is not built, `read_row` reads all.

A decoder is built from a `DecoderSpec`: plain, picklable data (addresses, contract names, event ABIs with their
topic 0). The indexer's decode worker (`tracemark.chain.indexer.worker`) receives one and builds its decoder from
it, so this module imports neither web3 nor a keccak implementation at module level: the worker starts in a
fraction of the time the full backend takes to import.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from tracemark.chain.deployments import Deployment

_logrows: ModuleType | None
try:  # the compiled reader of raw logs (`make setup` builds it from _logrows.c)
    from tracemark.chain.indexer import _logrows
except ImportError:  # not built (no C compiler at setup): every log is read by `EventDecoder.read_row`
    _logrows = None

# How `_logrows` treats an event (the kinds of _logrows.c): keep it raw, read its fields, check its shape, or hand it
# back to `EventDecoder.read_row`.
_COMPILED_RAW, _COMPILED_READ, _COMPILED_CHECK, _COMPILED_FALLBACK = 0, 1, 2, 3

LOG_INDEX_BITS = 20
"""`pos = block_number << LOG_INDEX_BITS | log_index`; a block holds far fewer than 2**20 logs (30M gas / 375)."""

ArgValue = int | str | bool

# The stored form of an event field (what `read_row` gives and the planner stores):
FIELD_INT = 0
"""An unsigned integer as a Python int."""
FIELD_U256 = 1
"""An unsigned integer as 64 lowercase hex digits (how ids and amounts are stored)."""
FIELD_ADDRESS = 2
"""An address as `0x` and its 40 hex digits, as the node wrote them."""
FIELD_WORD = 3
"""A bytes32 as `0x` and its 64 hex digits, as the node wrote them."""
FIELD_TEXT = 4
"""A string as text."""

FieldSpec = tuple[tuple[str, int], ...]
"""The fields to read of one event, in order: (parameter name, `FIELD_*` form)."""

_FORM_TYPES = {FIELD_INT: "uint", FIELD_U256: "uint", FIELD_ADDRESS: "address", FIELD_WORD: "bytes32",
               FIELD_TEXT: "string"}


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


def _text_at(body: str, word_index: int) -> str:
    """The ABI string whose offset is the `word_index`-th word of `body` (hex without `0x`)."""
    offset = int(body[word_index * 64 : word_index * 64 + 64], 16) * 2
    length = int(body[offset : offset + 64], 16) * 2
    return bytes.fromhex(body[offset + 64 : offset + 64 + length]).decode("utf-8", "replace")


def u256(value: int) -> str:
    """A 256-bit number as stored: 64 lowercase hex digits (`FIELD_U256`)."""
    return f"{value:064x}"


def stored_value(form: int, value: ArgValue) -> ArgValue:
    """A decoded argument in its stored form (`FIELD_*`)."""
    if form == FIELD_U256:
        return u256(int(value))
    if form == FIELD_INT:
        return int(value)
    return str(value)


def stored_values(fields: FieldSpec, args: Mapping[str, ArgValue]) -> tuple[ArgValue, ...]:
    """Decoded arguments as `read_row` reads them: the named fields in their stored forms, in order."""
    return tuple([stored_value(form, args[name]) for name, form in fields])


_Getter = Callable[[list[str], str], ArgValue]


def _field_getter(form: int, topic: int, word: int) -> _Getter:
    """Reads one field in its stored form from the topics (`topic`, counted with topic 0; -1 for none) or from the
    data words (`word`) of a log whose shape was checked. The same slices as `_word_decoder`, without the round
    trips."""
    if topic >= 0:
        i = topic
        if form == FIELD_U256:
            return lambda topics, body: topics[i][2:].lower()
        if form == FIELD_ADDRESS:
            return lambda topics, body: "0x" + topics[i][26:66]
        if form == FIELD_WORD:
            return lambda topics, body: "0x" + topics[i][2:]
        return lambda topics, body: int(topics[i][2:], 16)
    start, end = word * 64, word * 64 + 64
    if form == FIELD_U256:
        return lambda topics, body: body[start:end].lower()
    if form == FIELD_ADDRESS:
        return lambda topics, body: "0x" + body[start + 24 : end]
    if form == FIELD_WORD:
        return lambda topics, body: "0x" + body[start:end]
    if form == FIELD_TEXT:
        return lambda topics, body: _text_at(body, word)
    return lambda topics, body: int(body[start:end], 16)


@dataclass(frozen=True, slots=True)
class _FieldReader:
    """Reads the fields of one event (see `_field_getter`); `topics` and `words` are the shape it expects."""

    topics: int  # topics of the log, topic 0 included
    words: int  # data words of its head (static values and string offsets)
    getters: tuple[_Getter, ...]
    checks: tuple[_Getter, ...]  # the strings not read: the full decoding would refuse a malformed one
    wanted: bool  # whether the fields are wanted (else the reader only checks what the full decoding checks)
    layout: tuple[tuple[int, int, int], ...]  # the getters as (form, topic or -1, data word), for `_logrows`

    @classmethod
    def of(cls, contract: str, item: Mapping[str, Any], fields: FieldSpec, wanted: bool = True) -> _FieldReader:
        inputs = item["inputs"]
        indexed = [i for i in inputs if i["indexed"]]
        head = [i for i in inputs if not i["indexed"]]
        getters = []
        layout = []
        for name, form in fields:
            if form not in _FORM_TYPES:
                raise ValueError(f"{contract}.{item['name']}.{name}: no stored form {form!r} (see FIELD_*)")
            found = [i for i in inputs if i["name"] == name]
            if len(found) != 1 or not str(found[0]["type"]).startswith(_FORM_TYPES[form]):
                raise ValueError(f"{contract}.{item['name']} has no {name} that reads as form {form}")
            if found[0]["indexed"]:
                if form == FIELD_TEXT:
                    raise ValueError(f"{contract}.{item['name']}.{name}: an indexed string is only its hash")
                layout.append((form, 1 + indexed.index(found[0]), 0))
            else:
                layout.append((form, -1, head.index(found[0])))
            getters.append(_field_getter(*layout[-1]))
        read = {name for name, _form in fields}
        checks = tuple(_field_getter(FIELD_TEXT, -1, word) for word, i in enumerate(head)
                       if i["type"] == "string" and i["name"] not in read)
        return cls(1 + len(indexed), len(head), tuple(getters), checks, wanted, tuple(layout))

    def compiled_kind(self) -> int:
        """How `_logrows` treats this event: reads its fields, checks its shape only, or hands it back (strings
        are read and checked in Python only)."""
        if self.checks or any(form == FIELD_TEXT for form, _topic, _word in self.layout):
            return _COMPILED_FALLBACK
        return _COMPILED_READ if self.wanted else _COMPILED_CHECK


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
                args[name] = _text_at(body, i)
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
        fields: ((contract, event), fields) pairs: what `EventDecoder.read_row` reads of those events.
    """

    contracts: tuple[tuple[str, str, tuple[tuple[str, Mapping[str, Any]], ...]], ...]
    args_of: frozenset[tuple[str, str]] | None = None
    fields: tuple[tuple[tuple[str, str], FieldSpec], ...] = ()

    @classmethod
    def of(cls, deployment: Deployment, args_of: frozenset[tuple[str, str]] | None = None,
           fields: Mapping[tuple[str, str], FieldSpec] | None = None) -> DecoderSpec:
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
        return cls(tuple(contracts), args_of, tuple(sorted((fields or {}).items())))


class EventDecoder:
    """Decodes the logs of one deployment's contracts.

    Args:
        deployment: The contracts.
        args_of: Decode the arguments only of these (contract, event) pairs; others get empty `args` (their raw
            topics and data are still there for `decode_stored`). None decodes all.
        fields: What `read_row` reads of some events (those events' arguments are decoded too).

    Raises:
        ValueError: `fields` names a parameter an event does not have, or in a form its type does not take.
    """

    def __init__(self, deployment: Deployment, args_of: frozenset[tuple[str, str]] | None = None,
                 fields: Mapping[tuple[str, str], FieldSpec] | None = None) -> None:
        self._build(DecoderSpec.of(deployment, args_of, fields))

    @classmethod
    def from_spec(cls, spec: DecoderSpec) -> EventDecoder:
        """A decoder built from plain data (what the decode worker receives)."""
        decoder = cls.__new__(cls)
        decoder._build(spec)
        return decoder

    def _build(self, spec: DecoderSpec) -> None:
        self.spec = spec
        fields = dict(spec.fields)
        self.fields: Mapping[tuple[str, str], FieldSpec] = fields
        """What `read_row` reads, by (contract, event)."""
        self._args_of = None if spec.args_of is None else spec.args_of | frozenset(fields)
        self.addresses = [address for address, _name, _events in spec.contracts]
        self._names = {address: name for address, name, _events in spec.contracts}
        self._by_name: dict[str, dict[str, tuple[str, _EventDecoder]]] = {}
        self._by_address: dict[str, dict[str, _EventDecoder]] = {
            address: _decoders_of(name, events) for address, name, events in spec.contracts
        }
        for address, decoders in self._by_address.items():
            self._by_name[address] = {d.name: (topic0, d) for topic0, d in decoders.items()}
        # What read_row knows by (address, topic 0): the contract and event names, and a reader of the wanted
        # fields; an event whose arguments the decoder decodes but whose fields are not wanted gets a reader that
        # only checks (the full decoding refuses a malformed one); None for the others.
        self._readers: dict[str, dict[str, tuple[str, str, _FieldReader | None]]] = {}
        for address, name, events in spec.contracts:
            known = self._readers[address] = {}
            for topic0, item in events:
                key = (name, item["name"])
                reader = None
                if key in fields:
                    reader = _FieldReader.of(name, item, fields[key])
                elif self._args_of is None or key in self._args_of:
                    reader = _FieldReader.of(name, item, (), wanted=False)
                known[topic0] = (name, item["name"], reader)
        # The same table for the compiled reader, in plain tuples (see _logrows.c).
        self._compiled: dict[str, dict[str, tuple[str, str, int, int, int, tuple[tuple[int, int, int], ...]]]] = {
            address: {
                topic0: (contract, event, _COMPILED_RAW, 0, 0, ()) if reader is None
                else (contract, event, reader.compiled_kind(), reader.topics, reader.words, reader.layout)
                for topic0, (contract, event, reader) in known.items()
            }
            for address, known in self._readers.items()
        }

    def read_rows(self, logs: Sequence[RawLog]) -> list[ReadRow]:
        """`read_row` of every log, in order: compiled where `_logrows` is built (it reads the well-formed logs of
        the events it knows and hands every other log to `read_row`), else `read_row` itself."""
        if _logrows is None:
            return list(map(self.read_row, logs))
        rows: list[ReadRow] = _logrows.read_rows(logs if type(logs) is list else list(logs), self._compiled,
                                                 self.read_row)
        return rows

    def read_row(self, log: RawLog) -> ReadRow:
        """A log as a `ReadRow`: what a back-fill reads of each of tens of thousands of logs. The fields of an event
        named in the decoder's `fields` are read straight out of the hex in their stored form; a log of a shape
        this does not recognise (an unknown event, a malformed payload) goes through `decode_row`, so it gives
        the same row as `stored_values` of the full decoding would."""
        address = log["address"].lower()
        topics = log["topics"]
        try:
            contract, name, reader = self._readers[address][topics[0]]
            data = log["data"]
            payload = bytes.fromhex(data[2:])
            indexed = bytes.fromhex("".join([t[2:] for t in topics[1:]]))
            values: tuple[ArgValue, ...] | None = None
            if reader is not None:
                body = data[2:]
                # The shape the getters slice: as many topics as the event has, each a whole word of hex digits
                # (no spaces, which fromhex would skip), and at least the words of the data's head.
                if (len(indexed) != 32 * (reader.topics - 1) or set(map(len, topics)) != {66}
                        or 2 * len(payload) != len(body) or len(body) < 64 * reader.words):
                    return self._read_decoded(log)
                values = tuple([get(topics, body) for get in reader.getters])
                for check in reader.checks:
                    check(topics, body)
                if not reader.wanted:
                    values = None
            block_number = int(log["blockNumber"], 16)
            log_index = int(log["logIndex"], 16)
            return ((block_number << LOG_INDEX_BITS) | log_index, block_number, log["blockHash"],
                    log["transactionHash"], int(log["transactionIndex"], 16), log_index, address, contract, name,
                    values, indexed, payload)
        except (KeyError, IndexError, ValueError):
            return self._read_decoded(log)

    def _read_decoded(self, log: RawLog) -> ReadRow:
        """`read_row` by way of the full decoding (any failure there is the full decoding's)."""
        row = self.decode_row(log)
        wanted = self.fields.get((row[7], row[8]))
        values = None if wanted is None else stored_values(wanted, row[9])
        return (*row[:9], values, row[10], row[11])

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

ReadRow = tuple[int, int, str, str, int, int, str, str, str, tuple[ArgValue, ...] | None, bytes, bytes]
"""A log as `EventDecoder.read_row` gives it: a `LogRow` whose arguments are the wanted fields in their stored
forms (`stored_values`), or None for an event no fields are wanted of."""


def _row(log: RawLog, address: str, contract: str, name: str, args: Mapping[str, ArgValue], topics: bytes) -> LogRow:
    """The `LogRow` of a raw log: its place in the chain from the log, the rest as decoded."""
    block_number = int(log["blockNumber"], 16)
    log_index = int(log["logIndex"], 16)
    return (
        (block_number << LOG_INDEX_BITS) | log_index, block_number, log["blockHash"], log["transactionHash"],
        int(log["transactionIndex"], 16), log_index, address, contract, name, args, topics,
        bytes.fromhex(log["data"][2:]),
    )
