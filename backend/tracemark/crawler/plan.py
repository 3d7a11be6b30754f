"""The scope and limits of one crawl."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tracemark.crawler.addresses import HostError, parse_host

DEFAULT_CONTACT_URL = "https://github.com/tracemark/tracemark"


def user_agent(contact_url: str) -> str:
    """The crawler's user agent: the `tracemark` product token and a URL where site operators reach us."""
    return f"tracemark/0.1 (image copyright crawler; +{contact_url})"


def host_of(url: str) -> str:
    """The normalised host of a URL ('' when it has none)."""
    try:
        hostname = urlsplit(url).hostname or ""
        return str(parse_host(hostname)) if hostname else ""
    except (HostError, ValueError):
        return ""


@dataclass
class CrawlPlan:
    """What one crawl may do.

    Attributes:
        seeds: Start URLs.
        sitemaps: Sitemaps (or sitemap indexes) whose URLs are crawled as further start URLs.
        depth: Links followed from a seed (0: the seeds only). Images and imprint pages do not count.
        allowed_domains: Hosts (and their subdomains) whose pages are crawled; empty: the seeds' hosts.
            Images and imprint pages are fetched from any host (through the fetch guard and robots.txt).
        max_pages_per_domain: Page budget per host.
        max_bytes_per_domain: Byte budget per host (pages and images).
        max_page_bytes: Largest page body; larger responses are cut off and dropped.
        max_image_bytes: Largest image body.
        timeout_s: Longest time for one response (connect to last byte).
        user_agent: Sent with every request; names a contact URL.
        concurrency: Requests in flight in total.
        per_host_concurrency: Requests in flight per host.
        delay_s: Pause between requests to one host (AutoThrottle adapts it to the host's latency).
        retries: Retries of a failed request (network errors, 5xx, 429).
        max_redirects: Redirect hops followed (each checked by the fetch guard).
        robots_ttl_s: How long a robots.txt is used (capped at 24 h).
        imprint_candidates: Imprint pages tried per site.
        max_pending_bytes: Responses waiting for the matching engine before downloads pause (Scrapy's
            scraper back-pressure): large enough that pages keep coming while images are matched.
    """

    seeds: list[str]
    sitemaps: list[str] = field(default_factory=list)
    depth: int = 2
    allowed_domains: list[str] = field(default_factory=list)
    max_pages_per_domain: int = 1000
    max_bytes_per_domain: int = 512 * 1024 * 1024
    max_page_bytes: int = 5 * 1024 * 1024
    max_image_bytes: int = 20 * 1024 * 1024
    timeout_s: float = 30.0
    user_agent: str = user_agent(DEFAULT_CONTACT_URL)
    concurrency: int = 16
    per_host_concurrency: int = 2
    delay_s: float = 0.25
    retries: int = 2
    max_redirects: int = 5
    robots_ttl_s: float = 24 * 3600.0
    imprint_candidates: int = 3
    max_pending_bytes: int = 128 * 1024 * 1024

    def __post_init__(self) -> None:
        if not self.allowed_domains:
            self.allowed_domains = sorted({h for h in (host_of(u) for u in [*self.seeds, *self.sitemaps]) if h})

    def in_scope(self, url: str) -> bool:
        """Whether a page URL is inside the allowed domains (a host or one of its subdomains)."""
        host = host_of(url)
        return bool(host) and any(host == d or host.endswith("." + d) for d in self.allowed_domains)


__all__ = ["DEFAULT_CONTACT_URL", "CrawlPlan", "host_of", "user_agent"]
