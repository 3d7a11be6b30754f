"""`tracemark crawl`: crawl sites, match their images, and write the sightings as JSON lines.

    tracemark crawl URL... [--sitemap URL] [--depth N] [--max-pages N] [--index DIR]
                           [--resolve HOST:PORT:ADDRESS] [--allow-network CIDR] [--out FILE.jsonl]
                           [--warc-dir DIR] [--state FILE] [--record/--no-record] [--anchor]

Progress goes to stderr; each sighting is one JSON line (on stdout, or in `--out`):
`{"image_url", "page_url", "id", "score", "edits", "first_seen", "last_seen", "times_seen", "status",
"country": {"code", "reason", ...}, "operator": {"name", "email", "address", "wallets", ...},
"page_licence": {"licence_urls", "acquire_licence_pages", "credit_text"}, "image_rights": {"licence_urls",
"web_statements", "usage_terms", "licensor_urls", "creators", "credits", "copyright_notices", "marked"},
"evidence": {"warc", "record_id", "sha256", "page": {...}}, ...}`.
The sightings are kept in a small SQLite file (`--state`; default `<warc-dir>/crawl-state.sqlite`), so a
later crawl with the same state moves `last_seen` and records what is gone. Crawling for the registry (no
`--index`) also stores the sightings in the database (`--record`), where `GET /v1/findings`, the registration
audit and the cases read them; `--anchor` anchors the evidence batches on-chain once the crawl is done.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from tracemark.config import Settings, get_settings


@click.command("crawl")
@click.argument("urls", nargs=-1)
@click.option("--sitemap", "sitemaps", multiple=True, metavar="URL",
              help="A sitemap (or sitemap index) whose URLs are crawled as further start URLs (repeatable).")
@click.option("--depth", type=click.IntRange(0, 50), default=2, show_default=True,
              help="Links followed from a seed (0: the seeds only).")
@click.option("--max-pages", type=click.IntRange(1), default=1000, show_default=True, help="Page budget per host.")
@click.option("--max-bytes", type=click.IntRange(1024), default=512 * 1024 * 1024, show_default=True,
              help="Byte budget per host (pages and images).")
@click.option("--domain", "domains", multiple=True, help="Allowed domain for pages (repeatable; default: the seeds' "
              "hosts). Images and imprint pages are fetched from any host.")
@click.option("--index", "index_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Match against this matching index (default: the registry's, <data_dir>/registry-index).")
@click.option("--resolve", "resolves", multiple=True, metavar="HOST:PORT:ADDRESS",
              help="Map a host name to an address for this crawl, like curl (repeatable; checked like DNS answers).")
@click.option("--allow-network", "networks", multiple=True, metavar="CIDR",
              help="Allow a non-global network, e.g. 127.0.0.0/8 for local test servers (repeatable).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the JSON lines here (default: stdout).")
@click.option("--warc-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Evidence folder for the WARC files (default: <data_dir>/evidence).")
@click.option("--state", "state", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Sightings kept across crawls (default: <warc-dir>/crawl-state.sqlite).")
@click.option("--record/--no-record", "record", default=None,
              help="Store the sightings in the database, where GET /v1/findings and the registration audit read them "
                   "(default: yes when matching against the registry, no with --index).")
@click.option("--anchor", is_flag=True,
              help="After the crawl, seal the evidence batch and anchor every unanchored batch root on-chain "
                   "(EvidenceAnchor; key: TRACEMARK_ANCHORER_KEY, anvil's account 4 on the local chain).")
@click.option("--quiet", is_flag=True, help="No progress on stderr.")
def crawl(urls: tuple[str, ...], sitemaps: tuple[str, ...], depth: int, max_pages: int, max_bytes: int,
          domains: tuple[str, ...], index_dir: Path | None, resolves: tuple[str, ...], networks: tuple[str, ...],
          out: Path | None, warc_dir: Path | None, state: Path | None, record: bool | None, anchor: bool,
          quiet: bool) -> None:
    """Crawl URL... politely and safely, match every image, and report the sightings."""
    # Scrapy and Twisted are imported here, not at start-up: the other commands do not need them.
    from tracemark.crawler import (
        AddressPolicy,
        CrawlPlan,
        CrawlSession,
        HostGuard,
        IndexMatcher,
        ResolveRule,
        SightingLedger,
        run_crawl,
        user_agent,
    )
    from tracemark.crawler.addresses import parse_network
    from tracemark.evidence.warc import EvidenceWriter
    from tracemark.matching import MatchIndex, MatchingError

    settings = get_settings()
    if not urls and not sitemaps:
        raise click.UsageError("give at least one URL or --sitemap")
    for url in (*urls, *sitemaps):
        if not url.lower().startswith(("http://", "https://")):
            raise click.BadParameter(f"not an http(s) URL: {url}", param_hint="URL")
    try:
        rules = [ResolveRule.parse(r) for r in resolves]
        allow = [parse_network(n) for n in (*settings.crawl_allow_networks, *networks)]
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    guard = HostGuard(policy=AddressPolicy(allow), rules=rules, dns=settings.crawl_system_dns)
    plan = CrawlPlan(
        seeds=list(urls), sitemaps=list(sitemaps), depth=depth, allowed_domains=[d.lower().strip(".") for d in domains],
        max_pages_per_domain=max_pages, max_bytes_per_domain=max_bytes,
        max_page_bytes=settings.crawl_max_page_bytes, max_image_bytes=settings.crawl_max_image_bytes,
        timeout_s=settings.crawl_timeout_s, user_agent=user_agent(settings.crawl_contact_url),
        per_host_concurrency=settings.crawl_per_host_concurrency, delay_s=settings.crawl_delay_s,
    )
    index_path = index_dir if index_dir is not None else settings.data_dir / "registry-index"
    evidence_dir = warc_dir if warc_dir is not None else settings.data_dir / "evidence"
    state_path = state if state is not None else evidence_dir / "crawl-state.sqlite"
    evidence_dir.mkdir(parents=True, exist_ok=True)
    try:
        index = MatchIndex.open(index_path, create=False)
    except MatchingError as exc:
        raise click.ClickException(f"cannot open the matching index {index_path}: {exc}") from exc
    ledger = SightingLedger(state_path)
    try:
        with index, EvidenceWriter(evidence_dir) as writer:
            session = CrawlSession(plan, IndexMatcher(index), writer, ledger)
            sightings = run_crawl(session, guard, match_workers=settings.crawl_match_workers,
                                  progress_s=0 if quiet else 2.0, log_level=settings.crawl_log_level.upper())
    finally:
        ledger.close()
    lines = "".join(s.to_json_line() + "\n" for s in sightings)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(lines, encoding="utf-8")
    else:
        sys.stdout.write(lines)
        sys.stdout.flush()
    if not quiet:
        click.echo(f"{len(sightings)} sighting(s); {len(guard.refusals)} request(s) refused by the fetch guard",
                   err=True)
    if record if record is not None else index_dir is None:
        stored = _record(settings, [json.loads(s.to_json_line()) for s in sightings])
        if not quiet:
            click.echo(f"{stored} sighting(s) stored in the database", err=True)
    if anchor:
        for entry in _anchor(settings, evidence_dir):
            click.echo(f"anchored evidence batch {entry['batch_seq']} (root {entry['root']}) in block "
                       f"{entry['block']}, tx {entry['tx']}", err=True)


def _record(settings: Settings, lines: list[dict[str, Any]]) -> int:
    """Stores crawl lines in the database, all in one transaction (a failure stores none of them)."""
    from tracemark.store import Database
    from tracemark.store.sighting_repository import record_crawl_line

    database = Database.from_settings(settings)
    try:
        database.migrate()
        with database.write() as session:
            for line in lines:
                record_crawl_line(session, line)
    except Exception as exc:  # the crawl's output is written already; say what was not stored
        raise click.ClickException(f"the sightings were not stored in the database: {exc}") from exc
    finally:
        database.dispose()
    return len(lines)


def _anchor(settings: Settings, evidence_dir: Path) -> list[dict[str, Any]]:
    from tracemark.chain.deployments import DeploymentError
    from tracemark.chain.node import ChainUnavailableError
    from tracemark.evidence.anchor import AnchorError, anchorer_for
    from tracemark.evidence.journal import EvidenceLockedError
    from tracemark.evidence.warc import anchor_folder

    try:
        anchorer = anchorer_for(settings.rpc_url, deployments_dir=settings.deployments_dir,
                                key=settings.anchorer_key.get_secret_value())
        return anchor_folder(evidence_dir, anchorer)
    except (ChainUnavailableError, DeploymentError, AnchorError, EvidenceLockedError, ValueError) as exc:
        raise click.ClickException(f"the evidence was not anchored: {exc}") from exc


__all__ = ["crawl"]
