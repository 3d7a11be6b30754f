"""Runs one crawl on Scrapy, in this process (the command line) and never in the API's process.

`scrapy_settings` turns a `CrawlPlan` into Scrapy settings: the user agent, per-host concurrency and delay
with AutoThrottle, retries, at most five redirects, size and time limits, breadth-first order, the fetch
guard's resolver, and the middlewares and pipelines of `tracemark.crawler.spider`. Scrapy's own robots.txt,
offsite, proxy and cookie middlewares are off: the first two are replaced by RFC 9309 and scope handling,
a proxy would connect on the crawler's behalf to addresses the guard never saw, and the cookie middleware
would download the public suffix list.

A crawl needs Twisted's reactor, which runs once per process: `run_crawl` is called once per process (the
`tracemark crawl` command, or a worker process a service starts). The API never imports Scrapy.

**A shared frontier later.** Nothing in the spider depends on the scheduler being local: switching
`SCHEDULER` and `DUPEFILTER_CLASS` to scrapy-redis (`scrapy_redis.scheduler.Scheduler`,
`scrapy_redis.dupefilter.RFPDupeFilter`, `SCHEDULER_PERSIST`) spreads one crawl's requests over many worker
processes and machines. What is per process today and would then move: the image ledger of the session
(which image URLs and contents were searched: a Redis set, or accept a few duplicate searches), the
sightings (each worker writes them to the server's store instead of a local ledger), the page and byte
budgets (Redis counters per host). The fetch guard, robots.txt cache and evidence writer stay per worker: each
checks and records what it fetches itself, which is what makes them trustworthy.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tracemark.crawler.guard import HostGuard
from tracemark.crawler.plan import CrawlPlan
from tracemark.crawler.resolver import GUARD_SETTING
from tracemark.crawler.session import CrawlSession
from tracemark.crawler.sightings import Sighting
from tracemark.crawler.spider import PROGRESS_SETTING, SESSION_SETTING, SightingSpider

_MW = "tracemark.crawler.spider"


def scrapy_settings(plan: CrawlPlan, guard: HostGuard, session: CrawlSession | None, *,
                    progress_s: float = 2.0, log_level: str = "ERROR") -> dict[str, Any]:
    """The Scrapy settings of a crawl."""
    return {
        "BOT_NAME": "tracemark",
        "USER_AGENT": plan.user_agent,
        "ROBOTSTXT_OBEY": False,  # RobotsMiddleware implements RFC 9309 instead
        "COOKIES_ENABLED": False,
        "HTTPPROXY_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "LOG_LEVEL": log_level,
        "CONCURRENT_REQUESTS": plan.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": plan.per_host_concurrency,
        "DOWNLOAD_DELAY": plan.delay_s,
        "AUTOTHROTTLE_ENABLED": plan.delay_s > 0,
        "AUTOTHROTTLE_START_DELAY": max(plan.delay_s, 0.01),
        "AUTOTHROTTLE_MAX_DELAY": 60.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": float(plan.per_host_concurrency),
        "RETRY_ENABLED": plan.retries > 0,
        "RETRY_TIMES": plan.retries,
        "REDIRECT_MAX_TIMES": plan.max_redirects,
        "METAREFRESH_MAXDELAY": 10,
        "DOWNLOAD_TIMEOUT": plan.timeout_s,
        "DOWNLOAD_MAXSIZE": plan.max_page_bytes,
        "DOWNLOAD_WARNSIZE": 0,
        "SCRAPER_SLOT_MAX_ACTIVE_SIZE": plan.max_pending_bytes,
        "CONCURRENT_ITEMS": 64,
        "DEPTH_LIMIT": 0,  # depth is counted by the spider: images and imprints do not count
        "DEPTH_PRIORITY": 1,
        "SCHEDULER_DISK_QUEUE": "scrapy.squeues.PickleFifoDiskQueue",
        "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
        "TWISTED_DNS_RESOLVER": "tracemark.crawler.resolver.GuardedNameResolver",
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "scrapy.downloadermiddlewares.httpproxy.HttpProxyMiddleware": None,
            "scrapy.downloadermiddlewares.cookies.CookiesMiddleware": None,
            f"{_MW}.FetchGuardMiddleware": 40,
            f"{_MW}.RobotsMiddleware": 100,
            f"{_MW}.ScopeMiddleware": 110,
        },
        "ITEM_PIPELINES": {f"{_MW}.MatchPipeline": 100, f"{_MW}.SightingPipeline": 200},
        "EXTENSIONS": {f"{_MW}.Progress": 500, "scrapy.extensions.telnet.TelnetConsole": None},
        GUARD_SETTING: guard,
        SESSION_SETTING: session,
        PROGRESS_SETTING: progress_s,
    }


def run_crawl(session: CrawlSession, guard: HostGuard, *, match_workers: int = 2, progress_s: float = 2.0,
              log_level: str = "ERROR") -> list[Sighting]:
    """Runs the crawl to its end (blocking; once per process) and returns its sightings.

    Args:
        session: The crawl's state, with its plan, matcher, evidence sink and ledger.
        guard: The fetch guard (address policy, `--resolve` rules).
        match_workers: Threads that run the matching engine.
        progress_s: Seconds between progress lines on stderr (0: none).
        log_level: Scrapy's log level (its log goes to stderr).

    Returns:
        This crawl's sightings and the stored ones it found gone.
    """
    from scrapy.crawler import CrawlerProcess

    logging.getLogger("scrapy").propagate = True
    with ThreadPoolExecutor(max_workers=max(1, match_workers), thread_name_prefix="match") as executor:
        session.executor = executor
        process = CrawlerProcess(
            scrapy_settings(session.plan, guard, session, progress_s=progress_s, log_level=log_level)
        )
        process.crawl(SightingSpider)
        process.start()
    return session.finish()


__all__ = ["run_crawl", "scrapy_settings"]
