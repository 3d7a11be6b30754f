"""Tables of the chain indexer: the checkpoint, recent block hashes, every event, and the state they imply.

Conventions:
- Every row carries its `chain_id`, so one database can follow several chains.
- A log's place in the chain is `pos = block_number * 2**20 + log_index` (see `tracemark.chain.indexer.pos`):
  one integer that orders events and lets "as of block B" be `pos < (B + 1) * 2**20`.
- State that changes (certificates, offers) is kept as *versions*: a row is valid from `from_pos` (the event that
  made it) until `to_pos` (the event that replaced it; NULL while current). Reading at any block is a range test,
  and undoing a reorg is the same two statements for every versioned table: delete the versions made after the
  common ancestor, reopen the versions closed after it.
- Records that never change once made (events, transfers, licences, settlements, anchors) carry their `pos`;
  undoing a reorg deletes those after the ancestor.
- Hashes and addresses are lowercase `0x` hex as the node sends them; 256-bit numbers (token ids, amounts) are
  64-digit lowercase hex without `0x`, so they are exact on SQLite and PostgreSQL and sort numerically.
  Times and durations (uint64) are integers; a perpetual licence has no end (NULL).
- No surrogate keys and no wall-clock columns outside the audit tables (`chain_reorgs`, `indexer_status`), so
  indexing the same chain twice gives identical rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from tracemark.store.base import Base

HASH = 66  # 0x + 64 hex digits
ADDRESS = 42  # 0x + 40 hex digits
U256 = 64  # 64 hex digits, no 0x


class ChainCursor(Base):
    """The checkpoint of one chain: every event up to `indexed_block` is stored; written in the same
    transaction as those events."""

    __tablename__ = "chain_cursors"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    deployment_key: Mapped[str] = mapped_column(String(HASH), doc="Digest of the deployment's addresses and block.")
    start_block: Mapped[int] = mapped_column(BigInteger, doc="The deployment block: where indexing starts.")
    indexed_block: Mapped[int] = mapped_column(BigInteger, doc="Last block whose events are all stored.")
    indexed_hash: Mapped[str | None] = mapped_column(String(HASH), doc="Hash of `indexed_block`.")
    head_block: Mapped[int] = mapped_column(BigInteger, doc="Chain head seen when this checkpoint was written.")
    confirmed_block: Mapped[int] = mapped_column(
        BigInteger, doc="min(indexed_block, head_block - confirmations): state up to here is confirmed."
    )
    confirmations: Mapped[int] = mapped_column(Integer, doc="Confirmation depth in force at this checkpoint.")


class ChainBlock(Base):
    """Hashes of the blocks in the unconfirmed window (and the confirmed tip), to detect reorgs."""

    __tablename__ = "chain_blocks"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(HASH))
    parent_hash: Mapped[str] = mapped_column(String(HASH))


class ChainEvent(Base):
    """Every event of the Tracemark contracts, keyed by chain, block hash, transaction and log index: its contract
    and event name and its payload as bytes, so it can be decoded again and checked against the chain
    (`tracemark.chain.indexer.events.EventDecoder.decode_stored` decodes the arguments).

    The primary key leads with the block number, which the block hash implies (so the key is unique exactly when
    chain, block hash, transaction and log index are), and on SQLite the table is stored in its key's order
    (`WITHOUT ROWID`): new rows land at the end of one B-tree, where a key led by the hash scattered every range's
    rows over a separate index and made each commit rewrite most of its pages (migration 0008). Reads by position
    go by block number (`pos` orders the events of a block)."""

    __tablename__ = "chain_events"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    block_hash: Mapped[str] = mapped_column(String(HASH), primary_key=True)
    tx_hash: Mapped[str] = mapped_column(String(HASH), primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    pos: Mapped[int] = mapped_column(BigInteger)
    tx_index: Mapped[int] = mapped_column(Integer)
    contract: Mapped[str] = mapped_column(String(32), doc="Contract name, e.g. `LicenseMarket`.")
    address: Mapped[str] = mapped_column(String(ADDRESS))
    name: Mapped[str] = mapped_column(String(64), doc="Event name, e.g. `LicencePurchased`.")
    topics: Mapped[bytes] = mapped_column(
        LargeBinary, doc="Indexed topics after topic 0 (implied by contract and name), 32 bytes each."
    )
    data: Mapped[bytes] = mapped_column(LargeBinary, doc="The log's data.")

    __table_args__ = ({"sqlite_with_rowid": False},)


class CertificateVersion(Base):
    """A certificate as it stood between two events: holder, holding counter, metadata and dispute flag."""

    __tablename__ = "certificates"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    certificate_id: Mapped[str] = mapped_column(String(U256), primary_key=True, doc="Token id = content hash.")
    from_pos: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    to_pos: Mapped[int | None] = mapped_column(BigInteger)
    holder: Mapped[str] = mapped_column(String(ADDRESS))
    holding: Mapped[int] = mapped_column(BigInteger, doc="Changes of hands so far (the contract's holding counter).")
    creator: Mapped[str] = mapped_column(String(ADDRESS))
    metadata_digest: Mapped[str] = mapped_column(String(HASH))
    fingerprint: Mapped[str] = mapped_column(String(HASH))
    disputed: Mapped[bool] = mapped_column(Boolean)
    dispute_cid: Mapped[str | None] = mapped_column(Text, doc="Evidence CID while disputed, else the resolution's.")
    registered_block: Mapped[int] = mapped_column(BigInteger)
    registered_tx: Mapped[str] = mapped_column(String(HASH))

    __table_args__ = (
        Index("ix_certificates_holder", "chain_id", "holder", "certificate_id"),
        Index("ix_certificates_from_pos", "chain_id", "from_pos"),
        # Only closed versions: current ones (most rows) cost no index entry on insert.
        Index("ix_certificates_to_pos", "chain_id", "to_pos", sqlite_where=text("to_pos IS NOT NULL"),
              postgresql_where=text("to_pos IS NOT NULL")),
    )


class CertificateTransfer(Base):
    """One change of hands (the mint included): the holder history of a certificate."""

    __tablename__ = "certificate_transfers"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    certificate_id: Mapped[str] = mapped_column(String(U256), primary_key=True)
    pos: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    from_address: Mapped[str] = mapped_column(String(ADDRESS))
    to_address: Mapped[str] = mapped_column(String(ADDRESS))
    block_number: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(HASH))

    __table_args__ = (Index("ix_certificate_transfers_pos", "chain_id", "pos"),)


class OfferVersion(Base):
    """A licence offer as published (or withdrawn). It is live at a block only while `active`, the certificate's
    holding counter still equals `holding` (it dies when the certificate changes hands) and it is not disputed."""

    __tablename__ = "offers"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    certificate_id: Mapped[str] = mapped_column(String(U256), primary_key=True)
    kind: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    from_pos: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    to_pos: Mapped[int | None] = mapped_column(BigInteger)
    holder: Mapped[str] = mapped_column(String(ADDRESS))
    price: Mapped[str] = mapped_column(String(U256))
    duration: Mapped[int] = mapped_column(BigInteger, doc="Seconds; 0 for a perpetual licence.")
    holding: Mapped[int] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(Boolean, doc="False once withdrawn.")

    __table_args__ = (
        Index("ix_offers_from_pos", "chain_id", "from_pos"),
        # Only closed versions: current ones (most rows) cost no index entry on insert.
        Index("ix_offers_to_pos", "chain_id", "to_pos", sqlite_where=text("to_pos IS NOT NULL"),
              postgresql_where=text("to_pos IS NOT NULL")),
    )


class Licence(Base):
    """A licence record (`LicencePurchased`), bought from an offer or granted by a settlement."""

    __tablename__ = "licences"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    licence_id: Mapped[str] = mapped_column(String(U256), primary_key=True)
    certificate_id: Mapped[str] = mapped_column(String(U256))
    licensee: Mapped[str] = mapped_column(String(ADDRESS))
    kind: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[int] = mapped_column(BigInteger)
    ends_at: Mapped[int | None] = mapped_column(BigInteger, doc="NULL for a perpetual licence.")
    price: Mapped[str] = mapped_column(String(U256))
    holder: Mapped[str] = mapped_column(String(ADDRESS))
    platform_fee: Mapped[str] = mapped_column(String(U256))
    case_id: Mapped[str | None] = mapped_column(String(HASH), doc="The case whose settlement granted it.")
    pos: Mapped[int] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(HASH))

    __table_args__ = (
        Index("ix_licences_certificate", "chain_id", "certificate_id", "pos"),
        Index("ix_licences_licensee", "chain_id", "licensee", "pos"),
        Index("ix_licences_pos", "chain_id", "pos"),
    )


class Settlement(Base):
    """The receipt of a settled claim (`ClaimSettled`) with its payouts."""

    __tablename__ = "settlements"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    case_id: Mapped[str] = mapped_column(String(HASH), primary_key=True)
    certificate_id: Mapped[str] = mapped_column(String(U256))
    payer: Mapped[str] = mapped_column(String(ADDRESS))
    licence_id: Mapped[str] = mapped_column(String(U256))
    holder: Mapped[str] = mapped_column(String(ADDRESS))
    holder_amount: Mapped[str] = mapped_column(String(U256))
    treasury: Mapped[str] = mapped_column(String(ADDRESS))
    platform_amount: Mapped[str] = mapped_column(String(U256))
    pos: Mapped[int] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(HASH))

    __table_args__ = (
        Index("ix_settlements_certificate", "chain_id", "certificate_id", "pos"),
        Index("ix_settlements_payer", "chain_id", "payer", "pos"),
        Index("ix_settlements_pos", "chain_id", "pos"),
    )


class EvidenceAnchorRecord(Base):
    """An anchored evidence batch (`EvidenceAnchored`)."""

    __tablename__ = "evidence_anchors"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[str] = mapped_column(String(HASH), primary_key=True)
    record_count: Mapped[int] = mapped_column(BigInteger)
    batch_cid: Mapped[str] = mapped_column(Text)
    anchorer: Mapped[str] = mapped_column(String(ADDRESS))
    anchored_at: Mapped[int] = mapped_column(BigInteger, doc="Block timestamp of the anchoring.")
    pos: Mapped[int] = mapped_column(BigInteger)
    block_number: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(HASH))

    __table_args__ = (Index("ix_evidence_anchors_pos", "chain_id", "pos"),)


class ChainReorg(Base):
    """Audit log: every reorg the indexer undid."""

    __tablename__ = "chain_reorgs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger, index=True)
    detected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    old_tip: Mapped[int] = mapped_column(BigInteger)
    old_tip_hash: Mapped[str | None] = mapped_column(String(HASH))
    common_ancestor: Mapped[int] = mapped_column(BigInteger)
    depth: Mapped[int] = mapped_column(BigInteger, doc="old_tip - common_ancestor.")
    beyond_confirmations: Mapped[bool] = mapped_column(Boolean, doc="Whether confirmed events were undone.")
    events_removed: Mapped[int] = mapped_column(BigInteger)


class IndexerStatus(Base):
    """Heartbeat and health of the indexer of a chain (outside the checkpoint transaction)."""

    __tablename__ = "indexer_status"

    chain_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    state: Mapped[str] = mapped_column(String(16), doc="starting | backfill | live | retrying | stopped")
    head_block: Mapped[int] = mapped_column(BigInteger)
    indexed_block: Mapped[int] = mapped_column(BigInteger)
    confirmed_block: Mapped[int] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer)
    retries_total: Mapped[int] = mapped_column(BigInteger)
    reorgs_total: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


VERSIONED_TABLES = (CertificateVersion, OfferVersion)
"""Tables of versions (`from_pos`, `to_pos`)."""
APPEND_ONLY_TABLES = (ChainEvent, CertificateTransfer, Licence, Settlement, EvidenceAnchorRecord)
"""Tables of records that never change once made (`pos`)."""
CHAIN_STATE_TABLES = (ChainCursor, ChainBlock, *VERSIONED_TABLES, *APPEND_ONLY_TABLES)
"""Everything the indexer derives from the chain (audit tables excluded)."""
