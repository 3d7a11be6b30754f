"""The compensation matrix: data validation, each rule, the working, and properties (monotonicity, the cap)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tracemark.cases.compensation import (
    DATA_DIR,
    UNIT,
    HolderPrices,
    MatrixError,
    Medium,
    Prominence,
    Usage,
    UseDescription,
    available_versions,
    compute_compensation,
    format_cpy,
    load_matrix,
    parse_matrix,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
MATRIX = load_matrix()
CENT = UNIT // 100


def use(**changes: object) -> UseDescription:
    base = UseDescription(Usage.COMMERCIAL, Medium.WEB, 800, Prominence.STANDARD, T0, T0 + timedelta(days=365),
                          "DE", True)
    return replace(base, **changes)  # type: ignore[arg-type]


def lines(b: object) -> dict[str, int]:
    return {line.code: line.amount for line in b.lines}  # type: ignore[attr-defined]


def test_shipped_matrix_is_versioned() -> None:
    assert available_versions() == ["2026.1"]
    assert MATRIX.version == "2026.1" and len(MATRIX.sha256) == 64
    with pytest.raises(MatrixError, match=r"no compensation matrix version '1999\.1'"):
        load_matrix("1999.1")


def test_table_fee_for_a_plain_use() -> None:
    b = compute_compensation(use(), HolderPrices())
    assert b.total == 250 * UNIT and not b.capped
    assert b.lines[0].code == "base_table" and "commercial use, web" in b.lines[0].why
    assert sum(line.amount for line in b.lines) == b.total
    assert [line.running for line in b.lines][-1] == b.total


@pytest.mark.parametrize(("width", "factor"), [(150, "0.5"), (300, "0.75"), (599, "0.75"), (600, "1"),
                                                (1200, "1.3")])
def test_size_classes(width: int, factor: str) -> None:
    b = compute_compensation(use(display_width=width), HolderPrices())
    (size,) = [line for line in b.lines if line.code == "size"]
    assert size.factor == factor


@pytest.mark.parametrize(("days", "factor"), [(1, "0.4"), (7, "0.4"), (8, "0.6"), (30, "0.6"), (91, "0.75"),
                                              (182, "0.85"), (365, "1"), (366, "1.5"), (730, "1.5"), (731, "2")])
def test_duration_tiers(days: int, factor: str) -> None:
    b = compute_compensation(use(last_seen=T0 + timedelta(days=days)), HolderPrices())
    (line,) = [line for line in b.lines if line.code == "duration"]
    assert line.factor == factor and f"{days} days online" in line.why


def test_started_days_count() -> None:
    assert use(last_seen=T0 + timedelta(hours=1)).days_online == 1
    assert use(last_seen=T0 + timedelta(days=7, seconds=1)).days_online == 8
    assert use(last_seen=T0).days_online == 1


def test_missing_credit_doubles_where_the_country_allows_it() -> None:
    de = compute_compensation(use(credit_given=False), HolderPrices())
    assert lines(de)["surcharge_missing_credit"] == 250 * UNIT and de.total == 500 * UNIT
    fr = compute_compensation(use(credit_given=False, country="FR"), HolderPrices())
    assert "surcharge_missing_credit" not in lines(fr)
    (refused,) = [line for line in fr.lines if line.code == "surcharge_not_allowed"]
    assert refused.amount == 0 and "missing_credit" in refused.why and "FR" in refused.why
    assert fr.total == 225 * UNIT  # 250 x 0.9


def test_aerial_and_models_surcharges_do_not_compound() -> None:
    b = compute_compensation(use(aerial=True, models=True, credit_given=False), HolderPrices())
    found = lines(b)
    assert found["surcharge_aerial"] == found["surcharge_missing_credit"] == 250 * UNIT
    assert found["surcharge_models"] == 75 * UNIT
    assert b.total == 825 * UNIT


def test_unknown_country_uses_the_default() -> None:
    b = compute_compensation(use(country=None), HolderPrices())
    assert "default" in next(line for line in b.lines if line.code == "country").why
    assert b.total == 225 * UNIT


def test_holder_sales_are_the_strongest_evidence() -> None:
    b = compute_compensation(use(), HolderPrices(list_price=10 * UNIT, comparable_sales=(90 * UNIT, 100 * UNIT,
                                                                                         400 * UNIT)))
    assert b.lines[0].code == "base_sales" and b.lines[0].amount == 100 * UNIT and "3 own sales" in b.lines[0].why
    even = compute_compensation(use(), HolderPrices(comparable_sales=(90 * UNIT, 101 * UNIT)))
    assert even.lines[0].amount == 95 * UNIT + 50 * CENT


def test_list_price_as_a_one_year_price() -> None:
    b = compute_compensation(use(), HolderPrices(list_price=60 * UNIT, list_days=30))
    assert b.lines[0].code == "base_list_price" and b.lines[0].amount == 100 * UNIT  # 60 / 0.6
    assert b.total == 100 * UNIT


def test_cap_at_a_multiple_of_the_list_price() -> None:
    b = compute_compensation(use(credit_given=False, aerial=True, prominence=Prominence.FEATURED,
                                 last_seen=T0 + timedelta(days=1000)),
                             HolderPrices(list_price=20 * UNIT, comparable_sales=(200 * UNIT,)))
    assert b.capped and b.total == 100 * UNIT
    (cap,) = [line for line in b.lines if line.code == "cap"]
    assert cap.amount < 0 and "5 x the holder's list price of 20.00 CPY" in cap.why


def test_working_reads_like_a_bill() -> None:
    text = compute_compensation(use(credit_given=False), HolderPrices()).explain()
    assert "Base licence fee: commercial use, web, one year (matrix 2026.1): +250.00 CPY -> 250.00 CPY" in text
    assert "Missing author credit: +100 % of the licence fee: +250.00 CPY -> 500.00 CPY" in text
    assert text.splitlines()[-1] == "Total (amount claimed): 500.00 CPY"
    data = compute_compensation(use(), HolderPrices()).as_dict()
    assert data["total"] == str(250 * UNIT) and data["total_cpy"] == "250.00" and data["matrix_version"] == "2026.1"


def test_no_base_fee_and_bad_inputs() -> None:
    with pytest.raises(MatrixError, match="private use in ecommerce"):
        compute_compensation(use(usage=Usage.PRIVATE, medium=Medium.ECOMMERCE), HolderPrices())
    with pytest.raises(ValueError, match="last seen"):
        compute_compensation(use(last_seen=T0 - timedelta(days=1)), HolderPrices())
    with pytest.raises(ValueError, match="width"):
        compute_compensation(use(display_width=0), HolderPrices())
    with pytest.raises(ValueError, match="non-negative"):
        compute_compensation(use(), HolderPrices(list_price=-1))
    with pytest.raises(ValueError, match="non-negative"):
        compute_compensation(use(), HolderPrices(list_price=1, list_days=0))


def test_format_cpy() -> None:
    assert format_cpy(0) == "0.00"
    assert format_cpy(1) == "0.000000000000000001"
    assert format_cpy(1234 * UNIT + 5 * UNIT // 10) == "1234.50"
    assert format_cpy(-3 * UNIT, signed=True) == "-3.00" and format_cpy(3, signed=True).startswith("+")


SHIPPED = (DATA_DIR / "compensation-2026.1.toml").read_text()


@pytest.mark.parametrize(("change", "message"), [
    (('cap_multiple = "5"', "cap_multiple = 5.0"), "decimal strings, not float"),
    (('web = "250"', 'web = "two hundred"'), "not a decimal number"),
    (('web = "250"', 'web = "-1"'), "positive"),
    (("[countries.default]", "[countries.XX]"), "countries.default is missing"),
    (("[base.private]", "[base.secret]"), "unknown usage 'secret'"),
    (('print = "80"', 'fax = "80"'), "unknown medium 'fax'"),
    (('surcharges = ["missing_credit", "aerial", "models"]', 'surcharges = ["lawyer"]'), "unknown surcharges"),
    (("max_days = 30", "max_days = 3"), "duration tiers"),
    (("min_width = 600", "min_width = 100"), "size classes"),
    (('featured = "1.5"', 'featured = "0.5"'), "incidental <= standard <= featured"),
    (("decimals = 18", "decimals = 6"), "18 decimals"),
    (('version = "2026.1"', ""), "version"),
    (("[[size]]\nname = \"thumbnail\"", "[[size]]\nlabel = \"thumbnail\""), "malformed matrix"),
    (("version =", "version = = "), "not a valid TOML"),
])
def test_invalid_matrix_data_is_refused(change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in SHIPPED
    with pytest.raises(MatrixError, match=message):
        parse_matrix(SHIPPED.replace(old, new, 1).encode())


def test_a_file_whose_version_differs_from_its_name(tmp_path: Path) -> None:
    (tmp_path / "compensation-2027.1.toml").write_text(SHIPPED)
    with pytest.raises(MatrixError, match=r"says it is version 2026\.1"):
        load_matrix("2027.1", tmp_path)
    with pytest.raises(MatrixError, match="no compensation matrix in"):
        load_matrix(None, tmp_path / "empty")


# --- properties ---------------------------------------------------------------------------------------------------

uses = st.builds(
    UseDescription,
    usage=st.sampled_from([Usage.COMMERCIAL, Usage.EDITORIAL]),
    medium=st.sampled_from(list(Medium)),
    display_width=st.integers(1, 5000),
    prominence=st.sampled_from(list(Prominence)),
    first_seen=st.just(T0),
    last_seen=st.integers(0, 5 * 365 * 86400).map(lambda s: T0 + timedelta(seconds=s)),
    country=st.sampled_from(["DE", "AT", "FR", "JP", "US", "BR", None]),
    credit_given=st.booleans(),
    aerial=st.booleans(),
    models=st.booleans(),
)
prices = st.builds(
    HolderPrices,
    list_price=st.one_of(st.none(), st.integers(1, 10_000 * UNIT)),
    list_days=st.integers(1, 3 * 365),
    comparable_sales=st.lists(st.integers(0, 10_000 * UNIT), max_size=5).map(tuple),
)
ORDER = list(Prominence)


@settings(max_examples=300, deadline=None)
@given(uses, prices, st.integers(0, 3 * 365 * 86400), st.integers(0, 3000))
def test_more_days_or_a_larger_size_never_cost_less(u: UseDescription, p: HolderPrices, extra_s: int,
                                                    extra_w: int) -> None:
    before = compute_compensation(u, p).total
    assert compute_compensation(replace(u, last_seen=u.last_seen + timedelta(seconds=extra_s)), p).total >= before
    assert compute_compensation(replace(u, display_width=u.display_width + extra_w), p).total >= before


@settings(max_examples=300, deadline=None)
@given(uses, prices)
def test_more_prominence_or_a_surcharge_never_cost_less(u: UseDescription, p: HolderPrices) -> None:
    before = compute_compensation(u, p).total
    for higher in ORDER[ORDER.index(u.prominence):]:
        assert compute_compensation(replace(u, prominence=higher), p).total >= before
    assert compute_compensation(replace(u, credit_given=False), p).total >= before
    assert compute_compensation(replace(u, aerial=True), p).total >= before
    assert compute_compensation(replace(u, models=True), p).total >= before


@settings(max_examples=300, deadline=None)
@given(uses, prices)
def test_the_cap_holds_and_the_working_adds_up(u: UseDescription, p: HolderPrices) -> None:
    b = compute_compensation(u, p)
    assert isinstance(b.total, int) and b.total >= 0
    assert sum(line.amount for line in b.lines) == b.total
    assert all(line.amount % CENT == 0 for line in b.lines)
    if p.list_price is not None:
        assert b.total <= 5 * p.list_price
        assert b.capped == any(line.code == "cap" for line in b.lines)
    else:
        assert not b.capped
