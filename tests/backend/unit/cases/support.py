"""Factories for case tests: a case walked to any state through the real operations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tracemark.cases.licence_check import CheckOutcome, LicenceCheck, Observation, Source
from tracemark.cases.workflow import (
    Actor,
    Case,
    CaseState,
    Role,
    Standing,
    open_case,
    record_licence_check,
    submit_claim,
    transition,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOLDER_ADDR = "0x00000000000000000000000000000000000000A1"
HOLDER = Actor(Role.HOLDER, HOLDER_ADDR)
CASEWORKER = Actor(Role.CASEWORKER, "0x00000000000000000000000000000000000000C1")
RECIPIENT = Actor(Role.RECIPIENT, "recipient-link-1")
SYSTEM = Actor(Role.SYSTEM, "scheduler")


def clear_check(case: Case, at: datetime) -> LicenceCheck:
    return LicenceCheck(CheckOutcome.CLEAR, (Observation(Source.LIMITATION, CheckOutcome.CLEAR, "within period"),),
                        at, case.certificate_id, case.host)


def found_check(case: Case, at: datetime) -> LicenceCheck:
    obs = Observation(Source.ON_CHAIN, CheckOutcome.LICENSED, "on-chain web licence, licensee 0xabc")
    return LicenceCheck(CheckOutcome.LICENSED, (obs,), at, case.certificate_id, case.host)


def new_case(case_id: str = "case-1", at: datetime = T0, country: str | None = "DE") -> Case:
    return open_case(case_id=case_id, certificate_id=7, holder=HOLDER_ADDR, host="shop.example.de",
                     page_url="https://shop.example.de/p/1", image_url="https://shop.example.de/i/1.jpg",
                     country=country, at=at)


def case_in(state: CaseState, case_id: str = "case-1", at: datetime = T0) -> Case:
    """A case walked to `state` (up to approved; later stages through the scheduler), one minute per step."""
    step = timedelta(minutes=1)
    case = new_case(case_id, at)
    t = at
    path = [CaseState.ILLEGAL, CaseState.CHECKED, CaseState.CLAIM_SUBMITTED, CaseState.IN_REVIEW, CaseState.APPROVED,
            CaseState.OFFER, CaseState.REMINDER, CaseState.DAMAGES, CaseState.LAWYER_WARNING, CaseState.COURT]
    for target in path:
        if case.state is state:
            return case
        t += step
        if target is CaseState.ILLEGAL:
            case = transition(case, target, actor=HOLDER, at=t, reason="no licence known")
        elif target is CaseState.CHECKED:
            case = record_licence_check(case, clear_check(case, t), actor=SYSTEM, at=t)
        elif target is CaseState.CLAIM_SUBMITTED:
            case = submit_claim(case, actor=HOLDER, at=t, standing=Standing(HOLDER_ADDR, False), reason="claim")
        elif target in (CaseState.IN_REVIEW, CaseState.APPROVED):
            case = transition(case, target, actor=CASEWORKER, at=t, reason="match and standing verified")
        else:
            case = transition(case, target, actor=SYSTEM, at=t, reason="deadline")
    assert case.state is state, (case.state, state)
    return case
