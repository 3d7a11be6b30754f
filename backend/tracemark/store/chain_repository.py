"""Reads of the indexed chain state, at a block: what the API and the services ask the store.

Everything is read "as of" a block. By default that is the **confirmed** block (`chain_cursors.confirmed_block`):
nothing with legal or payment effect (a claim, a letter, a payout) may rest on an event that a reorg could still
take away, so the default view does not show such events at all. A caller that wants the latest (unconfirmed)
state asks for it explicitly and gets a `confirmed` flag on every record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from tracemark.chain.indexer.events import pos
from tracemark.store.chain_models import (
    CertificateTransfer,
    CertificateVersion,
    ChainBlock,
    ChainCursor,
    IndexerStatus,
    Licence,
    OfferVersion,
    Settlement,
)

MAX_PAGE = 100
"""The largest page any list read returns."""


@dataclass(frozen=True)
class ReadPoint:
    """The block a read is answered at, and where the indexer stands."""

    chain_id: int
    block: int
    block_hash: str | None
    confirmed: bool
    confirmed_block: int
    indexed_block: int
    head_block: int

    @property
    def cut(self) -> int:
        """Positions below this are at or before the read block."""
        return pos(self.block + 1, 0)

    def is_confirmed(self, position: int) -> bool:
        """Whether the event at `position` is confirmed."""
        return position < pos(self.confirmed_block + 1, 0)


@dataclass(frozen=True)
class OfferState:
    """An offer as of the read block, with why it is not live (None while live)."""

    offer: OfferVersion
    live: bool
    dead_because: str | None  # "withdrawn" | "changed_hands" | "disputed"


def _current(model: type[CertificateVersion] | type[OfferVersion], cut: int) -> ColumnElement[bool]:
    return and_(model.from_pos < cut, or_(model.to_pos.is_(None), model.to_pos >= cut))


class ChainState:
    """Read-only access to one chain's indexed state.

    Args:
        session: A read session (`Database.read()`), which sees one snapshot.
        chain_id: The chain.
    """

    def __init__(self, session: Session, chain_id: int) -> None:
        self.session = session
        self.chain_id = chain_id

    def read_point(self, *, unconfirmed: bool = False) -> ReadPoint | None:
        """The block to read at: the confirmed block, or with `unconfirmed` the last indexed block. None when the
        chain has not been indexed yet."""
        cursor = self.session.get(ChainCursor, self.chain_id)
        if cursor is None:
            return None
        block = cursor.indexed_block if unconfirmed else cursor.confirmed_block
        block_hash = cursor.indexed_hash if block == cursor.indexed_block else self.session.scalar(
            select(ChainBlock.hash).where(ChainBlock.chain_id == self.chain_id, ChainBlock.number == block)
        )
        return ReadPoint(
            chain_id=self.chain_id, block=block, block_hash=block_hash, confirmed=block <= cursor.confirmed_block,
            confirmed_block=cursor.confirmed_block, indexed_block=cursor.indexed_block, head_block=cursor.head_block,
        )

    def certificate(self, certificate_id: str, at: ReadPoint) -> CertificateVersion | None:
        """A certificate (64-hex id) as of the read block."""
        return self.session.scalar(
            select(CertificateVersion).where(
                CertificateVersion.chain_id == self.chain_id, CertificateVersion.certificate_id == certificate_id,
                _current(CertificateVersion, at.cut),
            )
        )

    def holder_history(self, certificate_id: str, at: ReadPoint) -> Sequence[CertificateTransfer]:
        """Every change of hands of a certificate up to the read block, the mint first."""
        return self.session.scalars(
            select(CertificateTransfer)
            .where(CertificateTransfer.chain_id == self.chain_id, CertificateTransfer.certificate_id == certificate_id,
                   CertificateTransfer.pos < at.cut)
            .order_by(CertificateTransfer.pos)
        ).all()

    def offers(self, certificate: CertificateVersion, at: ReadPoint) -> list[OfferState]:
        """The offers of a certificate as of the read block; an offer lives only while it is active, the holding
        counter is the one it was published under, and the certificate is not disputed (as the contract says)."""
        rows = self.session.scalars(
            select(OfferVersion)
            .where(OfferVersion.chain_id == self.chain_id, OfferVersion.certificate_id == certificate.certificate_id,
                   _current(OfferVersion, at.cut))
            .order_by(OfferVersion.kind)
        ).all()
        out = []
        for offer in rows:
            reason = None
            if not offer.active:
                reason = "withdrawn"
            elif offer.holding != certificate.holding:
                reason = "changed_hands"
            elif certificate.disputed:
                reason = "disputed"
            out.append(OfferState(offer=offer, live=reason is None, dead_because=reason))
        return out

    def certificates_of(self, holder: str, at: ReadPoint, *, after: str | None = None,
                        limit: int = 50) -> Sequence[CertificateVersion]:
        """The certificates a holder (lowercase address) holds as of the read block, by id, a page at a time."""
        query = select(CertificateVersion).where(
            CertificateVersion.chain_id == self.chain_id, CertificateVersion.holder == holder,
            _current(CertificateVersion, at.cut),
        )
        if after is not None:
            query = query.where(CertificateVersion.certificate_id > after)
        return self.session.scalars(
            query.order_by(CertificateVersion.certificate_id).limit(min(limit, MAX_PAGE))
        ).all()

    def licences(self, at: ReadPoint, *, certificate: str | None = None, licensee: str | None = None,
                 after: int | None = None, limit: int = 50) -> Sequence[Licence]:
        """Licences up to the read block, in chain order, filtered by certificate and/or licensee."""
        query = select(Licence).where(Licence.chain_id == self.chain_id, Licence.pos < at.cut)
        if certificate is not None:
            query = query.where(Licence.certificate_id == certificate)
        if licensee is not None:
            query = query.where(Licence.licensee == licensee)
        if after is not None:
            query = query.where(Licence.pos > after)
        return self.session.scalars(query.order_by(Licence.pos).limit(min(limit, MAX_PAGE))).all()

    def settlements(self, at: ReadPoint, *, case: str | None = None, certificate: str | None = None,
                    payer: str | None = None, after: int | None = None, limit: int = 50) -> Sequence[Settlement]:
        """Settled claims up to the read block, in chain order, filtered by case, certificate and/or payer."""
        query = select(Settlement).where(Settlement.chain_id == self.chain_id, Settlement.pos < at.cut)
        if case is not None:
            query = query.where(Settlement.case_id == case)
        if certificate is not None:
            query = query.where(Settlement.certificate_id == certificate)
        if payer is not None:
            query = query.where(Settlement.payer == payer)
        if after is not None:
            query = query.where(Settlement.pos > after)
        return self.session.scalars(query.order_by(Settlement.pos).limit(min(limit, MAX_PAGE))).all()

    def status(self) -> IndexerStatus | None:
        """The indexer's last heartbeat for this chain."""
        return self.session.get(IndexerStatus, self.chain_id)


def indexed_chains(session: Session) -> list[int]:
    """The chains the store has a checkpoint for."""
    return list(session.scalars(select(ChainCursor.chain_id).order_by(ChainCursor.chain_id)))
