"""The Scrapy side of a crawl: the spider, the downloader middlewares, the item pipelines and progress.

Data flow (Scrapy's engine in the middle)::

    seeds -> scheduler -> [FetchGuardMiddleware] refuse hosts that resolve to non-allowed addresses (pin the rest)
                       -> [RobotsMiddleware]     RFC 9309 robots.txt per origin, Crawl-delay
                       -> [ScopeMiddleware]      allowed domains, page and byte budgets per host, size limits
                       -> Scrapy's retry, redirect (<= 5 hops, each hop back through the guard), compression
                       -> download handler (HTTP/1.1) -> GuardedNameResolver: connects to the pinned address
    response -> SightingSpider.parse_page   images, links (depth), imprint candidates, licence data, page held
                                            for evidence
             -> SightingSpider.parse_image  sniffed, de-duplicated by content -> ImageFetched item
    item     -> MatchPipeline (matching engine, in worker threads) -> SightingPipeline (evidence + sightings)

Everything that must survive the crawl lives in the `CrawlSession`; the Scrapy objects only move data.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import DropItem, IgnoreRequest
from scrapy.http import Request, Response, TextResponse
from scrapy.utils.asyncio import create_looping_call

from tracemark.crawler.extract import read_page, read_sitemap, sniff_image_type
from tracemark.crawler.guard import BlockedHostError, HostGuard
from tracemark.crawler.plan import host_of
from tracemark.crawler.resolver import GUARD_SETTING
from tracemark.crawler.robots import RobotsRules
from tracemark.crawler.session import Capture, CrawlSession
from tracemark.matching import Match, MatchingError

log = logging.getLogger(__name__)

SESSION_SETTING = "TRACEMARK_SESSION"
PROGRESS_SETTING = "TRACEMARK_PROGRESS_S"

KIND = "tm_kind"
PAGE, IMAGE, ROBOTS, SITEMAP = "page", "image", "robots", "sitemap"
MAX_SITEMAP_LEVELS = 2
MAX_CHILD_SITEMAPS = 1000
MAX_CRAWL_DELAY_S = 60.0


class FetchRefusedError(IgnoreRequest):
    """The fetch guard refused the request's host (before any connection)."""


class RobotsDeniedError(IgnoreRequest):
    """robots.txt disallows the request."""


class OutOfScopeError(IgnoreRequest):
    """The request is outside the crawl's domains or budgets."""


def capture_of(response: Response) -> Capture:
    """The response as received, with its request, for evidence."""
    request_headers = {
        k.decode("latin-1"): b", ".join(v).decode("latin-1") for k, v in response.request.headers.items()
    } if response.request is not None else {}
    response_headers = [
        (k.decode("latin-1"), value.decode("latin-1")) for k, values in response.headers.items() for value in values
    ]
    method = response.request.method if response.request is not None else "GET"
    peer = str(response.ip_address) if response.ip_address is not None else None
    return Capture(response.url, method, request_headers, response.status, response_headers, response.body, peer)


def _port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.hostname or "", port


