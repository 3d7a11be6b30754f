"""`GET /v1/contracts`: the chain id and the contract addresses. Public: addresses are public on-chain."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from tracemark.api.deps import NodeDep, SettingsDep
from tracemark.api.schemas import ContractsPublic, ErrorPublic
from tracemark.chain.deployments import DeploymentError
from tracemark.chain.node import ChainUnavailableError
from tracemark.services.contracts import current_deployment

router = APIRouter(prefix="/v1", tags=["contracts"])


@router.get(
    "/contracts",
    response_model=ContractsPublic,
    responses={503: {"model": ErrorPublic, "description": "No chain, or no deployment on it."}},
)
def contracts(node: NodeDep, settings: SettingsDep) -> ContractsPublic:
    """The Tracemark contracts on the chain this service serves."""
    try:
        deployment = current_deployment(node, settings.deployments_dir)
    except (ChainUnavailableError, DeploymentError) as exc:
        raise HTTPException(status_code=status.HTTP_503_SERVICE_UNAVAILABLE, detail=str(exc)) from exc
    return ContractsPublic(
        chain_id=deployment.chain_id, deployment_block=deployment.block, contracts=dict(deployment.contracts)
    )
