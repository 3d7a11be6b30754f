"""The decode worker process without a chain: a stub JSON-RPC node on a loopback port answers `eth_getLogs`.

Checked here: a batch crosses over equal to the one built in-process; the node's errors and the worker's own bugs
cross over as the same exception types; the worker ends when told to, and when its parent dies (idle, or busy on
a request the node never answers).
"""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from eth_utils.crypto import keccak

from tests.backend.unit.indexer.deployment import ADDRESSES, DEPLOYMENT
from tracemark.chain.indexer.batch import RangeBatch, fetch_range, planning_decoder
from tracemark.chain.indexer.rpc import RpcClient, RpcResponseError, RpcTransportError
from tracemark.chain.indexer.worker import DecodeWorker, DecodeWorkerError, WorkerSetup

ZERO = "0x" + "00" * 32


def word(value: int) -> str:
    return f"{value:064x}"


def topic(signature: str) -> str:
    return "0x" + keccak(text=signature).hex()


def sample_logs(first: int, last: int) -> list[dict[str, Any]]:
    """A mint, a registration, an offer and a CPY transfer in every block (logs deliberately out of order)."""
    logs = []
    alice = "0x" + "00" * 12 + "a1" * 20
    for block in range(first, last + 1):
        block_hash = block_hash_of(block)
        tx = "0x" + word(block * 11)
        token = block
        logs += [
            {"address": ADDRESSES["LicenseMarket"], "blockNumber": hex(block), "blockHash": block_hash,
             "transactionHash": tx, "transactionIndex": "0x0", "logIndex": "0x2",
             "topics": [topic("OfferPublished(uint256,uint8,address,uint256,uint64)"), "0x" + word(token),
                        "0x" + word(1), alice],
             "data": "0x" + word(5 * 10**18) + word(86_400)},
            {"address": ADDRESSES["ImageCertificate"], "blockNumber": hex(block), "blockHash": block_hash,
             "transactionHash": tx, "transactionIndex": "0x0", "logIndex": "0x0",
             "topics": [topic("Transfer(address,address,uint256)"), ZERO, alice, "0x" + word(token)], "data": "0x"},
            {"address": ADDRESSES["CPYToken"], "blockNumber": hex(block), "blockHash": block_hash.upper().replace(
                "0X", "0x"), "transactionHash": tx, "transactionIndex": "0x0", "logIndex": "0x3",
             "topics": [topic("Transfer(address,address,uint256)"), alice, alice], "data": "0x" + word(7)},
        ]
    return logs


def block_hash_of(block: int) -> str:
    return "0x" + word(block * 7 + 1)


def header(request: dict[str, Any]) -> dict[str, str]:
    """The stub chain's header of the block an `eth_getBlockByNumber` request names."""
    block = int(request["params"][0], 16)
    return {"number": hex(block), "hash": block_hash_of(block), "parentHash": block_hash_of(block - 1),
            "timestamp": hex(1_700_000_000 + block)}


Answer = Callable[[dict[str, Any]], Any]


