"""The chain indexer: follows every event of the Tracemark contracts into the store, through reorgs and restarts.

Data flow (see docs/architecture.md, "Chain indexer"):

1. **Back-fill** from the deployment block in adaptive `eth_getLogs` ranges: a range grows (x2) while answers stay
   small and shrinks (/2) when a node says "too many results", times out, or answers with more logs than
   `target_logs`. **Live**: once caught up, poll every `poll_interval_s`.
2. Every range is checked against block headers read after its logs (those of its first and last block come with
   its batch): the first block's parent must be the stored tip (otherwise the chain was reorganised), and inside
   the unconfirmed window (`confirmations` blocks below the head) every block's header is read, must link to its
   parent, and must carry the hash its logs name.
3. The decoded events, the state they imply (`Projector`), the block hashes of the window and the checkpoint
   (`chain_cursors`) are written in **one transaction**. A killed process loses at most the range it was writing
   and indexes it again; an event is keyed by (chain id, block number, block hash, tx hash, log index), so nothing
   counts twice.
4. **Reorgs**: when the stored tip's hash is no longer the chain's, the common ancestor is the highest stored block
   (window hashes first, then the blocks of stored events) whose hash the chain still has. Everything after it is
   undone in one transaction and indexed again. A reorg deeper than `confirmations` is undone too, and logged as
   an error and recorded in `chain_reorgs`: confirmed events were reverted.
5. RPC failures (refused, reset, HTTP errors, timeouts, JSON-RPC errors, malformed answers) are retried with
   exponential back-off and jitter, logged, and reported in `indexer_status` (read by `/health`).
6. **Two processes during a back-fill**: fetching, JSON decoding, log decoding and planning the rows of a range
   (`batch.fetch_range`) hold Python's GIL as much as the writer does, so threads cannot overlap them. A back-fill
   of several ranges therefore has them done by a decode worker process (`worker`), up to `PREFETCH_RANGES` ranges
   ahead, which hands back each range as a `RangeBatch` of plain tuples; this process checks headers and writes.
   Short catch-ups stay in this process (`WORKER_MIN_RANGES`, setting `index_decode_process`). Both paths build
   the same batches with the same code, so they store identical rows.

State at or below `confirmed_block` is confirmed; anything with legal or payment effect reads only that (see
`tracemark.store.chain_repository`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal, Protocol, TypeVar

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from tracemark.chain.deployments import Deployment, load_deployment
from tracemark.chain.indexer.batch import RangeBatch, fetch_range, planning_decoder
from tracemark.chain.indexer.gcpause import gc_paused
from tracemark.chain.indexer.projector import Projector
from tracemark.chain.indexer.rpc import (
    Backoff,
    BlockHeader,
    RpcClient,
    RpcError,
    client_for,
    is_range_too_large,
    suggested_range_end,
)
from tracemark.chain.indexer.worker import DecodeWorker, DecodeWorkerError, WorkerSetup
from tracemark.config import Settings
from tracemark.store.base import table_of
from tracemark.store.chain_models import ChainBlock, ChainCursor, ChainEvent, ChainReorg, IndexerStatus
from tracemark.store.database import Database, bulk_insert

log = logging.getLogger("tracemark.indexer")

T = TypeVar("T")

WINDOW_MARGIN = 2
"""Blocks below the confirmation window whose headers are read and kept as well."""
KEEP_BELOW_CONFIRMED = 16
"""Stored block hashes kept below the confirmed block (older ones are pruned; event rows keep theirs)."""
_ANCESTOR_BATCH = 64
MAX_PENDING_WRITES = 2
"""Verified ranges that may wait for the writer thread (bounds memory)."""
WORKER_MIN_RANGES = 3
"""With `decode_process="auto"`, a back-fill at least this many ranges long is fetched and decoded by the decode
worker process. A shorter one (a live poll, a small catch-up near the head) stays in this process: with one or two
ranges there is little to overlap, and the worker's start (about 0.1 s) and the hand-over would only add latency
and CPU."""
PREFETCH_RANGES = 3
"""Ranges requested ahead of the one being checked (from the start of a back-fill on). With three, the decode
worker has the next range queued while it decodes one (the one before that is with this process), so its fetch
thread has the node serve the next while it decodes: fewer, and the worker waits for the node after every range.
The range size adapts with a lag of these ranges."""
STARTING_RANGES = 2
"""How many of a back-fill's first ranges this process reads itself while the decode worker starts."""
_STOP_CHECK_S = 0.2

