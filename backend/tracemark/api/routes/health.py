"""`GET /health`: liveness, connections and indexer progress. Public: it reveals nothing that is not public on-chain."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import APIRouter, Request
from sqlalchemy.exc import SQLAlchemyError

from tracemark import __version__
from tracemark.api.deps import NodeDep, SettingsDep
from tracemark.api.schemas import HealthPublic, IndexerHealth
from tracemark.chain.deployments import DeploymentError, load_deployment
from tracemark.chain.node import ChainUnavailableError
from tracemark.config import Settings
from tracemark.store import Database
from tracemark.store.chain_repository import ChainState

router = APIRouter(tags=["health"])

STALE_AFTER_S = 120.0
"""A running indexer writes a heartbeat at least every few seconds; this long without one is a problem."""


def _indexer(request: Request, settings: Settings, chain_id: int) -> IndexerHealth | None:
    """The indexer's last heartbeat, if the store exists and has one (health never creates the store)."""
    database: Database | None = getattr(request.app.state, "database", None)
    if database is None:
        database = Database.from_settings(settings)
        if not database.exists():
            return None
    try:
        with database.read() as session:
            status = ChainState(session, chain_id).status()
            if status is None:
                return None
            updated = status.updated_at if status.updated_at.tzinfo else status.updated_at.replace(tzinfo=UTC)
            return IndexerHealth(
                state=status.state, head_block=status.head_block, indexed_block=status.indexed_block,
                confirmed_block=status.confirmed_block, lag_blocks=max(0, status.head_block - status.indexed_block),
                last_error=status.last_error, updated_at=updated,
                seconds_since_update=round((datetime.now(UTC) - updated).total_seconds(), 1),
            )
    except SQLAlchemyError:  # not migrated yet, or locked: health stays quiet about the indexer
        return None


@router.get("/health", response_model=HealthPublic)
def health(request: Request, node: NodeDep, settings: SettingsDep) -> HealthPublic:
    """Reports whether the service reaches its chain and knows the contracts there, and where the indexer is."""
    problems: list[str] = []
    chain_id = block_number = None
    deployed = False
    indexer = None
    try:
        chain_id = node.chain_id()
        block_number = node.block_number()
        load_deployment(settings.deployments_dir, chain_id)
        deployed = True
    except (ChainUnavailableError, DeploymentError) as exc:
        problems.append(str(exc))
    if chain_id is not None:
        indexer = _indexer(request, settings, chain_id)
    if indexer is not None:
        if block_number is not None:
            indexer.lag_blocks = max(0, block_number - indexer.indexed_block)
        if indexer.last_error:
            problems.append(f"indexer: {indexer.last_error}")
        if indexer.state != "stopped" and indexer.seconds_since_update > STALE_AFTER_S:
            problems.append(f"indexer: no heartbeat for {indexer.seconds_since_update:.0f} s")
    return HealthPublic(
        status="ok" if not problems else "degraded",
        version=__version__,
        chain_id=chain_id,
        block_number=block_number,
        deployment=deployed,
        indexer=indexer,
        problems=problems,
    )
