"""The cases' SQL ports on SQLite and PostgreSQL: the migration, cases with version checks and their history, the
scheduler's ledger under races and leases, the letter store, and the whole escalation run by the domain's scheduler
over the SQL ports with restarts in between."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.backend.unit.cases.support import (
    CASEWORKER,
    HOLDER,
    HOLDER_ADDR,
    RECIPIENT,
    SYSTEM,
    case_in,
    clear_check,
    found_check,
)
from tracemark.cases.clock import ManualClock
from tracemark.cases.deadlines import DeadlinePolicy, DueTransition
from tracemark.cases.letters import Letter, LetterKind
from tracemark.cases.scheduler import CaseNotFoundError, ConcurrencyError, DeadlineScheduler
from tracemark.cases.workflow import Case, CaseState, record_answer, record_licence_check, resume, transition
from tracemark.store import Database
from tracemark.store.case_models import CaseRecord
from tracemark.store.case_repository import SqlActionLedger, SqlCaseRepository, SqlLetterStore

pytestmark = pytest.mark.integration

DAY = timedelta(days=1)
CASE_TABLES = {"cases", "case_events", "case_actions", "case_letters"}
POLICY = DeadlinePolicy(reminder_after=14 * DAY, damages_after=10 * DAY, lawyer_after=7 * DAY, court_after=21 * DAY)


def test_migration_goes_up_and_down_and_leaves_the_sightings(any_database: Database) -> None:
    assert set(any_database.table_names()) >= CASE_TABLES
    any_database.downgrade("0003_sightings")
    tables = set(any_database.table_names())
    assert not CASE_TABLES & tables
    assert {"sightings", "sites", "certificates"} <= tables
    any_database.migrate()
    assert set(any_database.table_names()) >= CASE_TABLES


def test_the_migrations_have_a_single_head() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from tracemark.store.database import MIGRATIONS_DIR

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(config)
    files = {p.stem for p in (MIGRATIONS_DIR / "versions").glob("0*.py")}
    heads = script.get_heads()
    assert len(heads) == 1 and heads[0] == max(files)  # the newest file is the one head
    assert {r.revision for r in script.walk_revisions()} == files  # and every file is on its one line
    assert script.get_revision("0004_cases").down_revision == "0003_sightings"


def test_a_case_round_trips_with_its_history_and_checks(any_database: Database) -> None:
    repo = SqlCaseRepository(any_database)
    case = case_in(CaseState.APPROVED)
    repo.save(case, 0)
    stored = repo.get(case.case_id)
    assert stored == _as_stored(case)  # every event, actor, time (timezone-aware) and licence check
    assert stored.latest_check is not None and stored.latest_check.checked_at.tzinfo is not None
    offer = transition(stored, CaseState.OFFER, actor=SYSTEM, at=stored.last_event.at + DAY, reason="approved")
    repo.save(offer, stored.version)
    assert repo.get(case.case_id) == _as_stored(offer)
    # a clear check after approval bumps the version without an event
    rechecked = record_licence_check(offer, clear_check(offer, offer.last_event.at + DAY), actor=SYSTEM,
                                     at=offer.last_event.at + DAY)
    repo.save(rechecked, offer.version)
    assert repo.get(case.case_id) == _as_stored(rechecked) and len(rechecked.licence_checks) == 2


def test_saves_are_refused_on_a_stale_version_or_a_duplicate(any_database: Database) -> None:
    repo = SqlCaseRepository(any_database)
    case = case_in(CaseState.OFFER)
    repo.save(case, 0)
    with pytest.raises(ConcurrencyError):
        repo.save(case, 0)
    moved = transition(case, CaseState.REMINDER, actor=SYSTEM, at=case.last_event.at, reason="deadline")
    repo.save(moved, case.version)
    with pytest.raises(ConcurrencyError, match=f"at version {moved.version}"):
        repo.save(moved, case.version)  # a second writer that read the old version
    assert repo.get(case.case_id) == _as_stored(moved)
    with pytest.raises(CaseNotFoundError):
        repo.get("no-such-case")
    assert repo.find("no-such-case") is None
    with pytest.raises(ConcurrencyError):
        repo.save(case_in(CaseState.OFFER, "never-saved"), 3)
    with pytest.raises(ValueError, match="cannot be stored"):  # a sighting that does not exist
        repo.save(case_in(CaseState.OFFER, "orphan"), 0, sighting_id=424242)
    assert repo.find("orphan") is None


def test_racing_writers_of_one_version_store_one_change(any_database: Database) -> None:
    repo = SqlCaseRepository(any_database)
    case = case_in(CaseState.IN_REVIEW)
    repo.save(case, 0)
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def write(i: int) -> None:
        changed = transition(case, CaseState.APPROVED, actor=CASEWORKER, at=case.last_event.at, reason=f"w{i}")
        barrier.wait()
        try:
            repo.save(changed, case.version)
            outcomes.append("saved")
        except ConcurrencyError:
            outcomes.append("refused")

    threads = [threading.Thread(target=write, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused"] * 5 + ["saved"]
    stored = repo.get(case.case_id)
    assert stored.version == case.version + 1 and len(stored.events) == len(case.events) + 1


def test_queries_by_holder_state_and_openness(any_database: Database) -> None:
    repo = SqlCaseRepository(any_database)
    submitted = case_in(CaseState.CLAIM_SUBMITTED, "c-submitted")
    offer = case_in(CaseState.OFFER, "c-offer")
    ended = transition(case_in(CaseState.OFFER, "c-ended"), CaseState.WITHDRAWN, actor=CASEWORKER,
                       at=offer.last_event.at, reason="withdrawn")
    for c in (submitted, offer, ended):
        repo.save(c, 0)
    assert {c.case_id for c in repo.open_cases()} == {"c-submitted", "c-offer"}
    assert [c.case_id for c in repo.in_states([CaseState.CLAIM_SUBMITTED, CaseState.IN_REVIEW])] == ["c-submitted"]
    assert {c.case_id for c in repo.for_holder(HOLDER_ADDR.upper().replace("0X", "0x"))} == {
        "c-submitted", "c-offer", "c-ended"}
    assert repo.for_holder("0x" + "9" * 40) == []


def test_a_key_is_claimed_by_one_of_many_racing_workers(any_database: Database) -> None:
    ledger = SqlActionLedger(any_database)
    now = case_in(CaseState.OFFER).last_event.at
    winners: list[str] = []
    barrier = threading.Barrier(8)

    def claim(worker: str) -> None:
        barrier.wait()
        if ledger.claim("case-1/offer", worker, now, timedelta(minutes=5)):
            winners.append(worker)

    threads = [threading.Thread(target=claim, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


def test_leases_release_and_completion(any_database: Database) -> None:
    ledger = SqlActionLedger(any_database)
    now = case_in(CaseState.OFFER).last_event.at
    lease = timedelta(minutes=5)
    assert ledger.claim("k/offer", "a", now, lease)
    assert ledger.claim("k/offer", "a", now, lease)  # its own claim again
    assert not ledger.claim("k/offer", "b", now + timedelta(minutes=4), lease)  # a's lease still runs
    assert ledger.claim("k/offer", "b", now + timedelta(minutes=6), lease)  # a died: b takes over
    ledger.release("k/offer", "a")  # a no longer holds it: nothing happens
    assert not ledger.claim("k/offer", "a", now + timedelta(minutes=7), lease)
    ledger.release("k/offer", "b")
    assert ledger.claim("k/offer", "a", now + timedelta(minutes=7), lease)  # released: free at once
    assert not ledger.is_done("k/offer")
    ledger.complete("k/offer", "a", now + timedelta(minutes=8))
    assert ledger.is_done("k/offer") and ledger.done_keys() == ["k/offer"]
    assert not ledger.claim("k/offer", "a", now + timedelta(days=400), lease)  # done for good
    ledger.release("k/offer", "a")
    assert ledger.is_done("k/offer")


def _letter(case: Case, key: str, kind: LetterKind = LetterKind.OFFER) -> Letter:
    return Letter(key, case.case_id, kind, "de", "info@shop.example.de", "Betreff", "Text\n", f"<{key}@t.invalid>",
                  case.last_event.at)


def test_letters_are_kept_once_with_their_case(any_database: Database) -> None:
    repo, letters = SqlCaseRepository(any_database), SqlLetterStore(any_database)
    case = case_in(CaseState.OFFER)
    repo.save(case, 0)
    letters.add(_letter(case, "case-1/offer"))
    with pytest.raises(ValueError, match="case-1/offer"):
        letters.add(_letter(case, "case-1/offer"))
    with pytest.raises(ValueError):
        letters.add(_letter(case_in(CaseState.OFFER, "unknown-case"), "unknown-case/offer"))
    assert letters.get("case-1/offer") == _letter(case, "case-1/offer")
    sent_at = case.last_event.at + timedelta(seconds=3)
    letters.mark_sent("case-1/offer", sent_at)
    kept = letters.get("case-1/offer")
    assert kept is not None and kept.sent_at == sent_at
    with pytest.raises(KeyError):
        letters.mark_sent("nope/offer", sent_at)
    letters.add(_letter(case, "case-1/reminder", LetterKind.REMINDER))
    assert [x.key for x in letters.for_case("case-1")] == ["case-1/offer", "case-1/reminder"]
    assert letters.get("nope") is None and letters.for_case("nope") == []


def _as_stored(case: Case) -> Case:
    return replace(case, holder=case.holder.lower())  # addresses are stored lowercase


class Effects:
    def __init__(self, crash_on: str | None = None) -> None:
        self.calls: list[str] = []
        self.crash_on = crash_on

    def __call__(self, case: Case, due: DueTransition, key: str) -> None:
        self.calls.append(key)
        if key == self.crash_on:
            self.crash_on = None
            raise RuntimeError("killed between the letter and the save")


def test_the_scheduler_escalates_once_over_the_sql_ports_across_restarts(any_database: Database) -> None:
    case = case_in(CaseState.APPROVED)
    SqlCaseRepository(any_database).save(case, 0)
    clock = ManualClock(case.last_event.at)
    effects = Effects(crash_on="case-1/damages")

    def restarted() -> DeadlineScheduler:  # new ports each time: only the database carries state
        return DeadlineScheduler(SqlCaseRepository(any_database), SqlActionLedger(any_database), clock, POLICY,
                                 effect=effects)

    assert [d.to_state for d in restarted().run_once().applied] == [CaseState.OFFER]
    for stage, wait in ((CaseState.REMINDER, 14), (CaseState.DAMAGES, 10), (CaseState.LAWYER_WARNING, 7),
                        (CaseState.COURT, 21)):
        clock.advance(wait * DAY)
        report = restarted().run_once()
        if stage is CaseState.DAMAGES:  # crashed after the letter, before the save: repeated after a restart
            assert report.failed and not report.applied
            report = restarted().run_once()
        assert [d.to_state for d in report.applied] == [stage]
        assert restarted().run_once().applied == []
    stored = SqlCaseRepository(any_database).get("case-1")
    assert stored.state is CaseState.COURT
    assert [e.to_state for e in stored.events[-5:]] == [CaseState.OFFER, CaseState.REMINDER, CaseState.DAMAGES,
                                                         CaseState.LAWYER_WARNING, CaseState.COURT]
    assert effects.calls.count("case-1/damages") == 2 and len(effects.calls) == 6
    assert SqlActionLedger(any_database).done_keys() == sorted(
        f"case-1/{s}" for s in ("offer", "reminder", "damages", "lawyer_warning", "court"))


def test_a_licence_found_by_the_gate_ends_the_case_in_the_database(any_database: Database) -> None:
    case = case_in(CaseState.APPROVED)
    SqlCaseRepository(any_database).save(case, 0)
    clock = ManualClock(case.last_event.at)
    effects = Effects()
    sched = DeadlineScheduler(SqlCaseRepository(any_database), SqlActionLedger(any_database), clock, POLICY,
                              effect=effects, gate=lambda c, now: found_check(c, now))
    report = sched.run_once()
    assert report.ended_by_licence == ["case-1"] and effects.calls == []
    stored = SqlCaseRepository(any_database).get("case-1")
    assert stored.state is CaseState.LICENSED and not stored.is_open
    assert SqlCaseRepository(any_database).open_cases() == []


def test_one_case_per_sighting_and_holder(any_database: Database) -> None:
    from tracemark.store.sighting_repository import record_sighting, save_site

    at = case_in(CaseState.FINDING).last_event.at
    with any_database.write() as session:
        site = save_site(session, "shop.example.de", checked_at=at, country_code="DE")
        sighting = record_sighting(session, site=site, certificate_id=f"{7:064x}", page_url="https://shop.example.de/p",
                                   image_url="https://shop.example.de/i.jpg", score=0.9, match_report={}, seen_at=at)
        sighting_id = sighting.id
    repo = SqlCaseRepository(any_database)
    repo.save(case_in(CaseState.FINDING, "first"), 0, sighting_id=sighting_id)
    with pytest.raises(ValueError, match="cannot be stored"):
        repo.save(case_in(CaseState.FINDING, "second"), 0, sighting_id=sighting_id)
    found = repo.for_sighting(sighting_id, HOLDER_ADDR)
    assert found is not None and found.case_id == "first"
    assert repo.for_sighting(sighting_id, "0x" + "9" * 40) is None


def _variety(base: datetime) -> list[Case]:
    """Cases in every stage with a deadline, at several ages, plus some on hold, ended or without a deadline."""
    cases = []
    for n, state in enumerate([CaseState.APPROVED, CaseState.OFFER, CaseState.REMINDER, CaseState.DAMAGES,
                               CaseState.LAWYER_WARNING, CaseState.COURT, CaseState.CLAIM_SUBMITTED] * 3):
        cases.append(case_in(state, f"c-{n:02d}", at=base - n * 3 * DAY))
    on_hold = case_in(CaseState.OFFER, "c-held", at=base - 60 * DAY)
    cases.append(record_answer(on_hold, actor=RECIPIENT, at=on_hold.last_event.at, reason="we hold a licence"))
    held = case_in(CaseState.OFFER, "c-resumed", at=base - 60 * DAY)
    held = record_answer(held, actor=RECIPIENT, at=held.last_event.at, reason="a question")
    cases.append(resume(held, actor=CASEWORKER, at=base - 2 * DAY, reason="answered"))  # its clock restarted
    cases.append(transition(case_in(CaseState.OFFER, "c-ended", at=base - 60 * DAY), CaseState.WITHDRAWN,
                            actor=HOLDER, at=base - 50 * DAY, reason="settled privately"))
    return cases


def test_due_cases_come_from_the_index_page_by_page(any_database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tracemark.store.case_repository.DUE_PAGE", 2)
    repo = SqlCaseRepository(any_database)
    base = datetime(2026, 6, 1, tzinfo=UTC)
    cases = _variety(base)
    for case in cases:
        repo.save(case, 0)
    for now in (base, base + 5 * DAY, base + 20 * DAY, base + 90 * DAY):
        expected = sorted(c.case_id for c in cases
                          if (deadline := POLICY.deadline(c)) is not None and deadline <= now)
        got = [c.case_id for c in repo.due_cases(now, POLICY)]
        assert sorted(got) == expected and len(got) == len(set(got)), now
    assert "c-held" not in got and "c-ended" not in got and "c-resumed" in got
    # in deadline order within each state
    offers = [c for c in repo.due_cases(base + 90 * DAY, POLICY) if c.state is CaseState.OFFER]
    assert [c.stage_started_at for c in offers] == sorted(c.stage_started_at for c in offers)


def test_a_moved_case_leaves_the_due_query(any_database: Database) -> None:
    repo = SqlCaseRepository(any_database)
    offer = case_in(CaseState.OFFER)
    repo.save(offer, 0)
    later = offer.last_event.at + 15 * DAY
    assert [c.case_id for c in repo.due_cases(later, POLICY)] == [offer.case_id]
    reminder = transition(offer, CaseState.REMINDER, actor=SYSTEM, at=later, reason="deadline")
    repo.save(reminder, offer.version)
    assert list(repo.due_cases(later, POLICY)) == []
    assert [c.case_id for c in repo.due_cases(later + 10 * DAY, POLICY)] == [offer.case_id]


def test_the_stage_start_of_stored_cases_is_filled_in_by_the_migration(any_database: Database) -> None:
    repo = SqlCaseRepository(any_database)
    base = datetime(2026, 6, 1, tzinfo=UTC)
    cases = _variety(base)
    for case in cases:
        repo.save(case, 0)
    any_database.downgrade("0006_sighting_licence_data")
    any_database.migrate()
    with any_database.read() as session:
        stored = dict(session.execute(select(CaseRecord.id, CaseRecord.stage_started_at)).all())
    assert stored == {c.case_id: c.stage_started_at for c in cases}
    assert sorted(c.case_id for c in repo.due_cases(base + 90 * DAY, POLICY)) == sorted(
        c.case_id for c in cases if (d := POLICY.deadline(c)) is not None and d <= base + 90 * DAY)
