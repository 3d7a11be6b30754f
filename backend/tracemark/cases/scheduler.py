"""The deadline scheduler: moves cases whose deadlines have passed, once each, across restarts and workers.

```
run_once(): now = clock.now()
  for each due transition (due_transitions over the repository's due cases, batch by batch):
    ledger.is_done(key)?                      -> skip (acted before)
    ledger.claim(key, worker, now, lease)?    -> no: another worker holds it (skip)
    re-read the case; still in the stage?     -> no: it moved meanwhile (release, skip)
    licence gate (optional): licence found    -> record it, the case ends (licence shown / licensed), complete
                             blocked          -> nothing is sent (release; tried again next run)
    effect(entered case, due, key)            -> sends the stage's letter; must be idempotent on the key
    repository.save(case, expected_version)   -> optimistic: a case changed meanwhile is not overwritten
    ledger.complete(key, now)
```

Everything the scheduler knows between runs lives behind two ports: `CaseRepository` (the cases, saved with a
version check, and the query for the due ones, which the SQL repository answers from an index on when each stage
began, so that a run costs what is due, not what is open) and `ActionLedger` (the idempotency keys). A restarted
scheduler reads both and carries on; an action whose worker died holds its key until its lease runs out, then the
next run takes it over. The effect runs before the case is saved, so a crash between them repeats the effect, never
skips it: the letter dispatcher keeps each letter under the same key and does not send a kept letter again (see
`letters.LetterDispatcher`).

The SQL ledger (`tracemark.store.case_repository.SqlActionLedger`) claims a key in one statement (`INSERT ... ON
CONFLICT (key) DO UPDATE ... WHERE done_at IS NULL AND (lease_until < :now OR worker = :worker)`), true when a row
was written.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice
from typing import Protocol

from tracemark.cases.clock import Clock
from tracemark.cases.deadlines import DeadlinePolicy, DueTransition, due_transitions
from tracemark.cases.licence_check import CheckOutcome, LicenceCheck
from tracemark.cases.workflow import SCHEDULER, Actor, Case, CaseError, record_licence_check, transition

#: Due cases acted on per batch (oldest deadline first within a batch).
BATCH = 500


def batched(items: Iterable[Case], size: int) -> Iterator[list[Case]]:
    """`items` in lists of `size` (the last may be shorter), read lazily."""
    it = iter(items)
    while batch := list(islice(it, size)):
        yield batch


class ConcurrencyError(CaseError):
    """The case changed since it was read (its version moved)."""


class CaseNotFoundError(CaseError):
    """No case with this id."""


class CaseRepository(Protocol):
    """Where cases live (`tracemark.store.case_repository.SqlCaseRepository`; `InMemoryCaseRepository` for tests)."""

    def get(self, case_id: str) -> Case:
        """The case with this id; raises `CaseNotFoundError`."""
        ...

    def save(self, case: Case, expected_version: int) -> None:
        """Stores `case` if the stored one still has `expected_version` (0: a new case); else `ConcurrencyError`."""
        ...

    def due_cases(self, now: datetime, policy: DeadlinePolicy) -> Iterable[Case]:
        """The open cases not on hold whose stage deadline under `policy` has passed at `now` (a superset is
        allowed: the scheduler asks `due_transitions` again). Read lazily, so that a run over many due cases never
        holds them all: the scheduler acts on each before it asks for the next batch."""
        ...


class ActionLedger(Protocol):
    """The idempotency keys of the scheduler's actions."""

    def is_done(self, key: str) -> bool:
        """True when the action was completed."""
        ...

    def claim(self, key: str, worker: str, now: datetime, lease: timedelta) -> bool:
        """True when `worker` now holds the key: it is not done, and unclaimed, claimed by this worker, or its lease
        ran out."""
        ...

    def release(self, key: str, worker: str) -> None:
        """Gives up a claim that was not completed, so the next run may try again at once."""
        ...

    def complete(self, key: str, worker: str, now: datetime) -> None:
        """Marks the action done for good."""
        ...


class StageEffect(Protocol):
    """What entering a stage does (sending its letter). Called again after a crash: must be idempotent on `key`."""

    def __call__(self, case: Case, due: DueTransition, key: str, /) -> None: ...


class LicenceGate(Protocol):
    """Runs the licence check for a case before a letter is sent."""

    def __call__(self, case: Case, now: datetime, /) -> LicenceCheck: ...


class InMemoryCaseRepository:
    """A thread-safe dictionary of cases with version checks."""

    def __init__(self) -> None:
        self._cases: dict[str, Case] = {}
        self._lock = threading.Lock()

    def get(self, case_id: str) -> Case:
        """The stored case."""
        with self._lock:
            try:
                return self._cases[case_id]
            except KeyError:
                raise CaseNotFoundError(case_id) from None

    def save(self, case: Case, expected_version: int) -> None:
        """Stores the case when the stored version is `expected_version`."""
        with self._lock:
            stored = self._cases.get(case.case_id)
            current = stored.version if stored is not None else 0
            if current != expected_version:
                raise ConcurrencyError(f"case {case.case_id} is at version {current}, not {expected_version}")
            self._cases[case.case_id] = case

    def open_cases(self) -> list[Case]:
        """The cases that have not ended."""
        with self._lock:
            return [c for c in self._cases.values() if c.is_open]

    def due_cases(self, now: datetime, policy: DeadlinePolicy) -> list[Case]:
        """The open cases whose deadline has passed."""
        return [c for c in self.open_cases() if (deadline := policy.deadline(c)) is not None and deadline <= now]


