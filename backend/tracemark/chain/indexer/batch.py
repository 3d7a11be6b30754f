"""From the logs of one `eth_getLogs` range to a `RangeBatch`: the rows the writer stores, worked out without a
database.

A batch is everything about a range that does not depend on what is stored already:

- the `chain_events` rows, in chain order, as tuples in the column order of `EVENT_COLUMNS`;
- the rows of the append-only tables (certificate transfers, licences, settlements, evidence anchors), as tuples;
- the changes to versioned state (certificates, offers) as a list of small operations in chain order (`OP_*`),
  which `tracemark.chain.indexer.projector.Projector.write` replays over the current versions it reads from the
  store (a transfer of a certificate minted in an earlier range needs that range's version);
- the certificates whose stored versions those operations build on (`load_ids`), and the block hashes the logs
  name (the indexer checks them against the block headers).

The batch is plain tuples, lists and strings: it pickles compactly (the hashes and addresses repeated across logs
are the same string objects, which pickle writes once) and is cheap to rebuild on the other side. That is what
lets the decode worker (`tracemark.chain.indexer.worker`) do fetching, JSON decoding, log decoding and this
planning in a second process while the indexer's own process does only the writing. The in-process path builds
the very same batch with the very same code (`fetch_range`), so both paths store identical rows.

This module imports nothing from SQLAlchemy or the store: the worker imports it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from tracemark.chain.indexer.events import (
    FIELD_ADDRESS,
    FIELD_INT,
    FIELD_TEXT,
    FIELD_U256,
    FIELD_WORD,
    ChainLog,
    EventDecoder,
    FieldSpec,
    RawLog,
    ReadRow,
    stored_values,
)
from tracemark.chain.indexer.gcpause import gc_paused
from tracemark.chain.indexer.rpc import BlockHeader, RpcClient

if TYPE_CHECKING:
    from tracemark.chain.deployments import Deployment

ZERO_ADDRESS = "0x" + "00" * 20
ZERO_HASH = "0x" + "00" * 32
PERPETUAL = 2**64 - 1
_INT64_MAX = 2**63 - 1

EVENT_COLUMNS = ("chain_id", "block_hash", "tx_hash", "log_index", "block_number", "pos", "tx_index", "contract",
                 "address", "name", "topics", "data")
TRANSFER_COLUMNS = ("chain_id", "certificate_id", "pos", "from_address", "to_address", "block_number", "tx_hash")
LICENCE_COLUMNS = ("chain_id", "licence_id", "certificate_id", "licensee", "kind", "starts_at", "ends_at", "price",
                   "holder", "platform_fee", "case_id", "pos", "block_number", "tx_hash")
SETTLEMENT_COLUMNS = ("chain_id", "case_id", "certificate_id", "payer", "licence_id", "holder", "holder_amount",
                      "treasury", "platform_amount", "pos", "block_number", "tx_hash")
ANCHOR_COLUMNS = ("chain_id", "root", "record_count", "batch_cid", "anchorer", "anchored_at", "pos", "block_number",
                  "tx_hash")

# Versioned-state operations, replayed in order by the projector. Fields after the code:
OP_REGISTERED = 0  # certificate id, metadata digest, fingerprint
OP_TRANSFER = 1  # certificate id, pos, from, to, block number, tx hash
OP_METADATA = 2  # certificate id, pos, metadata digest
OP_DISPUTED = 3  # certificate id, pos, evidence CID
OP_DISPUTE_CLEARED = 4  # certificate id, pos, resolution CID
OP_OFFER_PUBLISHED = 5  # certificate id, pos, kind, holder, price, duration
OP_OFFER_WITHDRAWN = 6  # certificate id, pos, kind, holder

_ADDRESS, _INT, _TEXT, _U256, _WORD = FIELD_ADDRESS, FIELD_INT, FIELD_TEXT, FIELD_U256, FIELD_WORD
PLANNED: dict[tuple[str, str], FieldSpec] = {
    ("ImageCertificate", "Transfer"): (("from", _ADDRESS), ("to", _ADDRESS), ("tokenId", _U256)),
    ("ImageCertificate", "CertificateRegistered"): (
        ("tokenId", _U256), ("metadataDigest", _WORD), ("fingerprint", _WORD)),
    ("ImageCertificate", "CertificateMetadataReplaced"): (("tokenId", _U256), ("metadataDigest", _WORD)),
    ("ImageCertificate", "CertificateDisputed"): (("tokenId", _U256), ("evidenceCid", _TEXT)),
    ("ImageCertificate", "CertificateDisputeCleared"): (("tokenId", _U256), ("resolutionCid", _TEXT)),
    ("LicenseMarket", "OfferPublished"): (
        ("certificateId", _U256), ("kind", _INT), ("holder", _ADDRESS), ("price", _U256), ("duration", _INT)),
    ("LicenseMarket", "OfferWithdrawn"): (("certificateId", _U256), ("kind", _INT), ("holder", _ADDRESS)),
    ("LicenseMarket", "LicencePurchased"): (
        ("licenceId", _U256), ("certificateId", _U256), ("licensee", _ADDRESS), ("kind", _INT), ("start", _INT),
        ("end", _INT), ("price", _U256), ("holder", _ADDRESS), ("platformFee", _U256)),
    ("LicenseMarket", "ClaimSettled"): (
        ("caseId", _WORD), ("certificateId", _U256), ("payer", _ADDRESS), ("licenceId", _U256), ("holder", _ADDRESS),
        ("holderAmount", _U256), ("treasury", _ADDRESS), ("platformAmount", _U256)),
    ("EvidenceAnchor", "EvidenceAnchored"): (
        ("root", _WORD), ("count", _INT), ("batchCid", _TEXT), ("anchorer", _ADDRESS), ("timestamp", _INT)),
}
"""The events whose arguments shape the materialised state, and the fields the planner reads of each, in the
order `plan_rows` unpacks them (the other events are stored as logs only)."""

STATE_EVENTS = frozenset(PLANNED)


def as_int64(value: int) -> int:
    """A uint64 time or duration as a signed 64-bit column (no real value comes near the clamp)."""
    return value if value <= _INT64_MAX else _INT64_MAX


@dataclass(slots=True)
class RangeBatch:
    """The rows of one range, ready to write (see the module docstring). Lists of tuples, in chain order."""

    events: list[tuple[Any, ...]] = field(default_factory=list)
    ops: list[tuple[Any, ...]] = field(default_factory=list)
    load_ids: list[str] = field(default_factory=list)
    transfers: list[tuple[Any, ...]] = field(default_factory=list)
    licences: list[tuple[Any, ...]] = field(default_factory=list)
    settlements: list[tuple[Any, ...]] = field(default_factory=list)
    anchors: list[tuple[Any, ...]] = field(default_factory=list)
    block_hashes: list[tuple[int, str]] = field(default_factory=list)
    """Distinct (block number, lowercase block hash) pairs the logs name."""
    headers: list[tuple[int, BlockHeader | None]] = field(default_factory=list)
    """The headers of the range's first and last blocks (None for a block the chain does not have), read after the
    logs: the indexer checks the logs' block hashes and the range's link to its checkpoint against them."""

    @property
    def count(self) -> int:
        """How many events the range holds."""
        return len(self.events)


def plan_batch(chain_id: int, logs: Sequence[ChainLog]) -> RangeBatch:
    """The batch of some decoded logs, which must be in chain order (the same batch as `plan_logs` of the raw logs).

    Args:
        chain_id: The chain the logs come from.
        logs: The decoded logs of one range.
    """
    rows: list[ReadRow] = []
    for log in logs:
        fields = PLANNED.get((log.contract, log.name))
        values = None if fields is None else stored_values(fields, log.args)
        rows.append((log.pos, log.block_number, log.block_hash, log.tx_hash, log.tx_index, log.log_index,
                     log.address, log.contract, log.name, values, log.topics, log.data))
    return plan_rows(chain_id, rows)


def plan_rows(chain_id: int, rows: Sequence[ReadRow]) -> RangeBatch:
    """The batch of some logs as `ReadRow` tuples with the `PLANNED` fields, which must be in chain order.

    Args:
        chain_id: The chain the logs come from.
        rows: The logs of one range.
    """
    batch = RangeBatch()
    if not rows:
        return batch
    events = batch.events
    ops = batch.ops
    transfers = batch.transfers
    settlements = batch.settlements
    anchors = batch.anchors
    licences: dict[str, list[Any]] = {}  # a ClaimSettled may fill in the case of a licence bought in this range
    strings: dict[str, str] = {}  # one object per distinct hash or address: pickled once, shared once loaded
    share = strings.setdefault
    # The stored versions this batch builds on: of every certificate it touches, except those it mints before
    # anything else happens to them (nothing can be stored of a certificate before its mint; a back-fill mints
    # most of the certificates it touches).
    touched: set[str] = set()
    minted_here: set[str] = set()
    v: Any  # the fields of one event, as PLANNED lists them

    for at, block_number, block_hash, tx_hash, tx_index, log_index, address, contract, name, v, topics, data in rows:
        tx_hash = share(tx_hash, tx_hash)
        events.append((chain_id, share(block_hash, block_hash), tx_hash, log_index, block_number, at, tx_index,
                       contract, share(address, address), name, topics, data))
        if v is None:
            continue
        if contract == "ImageCertificate":
            cid = v[0] if name != "Transfer" else v[2]
            first_seen = cid not in touched
            touched.add(cid)
            if name == "CertificateRegistered":
                if first_seen:
                    minted_here.add(cid)
                ops.append((OP_REGISTERED, cid, v[1], v[2]))
            elif name == "Transfer":
                sender, receiver = v[0], v[1]
                if first_seen and sender == ZERO_ADDRESS:
                    minted_here.add(cid)
                transfers.append((chain_id, cid, at, sender, receiver, block_number, tx_hash))
                ops.append((OP_TRANSFER, cid, at, sender, receiver, block_number, tx_hash))
            elif name == "CertificateMetadataReplaced":
                ops.append((OP_METADATA, cid, at, v[1]))
            elif name == "CertificateDisputed":
                ops.append((OP_DISPUTED, cid, at, v[1]))
            else:  # CertificateDisputeCleared
                ops.append((OP_DISPUTE_CLEARED, cid, at, v[1]))
        elif contract == "LicenseMarket":
            if name == "LicencePurchased":
                licence_id, certificate_id, licensee, kind, start, end, price, holder, fee = v
                licences[licence_id] = [
                    chain_id, licence_id, certificate_id, licensee, kind, as_int64(start),
                    None if end == PERPETUAL else as_int64(end), price, holder, fee, None, at, block_number, tx_hash,
                ]
            elif name == "ClaimSettled":
                case_id, certificate_id, payer, licence_id, holder, holder_amount, treasury, platform_amount = v
                if licence_id in licences:
                    licences[licence_id][10] = case_id
                settlements.append((chain_id, case_id, certificate_id, payer, licence_id, holder, holder_amount,
                                    treasury, platform_amount, at, block_number, tx_hash))
            elif name == "OfferPublished":
                touched.add(v[0])
                ops.append((OP_OFFER_PUBLISHED, v[0], at, v[1], v[2], v[3], as_int64(v[4])))
            else:  # OfferWithdrawn
                touched.add(v[0])
                ops.append((OP_OFFER_WITHDRAWN, v[0], at, v[1], v[2]))
        else:  # EvidenceAnchored
            root, count, batch_cid, anchorer, timestamp = v
            anchors.append((chain_id, root, as_int64(count), batch_cid, anchorer, as_int64(timestamp), at,
                            block_number, tx_hash))

    batch.licences = [tuple(row) for row in licences.values()]
    batch.load_ids = sorted(touched - minted_here)
    batch.block_hashes = sorted({(event[4], event[1].lower()) for event in events})
    return batch


def planning_decoder(deployment: Deployment) -> EventDecoder:
    """The decoder `plan_logs` needs: one that reads the `PLANNED` fields (the indexer's)."""
    return EventDecoder(deployment, args_of=STATE_EVENTS, fields=PLANNED)


def fetch_range(rpc: RpcClient, decoder: EventDecoder, chain_id: int, first: int, last: int) -> RangeBatch:
    """Fetches, decodes and plans the logs of blocks `first..last` (both included), with the headers of its ends:
    the whole job of the decode stage, in the decode worker or in a thread of the indexer.

    Raises:
        RpcError: the node did not answer usefully (the indexer retries or narrows the range).
    """
    return plan_range(decoder, chain_id, read_range(rpc, decoder, first, last))


RangeRead = tuple[list[RawLog], list[tuple[int, BlockHeader | None]]]
"""The raw logs of a range, and the headers of its first and last blocks."""


def read_range(rpc: RpcClient, decoder: EventDecoder, first: int, last: int) -> RangeRead:
    """The raw logs of blocks `first..last`, then (after them, so that a chain that moved in between shows) the
    headers of the first and last block."""
    logs = get_logs(rpc, decoder, first, last)
    ends = sorted({first, last})
    return logs, list(zip(ends, rpc.headers(ends), strict=True))


def plan_range(decoder: EventDecoder, chain_id: int, read: RangeRead) -> RangeBatch:
    """The batch of a range read by `read_range`."""
    logs, headers = read
    batch = plan_logs(decoder, chain_id, logs)
    batch.headers = headers
    return batch


def get_logs(rpc: RpcClient, decoder: EventDecoder, first: int, last: int) -> list[RawLog]:
    """The raw logs of the decoder's contracts in blocks `first..last`, as the node sends them."""
    # The JSON answer is tens of thousands of fresh objects, none in a cycle (see gcpause).
    with gc_paused():
        return rpc.get_logs(decoder.addresses, first, last)


def plan_logs(decoder: EventDecoder, chain_id: int, raw: list[RawLog]) -> RangeBatch:
    """The batch of the raw logs of one range (in any order).

    Raises:
        ValueError: the decoder does not read the `PLANNED` fields (see `planning_decoder`).
    """
    if decoder.fields != PLANNED:
        raise ValueError("plan_logs needs a decoder that reads the planned fields (planning_decoder)")
    with gc_paused():
        rows = sorted(decoder.read_rows(raw), key=itemgetter(0))
        return plan_rows(chain_id, rows)
