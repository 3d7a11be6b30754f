"""From events to state: applies a batch of decoded events to the materialised tables, and undoes a reorg.

A batch (one `eth_getLogs` range) is applied with one read of the current versions it touches, the state changes
worked out in memory in chain order, and one bulk write per table, all inside the caller's transaction (the
same one that moves the checkpoint). See `tracemark.store.chain_models` for the versioning scheme.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, select, update

from tracemark.chain.indexer.events import ChainLog, pos
from tracemark.store.base import Base, table_of
from tracemark.store.chain_models import (
    APPEND_ONLY_TABLES,
    VERSIONED_TABLES,
    CertificateTransfer,
    CertificateVersion,
    ChainBlock,
    ChainEvent,
    EvidenceAnchorRecord,
    Licence,
    OfferVersion,
    Settlement,
)
from tracemark.store.database import bulk_insert

ZERO_ADDRESS = "0x" + "00" * 20
ZERO_HASH = "0x" + "00" * 32
PERPETUAL = 2**64 - 1
_INT64_MAX = 2**63 - 1
_IN_CHUNK = 500  # ids per IN (...) list; far below every database's limit on bound parameters

Row = dict[str, Any]
_EVENT_COLUMNS = ("chain_id", "block_hash", "tx_hash", "log_index", "block_number", "pos", "tx_index", "contract",
                  "address", "name", "topics", "data")

_CERTIFICATE_EVENTS = frozenset(
    {"Transfer", "CertificateRegistered", "CertificateMetadataReplaced", "CertificateDisputed",
     "CertificateDisputeCleared"}
)
_OFFER_EVENTS = frozenset({"OfferPublished", "OfferWithdrawn"})
STATE_EVENTS = frozenset(
    {("ImageCertificate", name) for name in _CERTIFICATE_EVENTS}
    | {("LicenseMarket", name) for name in (*_OFFER_EVENTS, "LicencePurchased", "ClaimSettled")}
    | {("EvidenceAnchor", "EvidenceAnchored")}
)
"""The events whose arguments shape the materialised state (the others are stored as logs only)."""


def u256(value: int) -> str:
    """A 256-bit number as stored: 64 lowercase hex digits."""
    return f"{value:064x}"


def _time(value: int) -> int:
    """A uint64 time or duration as a signed 64-bit column (no real value comes near the clamp)."""
    return value if value <= _INT64_MAX else _INT64_MAX


class _Versions:
    """The current versions of one versioned table that a batch touches: read once, changed in memory."""

    def __init__(self, key_columns: tuple[str, ...]) -> None:
        self.key_columns = key_columns
        self.current: dict[tuple[Any, ...], Row] = {}
        self.new: list[Row] = []  # versions made in this batch (their to_pos may be set before the insert)
        self.closed: list[Row] = []  # versions from the database closed in this batch: key + from_pos + to_pos
        self._new_ids: set[int] = set()

    def key(self, row: Row) -> tuple[Any, ...]:
        return tuple(row[c] for c in self.key_columns)

    def get(self, key: tuple[Any, ...]) -> Row | None:
        return self.current.get(key)

    def replace(self, key: tuple[Any, ...], row: Row, at: int) -> None:
        """Makes `row` (a new dict with `from_pos=at`) the current version of `key`, closing the previous one."""
        previous = self.current.get(key)
        if previous is not None:
            if id(previous) in self._new_ids:
                previous["to_pos"] = at
            else:
                self.closed.append({**{f"k_{c}": previous[c] for c in self.key_columns},
                                    "k_from_pos": previous["from_pos"], "new_to_pos": at})
        row["from_pos"] = at
        row["to_pos"] = None
        self.current[key] = row
        self.new.append(row)
        self._new_ids.add(id(row))


class Projector:
    """Applies events of one chain to the state tables.

    Args:
        chain_id: The chain the events come from.
    """

    def __init__(self, chain_id: int) -> None:
        self.chain_id = chain_id

    def apply(self, connection: Connection, logs: Sequence[ChainLog]) -> None:
        """Stores the events and the state they imply; `logs` must be in chain order and follow what is stored."""
        if not logs:
            return
        chain_id = self.chain_id
        certificates = _Versions(("certificate_id",))
        offers = _Versions(("certificate_id", "kind"))
        # The stored versions this batch builds on: of every certificate it touches, except those it mints before
        # anything else happens to them (nothing can be stored of a certificate before its mint; a back-fill
        # mints most of the certificates it touches).
        cert_ids: set[str] = set()
        minted_here: set[str] = set()
        for log in logs:
            if (log.contract == "ImageCertificate" and log.name in _CERTIFICATE_EVENTS) or (
                log.contract == "LicenseMarket" and log.name in _OFFER_EVENTS
            ):
                token = log.args["tokenId"] if log.contract == "ImageCertificate" else log.args["certificateId"]
                cid = u256(int(token))
                if cid in cert_ids:
                    continue
                cert_ids.add(cid)
                if log.name == "CertificateRegistered" or (log.name == "Transfer" and log.args["from"] == ZERO_ADDRESS):
                    minted_here.add(cid)
        self._load(connection, cert_ids - minted_here, certificates, offers)

        events: list[tuple[Any, ...]] = []
        transfers: list[Row] = []
        licences: dict[str, Row] = {}
        settlements: list[Row] = []
        anchors: list[Row] = []
        registered: dict[str, tuple[str, str]] = {}

        for log in logs:
            at = log.pos
            args = log.args
            events.append((chain_id, log.block_hash, log.tx_hash, log.log_index, log.block_number, at, log.tx_index,
                           log.contract, log.address, log.name, log.topics, log.data))
            contract, name = log.contract, log.name
            if contract == "ImageCertificate":
                if name not in _CERTIFICATE_EVENTS:
                    continue
                cid = u256(int(args["tokenId"]))
                key = (cid,)
                current = certificates.get(key)
                if name == "CertificateRegistered":
                    registered[cid] = (str(args["metadataDigest"]), str(args["fingerprint"]))
                elif name == "Transfer":
                    sender, receiver = str(args["from"]), str(args["to"])
                    transfers.append({
                        "chain_id": chain_id, "certificate_id": cid, "pos": at, "from_address": sender,
                        "to_address": receiver, "block_number": log.block_number, "tx_hash": log.tx_hash,
                    })
                    if sender == ZERO_ADDRESS or current is None:
                        digest, fingerprint = registered.pop(cid, (ZERO_HASH, ZERO_HASH))
                        certificates.replace(key, {
                            "chain_id": chain_id, "certificate_id": cid, "holder": receiver, "holding": 0,
                            "creator": receiver, "metadata_digest": digest, "fingerprint": fingerprint,
                            "disputed": False, "dispute_cid": None, "registered_block": log.block_number,
                            "registered_tx": log.tx_hash,
                        }, at)
                    else:
                        # The contract moves the holding counter on every transfer but the mint.
                        certificates.replace(key, {**current, "holder": receiver,
                                                   "holding": current["holding"] + 1}, at)
                elif current is None:
                    continue  # cannot happen with this contract: every other event needs a minted certificate
                elif name == "CertificateMetadataReplaced":
                    certificates.replace(key, {**current, "metadata_digest": str(args["metadataDigest"])}, at)
                elif name == "CertificateDisputed":
                    certificates.replace(key, {**current, "disputed": True,
                                               "dispute_cid": str(args["evidenceCid"])}, at)
                elif name == "CertificateDisputeCleared":
                    certificates.replace(key, {**current, "disputed": False,
                                               "dispute_cid": str(args["resolutionCid"])}, at)
            elif contract == "LicenseMarket":
                if name == "LicencePurchased":
                    end = int(args["end"])
                    licence_id = u256(int(args["licenceId"]))
                    licences[licence_id] = {
                        "chain_id": chain_id, "licence_id": licence_id,
                        "certificate_id": u256(int(args["certificateId"])), "licensee": str(args["licensee"]),
                        "kind": int(args["kind"]), "starts_at": _time(int(args["start"])),
                        "ends_at": None if end == PERPETUAL else _time(end), "price": u256(int(args["price"])),
                        "holder": str(args["holder"]), "platform_fee": u256(int(args["platformFee"])),
                        "case_id": None, "pos": at, "block_number": log.block_number, "tx_hash": log.tx_hash,
                    }
                elif name == "ClaimSettled":
                    licence_id = u256(int(args["licenceId"]))
                    if licence_id in licences:
                        licences[licence_id]["case_id"] = str(args["caseId"])
                    settlements.append({
                        "chain_id": chain_id, "case_id": str(args["caseId"]),
                        "certificate_id": u256(int(args["certificateId"])), "payer": str(args["payer"]),
                        "licence_id": licence_id, "holder": str(args["holder"]),
                        "holder_amount": u256(int(args["holderAmount"])), "treasury": str(args["treasury"]),
                        "platform_amount": u256(int(args["platformAmount"])), "pos": at,
                        "block_number": log.block_number, "tx_hash": log.tx_hash,
                    })
                elif name in _OFFER_EVENTS:
                    cid = u256(int(args["certificateId"]))
                    kind = int(args["kind"])
                    certificate = certificates.get((cid,))
                    holding = certificate["holding"] if certificate is not None else 0
                    if name == "OfferPublished":
                        row = {"chain_id": chain_id, "certificate_id": cid, "kind": kind,
                               "holder": str(args["holder"]), "price": u256(int(args["price"])),
                               "duration": _time(int(args["duration"])), "holding": holding, "active": True}
                    else:
                        previous = offers.get((cid, kind))
                        row = {"chain_id": chain_id, "certificate_id": cid, "kind": kind,
                               "holder": str(args["holder"]),
                               "price": previous["price"] if previous else u256(0),
                               "duration": previous["duration"] if previous else 0,
                               "holding": holding, "active": False}
                    offers.replace((cid, kind), row, at)
            elif contract == "EvidenceAnchor" and name == "EvidenceAnchored":
                anchors.append({
                    "chain_id": chain_id, "root": str(args["root"]), "record_count": _time(int(args["count"])),
                    "batch_cid": str(args["batchCid"]), "anchorer": str(args["anchorer"]),
                    "anchored_at": _time(int(args["timestamp"])), "pos": at, "block_number": log.block_number,
                    "tx_hash": log.tx_hash,
                })

        self._close(connection, CertificateVersion, certificates)
        self._close(connection, OfferVersion, offers)
        bulk_insert(connection, table_of(ChainEvent), events, _EVENT_COLUMNS)
        for model, rows in (
            (CertificateVersion, certificates.new), (OfferVersion, offers.new),
            (CertificateTransfer, transfers), (Licence, list(licences.values())), (Settlement, settlements),
            (EvidenceAnchorRecord, anchors),
        ):
            bulk_insert(connection, table_of(model), rows)

    def _load(self, connection: Connection, cert_ids: set[str], certificates: _Versions, offers: _Versions) -> None:
        if not cert_ids:
            return
        ids = sorted(cert_ids)
        cert_table = table_of(CertificateVersion)
        offer_table = table_of(OfferVersion)
        # One expanding parameter: the ids are bound as values, not coerced one by one into SQL literals.
        current_certificates = select(cert_table).where(
            cert_table.c.chain_id == self.chain_id, cert_table.c.certificate_id.in_(bindparam("ids", expanding=True)),
            cert_table.c.to_pos.is_(None),
        )
        current_offers = select(offer_table).where(
            offer_table.c.chain_id == self.chain_id,
            offer_table.c.certificate_id.in_(bindparam("ids", expanding=True)), offer_table.c.to_pos.is_(None),
        )
        for start in range(0, len(ids), _IN_CHUNK):
            chunk = {"ids": ids[start : start + _IN_CHUNK]}
            for row in connection.execute(current_certificates, chunk).mappings():
                certificates.current[(row["certificate_id"],)] = dict(row)
            for row in connection.execute(current_offers, chunk).mappings():
                offers.current[(row["certificate_id"], row["kind"])] = dict(row)

    def _close(self, connection: Connection, model: type[CertificateVersion] | type[OfferVersion],
               versions: _Versions) -> None:
        if not versions.closed:
            return
        table = table_of(model)
        conditions = [table.c.chain_id == self.chain_id, table.c.from_pos == bindparam("k_from_pos")]
        conditions += [table.c[c] == bindparam(f"k_{c}") for c in versions.key_columns]
        statement = update(table).where(and_(*conditions)).values(to_pos=bindparam("new_to_pos"))
        connection.execute(statement, versions.closed)

    def rollback(self, connection: Connection, after_block: int) -> int:
        """Undoes every event after `after_block`: deletes what they made and reopens what they closed.

        Returns:
            How many events were removed.
        """
        cut = pos(after_block + 1, 0) if after_block >= 0 else 0
        removed = 0
        versioned: tuple[type[Base], ...] = VERSIONED_TABLES
        append_only: tuple[type[Base], ...] = APPEND_ONLY_TABLES
        for model in versioned:
            table = table_of(model)
            connection.execute(delete(table).where(table.c.chain_id == self.chain_id, table.c.from_pos >= cut))
            connection.execute(
                update(table).where(table.c.chain_id == self.chain_id, table.c.to_pos >= cut).values(to_pos=None)
            )
        for model in append_only:
            table = table_of(model)
            result = connection.execute(delete(table).where(table.c.chain_id == self.chain_id, table.c.pos >= cut))
            if model is ChainEvent:
                removed = result.rowcount
        blocks = table_of(ChainBlock)
        connection.execute(delete(blocks).where(blocks.c.chain_id == self.chain_id, blocks.c.number > after_block))
        return removed