class FetchGuardMiddleware:
    """Refuses every request whose host is malformed or resolves to a non-allowed address; pins the rest.

    Runs first among the downloader middlewares, so a redirect hop, a retry, a robots.txt fetch and an image
    request are all checked before they reach the downloader. The resolution is pinned in the `HostGuard`
    and the reactor's resolver answers the connection from the pin. A response whose peer address is not
    allowed (which the pin makes impossible) is dropped as a last line of defence.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        guard = crawler.settings.get(GUARD_SETTING)
        if not isinstance(guard, HostGuard):
            raise RuntimeError(f"the {GUARD_SETTING} setting must hold a HostGuard")
        self.guard = guard

    @classmethod
    def from_crawler(cls, crawler: Any) -> FetchGuardMiddleware:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        scheme = urlsplit(request.url).scheme
        if scheme not in ("http", "https"):
            raise FetchRefusedError(f"scheme {scheme!r} is not fetched")
        host, port = _port(request.url)
        try:
            if self.guard.pinned(host, port) is None:
                await asyncio.get_running_loop().run_in_executor(None, self.guard.resolve, host, port)
        except BlockedHostError as exc:
            self.crawler.stats.inc_value("tracemark/refused")
            session = _session(self.crawler)
            if session is not None:
                session.stats.refused += 1
            log.warning("fetch guard: %s (%s)", exc, request.url)
            raise FetchRefusedError(str(exc)) from exc

    def process_response(self, request: Request, response: Response) -> Response:
        peer = str(response.ip_address) if response.ip_address is not None else None
        if not self.guard.allows_peer(peer):
            raise FetchRefusedError(f"connected peer {peer} is not allowed")
        return response


class ScopeMiddleware:
    """Allowed domains for pages, page and byte budgets per host, and the size limit per kind of response.

    The byte budget holds even with many requests in flight: each request sent to a host *reserves* what it may
    download (the kind's size limit, at most what is left of the budget unreserved) and its `download_maxsize` is
    that reservation; a request that finds nothing left waits until a request in flight to the host leaves the
    downloader (its reservation is replaced by the bytes it really used, or kept whole when the download was cut
    off or failed), and is refused once nothing is in flight and nothing is left. Runs after the robots.txt
    middleware, so requests robots.txt forbids cost nothing.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.pages: dict[str, int] = {}
        self.spent: dict[str, int] = {}
        self.reserved: dict[str, int] = {}
        self.changed: dict[str, asyncio.Event] = {}
        crawler.signals.connect(self.response_downloaded, signal=signals.response_downloaded)
        crawler.signals.connect(self.request_left, signal=signals.request_left_downloader)

    @classmethod
    def from_crawler(cls, crawler: Any) -> ScopeMiddleware:
        return cls(crawler)

    def _refuse(self, why: str) -> OutOfScopeError:
        session = _session(self.crawler)
        if session is not None:
            session.stats.out_of_budget += 1
        return OutOfScopeError(why)

    async def process_request(self, request: Request) -> None:
        session = _session(self.crawler)
        if session is None or request.meta.get(KIND) == ROBOTS:
            return
        plan = session.plan
        host = host_of(request.url)
        kind = request.meta.get(KIND)
        if kind == PAGE and not request.meta.get("redirect_times") and not request.meta.get("retry_times"):
            if not request.meta.get("tm_imprint") and not plan.in_scope(request.url):
                raise self._refuse(f"{request.url} is outside the allowed domains")
            count = self.pages.get(host, 0)
            if count >= plan.max_pages_per_domain and not request.meta.get("tm_imprint"):
                raise self._refuse(f"page budget of {host} spent")
            self.pages[host] = count + 1
        limit = plan.max_image_bytes if kind == IMAGE else plan.max_page_bytes
        while True:
            left = plan.max_bytes_per_domain - self.spent.get(host, 0) - self.reserved.get(host, 0)
            if left > 0:
                break
            if not self.reserved.get(host):
                raise self._refuse(f"byte budget of {host} spent")
            event = self.changed.setdefault(host, asyncio.Event())
            event.clear()
            await event.wait()
        reservation = min(limit, left)
        self.reserved[host] = self.reserved.get(host, 0) + reservation
        request.meta["tm_reservation"] = (host, reservation)
        request.meta["download_maxsize"] = reservation

    def response_downloaded(self, response: Response, request: Request, spider: Any) -> None:
        host = host_of(request.url)
        self.spent[host] = self.spent.get(host, 0) + len(response.body)
        request.meta["tm_downloaded"] = True

    def request_left(self, request: Request, spider: Any) -> None:
        held = request.meta.pop("tm_reservation", None)
        if held is None:
            return
        host, reservation = held
        self.reserved[host] = max(0, self.reserved.get(host, 0) - reservation)
        if not request.meta.pop("tm_downloaded", False):
            # Cut off (too large, too slow) or failed: it may have used all of its reservation. Counting it keeps
            # the budget an upper bound, and a host that keeps failing runs out of budget instead of being hammered.
            self.spent[host] = self.spent.get(host, 0) + reservation
        event = self.changed.get(host)
        if event is not None:
            event.set()


class RobotsMiddleware:
    """robots.txt per RFC 9309 (see `tracemark.crawler.robots`), fetched once per origin and cached.

    A `Crawl-delay` for our user agent spaces the origin's requests at least that far apart (at most 60 s),
    on top of the per-host delay and AutoThrottle.
    """

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.user_agent = str(crawler.settings.get("USER_AGENT"))
        self.rules: dict[str, RobotsRules] = {}
        self.pending: dict[str, asyncio.Future[RobotsRules]] = {}
        self.next_turn: dict[str, float] = {}

    @classmethod
    def from_crawler(cls, crawler: Any) -> RobotsMiddleware:
        return cls(crawler)

    async def _fetch(self, origin: str) -> RobotsRules:
        url = origin + "/robots.txt"
        for _ in range(6):  # the first request and at most five redirects
            request = Request(
                url, meta={KIND: ROBOTS, "dont_redirect": True, "handle_httpstatus_all": True, "dont_retry": False},
                dont_filter=True, priority=1000,
            )
            try:
                response = await self.crawler.engine.download_async(request)
            except Exception as exc:  # any failure means "unreachable"
                log.info("robots.txt of %s unreachable: %s", origin, exc)
                return RobotsRules.from_response(None, b"")
            if response.status in (301, 302, 303, 307, 308) and b"Location" in response.headers:
                url = response.urljoin(response.headers[b"Location"].decode("latin-1"))
                continue
            return RobotsRules.from_response(response.status, response.body)
        return RobotsRules.from_response(404, b"")  # redirects never arrived: treated as unavailable

    async def _rules_for(self, origin: str) -> RobotsRules:
        session = _session(self.crawler)
        ttl = session.plan.robots_ttl_s if session is not None else 24 * 3600.0
        cached = self.rules.get(origin)
        if cached is not None and cached.fresh(ttl):
            return cached
        waiting = self.pending.get(origin)
        if waiting is not None:
            return await asyncio.shield(waiting)
        future: asyncio.Future[RobotsRules] = asyncio.get_running_loop().create_future()
        self.pending[origin] = future
        try:
            rules = await self._fetch(origin)
            self.rules[origin] = rules
            future.set_result(rules)
            return rules
        finally:
            del self.pending[origin]

    async def process_request(self, request: Request) -> None:
        if request.meta.get(KIND) == ROBOTS:
            return
        parts = urlsplit(request.url)
        origin = f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"
        rules = await self._rules_for(origin)
        if not rules.allowed(request.url, self.user_agent):
            self.crawler.stats.inc_value("tracemark/robots_denied")
            session = _session(self.crawler)
            if session is not None:
                session.stats.robots_denied += 1
            raise RobotsDeniedError(f"robots.txt of {origin} disallows {request.url} ({rules.why})")
        delay = rules.crawl_delay(self.user_agent)
        if delay:
            # Crawl-delay: requests to the origin leave at least `delay` seconds apart (capped).
            loop = asyncio.get_running_loop()
            now = loop.time()
            turn = max(now, self.next_turn.get(origin, now))
            self.next_turn[origin] = turn + min(delay, MAX_CRAWL_DELAY_S)
            if turn > now:
                await asyncio.sleep(turn - now)


@dataclass
class ImageFetched:
    """An image response on its way through the pipelines."""

    image_url: str
    capture: Capture = field(repr=False)
    sha256: str
    matches: list[Match] | None = None


def _session(crawler: Any) -> CrawlSession | None:
    session = crawler.settings.get(SESSION_SETTING)
    return session if isinstance(session, CrawlSession) else None


class SightingSpider(scrapy.Spider):
    """Crawls the plan's seeds, reads every page's images, links and imprint candidates."""

    name = "tracemark"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)

    @property
    def session(self) -> CrawlSession:
        session = _session(self.crawler)
        assert session is not None
        return session

    async def start(self) -> AsyncIterator[Any]:
        for url in self.session.plan.sitemaps:
            yield self._sitemap_request(url, 0)
        for url in self.session.plan.seeds:
            self.session.requested_pages.add(url)
            yield self._page_request(url, 0)

    def _page_request(self, url: str, depth: int, *, imprint_of: str | None = None) -> Request:
        meta: dict[str, Any] = {KIND: PAGE, "tm_depth": depth, "tm_url": url, "handle_httpstatus_list": [404, 410]}
        if imprint_of is not None:
            meta["tm_imprint"] = imprint_of
        return Request(url, callback=self.parse_page, errback=self.page_error, meta=meta,
                       dont_filter=imprint_of is not None, priority=-depth)

    def _sitemap_request(self, url: str, level: int) -> Request:
        return Request(url, callback=self.parse_sitemap, errback=self.sitemap_error, dont_filter=True,
                       meta={KIND: SITEMAP, "tm_url": url, "tm_sitemap_level": level})

    def sitemap_error(self, failure: Any) -> None:
        log.warning("sitemap %s failed: %s", failure.request.url, failure.value)

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        """A sitemap's URLs become start pages (depth 0); an index's sitemaps are read (two levels at most)."""
        session = self.session
        kind, urls = read_sitemap(response.body, response.url)
        level = int(response.meta.get("tm_sitemap_level", 0))
        if kind == "sitemapindex" and level < MAX_SITEMAP_LEVELS:
            for url in urls[:MAX_CHILD_SITEMAPS]:
                if session.plan.in_scope(url):
                    yield self._sitemap_request(url, level + 1)
        elif kind == "urlset":
            for url in urls:
                if url not in session.requested_pages and session.plan.in_scope(url):
                    session.requested_pages.add(url)
                    yield self._page_request(url, 0)
        else:
            log.warning("not a sitemap: %s", response.url)

    def page_error(self, failure: Any) -> Iterator[Request]:
        request = failure.request
        url = request.meta.get("tm_url", request.url)
        status = failure.value.response.status if hasattr(failure.value, "response") else None
        self.session.page_failed(url, status)
        imprint_of = request.meta.get("tm_imprint") or (url if self.session.is_imprint(url) else None)
        if imprint_of is not None:
            for nxt in self.session.imprint_read(None, url, imprint_of):
                yield self._page_request(nxt, request.meta.get("tm_depth", 0), imprint_of=imprint_of)

    def parse_page(self, response: Response) -> Iterator[Any]:
        session = self.session
        url = response.meta.get("tm_url", response.url)
        depth = int(response.meta.get("tm_depth", 0))
        imprint_of = response.meta.get("tm_imprint") or (url if session.is_imprint(url) else None)
        if response.status in (404, 410) or not isinstance(response, TextResponse):
            linked_from = response.meta.get("tm_from")
            if response.status == 200 and linked_from and sniff_image_type(response.body) is not None:
                # A page links to an image (a lightbox's full size): the image is shown by that page.
                if session.attach(url, linked_from, ["link"]):
                    yield ImageFetched(url, capture_of(response), hashlib.sha256(response.body).hexdigest())
                return
            session.page_failed(url, response.status)
            if imprint_of is not None:
                for nxt in session.imprint_read(None, url, imprint_of):
                    yield self._page_request(nxt, depth, imprint_of=imprint_of)
            return
        try:
            html = response.text
            content = read_page(html, response.url)
        except Exception as exc:  # broken HTML must not stop the crawl
            log.warning("cannot read %s: %s", response.url, exc)
            session.page_failed(url, response.status)
            return
        capture = capture_of(response)
        page_url = capture.url
        session.page_fetched(capture, content.html_lang, [i.url for i in content.images], content.licences)
        # Attach every image before yielding anything: no image can resolve while the page is half read.
        new_images = [i.url for i in content.images if session.attach(i.url, page_url, i.shown_as)]
        session.page_done(page_url)
        for image_url in new_images:
            yield Request(
                image_url, callback=self.parse_image, errback=self.image_error, dont_filter=True,
                meta={KIND: IMAGE, "tm_image_url": image_url, "handle_httpstatus_list": [404, 410]}, priority=10,
            )
        if imprint_of is not None:
            for nxt in session.imprint_read(html, url, imprint_of):
                yield self._page_request(nxt, depth, imprint_of=imprint_of)
        for candidate in session.imprint_candidates(html, page_url):
            if candidate in session.requested_pages and not session.page_seen(candidate):
                continue  # already on its way as a page: read as the imprint when it arrives
            session.requested_pages.add(candidate)
            yield self._page_request(candidate, depth + 1, imprint_of=page_url)
        if depth < session.plan.depth:
            for link in content.links:
                if link in session.requested_pages or not session.plan.in_scope(link):
                    continue
                session.requested_pages.add(link)
                request = self._page_request(link, depth + 1)
                request.meta["tm_from"] = page_url
                yield request

    def image_error(self, failure: Any) -> None:
        request = failure.request
        status = failure.value.response.status if hasattr(failure.value, "response") else None
        self.session.image_failed(request.meta.get("tm_image_url", request.url), status)

    def parse_image(self, response: Response) -> Iterator[Any]:
        session = self.session
        image_url = response.meta.get("tm_image_url", response.url)
        if response.status != 200:
            session.image_failed(image_url, response.status)
            return
        if sniff_image_type(response.body) is None:
            session.not_an_image(image_url, response.status)
            return
        yield ImageFetched(image_url, capture_of(response), hashlib.sha256(response.body).hexdigest())


