"""Fixtures of the indexer tests: one deployment made once per session (the real deploy script), loaded into a
fresh anvil for every test (`anvil_loadState` keeps blocks and hashes), and a driver for real activity."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.backend.chainops import DevChain, deploy, dump_state, load_state, start_anvil
from tests.backend.conftest import ROOT, free_port, tool_env, wait_for_rpc
from tests.backend.integration.databases import any_database  # noqa: F401 - shared fixture
from tracemark.chain.deployments import Deployment, load_deployment

ANVIL_FLAGS = ("--base-fee", "0", "--no-mining")  # blocks only when a test mines them


def pytest_configure(config: pytest.Config) -> None:
    # Registered here because pyproject.toml (with --strict-markers) belongs to the project lead.
    config.addinivalue_line("markers", "soak: long campaigns, skipped unless TRACEMARK_SOAK=1 (e.g. 1,000 reorgs)")


@dataclass(frozen=True)
class DeployedState:
    state: str
    deployments_dir: Path
    deployment: Deployment


@pytest.fixture(scope="session")
def deployed_state(anvil_bin: str, tmp_path_factory: pytest.TempPathFactory) -> DeployedState:
    port = free_port()
    proc = start_anvil(anvil_bin, port, "--base-fee", "0")
    url = f"http://127.0.0.1:{port}"
    deployments = tmp_path_factory.mktemp("deployments")
    try:
        wait_for_rpc(url, proc)
        deploy(url, deployments, ROOT, tool_env())
        state = dump_state(url)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return DeployedState(state, deployments, load_deployment(deployments, 31337))


@pytest.fixture
def dev_chain(anvil_bin: str, deployed_state: DeployedState) -> Iterator[DevChain]:
    """A fresh anvil with the deployment loaded, auto-mining off; yields the driver."""
    port = free_port()
    proc = start_anvil(anvil_bin, port, *ANVIL_FLAGS)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_rpc(url, proc)
        load_state(url, deployed_state.state)
        chain = DevChain(url, deployed_state.deployment)
        chain.set_automine(False)
        yield chain
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL server on a loopback port (Debian's postgresql binaries, run as the `postgres`
    user when the tests run as root); skipped where PostgreSQL is not installed."""
    import os
    import pwd
    import shutil
    import subprocess
    import tempfile
    import time

    psycopg = pytest.importorskip("psycopg", reason="psycopg is not installed (pip install 'psycopg[binary]')")
    bin_dir = Path("/usr/lib/postgresql")
    candidates = sorted(bin_dir.glob("*/bin/initdb")) if bin_dir.exists() else []
    initdb = str(candidates[-1]) if candidates else shutil.which("initdb")
    if initdb is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql)")
    postgres = str(Path(initdb).with_name("postgres"))
    as_user: list[str] = []
    # Not under pytest's temporary folder: that one is private to the user running the tests.
    scratch = Path(tempfile.mkdtemp(prefix="tracemark-pg-"))
    scratch.chmod(0o755)
    data = scratch / "data"
    data.mkdir()
    if os.geteuid() == 0:
        try:
            account = pwd.getpwnam("postgres")
        except KeyError:
            pytest.skip("running as root and there is no postgres user to run PostgreSQL as")
        os.chown(data, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*as_user, initdb, "-D", str(data), "-A", "trust", "-U", "tracemark", "--no-sync"],
                   check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [*as_user, postgres, "-D", str(data), "-p", str(port), "-k", str(data), "-c", "listen_addresses=127.0.0.1",
         "-c", "fsync=off"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(f"host=127.0.0.1 port={port} user=tracemark dbname=postgres",
                                     autocommit=True) as connection:
                    connection.execute("CREATE DATABASE tracemark")
                break
            except psycopg.OperationalError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        yield f"postgresql+psycopg://tracemark@127.0.0.1:{port}/tracemark"
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(scratch, ignore_errors=True)
