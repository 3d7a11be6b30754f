"""Which contracts the service works with: the deployment of the chain its node serves."""

from __future__ import annotations

from pathlib import Path

from tracemark.chain.deployments import Deployment, load_deployment
from tracemark.chain.node import ChainNode


def current_deployment(node: ChainNode, deployments_dir: Path) -> Deployment:
    """The deployment of the chain the node serves.

    Raises:
        ChainUnavailableError: the node does not answer.
        DeploymentError: the chain has no valid deployment record.
    """
    return load_deployment(deployments_dir, node.chain_id())