DecodeProcess = Literal["auto", "always", "never"]


class IndexerStoppedError(Exception):
    """The stop event was set while the indexer waited or worked."""


class CheckpointMovedError(RuntimeError):
    """A range was about to be written where the stored checkpoint is not (a write before it failed, or another
    process indexes the same chain into the same database)."""


@dataclass(frozen=True)
class IndexerConfig:
    """How the indexer paces itself (see `tracemark.config.Settings`, `index_*`)."""

    confirmations: int = 2
    poll_interval_s: float = 1.0
    initial_range: int = 100
    max_range: int = 100_000
    target_logs: int = 10_000
    retry_base_s: float = 0.5
    retry_max_s: float = 30.0
    rpc_timeout_s: float = 30.0
    decode_process: DecodeProcess = "auto"

    @classmethod
    def from_settings(cls, settings: Settings) -> IndexerConfig:
        """The configuration the settings name."""
        return cls(
            confirmations=settings.index_confirmations,
            poll_interval_s=settings.index_poll_interval_s,
            initial_range=settings.index_initial_range,
            max_range=settings.index_max_range,
            target_logs=settings.index_target_logs,
            retry_base_s=settings.index_retry_base_s,
            retry_max_s=settings.index_retry_max_s,
            rpc_timeout_s=settings.index_rpc_timeout_s,
            decode_process=settings.index_decode_process,
        )


@dataclass
class Progress:
    """What the indexer has done so far in this process (also written to `indexer_status`)."""

    chain_id: int
    state: str = "starting"
    head_block: int = -1
    indexed_block: int = -1
    confirmed_block: int = -1
    events: int = 0
    retries: int = 0
    reorgs: int = 0
    consecutive_failures: int = 0
    last_error: str | None = None
    started: float = field(default_factory=time.monotonic)

    @property
    def lag(self) -> int:
        """Blocks between the chain head and the last indexed block."""
        return max(0, self.head_block - self.indexed_block)


@dataclass(frozen=True)
class _Cursor:
    start_block: int
    indexed_block: int
    indexed_hash: str | None
    confirmed_block: int


class _RangeSource(Protocol):
    """Fetches and plans ranges (`tracemark.chain.indexer.batch.fetch_range`) somewhere else than the caller."""

    def submit(self, first: int, last: int) -> Future[RangeBatch]:
        """Starts on blocks `first..last`; the future fails with an `RpcError` (or `DecodeWorkerError`)."""
        ...


class _ThreadSource:
    """Ranges fetched and planned in a thread of this process (they share the GIL with the writer)."""

    def __init__(self, executor: ThreadPoolExecutor, fetch: Callable[[int, int], RangeBatch]) -> None:
        self._executor = executor
        self._fetch = fetch

    def submit(self, first: int, last: int) -> Future[RangeBatch]:
        return self._executor.submit(self._fetch, first, last)


class _WorkerSource:
    """Ranges fetched and planned by the decode worker process. With `starting`, the first `STARTING_RANGES`
    ranges are fetched by that thread source if the worker is not ready yet: the worker's start-up takes about a
    tenth of a second and its first batch comes about 0.2 s later, so the writer starts on ranges of its own process
    meanwhile and finds the worker's first batch ready when it is done with them (with one range only, it waited
    about 0.1 s for it). Every later range goes to the worker (it queues them until it is ready): ranges decoded in
    this process slow the writer down. A worker that ended (killed, crashed) is replaced on the
    next request, which the indexer makes after its back-off.

    Raises:
        DecodeWorkerError: the first worker could not be started.
    """

    def __init__(self, setup: WorkerSetup, starting: _ThreadSource | None) -> None:
        self._setup = setup
        self._starting = starting
        self._starting_left = STARTING_RANGES
        self.worker = DecodeWorker(setup)

    def submit(self, first: int, last: int) -> Future[RangeBatch]:
        if self._starting is not None and self._starting_left > 0 and not self.worker.ready.is_set():
            self._starting_left -= 1
            return self._starting.submit(first, last)
        self._starting_left = 0  # once one range went to the worker, the rest go there too
        if not self.worker.alive:
            log.warning("the decode worker ended; starting a new one")
            self.worker.close()
            try:
                self.worker = DecodeWorker(self._setup)
            except DecodeWorkerError as exc:
                failed: Future[RangeBatch] = Future()
                failed.set_exception(exc)
                return failed
        return self.worker.submit(first, last)

    def close(self) -> None:
        self.worker.close()


