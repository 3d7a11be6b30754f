"""The crawler: finds registered images on the web, politely and safely, and records sightings with evidence.

Quick start (the command line does exactly this)::

    guard = HostGuard(policy=AddressPolicy())
    with MatchIndex.open("var/registry-index") as index, EvidenceWriter(Path("var/evidence")) as writer:
        session = CrawlSession(CrawlPlan(seeds=["https://shop.example.de/"]), IndexMatcher(index), writer,
                               SightingLedger(Path("var/evidence/crawl-state.sqlite")))
        for sighting in run_crawl(session, guard):
            print(sighting.to_json_line())

Tour:

- `addresses`: how a URL host is read, and which addresses are allowed (global only; SSRF).
- `guard`, `resolver`: resolve once, check, pin; the reactor connects only to the pinned address.
- `robots`: RFC 9309 semantics on Protego.
- `extract`: the images (every way a page shows one), links and language of a page; image sniffing.
- `licence`: the licence data a page gives for each of its images (schema.org JSON-LD and microdata,
  `rel=license`, the figure's caption), for the licence check before a claim.
- `plan`: scope and limits of a crawl.
- `matchers`: the matching engine as the crawl calls it (from its matching threads).
- `session`: the crawl's state without Scrapy: images and pages, site facts, evidence, sightings.
- `spider`: the Scrapy spider, middlewares (guard, scope, robots) and pipelines (match, sightings).
- `engine`: Scrapy settings and `run_crawl` (once per process; never inside the API). Importing the package does
  not import Scrapy: `run_crawl` and `scrapy_settings` load it on first use.
- `sightings`: the `Sighting` type and the ledger that keeps sightings across crawls.
"""

from __future__ import annotations

from typing import Any

from tracemark.crawler.addresses import AddressPolicy, HostError, parse_host
from tracemark.crawler.guard import BlockedHostError, HostGuard, ResolveRule
from tracemark.crawler.matchers import IndexMatcher
from tracemark.crawler.plan import CrawlPlan, user_agent
from tracemark.crawler.session import CrawlSession, Matcher
from tracemark.crawler.sightings import Sighting, SightingLedger


def __getattr__(name: str) -> Any:
    # Scrapy and Twisted load only when a crawl runs: the API imports the sighting types without them.
    if name in ("run_crawl", "scrapy_settings"):
        from tracemark.crawler import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'tracemark.crawler' has no attribute {name!r}")


__all__ = [
    "AddressPolicy",
    "BlockedHostError",
    "CrawlPlan",
    "CrawlSession",
    "HostError",
    "HostGuard",
    "IndexMatcher",
    "Matcher",
    "ResolveRule",
    "Sighting",
    "SightingLedger",
    "parse_host",
    "run_crawl",
    "scrapy_settings",
    "user_agent",
]
