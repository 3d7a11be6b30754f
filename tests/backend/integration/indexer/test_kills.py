"""SIGKILL at random points while the indexer runs: after a restart nothing is lost and nothing is counted twice,
because the checkpoint and the events it covers are written in one transaction.

The killed processes are `tracemark index` subprocesses (the real command, about 1.5 s to start) and, to keep
the suite short, forks of the test process that run the same indexer loop (`connect(settings).run()`), started
in milliseconds. Both are real processes writing the same SQLite file, and both die by SIGKILL. A run behind by
three ranges or more decodes in a decode worker process (`index_decode_process=auto`, ranges of 1 to 3 blocks
here): killing the indexer must not leave that worker behind.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.process
import os
import random
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from tests.backend.chainops import DevChain
from tests.backend.conftest import ROOT, tool_env
from tests.backend.integration.indexer.conftest import DeployedState
from tests.backend.integration.indexer.support import (
    assert_canonical,
    assert_same_state,
    chain_log_keys,
    dump,
    fresh_dump,
    stored_log_keys,
)
from tracemark.store import Database

pytestmark = pytest.mark.integration

KILLS = int(os.environ.get("TRACEMARK_TEST_KILLS", "56"))
CLI_KILLS = int(os.environ.get("TRACEMARK_TEST_CLI_KILLS", "12"))  # of KILLS, through `tracemark index`


def _follow(environment: dict[str, str]) -> None:  # runs in a forked child
    os.environ.update(environment)
    from tracemark.chain.indexer import connect
    from tracemark.config import Settings

    connect(Settings()).run()


def indexed_block(db_path: Path) -> int:
    """The checkpoint, as another process sees it (-1 before the first one)."""
    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=5) as connection:
            row = connection.execute("SELECT indexed_block FROM chain_cursors").fetchone()
    except sqlite3.Error:
        return -1
    return -1 if row is None else int(row[0])


def test_sigkill_at_random_points_loses_and_duplicates_nothing(
    dev_chain: DevChain, deployed_state: DeployedState, tmp_path: Path
) -> None:
    kill_and_restart(dev_chain, deployed_state, tmp_path, KILLS, CLI_KILLS, seed=50)


@pytest.mark.soak
@pytest.mark.skipif(not os.environ.get("TRACEMARK_SOAK"), reason="soak: set TRACEMARK_SOAK=1")
def test_soak_many_kills(dev_chain: DevChain, deployed_state: DeployedState, tmp_path: Path) -> None:
    kill_and_restart(dev_chain, deployed_state, tmp_path, 400, 50, seed=400)


def kill_and_restart(chain: DevChain, deployed_state: DeployedState, tmp_path: Path, kills: int, cli_kills: int,
                     seed: int) -> None:
    """`kills` SIGKILLs (`cli_kills` of them of `tracemark index`), then a run to the end and the checks."""
    rng = random.Random(seed)
    for _ in range(40):
        chain.random_activity(rng.randint(4, 12))
        chain.flush()
        chain.mine(rng.randint(1, 4))
    env = tool_env() | {
        "TRACEMARK_RPC_URL": chain.url,
        "TRACEMARK_DEPLOYMENTS_DIR": str(deployed_state.deployments_dir),
        "TRACEMARK_DATA_DIR": str(tmp_path / "var"),
        "TRACEMARK_INDEX_CONFIRMATIONS": "2",
        "TRACEMARK_INDEX_INITIAL_RANGE": "1",
        "TRACEMARK_INDEX_MAX_RANGE": "3",  # many small checkpoints: kills land between and inside them
        "TRACEMARK_INDEX_POLL_INTERVAL_S": "0.05",
        "TRACEMARK_INDEX_RETRY_BASE_S": "0.05",
    }
    db_path = tmp_path / "var" / "tracemark.db"
    command = [str(ROOT / ".venv" / "bin" / "tracemark"), "index", "--log-level", "WARNING"]
    log = (tmp_path / "index.log").open("w")
    kills_mid_run = cli_done = 0
    for kill in range(kills):
        # The chain keeps moving, so every run has work to do when it is killed.
        chain.random_activity(rng.randint(3, 10))
        chain.flush()
        chain.mine(rng.randint(2, 6))
        before = indexed_block(db_path)
        if kill % (kills // cli_kills) == 0:
            proc: subprocess.Popen[bytes] | multiprocessing.process.BaseProcess = subprocess.Popen(
                command, env=env, stdout=log, stderr=subprocess.STDOUT
            )
            cli_done += 1
        else:
            proc = multiprocessing.get_context("fork").Process(target=_follow, args=(env,))
            proc.start()
        try:
            if kill % 4 == 0:  # anywhere: start-up, migration, first ranges
                time.sleep(rng.uniform(0.1, 2.0) if isinstance(proc, subprocess.Popen) else rng.uniform(0, 0.4))
            else:
                deadline = time.monotonic() + 30
                while indexed_block(db_path) <= before and time.monotonic() < deadline:
                    time.sleep(0.01)
                time.sleep(rng.uniform(0, 0.15))
                kills_mid_run += 1
        finally:
            alive = proc.poll() is None if isinstance(proc, subprocess.Popen) else proc.is_alive()
            assert alive, "the indexer exited by itself"
            os.kill(proc.pid, signal.SIGKILL)  # type: ignore[arg-type]
            if isinstance(proc, subprocess.Popen):
                proc.wait(timeout=10)
            else:
                proc.join(timeout=10)
                assert proc.exitcode == -signal.SIGKILL
    log.close()
    assert indexed_block(db_path) > 0, "the killed runs made progress"

    done = subprocess.run([*command[:-2], "--once"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    database = Database(f"sqlite:///{db_path}")
    assert stored_log_keys(database) == chain_log_keys(chain), "no event lost, none duplicated"
    assert_same_state(dump(database), fresh_dump(chain, tmp_path / "fresh.db"))
    assert_canonical(database, chain)
    assert kills_mid_run >= kills // 2
    assert cli_done >= cli_kills
    assert not orphan_workers(chain.url), "no decode worker outlived its killed indexer"


def orphan_workers(rpc_url: str) -> list[int]:
    """Decode worker processes still running for this test's node, once they had time to notice their parent's
    death (a worker busy on a request ends when that request does)."""
    marker = f"TRACEMARK_RPC_URL={rpc_url}".encode()
    deadline = time.monotonic() + 60  # a bound against hanging, not a timing under test
    while True:
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if (entry.name.isdigit() and b"tracemark.chain.indexer.worker" in (entry / "cmdline").read_bytes()
                        and marker in (entry / "environ").read_bytes().split(b"\0")
                        and (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")):
                    found.append(int(entry.name))
            except OSError:
                continue
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)
