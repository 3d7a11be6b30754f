"""The Scrapy settings of a crawl keep the guard in every path and the politeness limits in force."""

from __future__ import annotations

import copy

from tracemark.crawler.addresses import AddressPolicy
from tracemark.crawler.engine import scrapy_settings
from tracemark.crawler.guard import HostGuard
from tracemark.crawler.plan import CrawlPlan


def test_settings_route_every_connection_through_the_guard() -> None:
    guard = HostGuard(policy=AddressPolicy())
    plan = CrawlPlan(seeds=["https://shop.example.de/"], per_host_concurrency=3, delay_s=0.5, timeout_s=7)
    s = scrapy_settings(plan, guard, None)
    assert s["TWISTED_DNS_RESOLVER"] == "tracemark.crawler.resolver.GuardedNameResolver"
    mw = s["DOWNLOADER_MIDDLEWARES"]
    assert mw["tracemark.crawler.spider.FetchGuardMiddleware"] < mw["tracemark.crawler.spider.RobotsMiddleware"]
    for off in ("httpproxy.HttpProxyMiddleware", "cookies.CookiesMiddleware", "robotstxt.RobotsTxtMiddleware",
                "offsite.OffsiteMiddleware"):
        assert mw[f"scrapy.downloadermiddlewares.{off}"] is None
    assert s["HTTPPROXY_ENABLED"] is False and s["COOKIES_ENABLED"] is False and s["ROBOTSTXT_OBEY"] is False
    assert s["TELNETCONSOLE_ENABLED"] is False
    assert s["REDIRECT_MAX_TIMES"] == 5 and s["DOWNLOAD_TIMEOUT"] == 7
    assert s["CONCURRENT_REQUESTS_PER_DOMAIN"] == 3 and s["DOWNLOAD_DELAY"] == 0.5 and s["AUTOTHROTTLE_ENABLED"]
    assert "tracemark" in s["USER_AGENT"]


def test_the_guard_survives_scrapys_settings_copy() -> None:
    """Scrapy deep-copies settings per crawler; resolver and middleware must still share one guard (one pin)."""
    guard = HostGuard(policy=AddressPolicy(["127.0.0.0/8"]))
    copied = copy.deepcopy({"TRACEMARK_HOST_GUARD": guard})
    assert copied["TRACEMARK_HOST_GUARD"] is guard


def test_the_sighting_types_import_without_scrapy() -> None:
    """The API process may use `tracemark.crawler.sightings`; Scrapy and Twisted stay out of it."""
    import subprocess
    import sys

    code = ("import sys, tracemark.crawler, tracemark.crawler.sightings, tracemark.crawler.session; "
            "print(sorted(m for m in ('scrapy', 'twisted', 'twisted.internet.reactor') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    assert out.stdout.strip() == "[]"
