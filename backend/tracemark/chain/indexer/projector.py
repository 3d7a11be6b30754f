"""From events to state: applies a batch of decoded events to the materialised tables, and undoes a reorg.

A batch (one `eth_getLogs` range) is applied with one read of the current versions it touches, the state changes
worked out in memory in chain order, and one bulk write per table, all inside the caller's transaction (the
same one that moves the checkpoint). See `tracemark.store.chain_models` for the versioning scheme.

What needs no database (the event rows, the append-only rows, the versioned-state operations) is worked out
beforehand by `tracemark.chain.indexer.batch.plan_batch`, possibly in the decode worker process; `write` replays
the operations over the stored versions and writes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, select, update

from tracemark.chain.indexer.batch import (
    ANCHOR_COLUMNS,
    EVENT_COLUMNS,
    LICENCE_COLUMNS,
    OP_DISPUTE_CLEARED,
    OP_DISPUTED,
    OP_METADATA,
    OP_OFFER_PUBLISHED,
    OP_REGISTERED,
    OP_TRANSFER,
    SETTLEMENT_COLUMNS,
    TRANSFER_COLUMNS,
    ZERO_ADDRESS,
    ZERO_HASH,
    RangeBatch,
    plan_batch,
)
from tracemark.chain.indexer.events import ChainLog, pos, u256
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

_IN_CHUNK = 500  # ids per IN (...) list; far below every database's limit on bound parameters

Row = dict[str, Any]

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
        self.write(connection, plan_batch(self.chain_id, logs))

    def write(self, connection: Connection, batch: RangeBatch) -> None:
        """Stores a planned batch: its events and append-only rows as they are, and the versioned state its
        operations imply on top of the stored versions. The batch must follow what is stored."""
        if not batch.events:
            return
        chain_id = self.chain_id
        certificates = _Versions(("certificate_id",))
        offers = _Versions(("certificate_id", "kind"))
        self._load(connection, batch.load_ids, certificates, offers)
        registered: dict[str, tuple[str, str]] = {}
        ZERO = ZERO_ADDRESS  # noqa: N806 - a local alias in the hot loop

        for op in batch.ops:
            code, cid = op[0], op[1]
            if code == OP_REGISTERED:
                registered[cid] = (op[2], op[3])
                continue
            key = (cid,)
            current = certificates.get(key)
            at = op[2]
            if code == OP_TRANSFER:
                _code, _cid, _at, sender, receiver, block_number, tx_hash = op
                if sender == ZERO or current is None:
                    digest, fingerprint = registered.pop(cid, (ZERO_HASH, ZERO_HASH))
                    certificates.replace(key, {
                        "chain_id": chain_id, "certificate_id": cid, "holder": receiver, "holding": 0,
                        "creator": receiver, "metadata_digest": digest, "fingerprint": fingerprint,
                        "disputed": False, "dispute_cid": None, "registered_block": block_number,
                        "registered_tx": tx_hash,
                    }, at)
                else:
                    # The contract moves the holding counter on every transfer but the mint.
                    certificates.replace(key, {**current, "holder": receiver, "holding": current["holding"] + 1}, at)
            elif code == OP_OFFER_PUBLISHED:
                _code, _cid, _at, kind, holder, price, duration = op
                holding = current["holding"] if current is not None else 0
                offers.replace((cid, kind), {
                    "chain_id": chain_id, "certificate_id": cid, "kind": kind, "holder": holder, "price": price,
                    "duration": duration, "holding": holding, "active": True,
                }, at)
            elif code in (OP_METADATA, OP_DISPUTED, OP_DISPUTE_CLEARED):
                if current is None:
                    continue  # cannot happen with this contract: every other event needs a minted certificate
                if code == OP_METADATA:
                    changed: Row = {"metadata_digest": op[3]}
                elif code == OP_DISPUTED:
                    changed = {"disputed": True, "dispute_cid": op[3]}
                else:
                    changed = {"disputed": False, "dispute_cid": op[3]}
                certificates.replace(key, {**current, **changed}, at)
            else:  # OP_OFFER_WITHDRAWN
                _code, _cid, _at, kind, holder = op
                holding = current["holding"] if current is not None else 0
                previous = offers.get((cid, kind))
                offers.replace((cid, kind), {
                    "chain_id": chain_id, "certificate_id": cid, "kind": kind, "holder": holder,
                    "price": previous["price"] if previous else u256(0),
                    "duration": previous["duration"] if previous else 0, "holding": holding, "active": False,
                }, at)

        self._close(connection, CertificateVersion, certificates)
        self._close(connection, OfferVersion, offers)
        bulk_insert(connection, table_of(ChainEvent), batch.events, EVENT_COLUMNS)
        bulk_insert(connection, table_of(CertificateVersion), certificates.new)
        bulk_insert(connection, table_of(OfferVersion), offers.new)
        for model, rows, columns in (
            (CertificateTransfer, batch.transfers, TRANSFER_COLUMNS), (Licence, batch.licences, LICENCE_COLUMNS),
            (Settlement, batch.settlements, SETTLEMENT_COLUMNS), (EvidenceAnchorRecord, batch.anchors, ANCHOR_COLUMNS),
        ):
            bulk_insert(connection, table_of(model), rows, columns)

    def _load(self, connection: Connection, ids: list[str], certificates: _Versions, offers: _Versions) -> None:
        if not ids:
            return
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
            # The events go by block number, their key's first column (they have no index on positions).
            after = table.c.block_number > after_block if model is ChainEvent else table.c.pos >= cut
            result = connection.execute(delete(table).where(table.c.chain_id == self.chain_id, after))
            if model is ChainEvent:
                removed = result.rowcount
        blocks = table_of(ChainBlock)
        connection.execute(delete(blocks).where(blocks.c.chain_id == self.chain_id, blocks.c.number > after_block))
        return removed

