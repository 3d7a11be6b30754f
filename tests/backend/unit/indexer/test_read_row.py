"""The back-fill's fast reading of logs (`EventDecoder.read_row`, `plan_logs`) gives exactly what the full decoding
gives (`decode_or_keep`, `plan_batch`), for well-formed logs of every planned event and for malformed ones alike."""

from __future__ import annotations

import os
import sys
import tracemalloc
from functools import partial
from typing import Any

import pytest
from eth_abi import encode
from eth_utils.crypto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.backend.unit.indexer.deployment import ADDRESSES, DEPLOYMENT
from tracemark.chain.contracts import abi_of
from tracemark.chain.deployments import CONTRACT_NAMES
from tracemark.chain.indexer import events as events_module
from tracemark.chain.indexer.batch import PERPETUAL, PLANNED, plan_batch, plan_logs, planning_decoder
from tracemark.chain.indexer.events import (
    FIELD_ADDRESS,
    FIELD_INT,
    FIELD_TEXT,
    FIELD_U256,
    FIELD_WORD,
    EventDecoder,
    RawLog,
    UnknownLogError,
    stored_values,
)

DECODER = planning_decoder(DEPLOYMENT)
# Reads only some fields: the strings it does not read must still be checked as the full decoding checks them.
PARTIAL = EventDecoder(DEPLOYMENT, fields={
    ("EvidenceAnchor", "EvidenceAnchored"): (("timestamp", FIELD_INT), ("root", FIELD_WORD)),
    ("ImageCertificate", "CertificateDisputed"): (("by", FIELD_ADDRESS),),
})
EVENTS = [(contract, item) for contract in CONTRACT_NAMES for item in abi_of(contract)
          if item.get("type") == "event" and not item.get("anonymous")]


def topic0(item: dict[str, Any]) -> str:
    return "0x" + keccak(text=f"{item['name']}({','.join(i['type'] for i in item['inputs'])})").hex()


def value_of(draw: st.DrawFn, kind: str) -> Any:
    if kind == "address":
        return "0x" + draw(st.binary(min_size=20, max_size=20)).hex()
    if kind == "bytes32":
        return draw(st.binary(min_size=32, max_size=32))
    if kind == "string":
        return draw(st.text(max_size=40))
    if kind == "bool":
        return draw(st.booleans())
    bits = int(kind[4:] or 256)
    return draw(st.one_of(st.integers(0, 2**bits - 1), st.sampled_from([0, 2**bits - 1, min(PERPETUAL, 2**bits - 1)])))


@st.composite
def raw_logs(draw: st.DrawFn) -> RawLog:
    """A log of a Tracemark event with random arguments, now and then spoilt the ways a node or a proxy could."""
    contract, item = draw(st.sampled_from(EVENTS))
    inputs = item["inputs"]
    values = [value_of(draw, i["type"]) for i in inputs]
    topics = [topic0(item)]
    for i, value in zip(inputs, values, strict=True):
        if i["indexed"]:
            topics.append("0x" + encode([i["type"]], [value]).hex())
    head = [(i["type"], v) for i, v in zip(inputs, values, strict=True) if not i["indexed"]]
    data = "0x" + encode([t for t, _ in head], [v for _, v in head]).hex()
    if draw(st.booleans()):
        topics = topics[:1] + [t[:2] + t[2:].upper() if draw(st.booleans()) else t for t in topics[1:]]
        data = data[:2] + data[2:].upper() if draw(st.booleans()) else data
    spoil = draw(st.sampled_from(["none"] * 6 + [
        "short data", "long data", "odd data", "space in data", "space added", "bad hex", "topic missing",
        "topic extra", "short topic", "uneven topics", "unknown event", "unknown address", "bad string offset"]))
    if spoil == "short data" and len(data) > 2:
        data = data[: draw(st.integers(2, len(data) - 1))]
    elif spoil == "long data":
        data += "00" * draw(st.integers(1, 40))
    elif spoil == "odd data":
        data += "0"
    elif spoil == "space in data" and len(data) > 10:
        data = data[:10] + " " + data[12:]
    elif spoil == "bad hex" and len(data) > 10:
        data = data[:10] + "zz" + data[12:]
    elif spoil == "space added":
        at = draw(st.integers(2, len(data)))
        data = data[:at] + " " + data[at:]
    elif spoil == "uneven topics" and len(topics) > 2:
        topics = [*topics[:-2], topics[-2][:-2], "0x" + topics[-2][-2:] + topics[-1][2:]]  # same hex, joined
    elif spoil == "topic missing" and len(topics) > 1:
        topics = topics[:-1]
    elif spoil == "topic extra":
        topics = [*topics, "0x" + "ab" * 32]
    elif spoil == "short topic" and len(topics) > 1:
        topics = [*topics[:-1], topics[-1][:-2]]
    elif spoil == "unknown event":
        topics = ["0x" + "ee" * 32, *topics[1:]]
    elif spoil == "unknown address":
        contract = "nowhere"
    elif spoil == "bad string offset" and any(i["type"] == "string" and not i["indexed"] for i in inputs):
        data = data[:2] + "f" * 64 + data[66:]
    block = draw(st.integers(1, 10**6))
    return RawLog(address=ADDRESSES.get(contract, "0x" + "99" * 20), topics=topics, data=data, blockNumber=hex(block),
                  blockHash="0x" + draw(st.binary(min_size=32, max_size=32)).hex(),
                  transactionHash="0x" + draw(st.binary(min_size=32, max_size=32)).hex(),
                  transactionIndex=hex(draw(st.integers(0, 500))), logIndex=hex(draw(st.integers(0, 5000))))


