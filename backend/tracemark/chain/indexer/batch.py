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
from typing import Any

from tracemark.chain.indexer.events import ChainLog, EventDecoder, LogRow, RawLog
from tracemark.chain.indexer.gcpause import gc_paused
from tracemark.chain.indexer.rpc import RpcClient

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

CERTIFICATE_EVENTS = frozenset(
    {"Transfer", "CertificateRegistered", "CertificateMetadataReplaced", "CertificateDisputed",
     "CertificateDisputeCleared"}
)
OFFER_EVENTS = frozenset({"OfferPublished", "OfferWithdrawn"})
STATE_EVENTS = frozenset(
    {("ImageCertificate", name) for name in CERTIFICATE_EVENTS}
    | {("LicenseMarket", name) for name in (*OFFER_EVENTS, "LicencePurchased", "ClaimSettled")}
    | {("EvidenceAnchor", "EvidenceAnchored")}
)
"""The events whose arguments shape the materialised state (the others are stored as logs only)."""


def u256(value: int) -> str:
    """A 256-bit number as stored: 64 lowercase hex digits."""
    return f"{value:064x}"


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

    @property
    def count(self) -> int:
        """How many events the range holds."""
        return len(self.events)


def plan_batch(chain_id: int, logs: Sequence[ChainLog]) -> RangeBatch:
    """The batch of some decoded logs, which must be in chain order.

    Args:
        chain_id: The chain the logs come from.
        logs: The decoded logs of one range.
    """
    return plan_rows(chain_id, [log.row() for log in logs])


def plan_rows(chain_id: int, rows: Sequence[LogRow]) -> RangeBatch:
    """The batch of some decoded logs as `LogRow` tuples (cheaper than `ChainLog` objects by the ten thousand),
    which must be in chain order.

    Args:
        chain_id: The chain the logs come from.
        rows: The decoded logs of one range.
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

    for at, block_number, block_hash, tx_hash, tx_index, log_index, address, contract, name, args, topics, data in rows:
        tx_hash = share(tx_hash, tx_hash)
        events.append((chain_id, share(block_hash, block_hash), tx_hash, log_index, block_number, at, tx_index,
                       contract, share(address, address), name, topics, data))
        if contract == "ImageCertificate":
            if name not in CERTIFICATE_EVENTS:
                continue
            cid = u256(int(args["tokenId"]))
            first_seen = cid not in touched
            touched.add(cid)
            if name == "CertificateRegistered":
                if first_seen:
                    minted_here.add(cid)
                ops.append((OP_REGISTERED, cid, str(args["metadataDigest"]), str(args["fingerprint"])))
            elif name == "Transfer":
                sender, receiver = str(args["from"]), str(args["to"])
                if first_seen and sender == ZERO_ADDRESS:
                    minted_here.add(cid)
                transfers.append((chain_id, cid, at, sender, receiver, block_number, tx_hash))
                ops.append((OP_TRANSFER, cid, at, sender, receiver, block_number, tx_hash))
            elif name == "CertificateMetadataReplaced":
                ops.append((OP_METADATA, cid, at, str(args["metadataDigest"])))
            elif name == "CertificateDisputed":
                ops.append((OP_DISPUTED, cid, at, str(args["evidenceCid"])))
            else:  # CertificateDisputeCleared
                ops.append((OP_DISPUTE_CLEARED, cid, at, str(args["resolutionCid"])))
        elif contract == "LicenseMarket":
            if name == "LicencePurchased":
                end = int(args["end"])
                licence_id = u256(int(args["licenceId"]))
                licences[licence_id] = [
                    chain_id, licence_id, u256(int(args["certificateId"])), str(args["licensee"]), int(args["kind"]),
                    as_int64(int(args["start"])), None if end == PERPETUAL else as_int64(end),
                    u256(int(args["price"])), str(args["holder"]), u256(int(args["platformFee"])), None, at,
                    block_number, tx_hash,
                ]
            elif name == "ClaimSettled":
                licence_id = u256(int(args["licenceId"]))
                case_id = str(args["caseId"])
                if licence_id in licences:
                    licences[licence_id][10] = case_id
                settlements.append((
                    chain_id, case_id, u256(int(args["certificateId"])), str(args["payer"]), licence_id,
                    str(args["holder"]), u256(int(args["holderAmount"])), str(args["treasury"]),
                    u256(int(args["platformAmount"])), at, block_number, tx_hash,
                ))
            elif name in OFFER_EVENTS:
                cid = u256(int(args["certificateId"]))
                touched.add(cid)
                if name == "OfferPublished":
                    ops.append((OP_OFFER_PUBLISHED, cid, at, int(args["kind"]), str(args["holder"]),
                                u256(int(args["price"])), as_int64(int(args["duration"]))))
                else:
                    ops.append((OP_OFFER_WITHDRAWN, cid, at, int(args["kind"]), str(args["holder"])))
        elif contract == "EvidenceAnchor" and name == "EvidenceAnchored":
            anchors.append((
                chain_id, str(args["root"]), as_int64(int(args["count"])), str(args["batchCid"]),
                str(args["anchorer"]), as_int64(int(args["timestamp"])), at, block_number, tx_hash,
            ))

    batch.licences = [tuple(row) for row in licences.values()]
    batch.load_ids = sorted(touched - minted_here)
    batch.block_hashes = sorted({(event[4], event[1].lower()) for event in events})
    return batch


def fetch_range(rpc: RpcClient, decoder: EventDecoder, chain_id: int, first: int, last: int) -> RangeBatch:
    """Fetches, decodes and plans the logs of blocks `first..last` (both included): the whole job of the decode
    stage, in the decode worker or in a thread of the indexer.

    Raises:
        RpcError: the node did not answer usefully (the indexer retries or narrows the range).
    """
    return plan_logs(decoder, chain_id, get_logs(rpc, decoder, first, last))


def get_logs(rpc: RpcClient, decoder: EventDecoder, first: int, last: int) -> list[RawLog]:
    """The raw logs of the decoder's contracts in blocks `first..last`, as the node sends them."""
    # The JSON answer is tens of thousands of fresh objects, none in a cycle (see gcpause).
    with gc_paused():
        return rpc.get_logs(decoder.addresses, first, last)


def plan_logs(decoder: EventDecoder, chain_id: int, raw: list[RawLog]) -> RangeBatch:
    """The batch of the raw logs of one range (in any order)."""
    with gc_paused():
        rows = sorted(map(decoder.decode_row, raw), key=itemgetter(0))
        return plan_rows(chain_id, rows)