@dataclass
class _Claim:
    worker: str
    lease_until: datetime
    done_at: datetime | None = None


class InMemoryActionLedger:
    """The ledger as a locked dictionary (one process; the SQL one is described in the module docstring)."""

    def __init__(self) -> None:
        self._claims: dict[str, _Claim] = {}
        self._lock = threading.Lock()

    def is_done(self, key: str) -> bool:
        """True when completed."""
        with self._lock:
            claim = self._claims.get(key)
            return claim is not None and claim.done_at is not None

    def claim(self, key: str, worker: str, now: datetime, lease: timedelta) -> bool:
        """Takes the key when it is free, the worker's own, or its lease ran out."""
        with self._lock:
            claim = self._claims.get(key)
            taken = claim is not None and claim.worker != worker and claim.lease_until > now
            if claim is not None and (claim.done_at is not None or taken):
                return False
            self._claims[key] = _Claim(worker, now + lease)
            return True

    def release(self, key: str, worker: str) -> None:
        """Drops an open claim of this worker."""
        with self._lock:
            claim = self._claims.get(key)
            if claim is not None and claim.worker == worker and claim.done_at is None:
                del self._claims[key]

    def complete(self, key: str, worker: str, now: datetime) -> None:
        """Marks the key done."""
        with self._lock:
            self._claims[key] = _Claim(worker, now, done_at=now)

    def done_keys(self) -> list[str]:
        """Every completed key (for tests and audits)."""
        with self._lock:
            return sorted(k for k, c in self._claims.items() if c.done_at is not None)


@dataclass
class RunReport:
    """What one run did."""

    applied: list[DueTransition] = field(default_factory=list)
    ended_by_licence: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (key, why)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (key, error)


class DeadlineScheduler:
    """Applies due transitions once each. Construct it anew after a restart with the same repository and ledger."""

    def __init__(
        self,
        cases: CaseRepository,
        ledger: ActionLedger,
        clock: Clock,
        policy: DeadlinePolicy,
        *,
        effect: StageEffect | None = None,
        gate: LicenceGate | None = None,
        worker: str = "scheduler",
        lease: timedelta = timedelta(minutes=5),
    ) -> None:
        self.cases, self.ledger, self.clock, self.policy = cases, ledger, clock, policy
        self.effect, self.gate, self.worker, self.lease = effect, gate, worker, lease
        self.actor = Actor(SCHEDULER.role, worker)

    def run_once(self) -> RunReport:
        """Applies every transition due now; an error in one case is reported and does not stop the others."""
        now = self.clock.now()
        report = RunReport()
        for batch in batched(self.cases.due_cases(now, self.policy), BATCH):
            for due in due_transitions(batch, now, self.policy):
                try:
                    self._apply(due, now, report)
                except Exception as exc:  # one case's failure must not stop the run; the key stays open for a retry
                    self.ledger.release(due.key, self.worker)
                    report.failed.append((due.key, f"{type(exc).__name__}: {exc}"))
        return report

    def _apply(self, due: DueTransition, now: datetime, report: RunReport) -> None:
        key = due.key
        if self.ledger.is_done(key):
            report.skipped.append((key, "done before"))
            return
        if not self.ledger.claim(key, self.worker, now, self.lease):
            report.skipped.append((key, "held by another worker"))
            return
        case = self.cases.get(due.case_id)
        read_version = case.version
        if case.entered(due.to_state) is not None:  # saved by a run that died before completing the key
            self.ledger.complete(key, self.worker, now)
            report.skipped.append((key, f"the case entered {due.to_state.value} before"))
            return
        if case.state is not due.from_state or case.on_hold:
            self.ledger.release(key, self.worker)
            report.skipped.append((key, f"the case is now {case.state.value}"))
            return
        if self.gate is not None:
            check = self.gate(case, now)
            if check.outcome is CheckOutcome.BLOCKED:  # not recorded on every run: nothing moves until cleared
                self.ledger.release(key, self.worker)
                report.skipped.append((key, check.summary()))
                return
            case = record_licence_check(case, check, actor=self.actor, at=now)
            if not case.is_open:
                self.cases.save(case, read_version)
                self.ledger.complete(key, self.worker, now)
                report.ended_by_licence.append(case.case_id)
                return
        wait = self.policy.wait(due.from_state)
        reason = (f"{due.to_state.value}: no answer within {wait.days} days of the {due.from_state.value}"
                  if wait else f"{due.to_state.value}: the claim was approved")
        entered = transition(case, due.to_state, actor=self.actor, at=now, reason=reason)
        if self.effect is not None:
            self.effect(entered, due, key)
        self.cases.save(entered, read_version)
        self.ledger.complete(key, self.worker, now)
        report.applied.append(due)
