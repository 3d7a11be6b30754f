"""Deployment records: what the backend accepts and refuses."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tracemark.chain.deployments import Deployment, DeploymentError, load_deployment, save_deployment

ADDRESSES = {
    "CPYToken": "0x5fbdb2315678afecb367f032d93f642f64180aa3",
    "ImageCertificate": "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512",
    "LicenseMarket": "0x9fe46736679d2d9a65f0992f2272de9f3c7fa6e0",
    "EvidenceAnchor": "0xcf7ed3acca5a467e9e704c703e8d87f634fb0fc9",
}


def record(**changes: object) -> dict[str, object]:
    base: dict[str, object] = {
        "chain_id": 31337, "block": 1, "deployed_at": "2026-12-04T20:00:00Z", "contracts": dict(ADDRESSES),
    }
    base.update(changes)
    return base


def test_round_trip_checksums_addresses(tmp_path: Path) -> None:
    deployment = Deployment.model_validate(record())
    path = save_deployment(tmp_path, deployment)
    assert path == tmp_path / "31337.json"
    loaded = load_deployment(tmp_path, 31337)
    assert loaded == deployment
    assert loaded.address_of("CPYToken") == "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    assert not list(tmp_path.glob("*.tmp")), "the temporary file of the atomic write is left behind"


def test_missing_record_names_the_chain(tmp_path: Path) -> None:
    with pytest.raises(DeploymentError, match="no deployment for chain 5"):
        load_deployment(tmp_path, 5)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not a valid deployment record"),
        (json.dumps(record(contracts={k: v for k, v in ADDRESSES.items() if k != "LicenseMarket"})), "LicenseMarket"),
        (json.dumps(record(contracts=ADDRESSES | {"CPYToken": "0x1234"})), "not an address"),
        (json.dumps(record(chain_id=0)), "chain_id"),
        (json.dumps(record(block=-1)), "block"),
    ],
)
def test_invalid_records_are_refused_with_a_reason(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "31337.json").write_text(content)
    with pytest.raises(DeploymentError, match=message):
        load_deployment(tmp_path, 31337)


def test_unknown_contract_name_is_a_clear_error() -> None:
    deployment = Deployment.model_validate(record())
    with pytest.raises(DeploymentError, match="no contract named 'Nope'"):
        deployment.address_of("Nope")


def test_saving_replaces_an_earlier_record(tmp_path: Path) -> None:
    save_deployment(tmp_path, Deployment.model_validate(record(block=1)))
    save_deployment(tmp_path, Deployment(chain_id=31337, block=9, deployed_at=datetime.now(UTC), contracts=ADDRESSES))
    assert load_deployment(tmp_path, 31337).block == 9
