"""`GET /v1/certificates/{id}` and `GET /v1/certificates?holder=...`: ownership certificates as the chain says.

Public and read-only: this is public chain data. Inputs are validated (400), pages are bounded (at most 100), and
only confirmed state is served unless `unconfirmed=true` is asked for.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from tracemark.api.chain_views import (
    block_of_pos,
    chain_state,
    checksum,
    decimal,
    parse_address,
    parse_u256,
    read_at,
)
from tracemark.api.deps import ChainIdDep, DatabaseDep
from tracemark.api.schemas import (
    CertificateAnswer,
    CertificateDetailPublic,
    CertificatePage,
    CertificatePublic,
    ErrorPublic,
    OfferPublic,
    TransferPublic,
)
from tracemark.store.chain_models import CertificateVersion
from tracemark.store.chain_repository import MAX_PAGE, ReadPoint

router = APIRouter(prefix="/v1", tags=["certificates"])

Unconfirmed = Annotated[
    bool, Query(description="Read at the last indexed block instead of the confirmed one (records carry a flag).")
]
ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorPublic, "description": "A malformed input."},
    503: {"model": ErrorPublic, "description": "The chain is not indexed yet."},
}


def _public(row: CertificateVersion, point: ReadPoint) -> CertificatePublic:
    return CertificatePublic(
        id=decimal(row.certificate_id), content_hash="0x" + row.certificate_id, holder=checksum(row.holder),
        creator=checksum(row.creator), holding=row.holding, metadata_digest=row.metadata_digest,
        fingerprint=row.fingerprint, disputed=row.disputed, dispute_cid=row.dispute_cid,
        registered_block=row.registered_block, registered_tx=row.registered_tx,
        since_block=block_of_pos(row.from_pos), confirmed=point.is_confirmed(row.from_pos),
    )


@router.get(
    "/certificates/{certificate_id}",
    response_model=CertificateAnswer,
    responses={**ERRORS, 404: {"model": ErrorPublic, "description": "No such certificate at the read block."}},
)
def certificate(certificate_id: str, database: DatabaseDep, chain: ChainIdDep,
                unconfirmed: Unconfirmed = False) -> CertificateAnswer:
    """A certificate (id in decimal, or its content hash in 0x hex) with its holder history and offers."""
    key = parse_u256(certificate_id, "certificate id")
    chain_id = chain()
    with chain_state(database, chain_id, unconfirmed) as (state, point):
        row = state.certificate(key, point)
        if row is None:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, detail=f"no certificate {certificate_id} at block {point.block}"
            )
        holders = [
            TransferPublic(from_address=checksum(t.from_address), to_address=checksum(t.to_address),
                           block=t.block_number, tx_hash=t.tx_hash, confirmed=point.is_confirmed(t.pos))
            for t in state.holder_history(key, point)
        ]
        offers = [
            OfferPublic(kind=o.offer.kind, holder=checksum(o.offer.holder), price=decimal(o.offer.price),
                        duration_s=o.offer.duration, live=o.live, dead_because=o.dead_because,
                        since_block=block_of_pos(o.offer.from_pos), confirmed=point.is_confirmed(o.offer.from_pos))
            for o in state.offers(row, point)
        ]
        detail = CertificateDetailPublic(**_public(row, point).model_dump(), holders=holders, offers=offers)
        return CertificateAnswer(chain_id=chain_id, read_at=read_at(point), certificate=detail)


@router.get("/certificates", response_model=CertificatePage, responses=ERRORS)
def certificates(
    database: DatabaseDep,
    chain: ChainIdDep,
    holder: Annotated[str, Query(description="The holder's address.")],
    after: Annotated[str | None, Query(description="`next` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    unconfirmed: Unconfirmed = False,
) -> CertificatePage:
    """The certificates an address holds, by id, a page at a time."""
    address = parse_address(holder, "holder")
    start = parse_u256(after, "after") if after is not None else None
    chain_id = chain()
    with chain_state(database, chain_id, unconfirmed) as (state, point):
        rows = state.certificates_of(address, point, after=start, limit=limit)
        items = [_public(row, point) for row in rows]
        next_page = decimal(rows[-1].certificate_id) if len(rows) == limit else None
        return CertificatePage(chain_id=chain_id, read_at=read_at(point), items=items, next=next_page)