def read_by_full_decoding(decoder: EventDecoder, log: RawLog) -> Any:
    row = decoder.decode_row(log)
    fields = decoder.fields.get((row[7], row[8]))
    return (*row[:9], None if fields is None else stored_values(fields, row[9]), row[10], row[11])


def outcome(read: Any, log: RawLog) -> Any:
    try:
        return read(log)
    except Exception as exc:  # the same failure, as the same type
        return type(exc)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_logs())
def test_reading_a_log_gives_what_the_full_decoding_gives(log: RawLog) -> None:
    for decoder in (DECODER, PARTIAL):
        assert outcome(decoder.read_row, log) == outcome(partial(read_by_full_decoding, decoder), log)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(raw_logs(), max_size=40))
def test_a_range_plans_as_its_decoded_logs_do(logs: list[RawLog]) -> None:
    try:
        decoded = sorted((DECODER.decode_or_keep(log) for log in logs), key=lambda log: log.pos)
    except (ValueError, KeyError):
        with pytest.raises((ValueError, KeyError)):
            plan_logs(DECODER, 7, logs)
        return
    if len({log.pos for log in decoded}) < len(decoded):
        return  # two logs at one position cannot come from one chain (their order would be arbitrary)
    assert plan_logs(DECODER, 7, logs) == plan_batch(7, decoded)


def test_every_planned_field_exists_in_its_form() -> None:
    names = {(contract, item["name"]) for contract, item in EVENTS}
    assert set(PLANNED) <= names
    with pytest.raises(ValueError, match="no tokenId"):
        EventDecoder(DEPLOYMENT, fields={("LicenseMarket", "OfferWithdrawn"): (("tokenId", FIELD_U256),)})
    with pytest.raises(ValueError, match="no holder that reads as form"):
        EventDecoder(DEPLOYMENT, fields={("LicenseMarket", "OfferWithdrawn"): (("holder", FIELD_TEXT),)})
    with pytest.raises(ValueError, match="no stored form 9"):
        EventDecoder(DEPLOYMENT, fields={("LicenseMarket", "OfferWithdrawn"): (("holder", 9),)})


def test_planning_refuses_a_decoder_that_does_not_read_the_planned_fields() -> None:
    with pytest.raises(ValueError, match="planned fields"):
        plan_logs(EventDecoder(DEPLOYMENT), 1, [])


def test_a_malformed_planned_event_is_kept_as_an_unknown_log() -> None:
    item = next(item for contract, item in EVENTS if item["name"] == "OfferWithdrawn")
    log = RawLog(address=ADDRESSES["LicenseMarket"], topics=[topic0(item), "0x" + "00" * 32], data="0x",
                 blockNumber="0x5", blockHash="0x" + "ab" * 32, transactionHash="0x" + "cd" * 32,
                 transactionIndex="0x0", logIndex="0x1")
    with pytest.raises(UnknownLogError):
        DECODER.decode(log)
    row = DECODER.read_row(log)
    assert (row[7], row[8], row[9]) == ("LicenseMarket", "UnknownLog", None)


# ---- the compiled reader (_logrows.c) --------------------------------------------------------------------------

@pytest.fixture
def compiled() -> None:
    """The compiled reader, or a skip that says why (a failure under TRACEMARK_REQUIRE_COMPILED=1, as in CI)."""
    if events_module._logrows is None:
        reason = "the compiled log reader _logrows is not built (make setup builds it with a C compiler)"
        if os.environ.get("TRACEMARK_REQUIRE_COMPILED") == "1":
            pytest.fail(f"{reason}; CI requires it (TRACEMARK_REQUIRE_COMPILED=1)")
        pytest.skip(reason)


needs_compiled = pytest.mark.usefixtures("compiled")


