"""`GET /v1/settlements?case=...`: settled claims and their payouts as the chain says.

Public and read-only: this is public chain data (the `ClaimSettled` receipts). Inputs are validated (400; at least
one filter), pages are bounded (at most 100), and only confirmed state is served unless `unconfirmed=true` is
asked for: a settlement is a payment, nothing may act on an unconfirmed one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tracemark.api.chain_views import (
    bad_request,
    block_of_pos,
    chain_state,
    checksum,
    decimal,
    parse_address,
    parse_bytes32,
    parse_cursor,
    parse_u256,
    read_at,
)
from tracemark.api.deps import ChainIdDep, DatabaseDep
from tracemark.api.routes.certificates import ERRORS, Unconfirmed
from tracemark.api.schemas import PayoutPublic, SettlementPage, SettlementPublic
from tracemark.store.chain_repository import MAX_PAGE

router = APIRouter(prefix="/v1", tags=["settlements"])


@router.get("/settlements", response_model=SettlementPage, responses=ERRORS)
def settlements(
    database: DatabaseDep,
    chain: ChainIdDep,
    case: Annotated[str | None, Query(description="Case id, 0x + 64 hex digits.")] = None,
    certificate: Annotated[str | None, Query(description="Certificate id (decimal or 0x hex).")] = None,
    payer: Annotated[str | None, Query(description="The payer's address.")] = None,
    after: Annotated[str | None, Query(description="`next` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    unconfirmed: Unconfirmed = False,
) -> SettlementPage:
    """Settlements of a case (at most one), a certificate or a payer, in chain order, with every payout."""
    if case is None and certificate is None and payer is None:
        raise bad_request("give case, certificate or payer")
    case_id = parse_bytes32(case, "case") if case is not None else None
    cert = parse_u256(certificate, "certificate") if certificate is not None else None
    who = parse_address(payer, "payer") if payer is not None else None
    cursor = parse_cursor(after)
    chain_id = chain()
    with chain_state(database, chain_id, unconfirmed) as (state, point):
        rows = state.settlements(point, case=case_id, certificate=cert, payer=who, after=cursor, limit=limit)
        items = [
            SettlementPublic(
                case_id=r.case_id, certificate_id=decimal(r.certificate_id), payer=checksum(r.payer),
                licence_id=decimal(r.licence_id),
                amount=str(int(r.holder_amount, 16) + int(r.platform_amount, 16)),
                payouts=[
                    PayoutPublic(role="holder", to=checksum(r.holder), amount=decimal(r.holder_amount)),
                    PayoutPublic(role="platform", to=checksum(r.treasury), amount=decimal(r.platform_amount)),
                ],
                block=block_of_pos(r.pos), tx_hash=r.tx_hash, confirmed=point.is_confirmed(r.pos),
            )
            for r in rows
        ]
        next_page = str(rows[-1].pos) if len(rows) == limit else None
        return SettlementPage(chain_id=chain_id, read_at=read_at(point), items=items, next=next_page)
