"""The case state machine: allowed and refused transitions, guards, history and both parties' views."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tracemark.cases.workflow import (
    ENDS,
    ESCALATION,
    TRANSITIONS,
    Actor,
    CaseState,
    ClaimRefusedError,
    EventKind,
    Role,
    Standing,
    TransitionError,
    holder_history,
    recipient_history,
    record_answer,
    record_licence_check,
    resume,
    submit_claim,
    transition,
)

from .support import (
    CASEWORKER,
    HOLDER,
    HOLDER_ADDR,
    RECIPIENT,
    SYSTEM,
    T0,
    case_in,
    clear_check,
    found_check,
    new_case,
)

S = CaseState
LATER = T0 + timedelta(hours=1)


@pytest.mark.parametrize("state", [S.FINDING, S.ILLEGAL, S.CHECKED, S.CLAIM_SUBMITTED, S.IN_REVIEW, S.APPROVED,
                                   S.OFFER, S.REMINDER, S.DAMAGES, S.LAWYER_WARNING, S.COURT])
def test_every_stage_is_reachable_and_every_event_says_who_when_why(state: CaseState) -> None:
    case = case_in(state)
    assert case.state is state
    assert [e.seq for e in case.events] == list(range(1, len(case.events) + 1))
    assert all(e.reason and e.actor.ident and e.at.tzinfo for e in case.events)
    assert case.version == len(case.events)


def test_finding_review_by_holder() -> None:
    case = new_case()
    assert transition(case, S.LEGAL, actor=HOLDER, at=LATER, reason="my client").state is S.LEGAL
    assert transition(case, S.WHITELISTED, actor=HOLDER, at=LATER, reason="partner").state is S.WHITELISTED
    with pytest.raises(TransitionError, match="a caseworker may not"):
        transition(case, S.ILLEGAL, actor=CASEWORKER, at=LATER, reason="x")
    stranger = Actor(Role.HOLDER, "0x00000000000000000000000000000000000000B2")
    with pytest.raises(TransitionError, match="only the case's holder"):
        transition(case, S.ILLEGAL, actor=stranger, at=LATER, reason="x")


@pytest.mark.parametrize(("state", "target", "actor"), [
    (S.FINDING, S.OFFER, SYSTEM),  # skips the whole review
    (S.OFFER, S.DAMAGES, SYSTEM),  # skips the reminder
    (S.REMINDER, S.OFFER, SYSTEM),  # backwards
    (S.DAMAGES, S.REMINDER, SYSTEM),  # no post-licence again once damages are claimed
    (S.IN_REVIEW, S.APPROVED, HOLDER),  # a holder approves its own claim
    (S.CLAIM_SUBMITTED, S.APPROVED, CASEWORKER),  # approval without review
    (S.OFFER, S.REMINDER, RECIPIENT),
    (S.OFFER, S.REJECTED, HOLDER),
])
def test_refused_transitions(state: CaseState, target: CaseState, actor: Actor) -> None:
    case = case_in(state)
    with pytest.raises(TransitionError) as err:
        transition(case, target, actor=actor, at=LATER, reason="try")
    assert err.value.current is state and err.value.target is target
    assert state.value in str(err.value) and target.value in str(err.value)


@pytest.mark.parametrize("end", [S.LICENCE_SHOWN, S.SETTLED, S.WITHDRAWN, S.REJECTED])
@pytest.mark.parametrize("stage", list(ESCALATION))
def test_a_case_can_end_at_any_stage(stage: CaseState, end: CaseState) -> None:
    actor = HOLDER if end is S.WITHDRAWN else CASEWORKER
    ended = transition(case_in(stage), end, actor=actor, at=LATER, reason="closed")
    assert not ended.is_open and ended.state is end
    with pytest.raises(TransitionError, match=f"ended as {end.value}"):
        transition(ended, S.COURT, actor=SYSTEM, at=LATER, reason="again")


def test_every_end_is_final() -> None:
    assert not any(src in ENDS for src, _ in TRANSITIONS)


def test_reason_time_and_guarded_targets() -> None:
    case = new_case()
    with pytest.raises(ValueError, match="reason"):
        transition(case, S.ILLEGAL, actor=HOLDER, at=LATER, reason="  ")
    with pytest.raises(TransitionError, match="time runs backwards"):
        transition(case, S.ILLEGAL, actor=HOLDER, at=T0 - timedelta(seconds=1), reason="x")
    illegal = transition(case, S.ILLEGAL, actor=HOLDER, at=LATER, reason="x")
    with pytest.raises(TransitionError, match="record_licence_check"):
        transition(illegal, S.CHECKED, actor=SYSTEM, at=LATER, reason="x")


def test_post_licence_is_offered_only_before_damages() -> None:
    assert [case_in(s).offers_post_licence for s in ESCALATION] == [True, True, False, False, False]


def test_a_found_licence_ends_the_case_before_the_claim() -> None:
    illegal = case_in(S.ILLEGAL)
    licensed = record_licence_check(illegal, found_check(illegal, LATER), actor=SYSTEM, at=LATER)
    assert licensed.state is S.LICENSED and not licensed.is_open
    assert licensed.latest_check is not None and licensed.latest_check.licence_found
    assert "licensed: on-chain web licence" in licensed.last_event.reason
    with pytest.raises(TransitionError):
        submit_claim(licensed, actor=HOLDER, at=LATER, standing=Standing(HOLDER_ADDR, False), reason="claim")


def test_a_licence_found_after_the_first_letter_ends_as_licence_shown() -> None:
    offer = case_in(S.OFFER)
    assert record_licence_check(offer, found_check(offer, LATER), actor=SYSTEM, at=LATER).state is S.LICENCE_SHOWN
    approved = case_in(S.APPROVED)
    assert record_licence_check(approved, found_check(approved, LATER), actor=SYSTEM, at=LATER).state is S.LICENSED
    # a clear check after approval is recorded, the state stays
    again = record_licence_check(offer, clear_check(offer, LATER), actor=SYSTEM, at=LATER)
    assert again.state is S.OFFER and len(again.licence_checks) == 2 and again.events == offer.events


def test_a_check_for_another_certificate_is_refused() -> None:
    illegal = case_in(S.ILLEGAL)
    other = clear_check(new_case("other"), LATER)
    object.__setattr__(other, "certificate_id", 8)
    with pytest.raises(ValueError, match="certificate 8"):
        record_licence_check(illegal, other, actor=SYSTEM, at=LATER)
    with pytest.raises(TransitionError, match="no licence check"):
        record_licence_check(new_case(), clear_check(new_case(), LATER), actor=SYSTEM, at=LATER)


def test_claim_guards_name_every_obstacle() -> None:
    checked = case_in(S.CHECKED)
    at = checked.last_event.at + timedelta(minutes=5)
    with pytest.raises(ClaimRefusedError) as err:
        submit_claim(checked, actor=HOLDER, at=at, reason="claim",
                     standing=Standing("0x00000000000000000000000000000000000000B2", True))
    assert len(err.value.reasons) == 2
    assert "disputed" in err.value.reasons[0] and "does not hold" in err.value.reasons[1]
    stale = checked.last_event.at + timedelta(days=2)
    with pytest.raises(ClaimRefusedError, match="older than"):
        submit_claim(checked, actor=HOLDER, at=stale, standing=Standing(HOLDER_ADDR, False), reason="claim")
    with pytest.raises(TransitionError, match="may not"):
        submit_claim(checked, actor=CASEWORKER, at=at, standing=Standing(HOLDER_ADDR, False), reason="claim")
    ok = submit_claim(checked, actor=HOLDER, at=at, standing=Standing(HOLDER_ADDR.lower(), False), reason="claim")
    assert ok.state is S.CLAIM_SUBMITTED


def test_claim_without_a_clear_check_is_refused() -> None:
    illegal = case_in(S.ILLEGAL)
    with pytest.raises(TransitionError, match="no such transition"):
        submit_claim(illegal, actor=HOLDER, at=LATER, standing=Standing(HOLDER_ADDR, False), reason="claim")


def test_review_rejection_needs_a_reason_and_ends_the_case() -> None:
    review = case_in(S.IN_REVIEW)
    with pytest.raises(ValueError):
        transition(review, S.REJECTED, actor=CASEWORKER, at=LATER, reason="")
    rejected = transition(review, S.REJECTED, actor=CASEWORKER, at=LATER, reason="the copy is a different photograph")
    assert rejected.state is S.REJECTED and rejected.last_event.reason == "the copy is a different photograph"


def test_answer_puts_the_case_on_hold_and_resumption_restarts_the_stage() -> None:
    offer = case_in(S.OFFER)
    with pytest.raises(TransitionError, match="no letter"):
        record_answer(case_in(S.APPROVED), actor=RECIPIENT, at=LATER, reason="?")
    with pytest.raises(TransitionError, match="only the recipient"):
        record_answer(offer, actor=HOLDER, at=LATER, reason="?")
    held = record_answer(offer, actor=RECIPIENT, at=LATER, reason="we bought a licence from an agency")
    assert held.on_hold and held.state is S.OFFER and held.last_event.kind is EventKind.ANSWER
    with pytest.raises(TransitionError, match="only a caseworker"):
        resume(held, actor=HOLDER, at=LATER, reason="go on")
    with pytest.raises(TransitionError, match="not on hold"):
        resume(offer, actor=CASEWORKER, at=LATER, reason="go on")
    resumed = resume(held, actor=CASEWORKER, at=LATER + timedelta(days=3), reason="the agency has no licence")
    assert not resumed.on_hold and resumed.stage_started_at == LATER + timedelta(days=3)


def test_both_parties_see_the_history() -> None:
    case = record_answer(case_in(S.REMINDER), actor=RECIPIENT, at=LATER, reason="please explain the amount")
    holder = holder_history(case)
    recipient = recipient_history(case)
    assert len(holder) == len(case.events)
    assert [h.state for h in recipient] == [S.CHECKED, S.OFFER, S.REMINDER, S.REMINDER]
    assert recipient[-1].why == "please explain the amount" and recipient[-1].who == "recipient (recipient-link-1)"
    # the holder's review and the caseworker's review are not shown to the recipient; caseworkers are a role
    assert S.ILLEGAL not in {h.state for h in recipient}
    assert {h.who for h in holder if h.state is S.IN_REVIEW} == {"caseworker"}
    assert all("0x" not in h.who for h in recipient)
    assert recipient_history(case_in(S.APPROVED)) == ()


def test_a_caseworker_never_decides_its_own_case() -> None:
    own = Actor(Role.CASEWORKER, HOLDER_ADDR.lower())
    with pytest.raises(TransitionError, match="of its own"):
        transition(case_in(S.CLAIM_SUBMITTED), S.IN_REVIEW, actor=own, at=LATER, reason="looks fine")
    with pytest.raises(TransitionError, match="of its own"):
        transition(case_in(S.IN_REVIEW), S.APPROVED, actor=own, at=LATER, reason="looks fine")