def _discard(ahead: deque[tuple[int, int, Future[RangeBatch]]]) -> None:
    """Forgets ranges requested ahead (the chain or the range size changed): those not started yet are cancelled,
    the others' answers are dropped."""
    for _first, _last, fetching in ahead:
        fetching.cancel()
    ahead.clear()


def _usable_cores() -> int:
    """The cores this process may run on (a second process gains nothing on one core: it only adds work)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def deployment_key(deployment: Deployment) -> str:
    """A digest of what identifies a deployment (addresses and first block): a changed key means a new chain
    history (e.g. a local chain deployed anew), and the stored state of that chain id is dropped."""
    material = json.dumps({"block": deployment.block, "contracts": deployment.contracts}, sort_keys=True)
    return "0x" + hashlib.sha256(material.encode()).hexdigest()


class ChainIndexer:
    """Indexes one deployment's events from one JSON-RPC endpoint into one database.

    Args:
        database: The store.
        rpc: The node.
        deployment: The contracts and their first block.
        config: Pacing, confirmation depth and retry policy.
        stop: Set it to stop `run` (and any wait inside it) promptly.
    """

    def __init__(
        self,
        database: Database,
        rpc: RpcClient,
        deployment: Deployment,
        config: IndexerConfig | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.database = database
        self.rpc = rpc
        self.deployment = deployment
        self.config = config or IndexerConfig()
        self.chain_id = deployment.chain_id
        self.stop = stop or threading.Event()
        self.decoder = planning_decoder(deployment)
        # Ranges fetched in this process go through the cheaper client the decode worker uses (`rpc.client_for`;
        # httpx reads a large answer about a quarter slower), on a connection of their own.
        self._logs_rpc = client_for(rpc.url, rpc.timeout_s)
        self.projector = Projector(self.chain_id)
        self.backoff = Backoff(self.config.retry_base_s, self.config.retry_max_s)
        self.range_size = max(1, min(self.config.initial_range, self.config.max_range))
        self.progress = Progress(self.chain_id)
        self._cursor: _Cursor | None = None
        self._status_written = 0.0
        self._logged = 0.0
        self._logged_events = 0
        # Back-fill is a pipeline: the next range is fetched while the current one is decoded and the one
        # before is written (SQLite and the node work outside the GIL).
        self._prefetch = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracemark-getlogs")
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tracemark-writer")
        self._writes: deque[Future[tuple[int, int, int]]] = deque()

    # ---- the loop -------------------------------------------------------------------------------------------

    def run(self) -> None:
        """Back-fills, then follows the chain until `stop` is set. Never returns on RPC or database errors: it
        retries them with back-off."""
        try:
            self.prepare()
            log.info(
                "indexing chain %d from block %d (confirmations %d) via %s",
                self.chain_id, self.deployment.block, self.config.confirmations, self.rpc.url,
            )
            while not self.stop.is_set():
                try:
                    stored = self.sync()
                except (SQLAlchemyError, CheckpointMovedError) as exc:
                    self._cursor = None  # start again from the stored checkpoint
                    self._failed("database", exc)
                    continue
                if self.progress.state != "live":
                    log.info("live at block %d (head %d)", self.progress.indexed_block, self.progress.head_block)
                became_live = self.progress.state != "live"
                self.progress.state = "live"
                self._write_status(force=became_live or stored > 0)
                if self.stop.wait(self.config.poll_interval_s):
                    break
        except IndexerStoppedError:
            pass
        finally:
            try:
                self._drain()
            except (SQLAlchemyError, CheckpointMovedError) as exc:
                log.warning("the last range was not written (%s); it is indexed again on the next start", exc)
            self._prefetch.shutdown(wait=False, cancel_futures=True)
            self._writer.shutdown(wait=True)
            self.progress.state = "stopped"
            self._write_status(force=True)
            log.info("indexer stopped at block %d", self.progress.indexed_block)

    def prepare(self) -> None:
        """Brings the schema up to date and loads (or creates) the checkpoint of this chain."""
        self._retry("database migration", self.database.migrate)
        key = deployment_key(self.deployment)
        with self.database.read() as session:
            row = session.get(ChainCursor, self.chain_id)
            fresh = row is None or row.deployment_key != key
        if fresh:
            start = self.deployment.block
            parent = self._retry("eth_getBlockByNumber", lambda: self.rpc.headers([start - 1]))[0] if start else None
            with self.database.write() as session:
                connection = session.connection()
                row = session.get(ChainCursor, self.chain_id)
                if row is not None:
                    log.warning(
                        "chain %d has a new deployment (%s): dropping the state indexed from the old one",
                        self.chain_id, key,
                    )
                    self.projector.rollback(connection, -1)
                    connection.execute(delete(table_of(ChainCursor)).where(ChainCursor.chain_id == self.chain_id))
                connection.execute(insert(table_of(ChainCursor)).values(
                    chain_id=self.chain_id, deployment_key=key, start_block=start, indexed_block=start - 1,
                    indexed_hash=parent.hash if parent else None, head_block=start - 1, confirmed_block=start - 1,
                    confirmations=self.config.confirmations,
                ))
        self._load_cursor()

    def _load_cursor(self) -> _Cursor:
        with self.database.read() as session:
            row = session.get(ChainCursor, self.chain_id)
            if row is None:
                raise RuntimeError(f"no checkpoint for chain {self.chain_id}: call prepare() first")
            cursor = _Cursor(row.start_block, row.indexed_block, row.indexed_hash, row.confirmed_block)
            self.progress.head_block = max(self.progress.head_block, row.head_block)
        self._cursor = cursor
        self.progress.indexed_block = cursor.indexed_block
        self.progress.confirmed_block = cursor.confirmed_block
        return cursor

    def sync(self) -> int:
        """Indexes from the checkpoint up to the current head, undoing a reorg first if there was one.

        Returns:
            How many events were stored.
        """
        cursor = self._cursor or self._load_cursor()
        head = self._retry("eth_blockNumber", self.rpc.block_number)
        self.progress.head_block = head
        stored = 0
        if cursor.indexed_hash is not None and cursor.indexed_block >= 0:
            tip = self._retry("eth_getBlockByNumber", lambda: self.rpc.headers([cursor.indexed_block]))[0]
            if tip is None or tip.hash != cursor.indexed_hash:
                cursor = self._undo_reorg(head)
        if self.progress.state == "starting":
            self.progress.state = "backfill"
        if cursor.indexed_block < head:
            with self._range_source(head - cursor.indexed_block) as source:
                stored = self._backfill(cursor, head, source)
        self._drain()
        return stored

    def _backfill(self, cursor: _Cursor, head: int, source: _RangeSource) -> int:
        """Indexes from `cursor` up to `head`, range by range: the source fetches and plans the next range while
        this one is checked against the headers and the one before is written."""
        stored = 0
        ahead: deque[tuple[int, int, Future[RangeBatch]]] = deque()  # the next ranges, being fetched meanwhile
        while cursor.indexed_block < head:
            if self.stop.is_set():
                raise IndexerStoppedError
            first = cursor.indexed_block + 1
            if ahead and ahead[0][0] != first:
                _discard(ahead)
            self._request_ahead(ahead, first, head, source)  # this range and the next ones, all at once
            _first, last, fetching = ahead.popleft()
            try:
                batch = self._wait(fetching)
                self._succeeded()
            except (RpcError, DecodeWorkerError) as exc:
                _discard(ahead)  # the range size may change: the node may find this range too large
                batch, last = self._fetch_range(source, first, last, exc)
            self._adapt(batch.count, last - first + 1)
            self._request_ahead(ahead, last + 1, head, source)
            window_start = max(first, head - self.config.confirmations - WINDOW_MARGIN + 1)
            numbers = sorted({first, last} | set(range(window_start, last + 1)))
            # The range's ends came with its logs (read after them); only the window near the head is asked for.
            known = dict(batch.headers)
            missing = [n for n in numbers if n not in known]
            if missing:
                known.update(zip(missing, self._headers(missing), strict=True))
            headers = [known[n] for n in numbers]
            if any(h is None for h in headers):  # the chain got shorter while we read it
                head = self._retry("eth_blockNumber", self.rpc.block_number)
                cursor = self._undo_reorg(head)
                _discard(ahead)
                continue
            by_number = {h.number: h for h in headers if h is not None}
            if cursor.indexed_hash is not None and by_number[first].parent_hash != cursor.indexed_hash:
                cursor = self._undo_reorg(head)
                _discard(ahead)
                continue
            if not self._consistent(by_number, batch.block_hashes):
                _discard(ahead)
                log.info("the chain moved while blocks %d..%d were read; reading them again", first, last)
                self.progress.retries += 1
                if self.stop.wait(min(self.config.poll_interval_s, 0.2)):
                    raise IndexerStoppedError
                head = self._retry("eth_blockNumber", self.rpc.block_number)
                self.progress.head_block = head
                continue
            cursor = self._commit(cursor, batch, [by_number[n] for n in numbers], last, head)
            stored += batch.count
            self._report(cursor)
        self._drain()
        return stored

    def catch_up(self) -> int:
        """Prepares, then indexes up to the head once (the `--once` mode and the tests)."""
        self.prepare()
        return self.sync()

    # ---- a range --------------------------------------------------------------------------------------------

    def _request_ahead(self, ahead: deque[tuple[int, int, Future[RangeBatch]]], first: int, head: int,
                       source: _RangeSource) -> None:
        """Tops `ahead` up to `PREFETCH_RANGES` ranges of the current range size, from `first` (or from the end of
        what is requested already) up to `head`."""
        next_first = ahead[-1][1] + 1 if ahead else first
        while len(ahead) < PREFETCH_RANGES and next_first <= head:
            next_last = min(head, next_first + self.range_size - 1)
            ahead.append((next_first, next_last, source.submit(next_first, next_last)))
            next_first = next_last + 1

    @contextlib.contextmanager
    def _range_source(self, behind: int) -> Iterator[_RangeSource]:
        """Where the ranges of a back-fill `behind` blocks long are fetched and planned: the decode worker process
        (`tracemark.chain.indexer.worker`) when the back-fill spans at least `WORKER_MIN_RANGES` ranges and this
        process may use more than one core, else a thread of this process (`decode_process="always"` and
        `"never"` force one or the other). The worker is stopped when the back-fill ends; if it cannot be started,
        the thread does the work."""
        mode = self.config.decode_process
        wanted = mode == "always" or (
            mode == "auto" and behind >= WORKER_MIN_RANGES * self.range_size and _usable_cores() > 1
        )
        in_thread = _ThreadSource(self._prefetch, self._fetch_in_thread)
        if not wanted:
            yield in_thread
            return
        try:
            # "always" means every range: the tests pin the worker path with it.
            source = _WorkerSource(WorkerSetup(self.rpc.url, self.config.rpc_timeout_s, self.chain_id,
                                               self.decoder.spec), in_thread if mode == "auto" else None)
        except DecodeWorkerError as exc:
            log.warning("%s; decoding in this process", exc)
            yield in_thread
            return
        log.debug("back-fill of %d blocks: decoding in worker process %d", behind, source.worker.pid)
        try:
            yield source
        finally:
            source.close()

    def _fetch_in_thread(self, first: int, last: int) -> RangeBatch:
        return fetch_range(self._logs_rpc, self.decoder, self.chain_id, first, last)

    def _wait(self, future: Future[T]) -> T:
        """The result of a fetch, waiting no longer than it takes to notice `stop`."""
        while True:
            try:
                return future.result(timeout=_STOP_CHECK_S)
            except FutureTimeoutError:
                if self.stop.is_set():
                    raise IndexerStoppedError from None

    def _fetch_range(self, source: _RangeSource, first: int, last: int,
                     failure: RpcError | DecodeWorkerError | None = None) -> tuple[RangeBatch, int]:
        """The batch of `first..last`, or of a narrower range if the node finds that one too large; other failures
        are retried with back-off. `failure` is how a first attempt at the range failed already."""
        while True:
            if self.stop.is_set():
                raise IndexerStoppedError
            if failure is None:
                try:
                    batch = self._wait(source.submit(first, last))
                except (RpcError, DecodeWorkerError) as exc:
                    failure = exc
                else:
                    self._succeeded()
                    return batch, last
            if isinstance(failure, RpcError) and is_range_too_large(failure) and last > first:
                suggested = suggested_range_end(failure)
                narrower = suggested if suggested is not None and first <= suggested < last else (
                    first + (last - first + 1) // 2 - 1
                )
                log.info("eth_getLogs %d..%d: %s; narrowing to %d blocks", first, last, failure, narrower - first + 1)
                self.progress.retries += 1
                self.range_size = max(1, narrower - first + 1)
                last = narrower
            elif isinstance(failure, DecodeWorkerError):
                self._failed("decode worker", failure)
            else:
                self._failed(f"eth_getLogs {first}..{last}", failure)
            failure = None

    @staticmethod
    def _consistent(by_number: dict[int, BlockHeader], block_hashes: list[tuple[int, str]]) -> bool:
        for number, header in by_number.items():
            parent = by_number.get(number - 1)
            if parent is not None and header.parent_hash != parent.hash:
                return False
        for number, block_hash in block_hashes:
            known = by_number.get(number)
            if known is not None and block_hash != known.hash:
                return False
        return True

    def _commit(self, cursor: _Cursor, batch: RangeBatch, headers: list[BlockHeader], last: int,
                head: int) -> _Cursor:
        """Hands a verified range to the writer thread and moves the (in-memory) cursor on; the checkpoint in the
        store moves when the writer commits. At most `MAX_PENDING_WRITES` ranges wait."""
        confirmed = max(min(last, head - self.config.confirmations), cursor.start_block - 1)
        tip = headers[-1]
        while len(self._writes) >= MAX_PENDING_WRITES:
            self._complete(self._writes.popleft())
        self._writes.append(self._writer.submit(
            self._write_range, cursor.indexed_block, cursor.indexed_hash, batch, headers, last, head, confirmed
        ))
        self._cursor = replace(cursor, indexed_block=last, indexed_hash=tip.hash, confirmed_block=confirmed)
        return self._cursor

    def _write_range(self, after: int, after_hash: str | None, batch: RangeBatch, headers: list[BlockHeader],
                     last: int, head: int, confirmed: int) -> tuple[int, int, int]:
        """One transaction: the events, their state, the window's block hashes and the checkpoint. Runs in the
        writer thread, in order. Refuses to write unless the stored checkpoint is exactly where this range
        starts, so a range queued behind a failed one never lands on a gap."""
        with gc_paused(), self.database.write() as session:
            connection = session.connection()
            cursors = table_of(ChainCursor)
            stored = connection.execute(
                select(cursors.c.indexed_block, cursors.c.indexed_hash).where(cursors.c.chain_id == self.chain_id)
            ).one()
            if (stored[0], stored[1]) != (after, after_hash):
                raise CheckpointMovedError(
                    f"the checkpoint is at block {stored[0]}, not {after}: the range after it is not written"
                )
            self.projector.write(connection, batch)
            blocks = table_of(ChainBlock)
            bulk_insert(connection, blocks, [
                {"chain_id": self.chain_id, "number": h.number, "hash": h.hash, "parent_hash": h.parent_hash}
                for h in headers
            ])
            connection.execute(delete(blocks).where(
                blocks.c.chain_id == self.chain_id, blocks.c.number < confirmed - KEEP_BELOW_CONFIRMED
            ))
            connection.execute(update(cursors).where(cursors.c.chain_id == self.chain_id).values(
                indexed_block=last, indexed_hash=headers[-1].hash, head_block=head, confirmed_block=confirmed,
                confirmations=self.config.confirmations,
            ))
        return batch.count, last, confirmed

    def _complete(self, write: Future[tuple[int, int, int]]) -> None:
        """Waits for a queued write; on failure drops every write queued behind it and forgets the in-memory
        cursor, so the next sync starts again from the stored checkpoint.

        Raises:
            Whatever the write raised (a database error, `CheckpointMovedError`).
        """
        try:
            stored, last, confirmed = write.result()
        except BaseException:
            for pending in self._writes:
                pending.cancel()
            for pending in self._writes:
                if not pending.cancelled():
                    # Behind a failed write, these fail on the checkpoint guard; wait for them to end.
                    with contextlib.suppress(Exception):
                        pending.result()
            self._writes.clear()
            self._cursor = None
            raise
        self.progress.events += stored
        self.progress.indexed_block = last
        self.progress.confirmed_block = confirmed
        self._log_progress()

    def _drain(self) -> None:
        """Waits until every queued range is committed."""
        while self._writes:
            self._complete(self._writes.popleft())

    def _adapt(self, count: int, width: int) -> None:
        if count > self.config.target_logs:
            self.range_size = max(1, self.range_size // 2)
        elif count < self.config.target_logs // 2 and width >= self.range_size:
            self.range_size = min(self.config.max_range, self.range_size * 2)

    # ---- reorgs ---------------------------------------------------------------------------------------------

    def _undo_reorg(self, head: int) -> _Cursor:
        self._drain()
        old = self._cursor or self._load_cursor()
        ancestor, ancestor_hash = self._common_ancestor(head, old)
        beyond = ancestor < old.confirmed_block
        # A shorter chain also lowers the confirmed block: confirmations count from the head.
        confirmed = max(min(old.confirmed_block, ancestor, head - self.config.confirmations), old.start_block - 1)
        with self.database.write() as session:
            connection = session.connection()
            removed = self.projector.rollback(connection, ancestor)
            connection.execute(update(table_of(ChainCursor)).where(ChainCursor.chain_id == self.chain_id).values(
                indexed_block=ancestor, indexed_hash=ancestor_hash, head_block=head, confirmed_block=confirmed,
            ))
            connection.execute(insert(table_of(ChainReorg)).values(
                chain_id=self.chain_id, detected_at=datetime.now(UTC), old_tip=old.indexed_block,
                old_tip_hash=old.indexed_hash, common_ancestor=ancestor, depth=old.indexed_block - ancestor,
                beyond_confirmations=beyond, events_removed=removed,
            ))
        self.progress.reorgs += 1
        report = log.error if beyond else log.warning
        report(
            "reorg on chain %d: block %d (%s) is no longer canonical; rolled back %d blocks to %d, %d events undone%s",
            self.chain_id, old.indexed_block, old.indexed_hash, old.indexed_block - ancestor, ancestor, removed,
            " - DEEPER THAN THE CONFIRMATION DEPTH: confirmed events were reverted" if beyond else "",
        )
        self._cursor = replace(old, indexed_block=ancestor, indexed_hash=ancestor_hash, confirmed_block=confirmed)
        self.progress.indexed_block = ancestor
        self.progress.confirmed_block = confirmed
        self._write_status(force=True)
        return self._cursor

    def _common_ancestor(self, head: int, cursor: _Cursor) -> tuple[int, str | None]:
        """The highest stored block whose hash the chain still has (a match proves everything below it)."""
        with self.database.read() as session:
            stored = [
                (number, block_hash) for number, block_hash in session.execute(
                    select(ChainBlock.number, ChainBlock.hash)
                    .where(ChainBlock.chain_id == self.chain_id, ChainBlock.number <= head)
                    .order_by(ChainBlock.number.desc())
                )
            ]
        below = min([n for n, _ in stored] + [cursor.indexed_block + 1, head + 1])
        while True:
            for start in range(0, len(stored), _ANCESTOR_BATCH):
                batch = stored[start : start + _ANCESTOR_BATCH]
                headers = self._headers([n for n, _ in batch])
                for (number, block_hash), header in zip(batch, headers, strict=True):
                    if header is not None and header.hash == block_hash:
                        return number, block_hash
            # No window block matched: a deep reorg. The blocks of stored events carry their hashes too; walk
            # them downwards, one index seek per block.
            stored = []
            with self.database.read() as session:
                while len(stored) < _ANCESTOR_BATCH:
                    found = session.execute(
                        select(ChainEvent.block_number, ChainEvent.block_hash)
                        .where(ChainEvent.chain_id == self.chain_id, ChainEvent.block_number < below)
                        .order_by(ChainEvent.block_number.desc())
                        .limit(1)
                    ).first()
                    if found is None:
                        break
                    below = found[0]
                    stored.append((found[0], found[1]))
            if not stored:
                break
        start = cursor.start_block
        parent = self._retry("eth_getBlockByNumber", lambda: self.rpc.headers([start - 1]))[0] if start else None
        return start - 1, parent.hash if parent else None

    def rewind(self, to_block: int) -> None:
        """Undoes everything after `to_block`, so the next `sync` indexes it again (`--reindex-from`)."""
        self._drain()
        cursor = self._cursor or self._load_cursor()
        to_block = max(to_block, cursor.start_block - 1)
        header = self._retry("eth_getBlockByNumber", lambda: self.rpc.headers([to_block]))[0] if to_block >= 0 else None
        with self.database.write() as session:
            connection = session.connection()
            removed = self.projector.rollback(connection, to_block)
            confirmed = min(cursor.confirmed_block, to_block)
            connection.execute(update(table_of(ChainCursor)).where(ChainCursor.chain_id == self.chain_id).values(
                indexed_block=to_block, indexed_hash=header.hash if header else None, confirmed_block=confirmed,
            ))
        log.info("rewound chain %d to block %d (%d events removed); indexing again from there", self.chain_id,
                 to_block, removed)
        self._load_cursor()

    # ---- failures, status, logs -----------------------------------------------------------------------------

    def _headers(self, numbers: list[int]) -> list[BlockHeader | None]:
        return self._retry("eth_getBlockByNumber", lambda: self.rpc.headers(numbers))

    def _retry(self, what: str, call: Callable[[], T]) -> T:
        while True:
            if self.stop.is_set():
                raise IndexerStoppedError
            try:
                result = call()
            except (RpcError, SQLAlchemyError) as exc:
                self._failed(what, exc)
                continue
            self._succeeded()
            return result

    def _failed(self, what: str, exc: Exception) -> None:
        delay = self.backoff.next_delay()
        self.progress.retries += 1
        self.progress.consecutive_failures += 1
        self.progress.last_error = f"{what}: {exc}"[:1000]
        self.progress.state = "retrying"
        log.warning("%s failed (%s); retry %d in %.2f s", what, exc, self.progress.consecutive_failures, delay)
        self._write_status(force=True)
        if self.stop.wait(delay):
            raise IndexerStoppedError

    def _succeeded(self) -> None:
        if self.progress.consecutive_failures:
            log.info("recovered after %d failed attempts", self.progress.consecutive_failures)
            self.progress.consecutive_failures = 0
            self.progress.last_error = None
            self.progress.state = "backfill"
        self.backoff.reset()

    def _report(self, cursor: _Cursor) -> None:
        now = time.monotonic()
        if now - self._status_written >= 1.0:
            self._status_written = now
            # In the writer thread, between two ranges: no second writer waits for the database lock.
            self._writer.submit(self._write_status, True)

    def _log_progress(self) -> None:
        now = time.monotonic()
        if now - (self._logged or self.progress.started) < 5.0 and self._logged:
            return
        p = self.progress
        rate = (p.events - self._logged_events) / max(now - (self._logged or p.started), 1e-9)
        log.info(
            "block %d of %d (lag %d, confirmed %d): %d events stored, %.0f events/s, range %d blocks",
            p.indexed_block, p.head_block, p.lag, p.confirmed_block, p.events, rate, self.range_size,
        )
        self._logged, self._logged_events = now, p.events

    def _write_status(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._status_written < 1.0:
            return
        self._status_written = now
        p = self.progress
        values = {
            "state": p.state, "head_block": p.head_block, "indexed_block": p.indexed_block,
            "confirmed_block": p.confirmed_block, "last_error": p.last_error,
            "consecutive_failures": p.consecutive_failures, "retries_total": p.retries, "reorgs_total": p.reorgs,
            "updated_at": datetime.now(UTC),
        }
        try:
            with self.database.write() as session:
                connection = session.connection()
                table = table_of(IndexerStatus)
                done = connection.execute(update(table).where(table.c.chain_id == self.chain_id).values(**values))
                if done.rowcount == 0:
                    connection.execute(insert(table).values(chain_id=self.chain_id, **values))
        except SQLAlchemyError as exc:  # the status is advisory; the next write tries again
            log.debug("could not write the indexer status: %s", exc)


def connect(settings: Settings, stop: threading.Event | None = None, rpc_url: str | None = None) -> ChainIndexer:
    """An indexer for the chain the settings name: asks the node for its chain id (retrying until it answers or
    `stop` is set) and loads that chain's deployment record.

    Raises:
        DeploymentError: the chain has no deployment record.
        IndexerStoppedError: `stop` was set before the node answered.
    """
    stop = stop or threading.Event()
    config = IndexerConfig.from_settings(settings)
    rpc = RpcClient(rpc_url or settings.rpc_url, timeout_s=config.rpc_timeout_s)
    backoff = Backoff(config.retry_base_s, config.retry_max_s)
    while True:
        try:
            chain_id = rpc.chain_id()
            break
        except RpcError as exc:
            delay = backoff.next_delay()
            log.warning("node %s does not answer (%s); retry in %.2f s", rpc.url, exc, delay)
            if stop.wait(delay):
                raise IndexerStoppedError from exc
    deployment = load_deployment(settings.deployments_dir, chain_id)
    return ChainIndexer(Database.from_settings(settings), rpc, deployment, config, stop)
