"""`/v1/findings`: where a right holder's images were seen on the web, grouped by country and by site operator.

A finding is a sighting of one of the holder's certificates (as of the confirmed block of the indexed chain): the
image and page URLs, the match report, when it was first and last seen and how often, whether it is gone, the
site's country (with the reason) and operator (from its imprint), and the archived evidence. A holder sees only
its own findings (`holder` may be omitted or must be the caller); caseworkers may name any holder, or none for
every sighting.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field
from web3 import Web3

from tracemark.api.deps import ChainIdDep, DatabaseDep
from tracemark.api.security import SessionDep
from tracemark.store.chain_repository import ChainState
from tracemark.store.sighting_models import SightingEvidence, SightingRecord, SiteRecord
from tracemark.store.sighting_repository import (
    MAX_PAGE,
    FindingGroup,
    FindingScope,
    evidence_of,
    finding_groups,
    findings,
    held_certificates,
)

router = APIRouter(prefix="/v1/findings", tags=["findings"])

ERRORS: dict[int | str, dict[str, object]] = {
    401: {"description": "No valid session."},
    403: {"description": "A holder other than the caller, asked by someone who is not a caseworker."},
    422: {"description": "A malformed parameter."},
}


class CountryPublic(BaseModel):
    """The country of a site, and why."""

    code: str | None = Field(description="ISO 3166-1 alpha-2, or null when unknown.")
    reason: str | None = None
    basis: str | None = Field(default=None, description="address | tld | content-language | html-lang | ...")


class EvidencePublic(BaseModel):
    """An archived response (WARC) behind a finding."""

    kind: str = Field(description="page | image")
    warc: str
    record_id: str
    sha256: str
    seen_at: datetime


class FindingPublic(BaseModel):
    """One image seen in one page."""

    id: int
    certificate_id: str | None = Field(description="The certificate seen (64 hex digits).")
    reference_id: str | None = Field(description="The matching index reference, for crawls against an index.")
    image_url: str
    page_url: str
    host: str
    country: CountryPublic
    operator: dict[str, Any] | None = Field(description="The site operator as read from its imprint or structured "
                                            "data: name, address, email, phone, vat_id, company_id, ...")
    score: float
    match_report: dict[str, Any]
    first_seen: datetime
    last_seen: datetime
    times_seen: int
    gone_at: datetime | None
    online_days: float = Field(description="From first seen to gone (or to last seen while still online).")
    evidence: list[EvidencePublic]


class OperatorGroup(BaseModel):
    """The findings at one operator's sites (or at one site, where no operator is known)."""

    operator: str | None
    hosts: list[str]
    sightings: int
    online: int = Field(description="Sightings not found gone.")
    images: int = Field(description="Distinct certificates (or references) seen.")
    first_seen: datetime
    last_seen: datetime


class CountryGroup(BaseModel):
    """The findings in one country."""

    country: str | None
    sightings: int
    operators: list[OperatorGroup]


class FindingsPage(BaseModel):
    """The groups (over every matching finding) and one page of the findings themselves."""

    holder: str | None = Field(description="Whose certificates; null for a caseworker's view of every sighting.")
    chain_id: int | None
    read_block: int | None = Field(description="The confirmed block the holder's certificates were read at.")
    groups: list[CountryGroup]
    items: list[FindingPublic]
    next_before: int | None = Field(description="Pass as `before` for the next page; null on the last.")


def _country(site: SiteRecord) -> CountryPublic:
    return CountryPublic(code=site.country_code, reason=site.country_reason, basis=site.country_basis)


def _finding(row: SightingRecord, site: SiteRecord, evidence: list[SightingEvidence]) -> FindingPublic:
    end = row.gone_at or row.last_seen
    return FindingPublic(
        id=row.id, certificate_id=row.certificate_id, reference_id=row.reference_id, image_url=row.image_url,
        page_url=row.page_url, host=site.host, country=_country(site),
        operator=json.loads(site.operator) if site.operator else None, score=row.score,
        match_report=json.loads(row.match_report), first_seen=row.first_seen, last_seen=row.last_seen,
        times_seen=row.times_seen, gone_at=row.gone_at,
        online_days=round(max(0.0, (end - row.first_seen).total_seconds()) / 86400, 3),
        evidence=[EvidencePublic(kind=e.kind, warc=e.warc, record_id=e.record_id, sha256=e.sha256, seen_at=e.seen_at)
                  for e in evidence],
    )


def _groups(groups: list[FindingGroup]) -> list[CountryGroup]:
    out: dict[str | None, CountryGroup] = {}
    for group in groups:
        country = out.setdefault(group.country_code, CountryGroup(country=group.country_code, sightings=0,
                                                                  operators=[]))
        country.sightings += group.sightings
        country.operators.append(OperatorGroup(
            operator=group.operator_name, hosts=list(group.hosts), sightings=group.sightings, online=group.online,
            images=group.certificates, first_seen=group.first_seen, last_seen=group.last_seen))
    return list(out.values())


@router.get("", response_model=FindingsPage, responses=ERRORS)
def list_findings(
    caller: SessionDep, database: DatabaseDep, chain: ChainIdDep,
    country: Annotated[str | None, Query(pattern=r"^(?:[A-Za-z]{2}|unknown)$",
                                         description="ISO 3166-1 alpha-2 code, or `unknown`.")] = None,
    holder: Annotated[str | None, Query(max_length=42, description="A holder's address (caseworkers only, "
                                        "unless it is the caller's own).")] = None,
    include_gone: Annotated[bool, Query(description="Count sightings found gone.")] = True,
    before: Annotated[int | None, Query(ge=1, description="Page cursor: findings with ids below it.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> FindingsPage:
    """The caller's findings (or, for a caseworker, a holder's or everyone's), newest first, with the counts by
    country and operator."""
    if holder is not None:
        if not Web3.is_address(holder):
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_ENTITY, detail=f"not an address: {holder!r}")
        if holder.lower() != caller.key and not caller.is_caseworker:
            raise HTTPException(status.HTTP_403_FORBIDDEN, detail="only caseworkers may read another holder's findings")
    whose = holder.lower() if holder is not None else (None if caller.is_caseworker else caller.key)
    code = country.upper() if country is not None and country != "unknown" else country
    with database.read() as session:
        chain_id: int | None = None
        read_block: int | None = None
        if whose is not None:
            chain_id = chain()
            point = ChainState(session, chain_id).read_point()
            if point is None:  # the chain is not indexed yet: no certificates are known
                return FindingsPage(holder=Web3.to_checksum_address(whose), chain_id=chain_id, read_block=None,
                                    groups=[], items=[], next_before=None)
            read_block = point.block
            scope = FindingScope(certificates=held_certificates(chain_id, whose, point.cut), country=code,
                                 include_gone=include_gone)
        else:
            scope = FindingScope(country=code, include_gone=include_gone)
        groups = _groups(finding_groups(session, scope))
        rows = findings(session, scope, before=before, limit=limit)
        evidence = evidence_of(session, [row.id for row, _ in rows])
        items = [_finding(row, site, evidence[row.id]) for row, site in rows]
    return FindingsPage(
        holder=Web3.to_checksum_address(whose) if whose else None, chain_id=chain_id, read_block=read_block,
        groups=groups, items=items, next_before=items[-1].id if len(items) == limit else None,
    )
