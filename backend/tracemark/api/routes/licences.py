"""`GET /v1/licences?certificate=...&licensee=...`: licence records as the chain says.

Public and read-only: this is public chain data. Inputs are validated (400; at least one filter), pages are
bounded (at most 100), and only confirmed state is served unless `unconfirmed=true` is asked for.
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
    parse_cursor,
    parse_u256,
    read_at,
)
from tracemark.api.deps import ChainIdDep, DatabaseDep
from tracemark.api.routes.certificates import ERRORS, Unconfirmed
from tracemark.api.schemas import LicencePage, LicencePublic
from tracemark.store.chain_repository import MAX_PAGE

router = APIRouter(prefix="/v1", tags=["licences"])


@router.get("/licences", response_model=LicencePage, responses=ERRORS)
def licences(
    database: DatabaseDep,
    chain: ChainIdDep,
    certificate: Annotated[str | None, Query(description="Certificate id (decimal or 0x hex).")] = None,
    licensee: Annotated[str | None, Query(description="The licensee's address.")] = None,
    after: Annotated[str | None, Query(description="`next` of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    unconfirmed: Unconfirmed = False,
) -> LicencePage:
    """Licences of a certificate and/or a licensee, in chain order (expired ones too: see `ends_at`)."""
    if certificate is None and licensee is None:
        raise bad_request("give certificate, licensee, or both")
    cert = parse_u256(certificate, "certificate") if certificate is not None else None
    who = parse_address(licensee, "licensee") if licensee is not None else None
    cursor = parse_cursor(after)
    chain_id = chain()
    with chain_state(database, chain_id, unconfirmed) as (state, point):
        rows = state.licences(point, certificate=cert, licensee=who, after=cursor, limit=limit)
        items = [
            LicencePublic(
                id=decimal(r.licence_id), certificate_id=decimal(r.certificate_id), licensee=checksum(r.licensee),
                kind=r.kind, starts_at=r.starts_at, ends_at=r.ends_at, price=decimal(r.price),
                holder=checksum(r.holder), platform_fee=decimal(r.platform_fee), case_id=r.case_id,
                block=block_of_pos(r.pos), tx_hash=r.tx_hash, confirmed=point.is_confirmed(r.pos),
            )
            for r in rows
        ]
        next_page = str(rows[-1].pos) if len(rows) == limit else None
        return LicencePage(chain_id=chain_id, read_at=read_at(point), items=items, next=next_page)
