"""Messages and notes on a case, and the guards of a caseworker's resumption: a caseworker's message is history both
parties see, a holder's note stays between holder and platform; neither moves the state, the hold or a deadline."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tracemark.cases.deadlines import DeadlinePolicy
from tracemark.cases.workflow import (
    Actor,
    CaseState,
    EventKind,
    Role,
    TransitionError,
    holder_history,
    recipient_history,
    record_answer,
    resume,
    transition,
    write_message,
)

from .support import CASEWORKER, HOLDER, HOLDER_ADDR, RECIPIENT, SYSTEM, T0, case_in

LATER = T0 + timedelta(days=3)


def test_a_caseworker_message_is_history_for_both_parties_and_moves_nothing() -> None:
    case = case_in(CaseState.OFFER)
    policy = DeadlinePolicy()
    written = write_message(case, actor=CASEWORKER, at=LATER, text="  Please send the licence you mention.  ")
    event = written.last_event
    assert (event.kind, event.actor, event.reason) == (EventKind.MESSAGE, CASEWORKER,
                                                       "Please send the licence you mention.")
    assert (event.from_state, event.to_state) == (CaseState.OFFER, CaseState.OFFER)
    assert written.state is CaseState.OFFER and not written.on_hold and written.version == case.version + 1
    assert policy.deadline(written) == policy.deadline(case)  # the reminder is due as before
    assert holder_history(written)[-1].who == "caseworker"
    assert recipient_history(written)[-1].why == "Please send the licence you mention."


def test_a_holder_note_is_not_shown_to_the_recipient() -> None:
    case = case_in(CaseState.OFFER)
    noted = write_message(case, actor=HOLDER, at=LATER, text="The recipient is a reseller of mine, check it.")
    assert noted.last_event.kind is EventKind.NOTE and noted.state is CaseState.OFFER
    assert holder_history(noted)[-1].why == "The recipient is a reseller of mine, check it."
    assert holder_history(noted)[-1].who == f"holder ({HOLDER_ADDR})"
    assert recipient_history(noted) == recipient_history(case)


def test_a_message_keeps_a_case_on_hold() -> None:
    held = record_answer(case_in(CaseState.REMINDER), actor=RECIPIENT, at=LATER, reason="message: I paid already")
    written = write_message(held, actor=CASEWORKER, at=LATER + timedelta(hours=1), text="We are checking it.")
    assert written.on_hold and DeadlinePolicy().deadline(written) is None


@pytest.mark.parametrize("state", [CaseState.CLAIM_SUBMITTED, CaseState.IN_REVIEW, CaseState.APPROVED,
                                   CaseState.COURT])
def test_messages_from_the_claim_on(state: CaseState) -> None:
    case = case_in(state)
    assert write_message(case, actor=HOLDER, at=LATER, text="note").last_event.kind is EventKind.NOTE
    assert write_message(case, actor=CASEWORKER, at=LATER, text="message").last_event.kind is EventKind.MESSAGE


@pytest.mark.parametrize(("state", "why"), [(CaseState.FINDING, "no claim has been submitted"),
                                            (CaseState.CHECKED, "no claim has been submitted")])
def test_no_message_before_the_claim(state: CaseState, why: str) -> None:
    with pytest.raises(TransitionError, match=why):
        write_message(case_in(state), actor=HOLDER, at=LATER, text="hello")


def test_no_message_on_an_ended_case() -> None:
    ended = transition(case_in(CaseState.OFFER), CaseState.WITHDRAWN, actor=HOLDER, at=LATER, reason="settled aside")
    for actor in (HOLDER, CASEWORKER):
        with pytest.raises(TransitionError, match="the case ended as withdrawn"):
            write_message(ended, actor=actor, at=LATER, text="hello")


def test_who_may_write() -> None:
    case = case_in(CaseState.OFFER)
    for actor, why in ((RECIPIENT, "only a caseworker or the holder"), (SYSTEM, "only a caseworker or the holder"),
                       (Actor(Role.HOLDER, "0x00000000000000000000000000000000000000B2"), "only the case's holder"),
                       (Actor(Role.CASEWORKER, HOLDER_ADDR.lower()), "never acts on a case of its own")):
        with pytest.raises(TransitionError, match=why):
            write_message(case, actor=actor, at=LATER, text="hello")
    with pytest.raises(ValueError, match="reason"):
        write_message(case, actor=CASEWORKER, at=LATER, text="   ")
    with pytest.raises(TransitionError, match="time runs backwards"):
        write_message(case, actor=CASEWORKER, at=T0 - timedelta(days=1), text="hello")


def test_a_caseworker_never_resumes_a_case_of_its_own() -> None:
    held = record_answer(case_in(CaseState.OFFER), actor=RECIPIENT, at=LATER, reason="dispute: not my site")
    with pytest.raises(TransitionError, match="of its own"):
        resume(held, actor=Actor(Role.CASEWORKER, HOLDER_ADDR), at=LATER, reason="resumed")
    resumed = resume(held, actor=CASEWORKER, at=LATER + timedelta(days=1), reason="the dispute is unfounded")
    assert not resumed.on_hold and resumed.stage_started_at == LATER + timedelta(days=1)
