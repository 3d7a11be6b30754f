"""Fixtures shared by the backend tests: real local processes (anvil) on loopback ports."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracemark.chain.node import ChainNode, ChainUnavailableError

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tool_env() -> dict[str, str]:
    """The environment the chain tools need: the solc wrapper and node_modules binaries on PATH."""
    env = dict(os.environ)
    env["SOLCX_BINARY_PATH"] = str(ROOT / "tools" / "solc")
    env["PATH"] = os.pathsep.join([str(ROOT / "node_modules" / ".bin"), str(ROOT / ".venv" / "bin"), env["PATH"]])
    return env


def wait_for_rpc(url: str, proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    node = ChainNode(url, timeout_s=2)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            node.chain_id()
            return
        except ChainUnavailableError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"anvil at {url} did not start") from None
            time.sleep(0.1)


@pytest.fixture(scope="session")
def anvil_bin() -> str:
    path = shutil.which("anvil", path=tool_env()["PATH"])
    if path is None:
        pytest.fail("anvil is missing: run `npm ci` (package @foundry-rs/anvil-linux-amd64)")
    return path


@pytest.fixture
def anvil(anvil_bin: str) -> Iterator[str]:
    """A fresh anvil chain (chain id 31337) on a free loopback port; yields its RPC URL."""
    port = free_port()
    proc = subprocess.Popen(
        [anvil_bin, "--host", "127.0.0.1", "--port", str(port), "--silent"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_rpc(url, proc)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
