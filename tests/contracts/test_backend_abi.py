"""The ABIs the backend ships must be the ones the contracts compile to (refresh with `make abi`)."""

from __future__ import annotations

import json

import pytest

from tracemark.chain.contracts import abi_of
from tracemark.chain.deployments import CONTRACT_NAMES


def _canonical(abi: list[dict]) -> list[str]:
    return sorted(json.dumps(entry, sort_keys=True) for entry in abi)


@pytest.mark.parametrize("name", CONTRACT_NAMES)
def test_shipped_abi_matches_the_build(project, name):
    abi = getattr(project, name).contract_type.abi
    built = [entry.model_dump(mode="json", by_alias=True, exclude_none=True) for entry in abi]
    assert _canonical(abi_of(name)) == _canonical(built), f"backend ABI of {name} is stale: run `make abi`"


def test_unknown_contract_name_is_refused():
    with pytest.raises(KeyError, match="not a Tracemark contract"):
        abi_of("URIStorageBaseline")
