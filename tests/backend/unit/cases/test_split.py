"""The fee split: 70/30, 50/50 for external handlers abroad, exact integers summing to the amount."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tracemark.cases.split import BPS, Handler, SplitConfigError, SplitPolicy, split

UNIT = 10**18


def test_standard_split_is_70_30() -> None:
    s = split(100 * UNIT, SplitPolicy().holder_share_bps())
    assert (s.holder, s.platform) == (70 * UNIT, 30 * UNIT)
    assert "70 % / 30 %" in s.explain()


@pytest.mark.parametrize(("handler", "country", "bps"), [
    (Handler.PLATFORM, None, 7000),
    (Handler.LAWYER, "DE", 7000),
    (Handler.COLLECTION_AGENCY, "de", 7000),
    (Handler.LAWYER, "FR", 5000),
    (Handler.COLLECTION_AGENCY, "US", 5000),
])
def test_external_handlers_abroad_split_50_50(handler: Handler, country: str | None, bps: int) -> None:
    assert SplitPolicy().holder_share_bps(handler, country) == bps


def test_external_handler_needs_a_country() -> None:
    with pytest.raises(ValueError, match="country"):
        SplitPolicy().holder_share_bps(Handler.LAWYER)


def test_rounding_remainder_goes_to_the_holder() -> None:
    s = split(1, 7000)
    assert (s.holder, s.platform) == (1, 0)
    s = split(7, 7000)  # platform 2.1 -> 2
    assert (s.holder, s.platform) == (5, 2)


@pytest.mark.parametrize("bad", [-1, 10_001])
def test_bad_shares_are_refused(bad: int) -> None:
    with pytest.raises(SplitConfigError):
        SplitPolicy(holder_bps=bad)
    with pytest.raises(SplitConfigError):
        SplitPolicy(external_abroad_holder_bps=bad)
    with pytest.raises(ValueError):
        split(100, bad)


@pytest.mark.parametrize("amount", [-1, 1.5, True, "100"])
def test_bad_amounts_are_refused(amount: object) -> None:
    with pytest.raises(ValueError, match="non-negative integer"):
        split(amount, 7000)  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=10**30), st.integers(min_value=0, max_value=BPS))
def test_parts_sum_to_the_amount_and_match_the_contract(amount: int, bps: int) -> None:
    s = split(amount, bps)
    assert s.holder + s.platform == amount
    assert s.platform == amount * (BPS - bps) // BPS  # LicenseMarket.settle's rounding
    assert s.holder >= amount * bps // BPS and s.platform >= 0
