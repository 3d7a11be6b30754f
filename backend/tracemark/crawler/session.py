"""The state of one crawl, free of Scrapy: images and the pages that show them, site facts, evidence, sightings.

The Scrapy side (`tracemark.crawler.spider`) feeds it responses; it decides what to fetch next about images
and imprints, writes evidence, and produces the sightings.

- **Images, once.** An image URL is fetched once however many pages show it (`attach` tells the spider
  whether to request it); equal bodies under different URLs are matched once (by SHA-256).
- **Pages wait for their images.** A page's response is held in memory until every image it shows is
  resolved; it is archived only when one of them matched (evidence is kept for sightings, not for the whole
  web), then released.
- **Sites.** For each host the imprint candidates (`tracemark.sites.operator.imprint_links`) are fetched in
  turn until one yields an operator; the country of a sighting (`tracemark.sites.country.country_of`) comes
  from the page's URL, its `html lang` and `Content-Language`, and the site's operator.
- **Licence data.** A page's licence data (`tracemark.crawler.licence`) is kept when it has any; each sighting
  carries what the page gives for its image and the rights fields of the image's bytes (`image_rights`, read once
  per matched content), for the licence check before a claim.
- **Sightings.** `finish` merges this crawl's sightings into the ledger (moving `last_seen`) and marks stored
  ones as gone when their page or image answered 404/410 or the page no longer shows the image.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any, Protocol

from tracemark.cases.image_rights import ImageRights, image_rights
from tracemark.cases.licence_check import PageLicenceData
from tracemark.crawler.licence import PageLicences
from tracemark.crawler.plan import CrawlPlan, host_of
from tracemark.crawler.sightings import Sighting, SightingLedger, utc_now
from tracemark.matching import Match
from tracemark.sites import country as sites_country
from tracemark.sites import operator as sites_operator

GONE_STATUSES = (404, 410)


class Matcher(Protocol):
    """Searches an image (bytes) among the registered references."""

    def search(self, source: bytes) -> list[Match]: ...


class EvidenceSink(Protocol):
    """Archives one request/response pair and returns where (`tracemark.evidence.warc.EvidenceWriter`)."""

    def record(
        self,
        *,
        url: str,
        method: str,
        request_headers: dict[str, str],
        status: int,
        response_headers: list[tuple[str, str]],
        body: bytes,
        peer_address: str | None,
    ) -> Any: ...


@dataclass(slots=True)
class Capture:
    """A response as it was received, with the request that asked for it."""

    url: str
    method: str
    request_headers: dict[str, str]
    status: int
    response_headers: list[tuple[str, str]]
    body: bytes = field(repr=False)
    peer_address: str | None

    @property
    def header_map(self) -> dict[str, str]:
        """Response headers by lower-case name (the last value wins)."""
        return {k.lower(): v for k, v in self.response_headers}


@dataclass(slots=True)
class _PageHold:
    capture: Capture | None
    pending: set[str] = field(default_factory=set)
    evidence: dict[str, str] | None = None
    parsing: bool = True


@dataclass(slots=True)
class _Image:
    url: str
    pages: dict[str, list[str]] = field(default_factory=dict)
    done: bool = False
    status: int | None = None
    sha256: str | None = None
    matches: list[Match] = field(default_factory=list)
    evidence: dict[str, str] | None = None
    rights: dict[str, Any] | None = None


@dataclass(slots=True)
class SiteFacts:
    """What is known about one host: its imprint candidates and operator."""

    host: str
    candidates: list[str] = field(default_factory=list)
    tried: set[str] = field(default_factory=set)
    inflight: str | None = None
    operator: Any = None
    operator_url: str | None = None


@dataclass(slots=True)
class CrawlStats:
    """Counters shown as progress and in the crawl report."""

    pages: int = 0
    pages_failed: int = 0
    images: int = 0
    images_failed: int = 0
    images_matched: int = 0
    not_images: int = 0
    sightings: int = 0
    refused: int = 0
    robots_denied: int = 0
    out_of_budget: int = 0
    bytes: int = 0

    def line(self) -> str:
        """One progress line."""
        return (
            f"pages {self.pages} (failed {self.pages_failed}), images {self.images} (matched {self.images_matched}, "
            f"failed {self.images_failed}, not images {self.not_images}), sightings {self.sightings}, "
            f"refused {self.refused}, robots-denied {self.robots_denied}, over budget {self.out_of_budget}, "
            f"{self.bytes / 1e6:.1f} MB"
        )


def _ref_dict(ref: Any) -> dict[str, str]:
    return {"warc": str(ref.warc), "record_id": str(ref.record_id), "sha256": str(ref.sha256)}


def _edits(match: Match) -> dict[str, Any]:
    return dict(match.edits.model_dump(mode="json"))


class CrawlSession:
    """The state of one crawl (used from the reactor thread only)."""

    def __init__(
        self,
        plan: CrawlPlan,
        matcher: Matcher,
        evidence: EvidenceSink,
        ledger: SightingLedger,
        *,
        imprint_links: Callable[[str, str], list[str]] | None = None,
        extract_operator: Callable[[str, str], Any] | None = None,
        country_of: Callable[..., Any] | None = None,
    ) -> None:
        """Wires a crawl; the site functions default to `tracemark.sites` (tests may pass others)."""
        imprint_links = imprint_links or sites_operator.imprint_links
        extract_operator = extract_operator or sites_operator.extract_operator
        country_of = country_of or sites_country.country_of
        self.plan = plan
        self.matcher = matcher
        self.evidence = evidence
        self.ledger = ledger
        self._imprint_links = imprint_links
        self._extract_operator = extract_operator
        self._country_of = country_of
        self.stats = CrawlStats()
        self.started = utc_now()
        self._pages: dict[str, _PageHold] = {}
        self._page_status: dict[str, int] = {}
        self._page_images: dict[str, set[str]] = {}
        self._page_lang: dict[str, tuple[str | None, str | None]] = {}
        self._page_licences: dict[str, PageLicences] = {}
        self._rights: dict[str, dict[str, Any]] = {}
        self._images: dict[str, _Image] = {}
        self._content: dict[str, list[Match]] = {}
        self._sites: dict[str, SiteFacts] = {}
        self._found: dict[tuple[str, str, str], Sighting] = {}
        self.requested_pages: set[str] = set()
        self.executor: Executor | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> CrawlSession:
        # Scrapy deep-copies its settings per crawler; the session is shared state, not data.
        return self

    # --- pages ---------------------------------------------------------------------------------------------

    def page_fetched(self, capture: Capture, html_lang: str | None, image_urls: Sequence[str],
                     licences: PageLicences | None = None) -> None:
        """Records a page: its status, language, the images it shows and its licence data; holds it until its
        images are resolved."""
        if licences is not None and not licences.empty:
            self._page_licences[capture.url] = licences
        else:
            self._page_licences.pop(capture.url, None)
        self.stats.pages += 1
        self.stats.bytes += len(capture.body)
        self._page_status[capture.url] = capture.status
        self._page_images[capture.url] = set(image_urls)
        self._page_lang[capture.url] = (html_lang, capture.header_map.get("content-language"))
        self._pages[capture.url] = _PageHold(capture)

    def page_failed(self, url: str, status: int | None) -> None:
        """Records a page that could not be fetched (status None: a network error or a refusal)."""
        self.stats.pages_failed += 1
        if status is not None:
            self._page_status[url] = status

    def page_seen(self, url: str) -> bool:
        """Whether a page URL has been fetched (or has failed with a status) in this crawl."""
        return url in self._page_status

    def page_done(self, url: str) -> None:
        """The page's images are all attached: release its body unless an image is still pending."""
        hold = self._pages.get(url)
        if hold is not None:
            hold.parsing = False
            if not hold.pending:
                hold.capture = None

    def _page_evidence(self, page_url: str) -> dict[str, str] | None:
        hold = self._pages.get(page_url)
        if hold is None:
            return None
        if hold.evidence is None and hold.capture is not None:
            hold.evidence = _ref_dict(self.evidence.record(
                url=hold.capture.url, method=hold.capture.method, request_headers=hold.capture.request_headers,
                status=hold.capture.status, response_headers=hold.capture.response_headers, body=hold.capture.body,
                peer_address=hold.capture.peer_address,
            ))
        return hold.evidence

    def _release(self, page_url: str, image_url: str) -> None:
        hold = self._pages.get(page_url)
        if hold is None:
            return
        hold.pending.discard(image_url)
        if not hold.pending and not hold.parsing:
            hold.capture = None  # archived already if it showed a match; nothing else needs the body

    # --- images --------------------------------------------------------------------------------------------

    def attach(self, image_url: str, page_url: str, shown_as: list[str]) -> bool:
        """Notes that a page shows an image; True when the image must be requested (first time seen)."""
        image = self._images.get(image_url)
        first = image is None
        if image is None:
            image = self._images[image_url] = _Image(image_url)
        image.pages[page_url] = shown_as
        if image.done:
            self._emit(image, page_url)
        else:
            hold = self._pages.get(page_url)
            if hold is not None:
                hold.pending.add(image_url)
        return first

    def image_failed(self, image_url: str, status: int | None) -> None:
        """An image that could not be fetched, is gone, or is no image: resolved without a match."""
        if status is None or status >= 400:
            self.stats.images_failed += 1
        self._finish_image(image_url, status, None, [], None)

    def not_an_image(self, image_url: str, status: int) -> None:
        """The URL answered with something that is not an image."""
        self.stats.not_images += 1
        self._finish_image(image_url, status, None, [], None)

    def known_content(self, sha256: str) -> list[Match] | None:
        """The matches of an earlier image with the same bytes (de-duplication by content)."""
        return self._content.get(sha256)

    def image_matched(self, image_url: str, capture: Capture, matches: list[Match]) -> None:
        """An image was fetched and searched: archive it when it matched, then emit its sightings."""
        self.stats.images += 1
        self.stats.bytes += len(capture.body)
        sha = hashlib.sha256(capture.body).hexdigest()
        self._content.setdefault(sha, matches)
        evidence = None
        rights = None
        if matches:
            rights = self._rights_of(sha, capture.body)
            self.stats.images_matched += 1
            evidence = _ref_dict(self.evidence.record(
                url=capture.url, method=capture.method, request_headers=capture.request_headers,
                status=capture.status, response_headers=capture.response_headers, body=capture.body,
                peer_address=capture.peer_address,
            ))
        self._finish_image(image_url, capture.status, sha, matches, evidence, rights)

    def _rights_of(self, sha: str, body: bytes) -> dict[str, Any]:
        """The rights fields of an image's bytes (read once per content; unreadable metadata reads as none)."""
        known = self._rights.get(sha)
        if known is None:
            try:
                rights = image_rights(body)
            except Exception:  # metadata is best effort: the sighting stands without it
                rights = ImageRights()
            known = self._rights[sha] = rights.as_dict()
        return known

    def _finish_image(
        self, image_url: str, status: int | None, sha: str | None, matches: list[Match],
        evidence: dict[str, str] | None, rights: dict[str, Any] | None = None,
    ) -> None:
        image = self._images.setdefault(image_url, _Image(image_url))
        image.done, image.status, image.sha256, image.matches, image.evidence = True, status, sha, matches, evidence
        image.rights = rights
        for page_url in list(image.pages):
            self._emit(image, page_url)
            self._release(page_url, image_url)

    def _emit(self, image: _Image, page_url: str) -> None:
        if not image.matches:
            return
        page_evidence = self._page_evidence(page_url)
        page_licence = self._page_licence(page_url, image.url)
        now = utc_now()
        for match in image.matches:
            evidence: dict[str, Any] = dict(image.evidence or {})
            if page_evidence is not None:
                evidence["page"] = dict(page_evidence)
            sighting = Sighting(
                id=match.id, image_url=image.url, page_url=page_url, score=match.score, edits=_edits(match),
                first_seen=now, last_seen=now, image_sha256=image.sha256, shown_as=image.pages.get(page_url, []),
                evidence=evidence or None, page_licence=page_licence,
                image_rights=dict(image.rights) if image.rights is not None else None,
            )
            if sighting.key not in self._found:
                self.stats.sightings += 1
            self._found[sighting.key] = sighting

    def _page_licence(self, page_url: str, image_url: str) -> dict[str, Any] | None:
        """What the page gives for the image (empty fields for a page without licence data; None for a page this
        crawl did not read)."""
        licences = self._page_licences.get(page_url)
        if licences is not None:
            return licences.for_image(image_url).as_dict()
        if page_url in self._page_images:  # read by this crawl, without licence data
            return PageLicenceData().as_dict()
        return None

    # --- sites ---------------------------------------------------------------------------------------------

    def site(self, url: str) -> SiteFacts:
        """The facts of the URL's host."""
        host = host_of(url)
        return self._sites.setdefault(host, SiteFacts(host))

    def imprint_candidates(self, html: str, url: str) -> list[str]:
        """Imprint pages to request for the page's site, given a page of it (none once an operator is known)."""
        site = self.site(url)
        if site.operator is not None or len(site.tried) >= self.plan.imprint_candidates:
            return []
        try:
            found = self._imprint_links(html, url)
        except Exception:  # a broken page must not stop the crawl
            found = []
        for link in found:
            if link not in site.candidates:
                site.candidates.append(link)
        return self.next_imprint(site)

    def next_imprint(self, site: SiteFacts) -> list[str]:
        """The next imprint candidate of a site not yet tried (one in flight at a time)."""
        if site.operator is not None or site.inflight is not None or len(site.tried) >= self.plan.imprint_candidates:
            return []
        for candidate in site.candidates:
            if candidate not in site.tried:
                site.tried.add(candidate)
                site.inflight = candidate
                return [candidate]
        return []

    def imprint_read(self, html: str | None, url: str, site_url: str) -> list[str]:
        """Reads the operator from a fetched imprint candidate (None: it failed); returns the next to try."""
        site = self.site(site_url)
        if site.inflight == url:
            site.inflight = None
        if site.operator is None and html is not None:
            try:
                operator = self._extract_operator(html, url)
            except Exception:  # a broken page must not stop the crawl
                operator = None
            if operator is not None:
                site.operator, site.operator_url = operator, url
        return self.next_imprint(site)

    def is_imprint(self, url: str) -> bool:
        """Whether a URL is an imprint candidate of some site."""
        return any(url in s.candidates for s in self._sites.values())

    # --- the end -------------------------------------------------------------------------------------------

    def _facts(self, sighting: Sighting) -> Sighting:
        site = self._sites.get(host_of(sighting.page_url))
        operator = site.operator if site is not None else None
        html_lang, content_language = self._page_lang.get(sighting.page_url, (None, None))
        try:
            country = self._country_of(
                sighting.page_url, html_lang=html_lang, content_language=content_language, operator=operator
            )
        except Exception:  # facts are best effort
            country = None
        return sighting.model_copy(update={
            "country": country.as_dict() if country is not None else None,
            "operator": operator.as_dict() if operator is not None else None,
        })

    def finish(self) -> list[Sighting]:
        """Merges the crawl into the ledger; returns this crawl's sightings and those it found gone."""
        out: list[Sighting] = []
        for sighting in self._found.values():
            out.append(self.ledger.seen(self._facts(sighting)))
        now = utc_now()
        for stored in self.ledger.all():
            if stored.key in self._found or stored.status == "gone":
                continue
            reason = self._gone_reason(stored)
            if reason is not None:
                gone = self.ledger.gone(stored.key, now, reason)
                if gone is not None:
                    out.append(gone)
        return out

    def _gone_reason(self, stored: Sighting) -> str | None:
        page_status = self._page_status.get(stored.page_url)
        if page_status is None:
            return None  # not reached by this crawl: nothing is known
        if page_status in GONE_STATUSES:
            return f"page answered {page_status}"
        if page_status >= 400:
            return None
        if stored.image_url not in self._page_images.get(stored.page_url, set()):
            return "page no longer shows the image"
        image = self._images.get(stored.image_url)
        if image is not None and image.status in GONE_STATUSES:
            return f"image answered {image.status}"
        return None


__all__ = ["Capture", "CrawlSession", "CrawlStats", "EvidenceSink", "Matcher", "SiteFacts"]
