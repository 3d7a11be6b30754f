"""`tracemark run` (what `make run` starts): chain, deployment and API come up, stop on Ctrl-C, keep state."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.backend.conftest import ROOT, free_port, tool_env

pytestmark = pytest.mark.integration


def start(tmp_path: Path, anvil_port: int, api_port: int, ipfs_port: int | None = None) -> subprocess.Popen[str]:
    env = tool_env() | {
        "TRACEMARK_ANVIL_PORT": str(anvil_port),
        "TRACEMARK_API_PORT": str(api_port),
        "TRACEMARK_IPFS_LOCAL_API_PORT": str(ipfs_port or free_port()),
        "TRACEMARK_IPFS_API_URL": "",
        "TRACEMARK_DATA_DIR": str(tmp_path / "var"),
        "TRACEMARK_DEPLOYMENTS_DIR": str(tmp_path / "deployments"),
    }
    return subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "tracemark"), "run"], cwd=ROOT, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )


def wait_healthy(url: str, proc: subprocess.Popen[str], timeout_s: float = 180) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"tracemark run exited early:\n{proc.stdout.read() if proc.stdout else ''}")
        try:
            body: dict[str, Any] = httpx.get(f"{url}/health", timeout=2).json()
            if body["status"] == "ok":
                return body
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("the API did not become healthy")


def register_and_wait_until_served(tmp_path: Path, anvil_port: int, api: str) -> dict[str, Any]:
    """Registers a certificate on the running chain; the indexer `make run` started serves it once confirmed."""
    from tests.backend.chainops import DevChain
    from tracemark.chain.deployments import load_deployment

    chain = DevChain(f"http://127.0.0.1:{anvil_port}", load_deployment(tmp_path / "deployments", 31337))
    token = chain.register(chain.users[0])
    assert chain.receipts_ok(chain.flush()) == 1
    chain.mine(3)  # the default confirmation depth is 2
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        response = httpx.get(f"{api}/v1/certificates/{token}", timeout=5)
        if response.status_code == 200:
            body: dict[str, Any] = response.json()
            assert body["certificate"]["holder"] == chain.users[0]
            return body
        time.sleep(0.3)
    raise AssertionError(f"the indexer did not serve certificate {token}: {response.status_code} {response.text}")


def stop(proc: subprocess.Popen[str], how: signal.Signals = signal.SIGINT) -> str:
    proc.send_signal(how)
    out, _ = proc.communicate(timeout=60)
    return out


def ipfs_answers(url: str) -> bool:
    from tracemark.ipfs import ContentUnavailableError
    from tracemark.ipfs.kubo import KuboStore

    try:
        KuboStore(url, timeout_s=2).version()
        return True
    except ContentUnavailableError:
        return False


def test_run_starts_everything_stops_cleanly_and_keeps_the_chain(tmp_path: Path) -> None:
    from tracemark.ipfs.kubo import KuboStore

    anvil_port, api_port, ipfs_port = free_port(), free_port(), free_port()
    api, ipfs = f"http://127.0.0.1:{api_port}", f"http://127.0.0.1:{ipfs_port}"

    first = start(tmp_path, anvil_port, api_port, ipfs_port)
    try:
        wait_healthy(api, first)
        # The js-ipfs daemon runs on loopback, and the API serves what is pinned there (it uses that daemon).
        pinned = KuboStore(ipfs).put(b'{"kept": "across restarts"}')
        served = httpx.get(f"{api}/ipfs/{pinned}", timeout=10)
        assert served.status_code == 200 and served.content == b'{"kept": "across restarts"}'
        assert served.headers["content-type"] == "application/json"
        page = httpx.get(f"{api}/verify", timeout=10)
        assert page.status_code == 200 and "Verify an image" in page.text
        contracts = httpx.get(f"{api}/v1/contracts").json()
        assert contracts["chain_id"] == 31337
        assert httpx.get(f"{api}/docs").status_code == 200
        certificate = register_and_wait_until_served(tmp_path, anvil_port, api)
        for _ in range(50):  # the heartbeat follows the commit it reports
            indexer = httpx.get(f"{api}/health").json()["indexer"]
            if indexer["indexed_block"] >= certificate["read_at"]["block"]:
                break
            time.sleep(0.1)
        assert indexer["state"] == "live" and indexer["indexed_block"] >= certificate["read_at"]["block"]
    finally:
        out = stop(first)
    assert first.returncode == 0, out
    assert "deploying" in out
    assert f"{api}/docs" in out, "the URLs are printed"
    assert (tmp_path / "var" / "anvil" / "state.json").exists(), "anvil wrote its state on the way out"
    assert f"ipfs     {ipfs}" in out, out
    assert not ipfs_answers(ipfs), "the IPFS daemon stopped with the rest"
    daemon_log = (tmp_path / "var" / "ipfs-node" / "daemon.log").read_text()
    assert "/ip4/127.0.0.1/" in daemon_log and "/ip4/0.0.0.0" not in daemon_log, "loopback only"

    second = start(tmp_path, anvil_port, api_port, ipfs_port)
    try:
        wait_healthy(api, second)
        assert httpx.get(f"{api}/v1/contracts").json() == contracts
        assert httpx.get(f"{api}/ipfs/{pinned}", timeout=10).content == b'{"kept": "across restarts"}'
    finally:
        out = stop(second, signal.SIGTERM)
    assert second.returncode == 0, out
    assert "already deployed" in out, out
    assert "stopped" in out, "SIGTERM stops the chain too"
    assert json.loads((tmp_path / "deployments" / "31337.json").read_text())["contracts"] == contracts["contracts"]


def test_run_refuses_a_busy_chain_port(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        proc = start(tmp_path, busy.getsockname()[1], free_port())
        out, _ = proc.communicate(timeout=60)
    assert proc.returncode != 0
    assert "in use" in out
