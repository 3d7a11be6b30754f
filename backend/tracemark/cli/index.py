"""`tracemark index`: the chain indexer as a process."""

from __future__ import annotations

import logging
import signal
import threading

import click

from tracemark.config import get_settings


def configure_logging(level: str) -> None:
    """Progress lines on stderr; the libraries' own request logs only when something is wrong."""
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "httpcore", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@click.command()
@click.option("--once", is_flag=True, help="Index up to the current head, then exit (default: follow the chain).")
@click.option("--reindex-from", type=int, default=None, metavar="BLOCK",
              help="Undo everything indexed from BLOCK on, then index it again.")
@click.option("--rpc-url", default=None, help="JSON-RPC endpoint (default: TRACEMARK_RPC_URL).")
@click.option("--confirmations", type=int, default=None,
              help="Confirmation depth (default: TRACEMARK_INDEX_CONFIRMATIONS; 64+ on a public chain).")
@click.option("--log-level", default="INFO", show_default=True,
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
def index(once: bool, reindex_from: int | None, rpc_url: str | None, confirmations: int | None,
          log_level: str) -> None:
    """Index the Tracemark contracts' events into the database (TRACEMARK_DATABASE_URL, or SQLite in
    TRACEMARK_DATA_DIR). Stops cleanly on Ctrl-C or SIGTERM; a killed process resumes from its checkpoint."""
    from tracemark.chain.deployments import DeploymentError
    from tracemark.chain.indexer import IndexerStoppedError, connect

    configure_logging(log_level)
    settings = get_settings()
    if confirmations is not None:
        settings = settings.model_copy(update={"index_confirmations": confirmations})
    stop = threading.Event()

    def request_stop(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        indexer = connect(settings, stop, rpc_url)
        if reindex_from is not None:
            indexer.prepare()
            indexer.rewind(reindex_from - 1)
        if once:
            stored = indexer.catch_up()
            p = indexer.progress
            click.echo(f"indexed chain {p.chain_id} to block {p.indexed_block} (confirmed {p.confirmed_block}, "
                       f"head {p.head_block}): {stored} events stored")
        else:
            indexer.run()
    except DeploymentError as exc:
        raise click.ClickException(str(exc)) from exc
    except IndexerStoppedError:
        click.echo("stopped")
