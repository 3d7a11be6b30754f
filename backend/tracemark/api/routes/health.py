"""`GET /health`: liveness and connections. Public: it reveals nothing that is not public on-chain."""

from __future__ import annotations

from fastapi import APIRouter

from tracemark import __version__
from tracemark.api.deps import NodeDep, SettingsDep
from tracemark.api.schemas import HealthPublic
from tracemark.chain.deployments import DeploymentError, load_deployment
from tracemark.chain.node import ChainUnavailableError

router = APIRouter(tags=["health"])


@router.get("/health", response_model=HealthPublic)
def health(node: NodeDep, settings: SettingsDep) -> HealthPublic:
    """Reports whether the service reaches its chain and knows the contracts there."""
    problems: list[str] = []
    chain_id = block_number = None
    deployed = False
    try:
        chain_id = node.chain_id()
        block_number = node.block_number()
        load_deployment(settings.deployments_dir, chain_id)
        deployed = True
    except (ChainUnavailableError, DeploymentError) as exc:
        problems.append(str(exc))
    return HealthPublic(
        status="ok" if not problems else "degraded",
        version=__version__,
        chain_id=chain_id,
        block_number=block_number,
        deployment=deployed,
        problems=problems,
    )
