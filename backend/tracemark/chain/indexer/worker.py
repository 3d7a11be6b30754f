"""The decode worker: a second process that fetches (logs, then the headers of the range's ends), JSON-decodes,
decodes and plans back-fill ranges, so that the indexer's own process does little but write.

Why a process: a back-fill is bound by Python's global interpreter lock. Of the CPU a back-fill spends, decoding
the JSON answers and the logs is about 40 % and the writer (SQLite, commits, the state logic) about 60 %; threads
cannot overlap them. In the worker they run on the second core, and what crosses over is a `RangeBatch` per range:
plain tuples, pickled once (`tracemark.chain.indexer.batch`).

How it is started: `python -m tracemark.chain.indexer.worker <request fd> <reply fd>` through `subprocess`
(fork-and-exec, safe in the threaded processes the indexer runs in: the API server and the CLI). It is not
`multiprocessing`'s 'spawn' context: that context re-imports the parent's `__main__` in the child (the CLI,
uvicorn's runner or a benchmark script, a second or more of imports before the first range). The worker imports
only `batch`, `events` (and the compiled `_logrows`), `rpc` and `gcpause` (no SQLAlchemy, no web3, and no httpx
where `rpc.client_for` allows), and builds its decoder from a `DecoderSpec` the parent sends: it is ready in about a
tenth of a second.
Messages are `multiprocessing.connection.Connection` frames (a length, then a pickle) over two pipes; the reply
pipe gets a 1 MiB buffer where the system allows it.

The protocol: the parent sends a `WorkerSetup`; the worker answers `(0, None, None)` once it is ready (its
start-up takes about a tenth of a second, and the indexer reads its first ranges in its own process meanwhile).
Then the parent sends requests `(request id, first block, last block)`, a few ahead; the worker answers each,
in order, with `(request id, RangeBatch, None)` or `(request id, None, exception)`, and ends on `None` or when the
request pipe closes. An exception raised in the worker (an `RpcError` of the node, or a bug) crosses over as the
same exception type with the worker's traceback as a note, and the parent raises it, so the indexer's handling
(narrowing, back-off, crashing on a bug) is the same in both modes.

Lifetime: the indexer starts a worker for a back-fill that spans several ranges and stops it when that `sync`
ends (`DecodeWorker.close`). The worker never outlives its parent: only the parent holds the write end of the
request pipe, so when the parent dies (even by SIGKILL) the worker reads end-of-file and exits; a reply it can no
longer deliver ends it too. It ignores SIGINT: Ctrl-C in a terminal reaches the whole process group, and the
parent stops it in order.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import pickle
import signal
import subprocess
import sys
import threading
import traceback
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path

from tracemark.chain.indexer.batch import RangeBatch, RangeRead, plan_range, read_range
from tracemark.chain.indexer.events import DecoderSpec, EventDecoder
from tracemark.chain.indexer.gcpause import gc_paused
from tracemark.chain.indexer.rpc import client_for

_MODULE = "tracemark.chain.indexer.worker"
_CLOSE_TIMEOUT_S = 5.0
_READY = 0  # the id of the worker's first message: it is ready for requests (which are numbered from 1)


class DecodeWorkerError(RuntimeError):
    """The decode worker could not be started, or ended without answering (killed, crashed)."""


@dataclass(frozen=True)
class WorkerSetup:
    """What the worker needs: where the node is and how to decode."""

    rpc_url: str
    rpc_timeout_s: float
    chain_id: int
    spec: DecoderSpec


class DecodeWorker:
    """The parent's handle on one decode worker process: `submit` ranges, get futures of their batches.

    Args:
        setup: The node and the decoder.

    Raises:
        DecodeWorkerError: the process could not be started.
    """

    def __init__(self, setup: WorkerSetup) -> None:
        if not sys.executable:
            raise DecodeWorkerError("the decode worker could not be started: no Python executable is known")
        request_read, request_write = os.pipe()
        reply_read, reply_write = os.pipe()
        _widen(reply_write)
        package_root = str(Path(__file__).resolve().parents[3])  # the folder that holds `tracemark`
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        try:
            self._process = subprocess.Popen(  # noqa: S603 - our own interpreter and module, no shell
                [sys.executable, "-m", _MODULE, str(request_read), str(reply_write)],
                pass_fds=(request_read, reply_write), stdin=subprocess.DEVNULL, env=env,
            )
        except OSError as exc:
            for fd in (request_read, request_write, reply_read, reply_write):
                os.close(fd)
            raise DecodeWorkerError(f"the decode worker could not be started: {exc}") from exc
        os.close(request_read)  # the child's ends: only the child may hold them (end-of-file when either dies)
        os.close(reply_write)
        self._requests = Connection(request_write, readable=False)
        self._replies = Connection(reply_read, writable=False)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._pending: dict[int, Future[RangeBatch]] = {}
        self._ended: DecodeWorkerError | None = None
        self.ready = threading.Event()
        """Set once the worker has imported its modules and built its decoder (its reply with id 0)."""
        self._send(setup)
        self._reader = threading.Thread(target=self._read, name="tracemark-decode-replies", daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        """The worker's process id."""
        return self._process.pid

    @property
    def alive(self) -> bool:
        """Whether the worker still answers (it has not ended and its replies still arrive)."""
        return self._ended is None and self._process.poll() is None

    def submit(self, first: int, last: int) -> Future[RangeBatch]:
        """Asks for the batch of blocks `first..last`; the future fails with what the worker raised, or with
        `DecodeWorkerError` if the worker ends first."""
        future: Future[RangeBatch] = Future()
        with self._lock:
            if self._ended is not None:
                future.set_exception(self._ended)
                return future
            request_id = next(self._ids)
            self._pending[request_id] = future
        try:
            self._send((request_id, first, last))
        except DecodeWorkerError as exc:
            with self._lock:
                self._pending.pop(request_id, None)
            future.set_exception(exc)
        return future

    def _send(self, message: object) -> None:
        try:
            self._requests.send(message)
        except (OSError, ValueError) as exc:  # a broken pipe, or a connection closed already
            raise DecodeWorkerError(f"the decode worker does not take requests: {exc}") from exc

    def _read(self) -> None:
        """The reply thread: resolves futures until the worker ends."""
        while True:
            try:
                data = self._replies.recv_bytes()
            except (EOFError, OSError, ValueError):
                break
            with gc_paused():  # a batch is tens of thousands of fresh tuples, none in a cycle (see gcpause)
                request_id, batch, error = pickle.loads(data)  # noqa: S301 - our own child's bytes
            del data
            if request_id == _READY:
                self.ready.set()
                continue
            with self._lock:
                future = self._pending.pop(request_id, None)
            if future is None or not future.set_running_or_notify_cancel():
                continue
            if error is not None:
                future.set_exception(error)
            else:
                future.set_result(batch)
        code = self._process.poll()
        ended = DecodeWorkerError(
            "the decode worker ended" + (f" (exit code {code})" if code is not None else "")
        )
        with self._lock:
            self._ended = ended
            pending, self._pending = self._pending, {}
        for future in pending.values():
            if future.set_running_or_notify_cancel():
                future.set_exception(ended)

    def close(self) -> None:
        """Stops the worker (after the request it is working on) and waits for it; kills it if it does not end
        within a few seconds (a request stuck on a slow node)."""
        with contextlib.suppress(OSError, ValueError):  # the worker may have ended already
            self._requests.send(None)
        self._requests.close()
        try:
            self._process.wait(timeout=_CLOSE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._reader.join(timeout=_CLOSE_TIMEOUT_S)
        self._replies.close()


def _widen(pipe: int) -> None:
    """Gives a pipe the largest buffer an unprivileged process may ask for (1 MiB on Linux by default, against
    64 KiB): a batch of a few MB then crosses in a few writes instead of dozens of 64 KiB turns between the two
    processes. Where the call does not exist or is refused, the pipe keeps its size."""
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if set_size is None:
        return
    try:
        with open("/proc/sys/fs/pipe-max-size", encoding="ascii") as limit:
            size = int(limit.read())
        fcntl.fcntl(pipe, set_size, size)
    except (OSError, ValueError):
        pass


def _portable(exc: BaseException) -> BaseException:
    """The exception itself if it survives a pickle round trip, else a `DecodeWorkerError` that names it."""
    try:
        pickle.loads(pickle.dumps(exc))  # noqa: S301 - our own bytes
    except Exception:  # any failure to pickle or to rebuild
        portable = DecodeWorkerError(f"{type(exc).__module__}.{type(exc).__qualname__}: {exc}")
        for note in getattr(exc, "__notes__", ()):
            portable.add_note(note)
        return portable
    return exc


def serve(requests: Connection, replies: Connection) -> None:
    """The worker's loop (see the module docstring); returns when told to stop or when the parent is gone.

    Requests the parent sent ahead are started at once in a fetch thread: the node serves (and this process
    reads) the next range while the current one is decoded."""
    try:
        setup: WorkerSetup = requests.recv()
    except EOFError:
        return
    rpc = client_for(setup.rpc_url, timeout_s=setup.rpc_timeout_s)
    decoder = EventDecoder.from_spec(setup.spec)
    try:
        replies.send((_READY, None, None))
    except OSError:
        return
    fetcher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracemark-worker-getlogs")
    fetching: deque[tuple[int, Future[RangeRead]]] = deque()
    try:
        while True:
            while not fetching or requests.poll():  # wait for a request, then take all that are waiting
                try:
                    message = requests.recv()
                except EOFError:
                    return  # the parent closed the pipe or died
                if message is None:
                    return
                request_id, first, last = message
                fetching.append((request_id, fetcher.submit(read_range, rpc, decoder, first, last)))
            request_id, fetched = fetching.popleft()
            try:
                reply: tuple[int, RangeBatch | None, BaseException | None] = (
                    request_id, plan_range(decoder, setup.chain_id, fetched.result()), None
                )
            except Exception as exc:  # every error crosses over to the parent
                exc.add_note("in the decode worker:\n" + "".join(traceback.format_exception(exc)))
                reply = (request_id, None, _portable(exc))
            try:
                replies.send(reply)
            except OSError:
                return  # the parent is gone
    finally:
        fetcher.shutdown(wait=False, cancel_futures=True)


def main(argv: list[str]) -> None:
    """Entry point of the worker process: `python -m tracemark.chain.indexer.worker <request fd> <reply fd>`."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    requests = Connection(int(argv[0]), writable=False)
    replies = Connection(int(argv[1]), readable=False)
    serve(requests, replies)
    # Now, without waiting for a fetch still in flight (it would only be thrown away).
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv[1:])
