"""The case: a finding's way from the holder's review to a letter, a settlement or court, as a state machine.

```
finding --holder--> legal | whitelisted (ends) | illegal
illegal --licence check--> licensed (end: a licence or exemption was found) | checked
checked --holder, with standing--> claim_submitted --caseworker--> in_review --caseworker--> approved | rejected
approved --letter--> offer --deadline--> reminder --deadline--> damages --deadline--> lawyer_warning --deadline--> court
offer .. court --> licence_shown | settled | withdrawn | rejected (ends)
```

A `Case` is immutable: every operation returns a new one with one more event, so a repository can store it with
optimistic concurrency (`version`). Every event records who (`Actor`), when and why; the reason is never empty.
A transition that is not in the table, by a role the table does not name, or with time running backwards raises
`TransitionError`. The licence check and the claim have their own operations (`record_licence_check`,
`submit_claim`), which carry the guards: a claim needs a clear and recent check, a certificate that is not
disputed and a claimant who holds the certificate.

From `damages` on, no post-licence is offered (`offers_post_licence`). A recipient's answer puts the case on
hold: no deadline moves it until a caseworker resumes it, and the deadline of the stage then runs from the resumption.

Messages (`write_message`) change neither the state nor a deadline: a caseworker's message (`message`) is part of the
history both parties see; a holder's note to the caseworker (`note`) stays between holder and platform. Both are
written from the claim on, while the case is open.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from tracemark.cases.licence_check import LicenceCheck


class CaseState(StrEnum):
    """Where a case stands."""

    FINDING = "finding"
    LEGAL = "legal"
    WHITELISTED = "whitelisted"
    ILLEGAL = "illegal"
    LICENSED = "licensed"
    CHECKED = "checked"
    CLAIM_SUBMITTED = "claim_submitted"
    IN_REVIEW = "in_review"
    APPROVED = "approved"
    REJECTED = "rejected"
    OFFER = "offer"
    REMINDER = "reminder"
    DAMAGES = "damages"
    LAWYER_WARNING = "lawyer_warning"
    COURT = "court"
    LICENCE_SHOWN = "licence_shown"
    SETTLED = "settled"
    WITHDRAWN = "withdrawn"


class Role(StrEnum):
    """Who acts on a case."""

    HOLDER = "holder"
    CASEWORKER = "caseworker"
    RECIPIENT = "recipient"
    SYSTEM = "system"


class EventKind(StrEnum):
    """What an event records."""

    OPENED = "opened"
    TRANSITION = "transition"
    ANSWER = "answer"
    RESUMED = "resumed"
    MESSAGE = "message"  # a caseworker's message on the case: holder and recipient see it
    NOTE = "note"  # the holder's note to the caseworker: the recipient does not see it


#: The stages in which the recipient has been written to, in escalation order.
ESCALATION: tuple[CaseState, ...] = (
    CaseState.OFFER, CaseState.REMINDER, CaseState.DAMAGES, CaseState.LAWYER_WARNING, CaseState.COURT,
)
ENDS: frozenset[CaseState] = frozenset({
    CaseState.LEGAL, CaseState.WHITELISTED, CaseState.LICENSED, CaseState.REJECTED, CaseState.LICENCE_SHOWN,
    CaseState.SETTLED, CaseState.WITHDRAWN,
})
#: Stages whose letters offer a post-licence; from damages on only the damages can be settled.
POST_LICENCE_STAGES: frozenset[CaseState] = frozenset({CaseState.OFFER, CaseState.REMINDER})

_H, _C, _R, _S = Role.HOLDER, Role.CASEWORKER, Role.RECIPIENT, Role.SYSTEM


def _table() -> dict[tuple[CaseState, CaseState], frozenset[Role]]:
    s = CaseState
    t: dict[tuple[CaseState, CaseState], frozenset[Role]] = {
        (s.FINDING, s.LEGAL): frozenset({_H}),
        (s.FINDING, s.WHITELISTED): frozenset({_H}),
        (s.FINDING, s.ILLEGAL): frozenset({_H}),
        (s.ILLEGAL, s.LEGAL): frozenset({_H}),
        (s.ILLEGAL, s.WHITELISTED): frozenset({_H}),
        (s.ILLEGAL, s.LICENSED): frozenset({_S, _C}),
        (s.ILLEGAL, s.CHECKED): frozenset({_S, _C}),
        (s.CHECKED, s.LICENSED): frozenset({_S, _C}),
        (s.CHECKED, s.CHECKED): frozenset({_S, _C}),
        (s.CHECKED, s.CLAIM_SUBMITTED): frozenset({_H}),
        (s.CHECKED, s.WITHDRAWN): frozenset({_H}),
        (s.CLAIM_SUBMITTED, s.IN_REVIEW): frozenset({_C}),
        (s.CLAIM_SUBMITTED, s.WITHDRAWN): frozenset({_H, _C}),
        (s.IN_REVIEW, s.APPROVED): frozenset({_C}),
        (s.IN_REVIEW, s.REJECTED): frozenset({_C}),
        (s.IN_REVIEW, s.WITHDRAWN): frozenset({_H, _C}),
        (s.APPROVED, s.OFFER): frozenset({_S}),
        (s.APPROVED, s.LICENSED): frozenset({_S, _C}),
        (s.APPROVED, s.WITHDRAWN): frozenset({_H, _C}),
        (s.OFFER, s.REMINDER): frozenset({_S}),
        (s.REMINDER, s.DAMAGES): frozenset({_S}),
        (s.DAMAGES, s.LAWYER_WARNING): frozenset({_S, _C}),
        (s.LAWYER_WARNING, s.COURT): frozenset({_S, _C}),
    }
    for stage in ESCALATION:
        t[(stage, s.LICENCE_SHOWN)] = frozenset({_C, _S})
        t[(stage, s.SETTLED)] = frozenset({_C, _S})
        t[(stage, s.WITHDRAWN)] = frozenset({_H, _C})
        t[(stage, s.REJECTED)] = frozenset({_C})
    return t


TRANSITIONS: Mapping[tuple[CaseState, CaseState], frozenset[Role]] = _table()
#: Targets reached only through their own operation, which carries the guards.
_GUARDED = frozenset({CaseState.LICENSED, CaseState.CHECKED, CaseState.CLAIM_SUBMITTED})


class CaseError(Exception):
    """Base of the errors of the case workflow."""


class TransitionError(CaseError):
    """A transition the workflow does not allow; the message says which and why."""

    def __init__(self, case_id: str, current: CaseState, target: CaseState, why: str) -> None:
        super().__init__(f"case {case_id}: {current.value} -> {target.value} refused: {why}")
        self.case_id, self.current, self.target, self.why = case_id, current, target, why


class ClaimRefusedError(CaseError):
    """A claim that may not be opened; `reasons` lists every obstacle."""

    def __init__(self, case_id: str, reasons: list[str]) -> None:
        super().__init__(f"case {case_id}: claim refused: " + "; ".join(reasons))
        self.case_id, self.reasons = case_id, tuple(reasons)


@dataclass(frozen=True)
class Actor:
    """Who acted: a role and an identifier (a wallet address, a caseworker's address, `scheduler`, ...)."""

    role: Role
    ident: str

    def __post_init__(self) -> None:
        if not self.ident.strip():
            raise ValueError("an actor needs an identifier")


SCHEDULER = Actor(Role.SYSTEM, "scheduler")


@dataclass(frozen=True)
class CaseEvent:
    """One entry of a case's history."""

    seq: int
    kind: EventKind
    at: datetime
    actor: Actor
    reason: str
    from_state: CaseState | None
    to_state: CaseState


@dataclass(frozen=True)
class Standing:
    """The certificate's standing on chain at the time of the claim."""

    holder: str
    disputed: bool


@dataclass(frozen=True)
class Case:
    """A finding and everything that followed from it."""

    case_id: str
    certificate_id: int
    holder: str
    host: str
    page_url: str
    image_url: str
    country: str | None
    state: CaseState
    events: tuple[CaseEvent, ...]
    licence_checks: tuple[LicenceCheck, ...] = ()
    on_hold: bool = False
    version: int = 0

    @property
    def is_open(self) -> bool:
        """False once the case has reached an end."""
        return self.state not in ENDS

    @property
    def offers_post_licence(self) -> bool:
        """True while the recipient can still buy a post-licence (before the damages claim)."""
        return self.state in POST_LICENCE_STAGES

    @property
    def last_event(self) -> CaseEvent:
        """The newest event."""
        return self.events[-1]

    @property
    def stage_started_at(self) -> datetime:
        """When the current state began to run: its transition, or a later resumption."""
        for event in reversed(self.events):
            if event.kind in (EventKind.TRANSITION, EventKind.OPENED, EventKind.RESUMED):
                return event.at
        raise AssertionError("a case always has an opening event")

    @property
    def latest_check(self) -> LicenceCheck | None:
        """The most recent licence check."""
        return self.licence_checks[-1] if self.licence_checks else None

    def entered(self, state: CaseState) -> datetime | None:
        """When the case last entered `state`, or None."""
        for event in reversed(self.events):
            if event.to_state is state and event.kind in (EventKind.TRANSITION, EventKind.OPENED):
                return event.at
        return None


def _require_reason(reason: str) -> str:
    text = reason.strip()
    if not text:
        raise ValueError("every event needs a reason")
    return text


def _append(case: Case, kind: EventKind, at: datetime, actor: Actor, reason: str, to: CaseState, **changes: object
            ) -> Case:
    if at.tzinfo is None:
        raise ValueError("event times must be timezone-aware")
    if at < case.last_event.at:
        raise TransitionError(case.case_id, case.state, to,
                              f"time runs backwards ({at.isoformat()} before {case.last_event.at.isoformat()})")
    event = CaseEvent(len(case.events) + 1, kind, at, actor, _require_reason(reason), case.state, to)
    return replace(case, state=to, events=(*case.events, event), version=case.version + 1, **changes)  # type: ignore[arg-type]


def open_case(
    *,
    case_id: str,
    certificate_id: int,
    holder: str,
    host: str,
    page_url: str,
    image_url: str,
    country: str | None,
    at: datetime,
    reason: str = "sighting of a registered image",
) -> Case:
    """A new case in state `finding`, opened by the system from a sighting."""
    if at.tzinfo is None:
        raise ValueError("event times must be timezone-aware")
    event = CaseEvent(1, EventKind.OPENED, at, Actor(Role.SYSTEM, "crawler"), _require_reason(reason), None,
                      CaseState.FINDING)
    return Case(case_id, certificate_id, holder, host.lower(), page_url, image_url,
                country.upper() if country else None, CaseState.FINDING, (event,), version=1)


def check_transition(case: Case, target: CaseState, actor: Actor) -> None:
    """Raises `TransitionError` unless `actor` may move `case` to `target` now."""
    roles = TRANSITIONS.get((case.state, target))
    if roles is None:
        if case.state in ENDS:
            raise TransitionError(case.case_id, case.state, target, f"the case ended as {case.state.value}")
        raise TransitionError(case.case_id, case.state, target, "no such transition")
    if actor.role not in roles:
        allowed = ", ".join(sorted(r.value for r in roles))
        raise TransitionError(case.case_id, case.state, target, f"a {actor.role.value} may not do this ({allowed} may)")
    if actor.role is Role.HOLDER and actor.ident.lower() != case.holder.lower():
        raise TransitionError(case.case_id, case.state, target, "only the case's holder acts as holder")
    if actor.role is Role.CASEWORKER and actor.ident.lower() == case.holder.lower():
        raise TransitionError(case.case_id, case.state, target, "a caseworker never decides a case of its own")


def transition(case: Case, target: CaseState, *, actor: Actor, at: datetime, reason: str) -> Case:
    """Moves `case` to `target`, recording who, when and why.

    Raises:
        TransitionError: the move is not in the table, not allowed to the actor's role, needs its own operation
            (licence check, claim), or `at` lies before the last event.
        ValueError: the reason is empty.
    """
    if target in _GUARDED:
        raise TransitionError(case.case_id, case.state, target,
                              "use record_licence_check or submit_claim, which carry the guards")
    check_transition(case, target, actor)
    return _append(case, EventKind.TRANSITION, at, actor, reason, target, on_hold=False)


def record_licence_check(case: Case, check: LicenceCheck, *, actor: Actor, at: datetime) -> Case:
    """Records a licence check on the case.

    Before the claim, a check that found a licence or exemption ends the case as `licensed` and a clear one moves it
    to `checked`. After approval the check runs again before every letter: a licence found then ends the case as
    `licence_shown` (after the first letter) or `licensed` (before it), and a clear one is recorded without a change
    of state. A blocked check (disputed certificate) is recorded without a change of state: the case cannot go on
    until the dispute is cleared.

    Raises:
        ValueError: the check is for another certificate or host.
        TransitionError: no licence check belongs in the case's state.
    """
    if check.certificate_id != case.certificate_id or check.host != case.host:
        raise ValueError(f"case {case.case_id}: the check is for certificate {check.certificate_id} at {check.host}")
    checkable = {CaseState.ILLEGAL, CaseState.CHECKED, CaseState.APPROVED, *ESCALATION}
    if case.state not in checkable:
        raise TransitionError(case.case_id, case.state, case.state, "no licence check in this state")
    recorded = (*case.licence_checks, check)
    if check.licence_found:
        target = CaseState.LICENCE_SHOWN if case.state in ESCALATION else CaseState.LICENSED
    elif check.allows_claim and case.state in (CaseState.ILLEGAL, CaseState.CHECKED):
        target = CaseState.CHECKED
    else:  # blocked, or clear after approval
        if at.tzinfo is None or at < case.last_event.at:
            raise ValueError("the check's time must be timezone-aware and not before the last event")
        return replace(case, licence_checks=recorded, version=case.version + 1)
    check_transition(case, target, actor)
    return _append(case, EventKind.TRANSITION, at, actor, check.summary(), target, licence_checks=recorded)


def submit_claim(
    case: Case, *, actor: Actor, at: datetime, standing: Standing, reason: str,
    max_check_age: timedelta = timedelta(days=1),
) -> Case:
    """The holder submits a claim for review.

    Raises:
        ClaimRefusedError: the certificate is disputed, the claimant does not hold it, or there is no clear licence
            check from within `max_check_age`; every obstacle is named.
        TransitionError: the case is not in state `checked`, or the actor is not the case's holder.
    """
    check_transition(case, CaseState.CLAIM_SUBMITTED, actor)
    reasons: list[str] = []
    if standing.disputed:
        reasons.append("the certificate is disputed")
    if standing.holder.lower() != actor.ident.lower():
        reasons.append(f"the claimant {actor.ident} does not hold the certificate (holder: {standing.holder})")
    check = case.latest_check
    if check is None or not check.allows_claim:
        reasons.append("no clear licence check")
    elif at - check.checked_at > max_check_age:
        reasons.append(f"the licence check of {check.checked_at.isoformat()} is older than {max_check_age}")
    if reasons:
        raise ClaimRefusedError(case.case_id, reasons)
    return _append(case, EventKind.TRANSITION, at, actor, reason, CaseState.CLAIM_SUBMITTED)


def record_answer(case: Case, *, actor: Actor, at: datetime, reason: str) -> Case:
    """The recipient answered (a statement, a dispute, a message): the case waits for a caseworker."""
    if actor.role is not Role.RECIPIENT:
        raise TransitionError(case.case_id, case.state, case.state, "only the recipient answers")
    if case.state not in ESCALATION:
        raise TransitionError(case.case_id, case.state, case.state, "no letter has been sent yet")
    return _append(case, EventKind.ANSWER, at, actor, reason, case.state, on_hold=True)


def resume(case: Case, *, actor: Actor, at: datetime, reason: str) -> Case:
    """A caseworker resumes a case on hold; the current stage's deadline runs again from now."""
    if actor.role is not Role.CASEWORKER:
        raise TransitionError(case.case_id, case.state, case.state, "only a caseworker resumes a case")
    if actor.ident.lower() == case.holder.lower():
        raise TransitionError(case.case_id, case.state, case.state, "a caseworker never decides a case of its own")
    if not case.on_hold:
        raise TransitionError(case.case_id, case.state, case.state, "the case is not on hold")
    return _append(case, EventKind.RESUMED, at, actor, reason, case.state, on_hold=False)


def write_message(case: Case, *, actor: Actor, at: datetime, text: str) -> Case:
    """A caseworker's message on the case (`message`, shown to both parties) or the holder's note to the caseworker
    (`note`, not shown to the recipient). Neither changes the state, the hold or a deadline.

    Raises:
        TransitionError: the case has ended, no claim has been submitted yet (no caseworker follows the case), the
            actor is neither a caseworker nor the case's holder, or a caseworker writes on a case of its own.
        ValueError: the text is empty.
    """
    if actor.role is Role.CASEWORKER:
        kind = EventKind.MESSAGE
        if actor.ident.lower() == case.holder.lower():
            raise TransitionError(case.case_id, case.state, case.state, "a caseworker never acts on a case of its own")
    elif actor.role is Role.HOLDER:
        kind = EventKind.NOTE
        if actor.ident.lower() != case.holder.lower():
            raise TransitionError(case.case_id, case.state, case.state, "only the case's holder writes as holder")
    else:
        raise TransitionError(case.case_id, case.state, case.state, "only a caseworker or the holder writes here")
    if not case.is_open:
        raise TransitionError(case.case_id, case.state, case.state, f"the case ended as {case.state.value}")
    if case.entered(CaseState.CLAIM_SUBMITTED) is None:
        raise TransitionError(case.case_id, case.state, case.state,
                              "no claim has been submitted: no caseworker follows the case yet")
    return _append(case, kind, at, actor, text, case.state)


@dataclass(frozen=True)
class HistoryEntry:
    """A line of the history as a party sees it."""

    at: datetime
    kind: EventKind
    state: CaseState
    who: str
    why: str


def _who(actor: Actor, viewer: Role) -> str:
    if actor.role is Role.CASEWORKER:
        return "caseworker"  # staff act for the platform, not as persons
    if actor.role is viewer or actor.role is Role.SYSTEM:
        return f"{actor.role.value} ({actor.ident})"
    return actor.role.value


def holder_history(case: Case) -> tuple[HistoryEntry, ...]:
    """Everything that happened, as the holder sees it (caseworkers are named by their role)."""
    return tuple(HistoryEntry(e.at, e.kind, e.to_state, _who(e.actor, Role.HOLDER), e.reason) for e in case.events)


def recipient_history(case: Case) -> tuple[HistoryEntry, ...]:
    """What the recipient sees: the licence check that cleared the way, then everything from the first letter on.
    The holder's review, the caseworker's internal review and the holder's notes stay between holder and platform."""
    letters = (e.seq for e in case.events if e.to_state is CaseState.OFFER and e.kind is EventKind.TRANSITION)
    first_letter = next(letters, None)
    out: list[HistoryEntry] = []
    for e in case.events:
        shown = (first_letter is not None and e.seq >= first_letter) or (
            e.kind is EventKind.TRANSITION and e.to_state is CaseState.CHECKED and first_letter is not None)
        if shown and e.kind is not EventKind.NOTE:
            out.append(HistoryEntry(e.at, e.kind, e.to_state, _who(e.actor, Role.RECIPIENT), e.reason))
    return tuple(out)
