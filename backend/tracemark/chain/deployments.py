"""Deployment records: which contract lives at which address on which chain, written by `scripts/deploy.py`.

A deployment is one JSON file per chain, `deployments/<chain id>.json`:

    {"chain_id": 31337, "block": 1, "deployed_at": "2026-12-04T20:00:00Z",
     "contracts": {"CPYToken": "0x...", "ImageCertificate": "0x...", "LicenseMarket": "0x...",
                   "EvidenceAnchor": "0x..."},
     "roles": {"verifier": ["0x..."], ...}}
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from web3 import Web3

CONTRACT_NAMES = ("CPYToken", "ImageCertificate", "LicenseMarket", "EvidenceAnchor")


class DeploymentError(Exception):
    """A deployment record is missing or unreadable."""


class Deployment(BaseModel):
    """The contracts of one chain, and the block from which their events start."""

    model_config = ConfigDict(frozen=True)

    chain_id: int = Field(gt=0)
    block: int = Field(ge=0, description="Block of the first deployment transaction; indexers start here.")
    deployed_at: datetime
    contracts: dict[str, str]
    roles: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("contracts")
    @classmethod
    def _complete_and_checksummed(cls, contracts: dict[str, str]) -> dict[str, str]:
        missing = [name for name in CONTRACT_NAMES if name not in contracts]
        if missing:
            raise ValueError(f"missing contracts: {', '.join(missing)}")
        out: dict[str, str] = {}
        for name, address in contracts.items():
            if not Web3.is_address(address):
                raise ValueError(f"{name}: not an address: {address!r}")
            out[name] = Web3.to_checksum_address(address)
        return out

    def address_of(self, name: str) -> str:
        """The address of a contract by name, e.g. `LicenseMarket`."""
        try:
            return self.contracts[name]
        except KeyError:
            raise DeploymentError(f"no contract named {name!r} in the deployment of chain {self.chain_id}") from None


def deployment_path(deployments_dir: Path, chain_id: int) -> Path:
    """Where the deployment of a chain is recorded."""
    return deployments_dir / f"{chain_id}.json"


def load_deployment(deployments_dir: Path, chain_id: int) -> Deployment:
    """Reads the deployment of a chain.

    Raises:
        DeploymentError: when there is no record for the chain or it is not a valid record.
    """
    path = deployment_path(deployments_dir, chain_id)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DeploymentError(f"no deployment for chain {chain_id}: {path} does not exist") from None
    try:
        return Deployment.model_validate(json.loads(raw))
    except (json.JSONDecodeError, ValidationError) as exc:
        raise DeploymentError(f"{path} is not a valid deployment record: {exc}") from exc


def save_deployment(deployments_dir: Path, deployment: Deployment) -> Path:
    """Writes a deployment record atomically (write to a temporary file, then rename)."""
    deployments_dir.mkdir(parents=True, exist_ok=True)
    path = deployment_path(deployments_dir, deployment.chain_id)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(deployment.model_dump_json(indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path
