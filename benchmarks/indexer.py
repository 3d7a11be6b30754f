"""Chain indexer throughput: events per second indexed into the database, next to raw `eth_getLogs`.

    .venv/bin/python benchmarks/indexer.py [--rounds 55] [--database-url URL]

Starts its own anvil on a free loopback port (block gas limit raised, base fee 0, auto-mine off), deploys the
contracts with the real deploy script, and generates real activity: registrations (attested by the verifier key),
offers, licence purchases (each also moves CPY twice), certificate transfers, signed claim settlements and
evidence anchors, about 960 events per round over 10 blocks. Then it measures, over the same block range and in the
same run:

- raw: `eth_getLogs` of the four contracts, JSON-decoded by the client the decode worker uses
  (`rpc.client_for`), nothing else, two ways: one request over the whole range, and requests of the indexer's
  first range size one after the other. The faster of the two is the raw rate the ratio is taken against (anvil
  answers one very large request slowly and unevenly, from 0.44 to 3.7 s for the same range in one run);
- indexed: the indexer from an empty (migrated) database to the head: fetching, decoding, verifying headers,
  materialising state and committing checkpoints. By default (`--decode-process auto`) a back-fill this long is
  fetched and decoded by the indexer's decode worker process while the benchmark's process writes; its start-up
  is inside the measured time. The CPU seconds of both processes are printed too (`index_cpu_s`,
  `worker_cpu_s`): they say more than wall times when other jobs share the machine.
- with `--also-in-process`: the same with `decode_process="never"` (everything in this process), alternating.
- closing: after each back-fill the database is closed, outside the measured time. On SQLite that copies what the
  back-fill left in the write-ahead log into the database file (the store checkpoints in the background once
  writers are quiet, or during a back-fill whose log passes 64 MiB: `tracemark.store.checkpoints`). This
  back-fill's log stays under that, so its checkpoint is this closing; `close_s_all` prints how long it took.

Prints one JSON object. Goal (issue 5): >= 5,000 events/s indexed and >= half the raw `eth_getLogs` rate.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the tests' chain driver (tests/backend/chainops.py)
os.environ.setdefault("SOLCX_BINARY_PATH", str(ROOT / "tools" / "solc"))
TOOL_PATH = [str(ROOT / "node_modules" / ".bin"), str(ROOT / ".venv" / "bin"), os.environ.get("PATH", "")]
os.environ["PATH"] = os.pathsep.join(TOOL_PATH)

from tests.backend.chainops import DevChain, deploy, start_anvil  # noqa: E402
from tracemark.chain.deployments import load_deployment  # noqa: E402
from tracemark.chain.indexer import ChainIndexer, IndexerConfig  # noqa: E402
from tracemark.chain.indexer.gcpause import gc_paused  # noqa: E402
from tracemark.chain.indexer.rpc import RpcClient, client_for  # noqa: E402
from tracemark.store import Database  # noqa: E402

GOAL_EVENTS_PER_S = 5_000
BLOCKS_PER_ROUND = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str) -> None:
    client = RpcClient(url, timeout_s=2)
    for _ in range(300):
        try:
            client.chain_id()
            return
        except Exception:  # not up yet
            time.sleep(0.1)
    raise SystemExit(f"anvil at {url} did not start")


def generate(chain: DevChain, rounds: int) -> tuple[int, float]:
    """Real activity, one block per round; returns (transactions, seconds)."""
    users = chain.users
    for buyer in users:
        chain.fund(buyer)
    chain.flush()
    chain.mine()
    tokens: list[int] = []
    sent = 0
    started = time.perf_counter()
    for round_number in range(rounds):
        new = []
        for i in range(100):
            creator = users[i % len(users)]
            token = chain.register(creator)
            chain.set_offer(token, creator, kind=1, price=(1 + i % 7) * 10**18, duration=30 * 86_400)
            new.append(token)
        for i, token in enumerate(new):
            for j in (1, 2):
                chain.buy(token, users[(i + j) % len(users)])
        for token in tokens[-200:][:20]:
            holder = chain.certificates[token]
            chain.transfer(token, holder, users[(users.index(holder) + 1) % len(users)])
        for token in new[:5]:
            chain.settle(token, users[(users.index(chain.certificates[token]) + 3) % len(users)])
        for _ in range(20):
            chain.anchor()
        tokens.extend(new)
        batch = chain.take()
        sent += len(batch)
        for part in range(BLOCKS_PER_ROUND):  # spread over blocks in order, about 96 events each
            chain.pending = batch[part * len(batch) // BLOCKS_PER_ROUND : (part + 1) * len(batch) // BLOCKS_PER_ROUND]
            chain.flush()
            chain.mine()
        if round_number % 10 == 9:
            print(f"  round {round_number + 1}/{rounds}: {sent} transactions", file=sys.stderr)
    return sent, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=55, help="blocks of activity (~960 events each)")
    parser.add_argument("--database-url", default="", help="default: SQLite (WAL) in a temporary folder")
    parser.add_argument("--repeat", type=int, default=3, help="measure both this many times; the best counts")
    parser.add_argument("--initial-range", type=int, default=IndexerConfig.initial_range,
                        help="the indexer's first eth_getLogs range")
    parser.add_argument("--decode-process", choices=["auto", "always", "never"], default=IndexerConfig.decode_process,
                        help="where ranges are fetched and decoded (the index_decode_process setting)")
    parser.add_argument("--also-in-process", action="store_true",
                        help="also measure decode_process=never in the same run")
    args = parser.parse_args()

    anvil = shutil.which("anvil")
    if anvil is None:
        raise SystemExit("anvil not found: run `npm ci`")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_anvil(anvil, port, "--gas-limit", "1000000000", "--base-fee", "0", "--no-mining")
    scratch = Path(tempfile.mkdtemp(prefix="tracemark-bench-"))
    try:
        wait_for(url)
        RpcClient(url).call("evm_setAutomine", [True])
        env = dict(os.environ)
        deploy(url, scratch / "deployments", ROOT, env)
        deployment = load_deployment(scratch / "deployments", 31337)
        chain = DevChain(url, deployment)
        chain.set_automine(False)
        transactions, gen_s = generate(chain, args.rounds)
        # The generator leaves a large heap (web3 and signing objects); collect it and keep the collector off what
        # survives, so that the first measured back-fill does not pay a full collection of someone else's objects.
        gc.collect()
        gc.freeze()
        rpc = RpcClient(url, timeout_s=120)
        head = rpc.block_number()

        addresses = [a.lower() for a in deployment.contracts.values()]
        plain = client_for(url, timeout_s=120)
        raw_times: list[float] = []
        ranged_times: list[float] = []
        index_times: list[float] = []
        in_process_times: list[float] = []
        cpu: dict[str, list[tuple[float, float]]] = {"index": [], "in_process": []}
        closing_times: dict[str, list[float]] = {"index": [], "in_process": []}
        modes = [("index", args.decode_process)] + ([("in_process", "never")] if args.also_in_process else [])
        for attempt in range(args.repeat):
            with gc_paused():  # as the indexer fetches: with the cyclic collector paused
                started = time.perf_counter()
                raw = plain.get_logs(addresses, deployment.block, head)
                raw_times.append(time.perf_counter() - started)
                events = len(raw)
                del raw
                started = time.perf_counter()
                ranged = 0
                for first in range(deployment.block, head + 1, args.initial_range):
                    ranged += len(plain.get_logs(addresses, first, min(head, first + args.initial_range - 1)))
                ranged_times.append(time.perf_counter() - started)
            if ranged != events:
                raise SystemExit(f"the raw reads disagree: {events} logs in one request, {ranged} in ranges")

            for label, mode in modes:
                db_url = args.database_url or f"sqlite:///{scratch / f'bench{attempt}{label}.db'}"
                database = Database(db_url)
                if args.database_url:
                    database.downgrade("base")
                database.migrate()
                config = IndexerConfig(confirmations=2, initial_range=args.initial_range, decode_process=mode)
                indexer = ChainIndexer(database, rpc, deployment, config)
                indexer.prepare()
                cpu_before, children_before = time.process_time(), resource.getrusage(resource.RUSAGE_CHILDREN)
                started = time.perf_counter()
                indexed = indexer.sync()
                (index_times if label == "index" else in_process_times).append(time.perf_counter() - started)
                children = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu[label].append((
                    time.process_time() - cpu_before,
                    children.ru_utime + children.ru_stime - children_before.ru_utime - children_before.ru_stime,
                ))
                started = time.perf_counter()
                database.dispose()  # closing the last connection checkpoints what the back-fill left in the log
                closing_times[label].append(time.perf_counter() - started)
        raw_s, index_s = min(raw_times + ranged_times), min(index_times)

        raw_rate = events / raw_s
        index_rate = indexed / index_s
        print(json.dumps({
            "events": events,
            "indexed_events": indexed,
            "blocks": head - deployment.block + 1,
            "transactions": transactions,
            "generate_s": round(gen_s, 1),
            "raw_getlogs_s": round(raw_s, 3),
            "raw_one_request_s": round(min(raw_times), 3),
            "raw_in_ranges_s": round(min(ranged_times), 3),
            "raw_getlogs_events_per_s": round(raw_rate),
            "index_s": round(index_s, 3),
            "indexed_events_per_s": round(index_rate),
            "ratio_to_raw": round(index_rate / raw_rate, 2),
            "database": database.url.get_backend_name(),
            "initial_range": args.initial_range,
            "repeat": args.repeat,
            "decode_process": args.decode_process,
            "index_cpu_s": round(cpu["index"][index_times.index(index_s)][0], 3),
            "worker_cpu_s": round(cpu["index"][index_times.index(index_s)][1], 3),
            "raw_one_request_s_all": [round(t, 3) for t in raw_times],
            "raw_in_ranges_s_all": [round(t, 3) for t in ranged_times],
            "index_s_all": [round(t, 3) for t in index_times],
            "cpu_s_all": [[round(a, 3), round(b, 3)] for a, b in cpu["index"]],
            "close_s_all": [round(t, 3) for t in closing_times["index"]],
            **({
                "in_process_s": round(min(in_process_times), 3),
                "in_process_ratio_to_raw": round(indexed / min(in_process_times) / raw_rate, 2),
                "in_process_s_all": [round(t, 3) for t in in_process_times],
                "in_process_cpu_s_all": [round(a, 3) for a, _ in cpu["in_process"]],
                "in_process_close_s_all": [round(t, 3) for t in closing_times["in_process"]],
            } if in_process_times else {}),
            "goal_events_per_s_met": index_rate >= GOAL_EVENTS_PER_S,
            "goal_half_raw_met": index_rate >= raw_rate / 2,
        }, indent=2))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
