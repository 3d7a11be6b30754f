"""Writes the ABIs of the deployed contracts into the backend package (backend/tracemark/chain/abi/).

    ape run export_abi
"""

from __future__ import annotations

import json
from pathlib import Path

from ape import project

from tracemark.chain.deployments import CONTRACT_NAMES

TARGET = Path(__file__).resolve().parents[1] / "backend" / "tracemark" / "chain" / "abi"


def main() -> None:
    TARGET.mkdir(parents=True, exist_ok=True)
    for name in CONTRACT_NAMES:
        contract_type = getattr(project, name).contract_type
        abi = [entry.model_dump(mode="json", by_alias=True, exclude_none=True) for entry in contract_type.abi]
        (TARGET / f"{name}.json").write_text(json.dumps(abi, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"wrote {TARGET / (name + '.json')}")
