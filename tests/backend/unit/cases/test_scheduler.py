"""The deadline scheduler with time moved: each stage at its deadline, each once, across reruns and restarts."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest

from tracemark.cases.clock import ManualClock
from tracemark.cases.deadlines import DeadlinePolicy, DueTransition
from tracemark.cases.licence_check import CheckOutcome, LicenceCheck, Observation, Source
from tracemark.cases.scheduler import (
    CaseNotFoundError,
    ConcurrencyError,
    DeadlineScheduler,
    InMemoryActionLedger,
    InMemoryCaseRepository,
    RunReport,
)
from tracemark.cases.workflow import Case, CaseState, record_answer, resume, transition

from .support import CASEWORKER, RECIPIENT, SYSTEM, case_in, clear_check, found_check

DAY = timedelta(days=1)
World = tuple[InMemoryCaseRepository, InMemoryActionLedger, ManualClock, Case]
POLICY = DeadlinePolicy(reminder_after=14 * DAY, damages_after=10 * DAY, lawyer_after=7 * DAY, court_after=21 * DAY)


class Effects:
    """Records every stage entered; optionally fails once for a key (a crash before the case is saved)."""

    def __init__(self, crash_on: str | None = None) -> None:
        self.calls: list[tuple[str, CaseState]] = []
        self.crash_on = crash_on

    def __call__(self, case: Case, due: DueTransition, key: str) -> None:
        assert case.state is due.to_state
        self.calls.append((key, case.state))
        if key == self.crash_on:
            self.crash_on = None
            raise RuntimeError("killed between the letter and the save")


@pytest.fixture
def world() -> World:
    case = case_in(CaseState.APPROVED)
    repo = InMemoryCaseRepository()
    repo.save(case, 0)
    return repo, InMemoryActionLedger(), ManualClock(case.last_event.at), case


def test_repository_versions() -> None:
    repo = InMemoryCaseRepository()
    case = case_in(CaseState.OFFER)
    repo.save(case, 0)
    with pytest.raises(ConcurrencyError):
        repo.save(case, 0)
    with pytest.raises(CaseNotFoundError):
        repo.get("nope")
    moved = transition(case, CaseState.REMINDER, actor=SYSTEM,
                       at=case.last_event.at, reason="deadline")
    repo.save(moved, case.version)
    with pytest.raises(ConcurrencyError):
        repo.save(moved, case.version)


def test_full_sequence_each_stage_at_its_deadline_once(world: World) -> None:
    repo, ledger, clock, case = world
    effects = Effects()

    def scheduler() -> DeadlineScheduler:  # a fresh instance each time: a restart loses nothing
        return DeadlineScheduler(repo, ledger, clock, POLICY, effect=effects)

    report = scheduler().run_once()
    assert [d.to_state for d in report.applied] == [CaseState.OFFER]
    offer_at = clock.now()
    expected = [(CaseState.REMINDER, 14 * DAY), (CaseState.DAMAGES, 10 * DAY), (CaseState.LAWYER_WARNING, 7 * DAY),
                (CaseState.COURT, 21 * DAY)]
    for stage, wait in expected:
        clock.advance(wait - timedelta(seconds=1))
        assert scheduler().run_once().applied == []  # a second early: nothing
        assert repo.get(case.case_id).state is not stage
        clock.advance(timedelta(seconds=1))
        first, second = scheduler(), scheduler()
        assert [d.to_state for d in first.run_once().applied] == [stage]
        assert second.run_once().applied == []  # the same moment, another run: nothing twice
        assert first.run_once().applied == []
        stored = repo.get(case.case_id)
        assert stored.state is stage and stored.last_event.at == clock.now()
    assert [state for _, state in effects.calls] == [CaseState.OFFER, *(s for s, _ in expected)]
    assert len(set(effects.calls)) == len(effects.calls) == 5
    final = repo.get(case.case_id)
    stage_times = [final.entered(s) for s in (CaseState.OFFER, *(s for s, _ in expected))]
    assert stage_times[0] == offer_at
    assert [b - a for a, b in itertools.pairwise(stage_times)] == [w for _, w in expected]
    assert ledger.done_keys() == sorted(f"{case.case_id}/{s.value}" for s in
                                        (CaseState.OFFER, CaseState.REMINDER, CaseState.DAMAGES,
                                         CaseState.LAWYER_WARNING, CaseState.COURT))
    clock.advance(400 * DAY)
    assert scheduler().run_once().applied == []  # court is the last stage


def test_a_late_scheduler_gives_the_recipient_the_full_time_of_each_stage(world: World) -> None:
    repo, ledger, clock, _case = world
    sched = DeadlineScheduler(repo, ledger, clock, POLICY)
    sched.run_once()
    clock.advance(200 * DAY)  # the scheduler was down for months
    assert [d.to_state for d in sched.run_once().applied] == [CaseState.REMINDER]
    # the next deadline runs from when the reminder actually went out, not from when it was due
    assert sched.run_once().applied == []
    clock.advance(10 * DAY)
    assert [d.to_state for d in sched.run_once().applied] == [CaseState.DAMAGES]


def test_crash_between_effect_and_save_is_repeated_after_restart_not_skipped(world: World) -> None:
    repo, ledger, clock, case = world
    effects = Effects(crash_on=f"{case.case_id}/offer")
    report = DeadlineScheduler(repo, ledger, clock, POLICY, effect=effects).run_once()
    assert report.applied == [] and report.failed[0][0] == f"{case.case_id}/offer"
    assert repo.get(case.case_id).state is CaseState.APPROVED and not ledger.is_done(f"{case.case_id}/offer")
    restarted = DeadlineScheduler(repo, ledger, clock, POLICY, effect=effects)
    assert [d.to_state for d in restarted.run_once().applied] == [CaseState.OFFER]
    assert restarted.run_once().applied == []
    # the effect ran twice for the key (it must be idempotent: the letter dispatcher is), the state moved once
    assert effects.calls == [(f"{case.case_id}/offer", CaseState.OFFER)] * 2
    assert sum(e.to_state is CaseState.OFFER for e in repo.get(case.case_id).events) == 1


def test_a_dead_workers_claim_is_taken_over_after_its_lease(world: World) -> None:
    repo, ledger, clock, case = world
    key = f"{case.case_id}/offer"
    assert ledger.claim(key, "worker-a", clock.now(), timedelta(minutes=5))  # worker a died holding it
    b = DeadlineScheduler(repo, ledger, clock, POLICY, worker="worker-b")
    report = b.run_once()
    assert report.applied == [] and report.skipped == [(key, "held by another worker")]
    clock.advance(timedelta(minutes=5, seconds=1))
    assert [d.to_state for d in b.run_once().applied] == [CaseState.OFFER]
    assert repo.get(case.case_id).last_event.actor.ident == "worker-b"


def test_concurrent_schedulers_act_once(world: World) -> None:
    repo, ledger, clock, _case = world
    for i in range(30):
        c = case_in(CaseState.APPROVED, f"case-{i:02d}")
        repo.save(c, 0)
    effects = Effects()
    barrier = threading.Barrier(4)

    def run(name: str) -> None:
        barrier.wait()
        DeadlineScheduler(repo, ledger, clock, POLICY, effect=effects, worker=name).run_once()

    threads = [threading.Thread(target=run, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    keys = [k for k, _ in effects.calls]
    assert len(keys) == len(set(keys)) == 31
    assert all(c.state is CaseState.OFFER for c in repo.open_cases())


def test_an_answer_stops_the_clock_until_a_caseworker_resumes(world: World) -> None:
    repo, ledger, clock, case = world
    sched = DeadlineScheduler(repo, ledger, clock, POLICY)
    sched.run_once()
    offer = repo.get(case.case_id)
    clock.advance(3 * DAY)
    repo.save(record_answer(offer, actor=RECIPIENT, at=clock.now(), reason="we hold a licence"), offer.version)
    clock.advance(30 * DAY)
    assert sched.run_once().applied == []
    held = repo.get(case.case_id)
    repo.save(resume(held, actor=CASEWORKER, at=clock.now(), reason="no licence shown"), held.version)
    clock.advance(14 * DAY - timedelta(seconds=1))
    assert sched.run_once().applied == []
    clock.advance(timedelta(seconds=1))
    assert [d.to_state for d in sched.run_once().applied] == [CaseState.REMINDER]


def test_a_licensee_is_never_sent_a_letter(world: World) -> None:
    repo, ledger, clock, case = world
    effects = Effects()
    licensed_from = clock.now() + 5 * DAY

    def gate(c: Case, now: datetime) -> LicenceCheck:
        return found_check(c, now) if now >= licensed_from else clear_check(c, now)

    sched = DeadlineScheduler(repo, ledger, clock, POLICY, effect=effects, gate=gate)
    sched.run_once()
    assert effects.calls == [(f"{case.case_id}/offer", CaseState.OFFER)]
    clock.advance(14 * DAY)  # the site bought a licence on day 5
    report = sched.run_once()
    assert report.applied == [] and report.ended_by_licence == [case.case_id]
    stored = repo.get(case.case_id)
    assert stored.state is CaseState.LICENCE_SHOWN and len(stored.licence_checks) == 3
    assert len(effects.calls) == 1  # no reminder went out
    clock.advance(100 * DAY)
    assert sched.run_once().applied == []


def test_licence_found_before_the_first_letter_sends_nothing(world: World) -> None:
    repo, ledger, clock, case = world
    effects = Effects()
    sched = DeadlineScheduler(repo, ledger, clock, POLICY, effect=effects, gate=found_check)
    assert sched.run_once().ended_by_licence == [case.case_id]
    assert effects.calls == [] and repo.get(case.case_id).state is CaseState.LICENSED


def test_a_disputed_certificate_holds_every_letter(world: World) -> None:
    repo, ledger, clock, case = world
    effects = Effects()
    disputed = True

    def gate(c: Case, now: datetime) -> LicenceCheck:
        if disputed:
            obs = Observation(Source.STANDING, CheckOutcome.BLOCKED, "the certificate is disputed")
            return LicenceCheck(CheckOutcome.BLOCKED, (obs,), now, c.certificate_id, c.host)
        return clear_check(c, now)

    sched = DeadlineScheduler(repo, ledger, clock, POLICY, effect=effects, gate=gate)
    report = sched.run_once()
    assert report.applied == [] and "disputed" in report.skipped[0][1]
    assert sched.run_once().applied == [] and effects.calls == []
    assert repo.get(case.case_id).state is CaseState.APPROVED
    disputed = False
    assert [d.to_state for d in sched.run_once().applied] == [CaseState.OFFER]


def test_one_failing_case_does_not_stop_the_others(world: World) -> None:
    repo, ledger, clock, _case = world
    other = case_in(CaseState.APPROVED, "case-2")
    repo.save(other, 0)
    effects = Effects(crash_on="case-1/offer")
    report = DeadlineScheduler(repo, ledger, clock, POLICY, effect=effects).run_once()
    assert [d.case_id for d in report.applied] == ["case-2"]
    assert [k for k, _ in report.failed] == ["case-1/offer"]


def test_a_run_that_died_after_saving_completes_the_key_later(world: World) -> None:
    repo, ledger, clock, case = world
    key = f"{case.case_id}/offer"
    assert ledger.claim(key, "dead", clock.now(), timedelta(minutes=5))
    repo.save(transition(case, CaseState.OFFER, actor=SYSTEM, at=clock.now(), reason="approved"), case.version)
    # the dead worker saved the case but never completed the key; a later due list (from a stale read) names it
    stale = DueTransition(case.case_id, CaseState.APPROVED, CaseState.OFFER, clock.now())
    clock.advance(timedelta(minutes=6))
    sched = DeadlineScheduler(repo, ledger, clock, POLICY, worker="next")
    report = RunReport()
    sched._apply(stale, clock.now(), report)
    assert report.skipped == [(key, "the case entered offer before")] and ledger.is_done(key)
    assert sum(e.to_state is CaseState.OFFER for e in repo.get(case.case_id).events) == 1


class LazyRepository(InMemoryCaseRepository):
    """Hands out due cases one at a time and records how far ahead of the scheduler's actions it was read."""

    def __init__(self, effects: Effects) -> None:
        super().__init__()
        self.effects = effects
        self.read_ahead: list[int] = []

    def due_cases(self, now: datetime, policy: DeadlinePolicy) -> Iterator[Case]:  # type: ignore[override]
        for n, case in enumerate(super().due_cases(now, policy), start=1):
            self.read_ahead.append(n - len(self.effects.calls))
            yield case


def test_a_run_acts_on_due_cases_batch_by_batch(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    _repo, ledger, clock, _case = world
    monkeypatch.setattr("tracemark.cases.scheduler.BATCH", 4)
    effects = Effects()
    repo = LazyRepository(effects)
    for i in range(10):
        repo.save(case_in(CaseState.APPROVED, f"case-{i:02d}"), 0)
    report = DeadlineScheduler(repo, ledger, clock, POLICY, effect=effects).run_once()
    assert sorted(d.case_id for d in report.applied) == [f"case-{i:02d}" for i in range(10)]
    assert len(effects.calls) == 10 and max(repo.read_ahead) <= 4  # never more than one batch read ahead
    assert DeadlineScheduler(repo, ledger, clock, POLICY, effect=effects).run_once().applied == []
