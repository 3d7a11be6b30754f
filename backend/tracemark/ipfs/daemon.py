"""A local js-ipfs daemon (npm `ipfs`), kept on loopback and offline, for `make run` and the tests.

No Kubo binary can be installed here; js-ipfs speaks the same RPC API. Its repository is configured by editing
the config JSON directly (each `jsipfs config` call costs seconds): loopback-only addresses, no bootstrap peers,
no delegates, no MDNS, and the daemon runs with `--offline`, so it never dials out.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from tracemark.config import PROJECT_ROOT
from tracemark.ipfs.kubo import KuboStore
from tracemark.ipfs.store import ContentUnavailableError


class IpfsDaemonError(Exception):
    """The daemon could not be set up or started."""


def find_jsipfs() -> str:
    """The `jsipfs` command from the project's node_modules (or PATH)."""
    local = PROJECT_ROOT / "node_modules" / ".bin" / "jsipfs"
    found = str(local) if local.exists() else shutil.which("jsipfs")
    if not found:
        raise IpfsDaemonError("jsipfs not found: run `npm ci` (it ships in the npm package `ipfs`)")
    return found


class JsIpfsDaemon:
    """One js-ipfs daemon with its repository folder."""

    def __init__(self, repo: Path, api_port: int, gateway_port: int, swarm_port: int) -> None:
        self.repo = repo
        self.api_port, self.gateway_port, self.swarm_port = api_port, gateway_port, swarm_port
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        """The RPC API's address."""
        return f"http://127.0.0.1:{self.api_port}"

    def _env(self) -> dict[str, str]:
        return dict(os.environ) | {"IPFS_PATH": str(self.repo)}

    def ensure_repo(self) -> None:
        """Creates the repository if needed and (re)writes its addresses: loopback only, no peers."""
        config_path = self.repo / "config"
        if not config_path.exists():
            self.repo.mkdir(parents=True, exist_ok=True)
            result = subprocess.run(  # noqa: S603 - fixed arguments
                [find_jsipfs(), "init", "--empty-repo"], env=self._env(), capture_output=True, text=True,
                timeout=120, check=False,
            )
            if result.returncode != 0:
                raise IpfsDaemonError(f"jsipfs init failed: {result.stderr[-1000:]}")
        config: dict[str, Any] = json.loads(config_path.read_text())
        config["Addresses"] = config.get("Addresses", {}) | {
            "Swarm": [f"/ip4/127.0.0.1/tcp/{self.swarm_port}"],
            "API": f"/ip4/127.0.0.1/tcp/{self.api_port}",
            "Gateway": f"/ip4/127.0.0.1/tcp/{self.gateway_port}",
            "RPC": "",
            "Announce": [],
            "Delegates": [],
        }
        config["Bootstrap"] = []
        config["Discovery"] = {"MDNS": {"Enabled": False, "Interval": 10}, "webRTCStar": {"Enabled": False}}
        tmp = config_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(config, indent=1))
        tmp.replace(config_path)
        # A daemon that was killed leaves its lock behind; nothing else uses this repository.
        lock = self.repo / "repo.lock"
        if lock.is_dir():
            shutil.rmtree(lock)
        else:
            lock.unlink(missing_ok=True)

    def start(self, timeout_s: float = 90) -> None:
        """Starts the daemon offline and waits until its API answers."""
        self.ensure_repo()
        log = (self.repo / "daemon.log").open("ab")
        self._proc = subprocess.Popen(  # noqa: S603 - fixed arguments
            [find_jsipfs(), "daemon", "--offline"], env=self._env(), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        client = KuboStore(self.api_url, timeout_s=2)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                client.version()
                return
            except ContentUnavailableError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise IpfsDaemonError(f"js-ipfs did not start; see {log.name}") from None
                time.sleep(0.3)

    def stop(self) -> None:
        """Stops the daemon gracefully (it flushes its datastore), or kills it after 20 s."""
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.send_signal(signal.SIGINT)
        try:
            self._proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