class StubNode:
    """A JSON-RPC endpoint on 127.0.0.1 whose answer to each request is `answer(request)`: a result, an
    `Exception` (sent as a JSON-RPC error), raw `bytes` (sent as they are), or `None` to never answer."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.release = threading.Event()
        node = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                request = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))
                if isinstance(request, list):  # a batch: block headers, answered from the same block scheme
                    body = json.dumps([{"jsonrpc": "2.0", "id": item["id"], "result": header(item)}
                                       for item in request]).encode()
                    self.send_response(200)
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    return
                result = node.answer(request)
                if result is None:
                    node.release.wait(30)
                    return
                if isinstance(result, bytes):
                    body = result
                elif isinstance(result, Exception):
                    body = json.dumps({"jsonrpc": "2.0", "id": request["id"],
                                       "error": {"code": -32005, "message": str(result)}}).encode()
                else:
                    body = json.dumps({"jsonrpc": "2.0", "id": request["id"], "result": result}).encode()
                self.send_response(200)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def logs_answer(request: dict[str, Any]) -> Any:
    params = request["params"][0]
    return sample_logs(int(params["fromBlock"], 16), int(params["toBlock"], 16))


@pytest.fixture
def node() -> Iterator[StubNode]:
    stub = StubNode(logs_answer)
    yield stub
    stub.close()


def setup_for(url: str, timeout_s: float = 5.0) -> WorkerSetup:
    return WorkerSetup(url, timeout_s, 31337, planning_decoder(DEPLOYMENT).spec)


def test_a_batch_from_the_worker_equals_the_one_built_in_process(node: StubNode) -> None:
    expected = fetch_range(RpcClient(node.url), planning_decoder(DEPLOYMENT), 31337, 10, 40)
    worker = DecodeWorker(setup_for(node.url))
    try:
        futures = [worker.submit(10, 40), worker.submit(41, 41)]
        got = futures[0].result(timeout=60)
        assert futures[1].result(timeout=60).count == 3
    finally:
        worker.close()
    assert got == expected
    assert got.count == 93 and len(got.ops) == 62 and got.load_ids == []
    assert [e[5] for e in got.events] == sorted(e[5] for e in got.events), "in chain order"
    assert got.block_hashes[0] == (10, "0x" + word(71)), "block hashes lowercase, one per block"
    assert len(got.block_hashes) == 31
    assert worker._process.returncode == 0, "ended when told to"


def test_a_batch_pickles_with_each_hash_once(node: StubNode) -> None:
    batch = fetch_range(RpcClient(node.url), planning_decoder(DEPLOYMENT), 31337, 10, 40)
    again: RangeBatch = pickle.loads(pickle.dumps(batch))
    assert again == batch
    assert again.events[0][1] is again.events[1][1], "a block's hash is one object after the hand-over"


def test_node_errors_cross_over_as_the_same_exceptions() -> None:
    answers: list[Any] = [RuntimeError("query returned more than 10000 results"), b"<html>busy</html>"]
    stub = StubNode(lambda request: answers.pop(0))
    worker = DecodeWorker(setup_for(stub.url))
    try:
        with pytest.raises(RpcResponseError) as too_many:
            worker.submit(1, 100).result(timeout=60)
        with pytest.raises(RpcTransportError, match="not JSON"):
            worker.submit(1, 100).result(timeout=60)
    finally:
        worker.close()
        stub.close()
    assert (too_many.value.code, too_many.value.message) == (-32005, "query returned more than 10000 results")
    assert any("in the decode worker" in note for note in too_many.value.__notes__)


def test_a_bug_in_the_worker_surfaces_as_the_same_exception() -> None:
    # A log without a block number: in-process, decoding raises KeyError; so must the worker's answer.
    stub = StubNode(lambda request: [{k: v for k, v in sample_logs(5, 5)[0].items() if k != "blockNumber"}])
    worker = DecodeWorker(setup_for(stub.url))
    try:
        with pytest.raises(KeyError) as in_process:
            fetch_range(RpcClient(stub.url), planning_decoder(DEPLOYMENT), 31337, 5, 5)
        with pytest.raises(KeyError) as crossed:
            worker.submit(5, 5).result(timeout=60)
        assert worker.submit(5, 5).exception(timeout=60) is not None, "the worker goes on after an error"
    finally:
        worker.close()
        stub.close()
    assert crossed.value.args == in_process.value.args
    assert any("Traceback" in note for note in crossed.value.__notes__)


def test_a_dead_worker_fails_its_requests() -> None:
    stub = StubNode(lambda request: None)  # never answers: the request is pending when the worker dies
    worker = DecodeWorker(setup_for(stub.url, timeout_s=30))
    try:
        pending = worker.submit(1, 2)
        os.kill(worker.pid, signal.SIGKILL)
        with pytest.raises(DecodeWorkerError, match="ended"):
            pending.result(timeout=60)
        with pytest.raises(DecodeWorkerError):
            worker.submit(3, 4).result(timeout=60)
        assert not worker.alive
    finally:
        worker.close()
        stub.close()


PARENT = """
import sys, time
from tests.backend.unit.indexer.test_worker import setup_for
from tracemark.chain.indexer.worker import DecodeWorker
worker = DecodeWorker(setup_for(sys.argv[1], timeout_s=float(sys.argv[2])))
if sys.argv[3] == "busy":
    worker.submit(1, 2)
print(worker.pid, flush=True)
time.sleep(600)
"""


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie, dead but not yet reaped by its new parent, counts as ended)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


@pytest.mark.parametrize("busy", [False, True], ids=["idle", "busy"])
def test_the_worker_ends_when_its_parent_is_killed(busy: bool) -> None:
    # Busy: its request hangs on a node that never answers, until the worker's RPC timeout (1 s).
    stub = StubNode(lambda request: None)
    root = Path(__file__).resolve().parents[4]
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, stub.url, "1", "busy" if busy else "idle"],
        stdout=subprocess.PIPE, text=True, cwd=root,
    )
    try:
        assert parent.stdout is not None
        worker_pid = int(parent.stdout.readline())
        assert alive(worker_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 60  # a bound against hanging, not a timing under test
        while alive(worker_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(worker_pid), "the worker outlived its parent"
    finally:
        if parent.poll() is None:
            parent.kill()
        stub.close()
