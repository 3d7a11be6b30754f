"""The fee split of a settlement between the right holder and the platform.

Holder 70 %, platform 30 %; 50/50 when the case has gone to a lawyer or a collection agency outside the home
country (Germany). The shares are configuration (basis points). Arithmetic is on integers in the smallest CPY
unit: the platform's share is rounded down and the holder gets the remainder, so the parts always sum to the
amount exactly and any rounding favours the holder. This is the rounding of `LicenseMarket` on chain, so the quote
the platform signs (holder share in basis points) and the payouts the contract makes agree to the last unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

BPS = 10_000


class Handler(StrEnum):
    """Who pursues the case."""

    PLATFORM = "platform"
    LAWYER = "lawyer"
    COLLECTION_AGENCY = "collection_agency"


class SplitConfigError(ValueError):
    """Shares outside 0..10,000 basis points."""


@dataclass(frozen=True)
class SplitPolicy:
    """The holder's share in basis points, normally and when an external handler abroad takes the case."""

    holder_bps: int = 7_000
    external_abroad_holder_bps: int = 5_000
    home_country: str = "DE"

    def __post_init__(self) -> None:
        for name in ("holder_bps", "external_abroad_holder_bps"):
            value = getattr(self, name)
            if not 0 <= value <= BPS:
                raise SplitConfigError(f"{name} must lie between 0 and {BPS} basis points, not {value}")

    def holder_share_bps(self, handler: Handler = Handler.PLATFORM, handler_country: str | None = None) -> int:
        """The holder's share for a case pursued by `handler` in `handler_country`.

        Raises:
            ValueError: an external handler without its country.
        """
        if handler is Handler.PLATFORM:
            return self.holder_bps
        if not handler_country:
            raise ValueError("an external handler needs its country")
        if handler_country.upper() != self.home_country.upper():
            return self.external_abroad_holder_bps
        return self.holder_bps


@dataclass(frozen=True)
class Split:
    """An amount divided: `holder + platform == amount`."""

    amount: int
    holder_bps: int
    holder: int
    platform: int

    def explain(self) -> str:
        """The split in words, as shown to the holder before it submits a claim."""
        pct = f"{self.holder_bps / 100:g} % / {(BPS - self.holder_bps) / 100:g} %"
        return (f"holder {self.holder} + platform {self.platform} = {self.amount} (smallest CPY units; {pct}; "
                "the platform's share is rounded down, the remainder goes to the holder)")


def split(amount: int, holder_bps: int) -> Split:
    """Divides `amount` (an integer in the smallest CPY unit) with the holder receiving `holder_bps` basis points.

    Raises:
        ValueError: a negative amount or a share outside 0..10,000.
    """
    if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
        raise ValueError(f"the amount must be a non-negative integer of the smallest unit, not {amount!r}")
    if not 0 <= holder_bps <= BPS:
        raise ValueError(f"the holder's share must lie between 0 and {BPS} basis points, not {holder_bps}")
    platform = amount * (BPS - holder_bps) // BPS
    return Split(amount, holder_bps, amount - platform, platform)
