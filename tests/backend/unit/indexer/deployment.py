"""A deployment of the four contracts at anvil's usual addresses, for the indexer's unit tests (no chain needed)."""

from __future__ import annotations

from datetime import UTC, datetime

from tracemark.chain.deployments import Deployment

ADDRESSES = {
    "CPYToken": "0x5fbdb2315678afecb367f032d93f642f64180aa3",
    "ImageCertificate": "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512",
    "LicenseMarket": "0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0",
    "EvidenceAnchor": "0xcf7ed3acca5a467e9e704c703e8d87f634fb0fc9",
}
DEPLOYMENT = Deployment(chain_id=31337, block=1, deployed_at=datetime.now(UTC), contracts=ADDRESSES)