@st.composite
def odd_logs(draw: st.DrawFn) -> Any:
    """A well-formed log with one part of it replaced by something a node should never send."""
    log: dict[str, Any] = dict(draw(raw_logs()))
    key = draw(st.sampled_from(["address", "topics", "data", "blockNumber", "blockHash", "transactionHash",
                                "transactionIndex", "logIndex"]))
    odd = draw(st.sampled_from(["missing", "none", "int", "non-ascii", "capital prefix", "long quantity",
                                "big block", "tuple", "empty", "no prefix"]))
    if odd == "missing":
        del log[key]
    elif odd == "none":
        log[key] = None
    elif odd == "int":
        log[key] = 7
    elif odd == "non-ascii":
        log[key] = "0xé" + "0" * 10 if key != "topics" else ["0x" + "é" * 64]
    elif odd == "capital prefix" and isinstance(log[key], str):
        log[key] = "0X" + log[key][2:]
    elif odd == "long quantity":
        log[key] = "0x" + "0" * draw(st.integers(14, 20)) + "1"
    elif odd == "big block":
        log["blockNumber"] = hex(draw(st.integers(2**42, 2**70)))
    elif odd == "tuple" and key == "topics":
        log[key] = tuple(log[key])
    elif odd == "empty":
        log[key] = [] if key == "topics" else ""
    elif odd == "no prefix" and isinstance(log[key], str):
        log[key] = log[key][2:]
    return log if draw(st.integers(0, 9)) else list(log.items())  # now and then not even a dict


def well_formed(contract: str, item: dict[str, Any], n: int) -> RawLog:
    """A log of the event with plain arguments (`n` varies them): every event, the compiled reader's and not."""
    samples = {"address": "0x" + f"{n + 1:02x}" * 20, "bytes32": bytes([n]) * 32, "string": f"cid-{n}", "bool": True}
    values = [samples.get(i["type"], n * 100 + 7) for i in item["inputs"]]
    topics = [topic0(item)] + ["0x" + encode([i["type"]], [v]).hex()
                               for i, v in zip(item["inputs"], values, strict=True) if i["indexed"]]
    head = [(i["type"], v) for i, v in zip(item["inputs"], values, strict=True) if not i["indexed"]]
    return RawLog(address=ADDRESSES[contract], topics=topics,
                  data="0x" + encode([t for t, _ in head], [v for _, v in head]).hex(), blockNumber=hex(100 + n),
                  blockHash="0x" + "ab" * 32, transactionHash="0x" + f"{n:02x}" * 32, transactionIndex=hex(n),
                  logIndex=hex(n))


def compiled_read(decoder: EventDecoder, log: Any) -> Any:
    assert events_module._logrows is not None
    return events_module._logrows.read_rows([log], decoder._compiled, decoder.read_row)[0]


def same_outcome(decoder: EventDecoder, log: Any) -> None:
    compiled, python = outcome(partial(compiled_read, decoder), log), outcome(decoder.read_row, log)
    assert repr(compiled) == repr(python)  # repr: the same types too, not only equal values


@needs_compiled
@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw_logs())
def test_the_compiled_reader_reads_a_log_as_read_row_does(log: RawLog) -> None:
    for decoder in (DECODER, PARTIAL, EventDecoder(DEPLOYMENT)):
        same_outcome(decoder, log)


@needs_compiled
@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(odd_logs())
def test_the_compiled_reader_hands_back_what_it_does_not_know(log: Any) -> None:
    for decoder in (DECODER, PARTIAL):
        same_outcome(decoder, log)


@needs_compiled
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(raw_logs(), max_size=30))
def test_reading_a_range_compiled_or_not_gives_the_same_rows(logs: list[RawLog]) -> None:
    compiled = outcome(DECODER.read_rows, logs)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(events_module, "_logrows", None)
        python = outcome(DECODER.read_rows, logs)
    assert repr(compiled) == repr(python)
    if not isinstance(python, type):
        assert python == [outcome(DECODER.read_row, log) for log in logs]


@needs_compiled
def test_the_compiled_reader_refuses_bad_arguments_and_a_list_changed_under_it() -> None:
    assert events_module._logrows is not None
    read_rows = events_module._logrows.read_rows
    with pytest.raises(TypeError, match="three arguments"):
        read_rows([], {})  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="a list, a dict and a callable"):
        read_rows((), DECODER._compiled, DECODER.read_row)  # type: ignore[arg-type]
    logs: list[Any] = [{"address": "nowhere"}, {"address": "nowhere"}]

    def growing(log: Any) -> Any:
        logs.append(log)
        return None

    with pytest.raises(RuntimeError, match="changed while it was read"):
        read_rows(logs, {}, growing)
    # What the fallback raises comes through as it is.
    with pytest.raises(KeyError):
        DECODER.read_rows([{"topics": []}])  # type: ignore[list-item]


@needs_compiled
def test_the_compiled_reader_keeps_no_references() -> None:
    logs = [well_formed(contract, item, n) for n in range(3) for contract, item in EVENTS]
    refs = [sys.getrefcount(log) for log in logs] + [sys.getrefcount(v) for log in logs for v in log.values()]
    tracemalloc.start()
    try:
        DECODER.read_rows(logs)  # warm up (caches, interned strings)
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(200):
            rows = DECODER.read_rows(logs)
            del rows
        grown = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert grown < 64 * 1024, f"{grown} bytes kept after 200 readings"
    assert refs == [sys.getrefcount(log) for log in logs] + [sys.getrefcount(v) for log in logs for v in log.values()]