class MatchPipeline:
    """Searches each fetched image with the matching engine (in worker threads); equal bytes are searched once."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.inflight: dict[str, asyncio.Future[list[Match]]] = {}

    @classmethod
    def from_crawler(cls, crawler: Any) -> MatchPipeline:
        return cls(crawler)

    @staticmethod
    def _search(session: CrawlSession, body: bytes) -> list[Match]:
        try:
            return session.matcher.search(body)
        except (MatchingError, ValueError) as exc:
            log.info("image not searchable: %s", exc)
            return []

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, ImageFetched):
            return item
        session = _session(self.crawler)
        assert session is not None
        known = session.known_content(item.sha256)
        if known is not None:
            item.matches = known
            return item
        future = self.inflight.get(item.sha256)
        if future is None:
            loop = asyncio.get_running_loop()
            future = asyncio.ensure_future(
                loop.run_in_executor(session.executor, self._search, session, item.capture.body)
            )
            self.inflight[item.sha256] = future
        try:
            item.matches = await asyncio.shield(future)
        finally:
            self.inflight.pop(item.sha256, None)
        return item


class SightingPipeline:
    """Archives matched images (and the pages that show them) and records the sightings."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Any) -> SightingPipeline:
        return cls(crawler)

    def process_item(self, item: Any) -> Any:
        if not isinstance(item, ImageFetched):
            return item
        session = _session(self.crawler)
        assert session is not None
        session.image_matched(item.image_url, item.capture, item.matches or [])
        if not item.matches:
            raise DropItem("no match")
        return item


class Progress:
    """Prints the session's counters on stderr every few seconds and at the end."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        self.interval = float(crawler.settings.getfloat(PROGRESS_SETTING, 2.0))
        self.task: Any = None
        self.start = time.monotonic()
        crawler.signals.connect(self.opened, signal=signals.spider_opened)
        crawler.signals.connect(self.closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Any) -> Progress:
        return cls(crawler)

    def report(self) -> None:
        session = _session(self.crawler)
        if session is not None:
            print(f"crawl {time.monotonic() - self.start:6.1f}s: {session.stats.line()}", file=sys.stderr, flush=True)

    def opened(self, spider: Any) -> None:
        if self.interval > 0:
            self.task = create_looping_call(self.report)
            self.task.start(self.interval, now=False)

    def closed(self, spider: Any, reason: str) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        if self.interval > 0:
            self.report()


__all__ = [
    "FetchGuardMiddleware",
    "FetchRefusedError",
    "ImageFetched",
    "MatchPipeline",
    "OutOfScopeError",
    "Progress",
    "RobotsDeniedError",
    "RobotsMiddleware",
    "ScopeMiddleware",
    "SightingPipeline",
    "SightingSpider",
    "capture_of",
]
