"""What crosses the HTTP boundary."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class IndexerHealth(BaseModel):
    """Where the chain indexer stands (from its last heartbeat in the store)."""

    state: str = Field(description="starting | backfill | live | retrying | stopped")
    head_block: int
    indexed_block: int
    confirmed_block: int
    lag_blocks: int = Field(description="Blocks between the chain head and the last indexed block.")
    last_error: str | None = None
    updated_at: datetime
    seconds_since_update: float


class HealthPublic(BaseModel):
    """Liveness and what the service is connected to."""

    status: Literal["ok", "degraded"]
    version: str
    chain_id: int | None = None
    block_number: int | None = None
    deployment: bool = Field(description="Whether the chain has a deployment record.")
    indexer: IndexerHealth | None = Field(default=None, description="The chain indexer, once it has run.")
    problems: list[str] = Field(default_factory=list)


class ContractsPublic(BaseModel):
    """The Tracemark contracts on the chain the service serves."""

    chain_id: int
    deployment_block: int
    contracts: dict[str, str]


class ErrorPublic(BaseModel):
    """An error answer."""

    detail: str


class ReadAt(BaseModel):
    """The block an answer was read at. Only confirmed state is served unless `unconfirmed=true` was asked."""

    block: int
    block_hash: str | None
    confirmed: bool = Field(description="Whether the read block is at or below the confirmed block.")
    confirmed_block: int
    indexed_block: int
    head_block: int = Field(description="Chain head the indexer saw at its last checkpoint.")


class TransferPublic(BaseModel):
    """One change of hands of a certificate (the mint has `from_address` 0x0)."""

    from_address: str
    to_address: str
    block: int
    tx_hash: str
    confirmed: bool


class OfferPublic(BaseModel):
    """A licence offer; `live` only while active, under the holding it was published in, and not disputed."""

    kind: int
    holder: str
    price: str = Field(description="CPY base units, decimal.")
    duration_s: int = Field(description="0 for a perpetual licence.")
    live: bool
    dead_because: Literal["withdrawn", "changed_hands", "disputed"] | None = None
    since_block: int
    confirmed: bool


class CertificatePublic(BaseModel):
    """An ownership certificate as of the read block."""

    id: str = Field(description="Token id, decimal (= the SHA-256 content hash as a number).")
    content_hash: str = Field(description="0x + 64 hex digits.")
    holder: str
    creator: str
    holding: int = Field(description="Changes of hands so far (the contract's holding counter).")
    metadata_digest: str
    fingerprint: str
    disputed: bool
    dispute_cid: str | None
    registered_block: int
    registered_tx: str
    since_block: int = Field(description="Block of the event that gave the certificate this state.")
    confirmed: bool


class CertificateDetailPublic(CertificatePublic):
    """A certificate with its holder history and offers."""

    holders: list[TransferPublic]
    offers: list[OfferPublic]


class CertificateAnswer(BaseModel):
    """`GET /v1/certificates/{id}`."""

    chain_id: int
    read_at: ReadAt
    certificate: CertificateDetailPublic


class CertificatePage(BaseModel):
    """`GET /v1/certificates?holder=...`: a page of certificates by id; `next` continues."""

    chain_id: int
    read_at: ReadAt
    items: list[CertificatePublic]
    next: str | None = Field(description="Pass as `after` for the next page; null on the last page.")


class LicencePublic(BaseModel):
    """A licence record."""

    id: str = Field(description="Licence id, decimal.")
    certificate_id: str
    licensee: str
    kind: int
    starts_at: int = Field(description="Unix time.")
    ends_at: int | None = Field(description="Unix time; null for a perpetual licence.")
    price: str
    holder: str
    platform_fee: str
    case_id: str | None = Field(description="The case whose settlement granted it, if any.")
    block: int
    tx_hash: str
    confirmed: bool


class LicencePage(BaseModel):
    """`GET /v1/licences`: a page of licences in chain order; `next` continues."""

    chain_id: int
    read_at: ReadAt
    items: list[LicencePublic]
    next: str | None


class PayoutPublic(BaseModel):
    """One payout of a settlement."""

    role: Literal["holder", "platform"]
    to: str
    amount: str


class SettlementPublic(BaseModel):
    """The receipt of a settled claim."""

    case_id: str
    certificate_id: str
    payer: str
    licence_id: str
    amount: str = Field(description="Total paid, decimal CPY base units (the payouts add up to it).")
    payouts: list[PayoutPublic]
    block: int
    tx_hash: str
    confirmed: bool


class SettlementPage(BaseModel):
    """`GET /v1/settlements`: a page of settlements in chain order; `next` continues."""

    chain_id: int
    read_at: ReadAt
    items: list[SettlementPublic]
    next: str | None
