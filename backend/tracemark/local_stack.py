"""The local system behind `make run`: an anvil chain that keeps its state, the contracts, a loopback-only js-ipfs
daemon (offline, its repository in the data folder) that the API pins to, the chain indexer (a background thread)
and the HTTP API."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import click
import uvicorn

from tracemark.chain.deployments import DeploymentError, load_deployment
from tracemark.chain.indexer import IndexerStoppedError, connect
from tracemark.chain.node import ChainNode, ChainUnavailableError
from tracemark.config import PROJECT_ROOT, Settings
from tracemark.ipfs.daemon import IpfsDaemonError, JsIpfsDaemon

LOCAL_CHAIN_ID = 31337

log = logging.getLogger("tracemark.local_stack")


class LocalStackError(Exception):
    """The local system could not be started."""


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def _tool_env() -> dict[str, str]:
    """The environment for the chain tools: the repo's solc wrapper and node_modules binaries."""
    env = dict(os.environ)
    env["SOLCX_BINARY_PATH"] = str(PROJECT_ROOT / "tools" / "solc")
    env["PATH"] = os.pathsep.join([str(PROJECT_ROOT / "node_modules" / ".bin"), str(Path(sys.executable).parent),
                                   env.get("PATH", "")])
    return env


class LocalStack:
    """Starts anvil, deploys when the chain has no deployment, serves the API, and stops it all on Ctrl-C."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.rpc_url = f"http://127.0.0.1:{settings.anvil_port}"
        self.state_file = settings.data_dir / "anvil" / "state.json"
        self._anvil: subprocess.Popen[bytes] | None = None
        self._indexer_stop = threading.Event()
        self._indexer: threading.Thread | None = None
        self._ipfs: JsIpfsDaemon | None = None
        self.ipfs_api_url = settings.ipfs_api_url

    def run_until_interrupted(self) -> None:
        """Runs until Ctrl-C (or SIGTERM), then stops the chain, which writes its state."""

        def interrupt(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        # uvicorn shuts down gracefully on SIGINT/SIGTERM and then raises the signal again: make that an interrupt
        # here too, so that the chain is always stopped (and its state written) on the way out.
        previous = signal.signal(signal.SIGTERM, interrupt)
        try:
            self.start_chain()
            self.start_ipfs()
            self.ensure_deployment()
            self.start_indexer()
            self.serve()
        except KeyboardInterrupt:
            pass
        except LocalStackError as exc:
            raise click.ClickException(str(exc)) from exc
        finally:
            self.stop_indexer()
            self.stop_ipfs()
            self.stop_chain()
            signal.signal(signal.SIGTERM, previous)

    def start_chain(self) -> None:
        """Starts anvil on loopback with its state file, and waits until it answers."""
        anvil = shutil.which("anvil", path=_tool_env()["PATH"])
        if anvil is None:
            raise LocalStackError("anvil not found: run `npm ci` (it ships in @foundry-rs/anvil-linux-amd64)")
        if _port_in_use("127.0.0.1", self.settings.anvil_port):
            raise LocalStackError(f"port {self.settings.anvil_port} is in use; set TRACEMARK_ANVIL_PORT")
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        log = (self.state_file.parent / "anvil.log").open("ab")
        self._anvil = subprocess.Popen(  # noqa: S603 - fixed arguments
            [anvil, "--host", "127.0.0.1", "--port", str(self.settings.anvil_port), "--chain-id",
             str(LOCAL_CHAIN_ID), "--state", str(self.state_file), "--state-interval", "5"],
            stdout=log, stderr=subprocess.STDOUT, env=_tool_env(),
            # Its own session: a Ctrl-C in the terminal reaches only us, and we stop anvil after the API.
            start_new_session=True,
        )
        node = ChainNode(self.rpc_url, timeout_s=2)
        deadline = time.monotonic() + 30
        while True:
            try:
                node.chain_id()
                break
            except ChainUnavailableError:
                if self._anvil.poll() is not None or time.monotonic() > deadline:
                    raise LocalStackError(f"anvil did not start; see {log.name}") from None
                time.sleep(0.2)
        click.echo(f"chain    {self.rpc_url} (anvil, chain id {LOCAL_CHAIN_ID}, state in {self.state_file})")

    def start_ipfs(self) -> None:
        """Starts the js-ipfs daemon on loopback, offline, unless `ipfs_api_url` names a node already."""
        if self.settings.ipfs_api_url:
            click.echo(f"ipfs     {self.settings.ipfs_api_url} (TRACEMARK_IPFS_API_URL)")
            return
        port = self.settings.ipfs_local_api_port
        if _port_in_use("127.0.0.1", port):
            raise LocalStackError(f"port {port} is in use; set TRACEMARK_IPFS_LOCAL_API_PORT")
        # Gateway and swarm take free ports: nothing outside this machine is served or dialled.
        daemon = JsIpfsDaemon(self.settings.data_dir / "ipfs-node", port, 0, 0)
        try:
            daemon.start()
        except IpfsDaemonError as exc:
            raise LocalStackError(str(exc)) from exc
        self._ipfs = daemon
        self.ipfs_api_url = daemon.api_url
        click.echo(f"ipfs     {daemon.api_url} (js-ipfs, loopback, offline; repository in {daemon.repo})")

    def stop_ipfs(self) -> None:
        """Stops the js-ipfs daemon (it flushes its datastore)."""
        if self._ipfs is not None:
            self._ipfs.stop()
            self._ipfs = None

    def ensure_deployment(self) -> None:
        """Deploys the contracts unless this chain already has them."""
        node = ChainNode(self.rpc_url)
        try:
            deployment = load_deployment(self.settings.deployments_dir, LOCAL_CHAIN_ID)
            if all(node.has_code(address) for address in deployment.contracts.values()):
                click.echo(f"contracts already deployed (from block {deployment.block})")
                return
            click.echo("the recorded deployment is not on this chain (new chain state): deploying again")
        except DeploymentError:
            click.echo("no deployment on this chain yet: deploying")
        ape = Path(sys.executable).parent / "ape"
        env = _tool_env() | {"TRACEMARK_DEPLOYMENTS_DIR": str(self.settings.deployments_dir)}
        result = subprocess.run(  # noqa: S603 - fixed arguments
            [str(ape), "run", "deploy", "--network", self.rpc_url], cwd=PROJECT_ROOT, env=env, check=False,
            capture_output=True, text=True,
        )
        if result.returncode != 0:
            raise LocalStackError(f"deployment failed:\n{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
        click.echo(result.stdout.strip().splitlines()[-1])

    def start_indexer(self) -> None:
        """Runs the chain indexer in a background thread (into the store in the data folder)."""
        from tracemark.cli.index import configure_logging

        configure_logging("INFO")
        settings = self.settings.model_copy(update={"rpc_url": self.rpc_url})

        def follow() -> None:
            try:
                connect(settings, self._indexer_stop).run()
            except IndexerStoppedError:
                pass
            except Exception:  # the API goes on serving; /health shows the indexer's last state
                log.exception("the chain indexer stopped on an error")

        self._indexer = threading.Thread(target=follow, name="tracemark-indexer", daemon=True)
        self._indexer.start()
        click.echo(f"indexer  following chain {LOCAL_CHAIN_ID} (confirmations {settings.index_confirmations})")

    def stop_indexer(self) -> None:
        """Stops the indexer thread; it finishes the range it is writing (or drops it, the checkpoint is atomic)."""
        self._indexer_stop.set()
        if self._indexer is not None:
            self._indexer.join(timeout=30)
            self._indexer = None

    def serve(self) -> None:
        """Serves the HTTP API in the foreground until interrupted."""
        from tracemark.api import create_app

        settings = self.settings.model_copy(update={"rpc_url": self.rpc_url, "ipfs_api_url": self.ipfs_api_url})
        base = f"http://{settings.api_host}:{settings.api_port}"
        click.echo(f"api      {base}\ndocs     {base}/docs\nhealth   {base}/health\ncontracts {base}/v1/contracts")
        click.echo(f"verify   {base}/verify")
        click.echo("press Ctrl-C to stop")
        config = uvicorn.Config(create_app(settings), host=settings.api_host, port=settings.api_port,
                                log_level="warning")
        uvicorn.Server(config).run()

    def stop_chain(self) -> None:
        """Stops anvil gracefully, so that it writes its state file."""
        if self._anvil is None or self._anvil.poll() is not None:
            return
        self._anvil.send_signal(signal.SIGINT)
        try:
            self._anvil.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self._anvil.kill()
            self._anvil.wait()
        click.echo("stopped")
