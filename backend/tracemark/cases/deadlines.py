"""Deadlines of the escalation stages and the pure question the scheduler asks: which transitions are due now?

Each stage's deadline runs from when the stage began (its transition, or a caseworker's resumption after an answer):

```
approved --at once--> offer --reminder_after (14..21 days)--> reminder --damages_after--> damages
         --lawyer_after--> lawyer_warning --court_after--> court
```

A case on hold (the recipient answered) or at an end has nothing due. A due transition carries its idempotency key,
`<case id>/<target state>`: a case enters each stage at most once, so the key names the one action a scheduler may
take for it, however often it runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from tracemark.cases.workflow import Case, CaseState

REMINDER_MIN = timedelta(days=14)
REMINDER_MAX = timedelta(days=21)
STAGE_MAX = timedelta(days=365)

#: The next stage the deadline of each stage leads to.
NEXT_STAGE: Mapping[CaseState, CaseState] = {
    CaseState.APPROVED: CaseState.OFFER,
    CaseState.OFFER: CaseState.REMINDER,
    CaseState.REMINDER: CaseState.DAMAGES,
    CaseState.DAMAGES: CaseState.LAWYER_WARNING,
    CaseState.LAWYER_WARNING: CaseState.COURT,
}


class DeadlineConfigError(ValueError):
    """A deadline outside its allowed range."""


@dataclass(frozen=True)
class DeadlinePolicy:
    """How long each stage waits for an answer before the next one.

    Raises:
        DeadlineConfigError: the reminder is not within 14 to 21 days, or another deadline is not within
            one second to a year.
    """

    reminder_after: timedelta = timedelta(days=14)
    damages_after: timedelta = timedelta(days=14)
    lawyer_after: timedelta = timedelta(days=14)
    court_after: timedelta = timedelta(days=30)

    def __post_init__(self) -> None:
        if not REMINDER_MIN <= self.reminder_after <= REMINDER_MAX:
            raise DeadlineConfigError(f"the reminder comes 14 to 21 days after the offer, not {self.reminder_after}")
        for name in ("damages_after", "lawyer_after", "court_after"):
            value: timedelta = getattr(self, name)
            if not timedelta(seconds=1) <= value <= STAGE_MAX:
                raise DeadlineConfigError(f"{name} must lie between one second and a year, not {value}")

    @classmethod
    def from_days(cls, reminder: int, damages: int, lawyer: int, court: int) -> DeadlinePolicy:
        """A policy from whole days (as configured in Settings)."""
        return cls(timedelta(days=reminder), timedelta(days=damages), timedelta(days=lawyer), timedelta(days=court))

    def waits(self) -> dict[CaseState, timedelta]:
        """Every state with a deadline and how long it waits (a stage is due once it began that long ago)."""
        return {
            CaseState.APPROVED: timedelta(0),
            CaseState.OFFER: self.reminder_after,
            CaseState.REMINDER: self.damages_after,
            CaseState.DAMAGES: self.lawyer_after,
            CaseState.LAWYER_WARNING: self.court_after,
        }

    def wait(self, state: CaseState) -> timedelta | None:
        """How long `state` waits before its next stage, or None for a state without a deadline."""
        return self.waits().get(state)

    def deadline(self, case: Case) -> datetime | None:
        """When the case's current stage runs out, or None (no deadline, on hold, or ended)."""
        wait = self.wait(case.state)
        if wait is None or case.on_hold or not case.is_open:
            return None
        return case.stage_started_at + wait


@dataclass(frozen=True)
class DueTransition:
    """A transition whose deadline has passed."""

    case_id: str
    from_state: CaseState
    to_state: CaseState
    due_at: datetime

    @property
    def key(self) -> str:
        """The idempotency key: one action per case and stage."""
        return idempotency_key(self.case_id, self.to_state)


def idempotency_key(case_id: str, stage: CaseState) -> str:
    """The key of the action that moves `case_id` into `stage`."""
    return f"{case_id}/{stage.value}"


def due_transitions(cases: Iterable[Case], now: datetime, policy: DeadlinePolicy) -> list[DueTransition]:
    """The transitions due at `now` (deadline at or before it), oldest deadline first, then by case id.

    Pure: it reads the cases and the time it is given and nothing else.
    """
    due: list[DueTransition] = []
    for case in cases:
        deadline = policy.deadline(case)
        if deadline is not None and deadline <= now:
            due.append(DueTransition(case.case_id, case.state, NEXT_STAGE[case.state], deadline))
    due.sort(key=lambda d: (d.due_at, d.case_id))
    return due
