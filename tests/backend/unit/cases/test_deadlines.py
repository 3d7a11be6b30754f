"""Deadline policy validation and the pure `due_transitions`."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tracemark.cases.deadlines import DeadlineConfigError, DeadlinePolicy, due_transitions, idempotency_key
from tracemark.cases.workflow import CaseState, record_answer, transition

from .support import CASEWORKER, RECIPIENT, case_in

DAY = timedelta(days=1)


@pytest.mark.parametrize("days", [14, 17, 21])
def test_reminder_between_14_and_21_days(days: int) -> None:
    assert DeadlinePolicy(reminder_after=days * DAY).reminder_after == days * DAY


@pytest.mark.parametrize("after", [13 * DAY, 21 * DAY + timedelta(seconds=1), timedelta(0), -DAY])
def test_reminder_outside_the_range_is_refused(after: timedelta) -> None:
    with pytest.raises(DeadlineConfigError, match="14 to 21 days"):
        DeadlinePolicy(reminder_after=after)


@pytest.mark.parametrize("field", ["damages_after", "lawyer_after", "court_after"])
@pytest.mark.parametrize("value", [timedelta(0), 366 * DAY])
def test_other_deadlines_are_bounded(field: str, value: timedelta) -> None:
    with pytest.raises(DeadlineConfigError, match=field):
        DeadlinePolicy(**{field: value})  # type: ignore[arg-type]


def test_from_days() -> None:
    policy = DeadlinePolicy.from_days(21, 10, 7, 28)
    assert (policy.reminder_after, policy.damages_after, policy.lawyer_after, policy.court_after) == (
        21 * DAY, 10 * DAY, 7 * DAY, 28 * DAY)


def test_due_at_the_deadline_and_not_a_second_before() -> None:
    policy = DeadlinePolicy(reminder_after=15 * DAY)
    offer = case_in(CaseState.OFFER)
    deadline = offer.entered(CaseState.OFFER) + 15 * DAY  # type: ignore[operator]
    assert policy.deadline(offer) == deadline
    assert due_transitions([offer], deadline - timedelta(seconds=1), policy) == []
    (due,) = due_transitions([offer], deadline, policy)
    assert (due.from_state, due.to_state, due.due_at) == (CaseState.OFFER, CaseState.REMINDER, deadline)
    assert due.key == idempotency_key(offer.case_id, CaseState.REMINDER) == "case-1/reminder"


def test_approved_is_due_at_once_and_court_has_no_next_stage() -> None:
    policy = DeadlinePolicy()
    approved = case_in(CaseState.APPROVED)
    (due,) = due_transitions([approved], approved.last_event.at, policy)
    assert due.to_state is CaseState.OFFER
    court = case_in(CaseState.COURT)
    assert due_transitions([court], court.last_event.at + 1000 * DAY, policy) == []


def test_on_hold_ended_and_early_cases_are_not_due() -> None:
    policy = DeadlinePolicy()
    offer = case_in(CaseState.OFFER)
    held = record_answer(offer, actor=RECIPIENT, at=offer.last_event.at, reason="we have a licence")
    settled = transition(offer, CaseState.SETTLED, actor=CASEWORKER, at=offer.last_event.at, reason="paid")
    review = case_in(CaseState.IN_REVIEW)
    far = offer.last_event.at + 400 * DAY
    assert due_transitions([held, settled, review], far, policy) == []


def test_order_oldest_deadline_first() -> None:
    policy = DeadlinePolicy()
    a = case_in(CaseState.OFFER, "b-case")
    b = case_in(CaseState.DAMAGES, "a-case")
    c = case_in(CaseState.OFFER, "a-other")
    due = due_transitions([a, b, c], a.last_event.at + 100 * DAY, policy)
    assert [d.case_id for d in due] == ["a-other", "b-case", "a-case"]
