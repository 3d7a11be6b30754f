"""Fixtures of the evidence tests: the session's deployment (real deploy script) loaded into a fresh anvil that
mines each transaction as it comes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.backend.chainops import DevChain, load_state, start_anvil
from tests.backend.conftest import free_port, wait_for_rpc
from tests.backend.integration.indexer.conftest import DeployedState, deployed_state  # noqa: F401 - shared fixture


@pytest.fixture
def chain(anvil_bin: str, deployed_state: DeployedState) -> Iterator[DevChain]:  # noqa: F811
    """A fresh anvil with the contracts deployed, auto-mining; yields the driver (url, deployment, accounts)."""
    port = free_port()
    proc = start_anvil(anvil_bin, port)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_rpc(url, proc)
        load_state(url, deployed_state.state)
        yield DevChain(url, deployed_state.deployment)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
