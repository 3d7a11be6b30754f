"""Time as a dependency: the workflow never reads the system clock itself, so tests can move time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current time (timezone-aware, UTC)."""

    def now(self) -> datetime:
        """The current time."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that stands still until it is moved: for tests and simulations."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start time")
        self._now = start

    def now(self) -> datetime:
        """The time the clock was last set or moved to."""
        return self._now

    def advance(self, delta: timedelta) -> datetime:
        """Moves the clock forward by `delta` (never backwards) and returns the new time."""
        if delta < timedelta(0):
            raise ValueError("time only moves forward")
        self._now += delta
        return self._now

    def set(self, moment: datetime) -> None:
        """Sets the clock to `moment`, which must not lie before the current time."""
        if moment < self._now:
            raise ValueError("time only moves forward")
        self._now = moment
