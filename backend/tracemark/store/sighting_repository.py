"""Reads and writes of the crawler's findings (see `sighting_models`).

Functions take an open session from `Database.read()` or `Database.write()`, so the caller decides what one
transaction holds (a crawl writes a page's site, sightings and evidence together).

Findings for a right holder are the sightings of the certificates the holder holds as of a block of the indexed
chain (the confirmed block by default, see `chain_repository`): the holder's certificates are a subquery on the
indexed `certificates` versions, so a holder with many certificates costs one query, not one per certificate.

A sighting keeps the licence data of its latest capture (`page_licence`, `image_rights`), like its match report: a
capture replaces what an older one stored, a crawl that did not capture it (None) leaves it, and an older capture
arriving late only fills what was never stored. `licence_data_of` reads it back as the licence check's types.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session

from tracemark.cases.image_rights import ImageRights
from tracemark.cases.licence_check import PageLicenceData
from tracemark.store.chain_models import CertificateVersion
from tracemark.store.sighting_models import SightingEvidence, SightingRecord, SiteRecord

MAX_PAGE = 100
MAX_GROUPS = 500
_Query = TypeVar("_Query", bound="Select[*tuple[Any, ...]]")


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: the same text for the same value on every database."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def subject_of(certificate_id: str | None, reference_id: str | None) -> str:
    """The key of what was seen: a certificate, else a matching index's reference.

    Raises:
        ValueError: when neither (or a malformed certificate id) is given.
    """
    if certificate_id is not None:
        if len(certificate_id) != 64 or any(c not in "0123456789abcdef" for c in certificate_id):
            raise ValueError(f"a certificate id is 64 lowercase hex digits: {certificate_id!r}")
        return f"certificate:{certificate_id}"
    if reference_id:
        return f"index:{reference_id[:200]}"
    raise ValueError("a sighting names a certificate or a matching index reference")


@dataclass(frozen=True)
class EvidenceLink:
    """An archived response behind a sighting (a `tracemark.evidence.warc.EvidenceRef` and what it shows)."""

    kind: str  # "page" | "image"
    warc: str
    record_id: str
    sha256: str


def save_site(session: Session, host: str, *, checked_at: datetime, country_code: str | None = None,
              country_reason: str | None = None, country_basis: str | None = None,
              operator: dict[str, Any] | None = None) -> SiteRecord:
    """Records what a crawl learned about a site. A later reading replaces the country; an operator replaces the
    one known only when one was found (a recrawl that misses the imprint does not forget the operator)."""
    host = host.lower().rstrip(".")
    row = session.scalar(select(SiteRecord).where(SiteRecord.host == host))
    if row is None:
        row = SiteRecord(host=host, checked_at=checked_at)
        session.add(row)
    row.checked_at = max(row.checked_at, checked_at)
    if country_code is not None:
        row.country_code, row.country_reason, row.country_basis = country_code.upper(), country_reason, country_basis
    if operator is not None:
        row.operator = canonical_json(operator)
        name = operator.get("name")
        row.operator_name = str(name)[:300] if name else None
    session.flush()
    return row


def record_sighting(session: Session, *, site: SiteRecord, page_url: str, image_url: str, score: float,
                    match_report: dict[str, Any], seen_at: datetime, certificate_id: str | None = None,
                    reference_id: str | None = None, image_sha256: str | None = None,
                    evidence: Sequence[EvidenceLink] = (), page_licence: PageLicenceData | None = None,
                    image_rights: ImageRights | None = None) -> SightingRecord:
    """Records that an image was seen in a page: a new sighting, or the next sighting of a known one (last seen
    moves on, the count grows, a sighting found gone is back). `page_licence` and `image_rights` are the licence
    data captured with it (None: not captured this time)."""
    subject = subject_of(certificate_id, reference_id)
    page_hash, image_hash = _sha256(page_url), _sha256(image_url)
    row = session.scalar(select(SightingRecord).where(
        SightingRecord.subject == subject, SightingRecord.page_url_sha256 == page_hash,
        SightingRecord.image_url_sha256 == image_hash))
    report = canonical_json(match_report)
    page_json = canonical_json(page_licence.as_dict()) if page_licence is not None else None
    rights_json = canonical_json(image_rights.as_dict()) if image_rights is not None else None
    if row is None:
        row = SightingRecord(
            subject=subject, certificate_id=certificate_id, reference_id=reference_id if certificate_id is None
            else None, site_id=site.id, page_url=page_url, image_url=image_url, page_url_sha256=page_hash,
            image_url_sha256=image_hash, image_sha256=image_sha256, score=score, match_report=report,
            first_seen=seen_at, last_seen=seen_at, times_seen=1, gone_at=None, page_licence=page_json,
            image_rights=rights_json,
        )
        session.add(row)
    else:
        row.times_seen += 1
        row.first_seen = min(row.first_seen, seen_at)
        latest = seen_at >= row.last_seen
        if latest:
            row.last_seen, row.score, row.match_report = seen_at, score, report
            row.image_sha256 = image_sha256 or row.image_sha256
            row.gone_at = None
        if page_json is not None and (latest or row.page_licence is None):
            row.page_licence = page_json
        if rights_json is not None and (latest or row.image_rights is None):
            row.image_rights = rights_json
        row.site_id = site.id
    session.flush()
    for link in evidence:
        session.add(SightingEvidence(sighting_id=row.id, kind=link.kind, warc=link.warc, record_id=link.record_id,
                                     sha256=link.sha256, seen_at=seen_at))
    session.flush()
    return row


def _stored(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:  # not written by this module: read as not captured
        return None


def licence_data_of(row: SightingRecord) -> tuple[PageLicenceData | None, ImageRights | None]:
    """The licence data stored with a sighting: (page data, image rights), each None where never captured."""
    page, rights = _stored(row.page_licence), _stored(row.image_rights)
    return (PageLicenceData.from_dict(page) if page is not None else None,
            ImageRights.from_dict(rights) if rights is not None else None)


def mark_gone(session: Session, sighting_id: int, at: datetime) -> bool:
    """Records that a sighting's page or image is gone (once; a later recrawl that finds it clears it). False
    when the sighting is unknown or already gone."""
    row = session.get(SightingRecord, sighting_id)
    if row is None or row.gone_at is not None:
        return False
    row.gone_at = max(at, row.last_seen)
    session.flush()
    return True


def sightings_on_page(session: Session, page_url: str) -> Sequence[SightingRecord]:
    """The sightings recorded in a page (to mark those a recrawl no longer finds as gone)."""
    return session.scalars(select(SightingRecord).where(SightingRecord.page_url_sha256 == _sha256(page_url))
                           .order_by(SightingRecord.id)).all()


# ---- findings ------------------------------------------------------------------------------------------------------


def held_certificates(chain_id: int, holder: str, cut: int) -> Select[str]:
    """The ids of the certificates `holder` (lowercase) holds before position `cut` of the indexed chain."""
    return select(CertificateVersion.certificate_id).where(
        CertificateVersion.chain_id == chain_id, CertificateVersion.holder == holder,
        CertificateVersion.from_pos < cut, or_(CertificateVersion.to_pos.is_(None), CertificateVersion.to_pos >= cut),
    )


@dataclass(frozen=True)
class FindingScope:
    """Which sightings a findings read covers.

    Attributes:
        certificates: A subquery of certificate ids (a holder's), or None for every sighting (caseworkers).
        country: ISO code, `unknown` for sites of unknown country, or None for all.
        include_gone: Whether sightings found gone count.
    """

    certificates: Select[str] | None = None
    country: str | None = None
    include_gone: bool = True


def _scoped(query: _Query, scope: FindingScope) -> _Query:
    query = query.join(SiteRecord, SiteRecord.id == SightingRecord.site_id)
    if scope.certificates is not None:
        query = query.where(SightingRecord.certificate_id.in_(scope.certificates))
    if scope.country == "unknown":
        query = query.where(SiteRecord.country_code.is_(None))
    elif scope.country is not None:
        query = query.where(SiteRecord.country_code == scope.country.upper())
    if not scope.include_gone:
        query = query.where(SightingRecord.gone_at.is_(None))
    return query


def findings(session: Session, scope: FindingScope, *, before: int | None = None,
             limit: int = 50) -> Sequence[tuple[SightingRecord, SiteRecord]]:
    """A page of findings with their sites, newest sighting first (keyset: ids below `before`)."""
    query = _scoped(select(SightingRecord, SiteRecord), scope)
    if before is not None:
        query = query.where(SightingRecord.id < before)
    rows = session.execute(query.order_by(SightingRecord.id.desc()).limit(max(1, min(limit, MAX_PAGE)))).all()
    return [(row[0], row[1]) for row in rows]


@dataclass(frozen=True)
class FindingGroup:
    """The findings of one operator (or, where no operator is known, one site) in one country."""

    country_code: str | None
    operator_name: str | None
    hosts: tuple[str, ...]
    sightings: int
    online: int
    certificates: int
    first_seen: datetime
    last_seen: datetime


def finding_groups(session: Session, scope: FindingScope) -> list[FindingGroup]:
    """Findings counted by country and by operator (sites without a known operator stand for themselves)."""
    operator_key = func.coalesce(func.lower(SiteRecord.operator_name), "host:" + SiteRecord.host).label("key")
    per_host = _scoped(select(
        SiteRecord.country_code, operator_key, func.min(SiteRecord.operator_name), SiteRecord.host,
        func.count(SightingRecord.id), func.sum(case((SightingRecord.gone_at.is_(None), 1), else_=0)),
        func.min(SightingRecord.first_seen), func.max(SightingRecord.last_seen),
    ), scope).group_by(SiteRecord.country_code, operator_key, SiteRecord.host)
    distinct = _scoped(select(SiteRecord.country_code, operator_key, func.count(func.distinct(SightingRecord.subject))),
                       scope).group_by(SiteRecord.country_code, operator_key)
    subjects = {(country, key): int(n) for country, key, n in session.execute(distinct).all()}
    merged: dict[tuple[str | None, str], dict[str, Any]] = {}
    for country, key, name, host, count, online, first, last in session.execute(per_host).all():
        group = merged.setdefault((country, key), {"name": name, "hosts": [], "sightings": 0, "online": 0,
                                                   "first": first, "last": last})
        group["hosts"].append(host)
        group["sightings"] += int(count)
        group["online"] += int(online or 0)
        group["first"], group["last"] = min(group["first"], first), max(group["last"], last)
    groups = [FindingGroup(country_code=country, operator_name=g["name"], hosts=tuple(sorted(g["hosts"])),
                           sightings=g["sightings"], online=g["online"], certificates=subjects.get((country, key), 0),
                           first_seen=g["first"], last_seen=g["last"]) for (country, key), g in merged.items()]
    groups.sort(key=lambda g: (g.country_code is None, g.country_code or "", -g.sightings, g.operator_name or "",
                               g.hosts))
    return groups[:MAX_GROUPS]


def evidence_of(session: Session, sighting_ids: Sequence[int]) -> dict[int, list[SightingEvidence]]:
    """The evidence of each sighting, oldest first."""
    out: dict[int, list[SightingEvidence]] = {i: [] for i in sighting_ids}
    if not sighting_ids:
        return out
    rows = session.scalars(select(SightingEvidence).where(SightingEvidence.sighting_id.in_(sighting_ids))
                           .order_by(SightingEvidence.sighting_id, SightingEvidence.seen_at, SightingEvidence.id))
    for row in rows:
        out[row.sighting_id].append(row)
    return out



def _when(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def record_crawl_line(session: Session, line: Mapping[str, Any]) -> SightingRecord:
    """Stores one sighting as `tracemark crawl --out` writes it (one JSON object per line): the site with its
    country and operator, the sighting (a 64-hex `id` is a certificate, anything else a matching index
    reference), its page and image evidence, the licence data captured with it (`page_licence`, `image_rights`:
    what is not a list of strings is dropped), and whether it is gone.

    Raises:
        ValueError: for a line without the fields of the contract.
    """
    try:
        page_url, image_url, ident = str(line["page_url"]), str(line["image_url"]), str(line["id"])
        seen = _when(line.get("last_seen")) or _when(line["first_seen"])
    except (KeyError, ValueError) as exc:
        raise ValueError(f"not a crawl sighting: {exc}") from exc
    if seen is None:
        raise ValueError("not a crawl sighting: no time seen")
    host = urlsplit(page_url).hostname
    if not host:
        raise ValueError(f"not a crawl sighting: page URL without host: {page_url!r}")
    country = line.get("country") or {}
    operator = line.get("operator") or None
    site = save_site(session, host, checked_at=seen, country_code=country.get("code") or None,
                     country_reason=country.get("reason"), country_basis=country.get("basis"),
                     operator=dict(operator) if isinstance(operator, Mapping) else None)
    certificate = ident.lower() if len(ident) == 64 and all(c in "0123456789abcdefABCDEF" for c in ident) else None
    evidence = line.get("evidence") or {}
    links = []
    if isinstance(evidence, Mapping):
        if evidence.get("record_id"):
            links.append(EvidenceLink("image", str(evidence["warc"]), str(evidence["record_id"]),
                                      str(evidence["sha256"])))
        page = evidence.get("page")
        if isinstance(page, Mapping) and page.get("record_id"):
            links.append(EvidenceLink("page", str(page["warc"]), str(page["record_id"]), str(page["sha256"])))
    first = _when(line.get("first_seen")) or seen
    page_licence, image_rights = line.get("page_licence"), line.get("image_rights")
    row = record_sighting(
        session, site=site, certificate_id=certificate, reference_id=None if certificate else ident,
        page_url=page_url, image_url=image_url, score=float(line.get("score") or 0.0),
        match_report={"score": line.get("score"), "edits": line.get("edits") or {}, "shown_as": line.get("shown_as")},
        seen_at=seen, image_sha256=line.get("image_sha256"), evidence=links,
        page_licence=PageLicenceData.from_dict(dict(page_licence)) if isinstance(page_licence, Mapping) else None,
        image_rights=ImageRights.from_dict(dict(image_rights)) if isinstance(image_rights, Mapping) else None,
    )
    row.first_seen = min(row.first_seen, first)
    gone = _when(line.get("gone_at"))
    if gone is not None:
        mark_gone(session, row.id, gone)
    session.flush()
    return row
