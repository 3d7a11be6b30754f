"""`tracemark cases`: the deadline scheduler of cases as a process.

    tracemark cases scheduler [--once] [--interval SECONDS] [--worker NAME] [--chain-id ID]

Each run applies every transition whose deadline has passed (approved -> offer -> reminder -> damages -> lawyer's
warning -> court), runs the licence check before each letter and sends the letter over SMTP
(`TRACEMARK_SMTP_*`). What it did lives in the database (cases, the idempotency keys of `case_actions`, the letters),
so a restarted scheduler, or a second one, never acts twice. Without `TRACEMARK_SMTP_HOST` the scheduler refuses to
run: a stage without its letter would be a deadline the recipient never heard of.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time

import click

from tracemark.config import get_settings


@click.group("cases")
def cases() -> None:
    """Cases: the deadline scheduler."""


@cases.command("scheduler")
@click.option("--once", is_flag=True, help="Run once, print what was done as JSON, and exit.")
@click.option("--interval", default=60.0, type=click.FloatRange(min=0.1), show_default=True,
              help="Seconds between runs (without --once).")
@click.option("--worker", default=None, help="This worker's name (default: host and process id).")
@click.option("--chain-id", type=int, default=None,
              help="The indexed chain (default: the only chain the database has indexed).")
def scheduler(once: bool, interval: float, worker: str | None, chain_id: int | None) -> None:
    """Apply the cases' due transitions and send their letters, once each, across restarts."""
    from tracemark.cases.clock import SystemClock
    from tracemark.mail import SmtpMailer
    from tracemark.services.cases import CasesService
    from tracemark.store import Database
    from tracemark.store.chain_repository import indexed_chains

    settings = get_settings()
    if not settings.smtp_host:
        raise click.UsageError("no SMTP server configured (TRACEMARK_SMTP_HOST): letters could not be sent")
    database = Database.from_settings(settings)
    database.migrate()
    if chain_id is None:
        with database.read() as session:
            chains = indexed_chains(session)
        if len(chains) != 1:
            raise click.UsageError(f"the database has indexed {len(chains)} chains; name one with --chain-id")
        chain_id = chains[0]
    service = CasesService.from_settings(settings, database, chain_id, SystemClock(),
                                         transport=SmtpMailer.from_settings(settings))
    name = worker or f"{socket.gethostname()}:{os.getpid()}"
    log = logging.getLogger("tracemark.cases.scheduler")
    try:
        while True:
            settled = service.close_settled()  # confirmed ClaimSettled first: a paid case gets no further letter
            report = service.scheduler(worker=name).run_once()
            summary = {
                "settled": settled,
                "applied": [{"case": d.case_id, "to": d.to_state.value} for d in report.applied],
                "ended_by_licence": report.ended_by_licence,
                "skipped": [{"key": k, "why": w} for k, w in report.skipped],
                "failed": [{"key": k, "error": e} for k, e in report.failed],
            }
            if once:
                click.echo(json.dumps(summary, indent=2))
                return
            if settled or report.applied or report.failed:
                log.info("scheduler run: %s", json.dumps(summary))
            time.sleep(interval)
    finally:
        database.dispose()
