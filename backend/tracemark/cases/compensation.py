"""The compensation matrix: an open, explained fee for an unlicensed use, computed from versioned data.

```
base        the holder's own comparable sales (median) > the holder's list price (as a one-year price) > the table
x size      by the displayed width               x prominence   incidental / standard / featured
x duration  by days online (first to last seen)  x country      the country's price level
= licence fee (the licence analogy)
+ surcharges, each a percentage of the licence fee, where the country allows it (missing credit, aerial, models)
- cap       the total never exceeds `cap_multiple` x the holder's own list price
= total
```

The numbers live in `data/compensation-<version>.toml` (decimal strings, never floats). Amounts are integers in
the smallest CPY unit (18 decimals); factors are exact fractions, and each line rounds down to the matrix's
`rounding` (0.01 CPY), so every step is monotone: more days, a larger size, more prominence or a surcharge never
lower the total. Each line of the `Breakdown` says what, why, by which factor and by how much, with the running
total, so a person can follow it; the breakdown names the matrix version and the SHA-256 of its file.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Any

DATA_DIR = Path(__file__).parent / "data"
UNIT = 10**18
DAY_SECONDS = 86_400


class Usage(StrEnum):
    """The purpose of the use."""

    COMMERCIAL = "commercial"
    EDITORIAL = "editorial"
    PRIVATE = "private"


class Medium(StrEnum):
    """Where the image is used."""

    WEB = "web"
    SOCIAL = "social"
    ECOMMERCE = "ecommerce"
    PRINT = "print"


class Prominence(StrEnum):
    """How prominently the image is shown."""

    INCIDENTAL = "incidental"
    STANDARD = "standard"
    FEATURED = "featured"


class MatrixError(ValueError):
    """A matrix file that is not valid, or a use the matrix has no price for."""


#: What each line says, in English; `letters` translates the same texts (they are the gettext message ids).
LINE_TEXT: Mapping[str, tuple[str, str]] = {
    "base_table": ("Base licence fee", "{usage} use, {medium}, one year (matrix {version})"),
    "base_sales": ("Base licence fee", "median of the holder's {count} own sales for this use"),
    "base_list_price": ("Base licence fee",
                        "the holder's list price {price} CPY for {days} days, as a one-year price (/ {per})"),
    "size": ("Size", "shown {width} pixels wide: {size}"),
    "prominence": ("Prominence", "{prominence}"),
    "duration": ("Duration online", "{days} days online (first seen {first}, last seen {last})"),
    "country": ("Country", "price level of {country}"),
    "licence_fee": ("Licence fee", "what a licence for this use would have cost"),
    "surcharge_missing_credit": ("Missing author credit", "+{percent} % of the licence fee"),
    "surcharge_aerial": ("Aerial photograph", "+{percent} % of the licence fee"),
    "surcharge_models": ("Photograph with models", "+{percent} % of the licence fee"),
    "surcharge_not_allowed": ("Surcharge not applied", "{surcharge}: not allowed under the rules of {country}"),
    "cap": ("Cap", "at most {multiple} x the holder's list price of {price} CPY"),
    "total": ("Total", "amount claimed"),
}

SUBTOTALS = frozenset({"licence_fee", "total"})


@dataclass(frozen=True)
class Line:
    """One step of the working: what (`code` and its English `what`), why, the factor, the change and the total
    after it."""

    code: str
    params: tuple[tuple[str, str], ...]
    factor: str | None
    amount: int
    running: int

    @property
    def is_subtotal(self) -> bool:
        """True for the lines that state a (sub)total rather than a change."""
        return self.code in SUBTOTALS

    @property
    def what(self) -> str:
        """The line's name in English."""
        return LINE_TEXT[self.code][0]

    @property
    def why(self) -> str:
        """The line's reason in English."""
        return LINE_TEXT[self.code][1].format(**dict(self.params))


@dataclass(frozen=True)
class Breakdown:
    """The working of a fee, line by line, and its total in the smallest CPY unit."""

    matrix_version: str
    matrix_sha256: str
    lines: tuple[Line, ...]
    total: int
    capped: bool

    def as_dict(self) -> dict[str, Any]:
        """Plain data for the API and the portal (amounts as decimal strings of the smallest unit and of CPY)."""
        return {
            "matrix_version": self.matrix_version,
            "matrix_sha256": self.matrix_sha256,
            "total": str(self.total),
            "total_cpy": format_cpy(self.total),
            "capped": self.capped,
            "lines": [
                {"code": line.code, "what": line.what, "why": line.why, "factor": line.factor,
                 "amount": str(line.amount), "amount_cpy": format_cpy(line.amount), "running": str(line.running)}
                for line in self.lines
            ],
        }

    def explain(self) -> str:
        """The working as plain English text, one line per step."""
        rows = []
        for line in self.lines:
            if line.is_subtotal:
                rows.append(f"{line.what} ({line.why}): {format_cpy(line.running)} CPY")
                continue
            factor = f" (x {line.factor})" if line.factor else ""
            rows.append(f"{line.what}: {line.why}{factor}: {format_cpy(line.amount, signed=True)} CPY "
                        f"-> {format_cpy(line.running)} CPY")
        return "\n".join(rows)


def cpy(amount: int) -> Decimal:
    """An amount of the smallest unit as an exact Decimal of CPY."""
    return Decimal(amount).scaleb(-18)


def format_cpy(amount: int, *, signed: bool = False) -> str:
    """`1234500000000000000000` -> `1234.50`: exact, at least two decimals, no trailing zeros beyond them."""
    value = cpy(abs(amount))
    text = f"{value:f}"
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0").ljust(2, "0")
    sign = "-" if amount < 0 else ("+" if signed else "")
    return f"{sign}{whole}.{frac}"


@dataclass(frozen=True)
class HolderPrices:
    """The holder's own prices for this use, from the chain: its current list price (an offer: price in the
    smallest unit and the licence's duration in days) and the prices of comparable licences it sold (each taken as
    the price of a one-year licence for this use)."""

    list_price: int | None = None
    list_days: int = 365
    comparable_sales: tuple[int, ...] = ()


@dataclass(frozen=True)
class UseDescription:
    """The use to price, as the sightings and the match report describe it."""

    usage: Usage
    medium: Medium
    display_width: int
    prominence: Prominence
    first_seen: datetime
    last_seen: datetime
    country: str | None
    credit_given: bool
    aerial: bool = False
    models: bool = False

    @property
    def days_online(self) -> int:
        """Started days from first to last seen; at least one."""
        seconds = (self.last_seen - self.first_seen).total_seconds()
        return max(1, math.ceil(seconds / DAY_SECONDS))


@dataclass(frozen=True)
class SizeClass:
    """A size class of the matrix."""

    name: str
    min_width: int
    factor: Fraction


@dataclass(frozen=True)
class CountryRule:
    """A country's price level and the surcharges its rules allow."""

    factor: Fraction
    surcharges: frozenset[str]


@dataclass(frozen=True)
class Matrix:
    """A parsed, validated compensation matrix."""

    version: str
    sha256: str
    rounding: int  # in the smallest unit
    cap_multiple: Fraction
    base: Mapping[Usage, Mapping[Medium, int]]
    sizes: tuple[SizeClass, ...]
    prominence: Mapping[Prominence, Fraction]
    duration_tiers: tuple[tuple[int, Fraction], ...]
    per_further_year: Fraction
    surcharges: Mapping[str, Fraction]
    countries: Mapping[str, CountryRule] = field(default_factory=dict)

    def country(self, code: str | None) -> tuple[str, CountryRule]:
        """The rule for a country code (upper case), or the default rule."""
        key = (code or "").upper()
        if key in self.countries and key != "DEFAULT":
            return key, self.countries[key]
        return "default", self.countries["DEFAULT"]

    def size_of(self, width: int) -> SizeClass:
        """The size class of an image shown `width` pixels wide."""
        chosen = self.sizes[0]
        for size in self.sizes:
            if width >= size.min_width:
                chosen = size
        return chosen

    def duration_factor(self, days: int) -> Fraction:
        """The duration factor for `days` online."""
        for max_days, factor in self.duration_tiers:
            if days <= max_days:
                return factor
        last_days, last_factor = self.duration_tiers[-1]
        further_years = math.ceil((days - last_days) / 365)
        return last_factor + further_years * self.per_further_year


def _fraction(value: Any, where: str, *, positive: bool = True) -> Fraction:
    if not isinstance(value, str):
        raise MatrixError(f"{where}: numbers are decimal strings, not {type(value).__name__} ({value!r})")
    try:
        result = Fraction(Decimal(value))
    except (ArithmeticError, ValueError):
        raise MatrixError(f"{where}: {value!r} is not a decimal number") from None
    if result < 0 or (positive and result == 0):
        raise MatrixError(f"{where}: {value} must be {'positive' if positive else 'non-negative'}")
    return result


def _table(doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = doc.get(key)
    if not isinstance(value, dict):
        raise MatrixError(f"`{key}` is missing or not a table")
    return value


def parse_matrix(data: bytes) -> Matrix:
    """Parses and validates a matrix file's bytes (see `_parse`).

    Raises:
        MatrixError: the file is not a valid matrix; the message names the first problem.
    """
    try:
        return _parse(data)
    except (KeyError, TypeError, AttributeError) as exc:
        raise MatrixError(f"malformed matrix: {type(exc).__name__} {exc}") from None


def _parse(data: bytes) -> Matrix:
    """Parses and validates a matrix file's bytes.

    Raises:
        MatrixError: invalid TOML, a float or malformed number, a missing table, unknown usage, medium, prominence
            or surcharge names, tiers out of order, or no `default` country.
    """
    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise MatrixError(f"not a valid TOML file: {exc}") from None
    version = doc.get("version")
    if not isinstance(version, str) or not version:
        raise MatrixError("`version` is missing")
    if doc.get("decimals") != 18 or doc.get("currency") != "CPY":
        raise MatrixError("the matrix must price in CPY with 18 decimals")
    base: dict[Usage, dict[Medium, int]] = {}
    for usage_name, media in _table(doc, "base").items():
        try:
            usage = Usage(usage_name)
        except ValueError:
            raise MatrixError(f"base: unknown usage {usage_name!r}") from None
        base[usage] = {}
        for medium_name, price in media.items():
            try:
                medium = Medium(medium_name)
            except ValueError:
                raise MatrixError(f"base.{usage_name}: unknown medium {medium_name!r}") from None
            whole = _fraction(price, f"base.{usage_name}.{medium_name}") * UNIT
            if whole.denominator != 1:
                raise MatrixError(f"base.{usage_name}.{medium_name}: more than 18 decimals")
            base[usage][medium] = int(whole)
    sizes_raw = doc.get("size")
    if not isinstance(sizes_raw, list) or not sizes_raw:
        raise MatrixError("`size` classes are missing")
    sizes = tuple(SizeClass(str(s["name"]), int(s["min_width"]), _fraction(s["factor"], f"size.{s['name']}"))
                  for s in sizes_raw)
    if sizes[0].min_width != 0 or any(a.min_width >= b.min_width or a.factor > b.factor
                                      for a, b in itertools.pairwise(sizes)):
        raise MatrixError("size classes must start at width 0 and grow in width and factor")
    prominence_raw = _table(doc, "prominence")
    try:
        prominence = {Prominence(k): _fraction(v, f"prominence.{k}") for k, v in prominence_raw.items()}
    except ValueError as exc:
        raise MatrixError(f"prominence: {exc}") from None
    if set(prominence) != set(Prominence) or not (
            prominence[Prominence.INCIDENTAL] <= prominence[Prominence.STANDARD] <= prominence[Prominence.FEATURED]):
        raise MatrixError("prominence needs incidental <= standard <= featured")
    duration = _table(doc, "duration")
    tiers = tuple((int(t["max_days"]), _fraction(t["factor"], "duration.tiers")) for t in duration.get("tiers", []))
    if not tiers or any(a[0] >= b[0] or a[1] > b[1] for a, b in itertools.pairwise(tiers)):
        raise MatrixError("duration tiers must be present and grow in days and factor")
    per_year = _fraction(duration.get("per_further_year"), "duration.per_further_year", positive=False)
    surcharges = {name: _fraction(s.get("percent"), f"surcharges.{name}") / 100
                  for name, s in _table(doc, "surcharges").items()}
    countries: dict[str, CountryRule] = {}
    for code, rule in _table(doc, "countries").items():
        allowed = frozenset(rule.get("surcharges", []))
        if not allowed <= set(surcharges):
            raise MatrixError(f"countries.{code}: unknown surcharges {sorted(allowed - set(surcharges))}")
        countries[code.upper()] = CountryRule(_fraction(rule.get("factor"), f"countries.{code}"), allowed)
    if "DEFAULT" not in countries:
        raise MatrixError("countries.default is missing")
    rounding = _fraction(doc.get("rounding"), "rounding") * UNIT
    if rounding.denominator != 1:
        raise MatrixError("rounding: more than 18 decimals")
    return Matrix(version, hashlib.sha256(data).hexdigest(), int(rounding),
                  _fraction(doc.get("cap_multiple"), "cap_multiple"),
                  base, sizes, prominence, tiers, per_year, surcharges, countries)


def available_versions(folder: Path = DATA_DIR) -> list[str]:
    """The matrix versions shipped in `folder`, oldest first."""
    names = (p.name.removeprefix("compensation-").removesuffix(".toml") for p in folder.glob("compensation-*.toml"))
    return sorted(names, key=lambda v: [int(x) if x.isdigit() else x for x in v.split(".")])


@lru_cache(maxsize=8)
def load_matrix(version: str | None = None, folder: Path = DATA_DIR) -> Matrix:
    """The matrix of `version` (default: the newest shipped).

    Raises:
        MatrixError: no such version, or a file whose `version` differs from its name.
    """
    versions = available_versions(folder)
    if not versions:
        raise MatrixError(f"no compensation matrix in {folder}")
    chosen = version or versions[-1]
    if chosen not in versions:
        raise MatrixError(f"no compensation matrix version {chosen!r} (have {', '.join(versions)})")
    matrix = parse_matrix((folder / f"compensation-{chosen}.toml").read_bytes())
    if matrix.version != chosen:
        raise MatrixError(f"compensation-{chosen}.toml says it is version {matrix.version}")
    return matrix


def _median(values: Sequence[int]) -> int:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) // 2


def _ratio(f: Fraction) -> str:
    return str(Decimal(f.numerator) / Decimal(f.denominator)) if f.denominator != 1 else str(f.numerator)


class _Working:
    def __init__(self, rounding: int) -> None:
        self.lines: list[Line] = []
        self.running = 0
        self.rounding = rounding

    def down(self, amount: int) -> int:
        """`amount` rounded down to the matrix's rounding."""
        return amount // self.rounding * self.rounding

    def add(self, code: str, amount: int, factor: Fraction | None = None, **params: str) -> None:
        self.running += amount
        self.lines.append(Line(code, tuple(sorted(params.items())), None if factor is None else _ratio(factor),
                               amount, self.running))

    def scale(self, code: str, factor: Fraction, **params: str) -> None:
        scaled = self.down(self.running * factor.numerator // factor.denominator)
        self.add(code, scaled - self.running, factor, **params)


def compute_compensation(use: UseDescription, holder: HolderPrices, matrix: Matrix | None = None) -> Breakdown:
    """Prices an unlicensed use with the matrix; see the module docstring for the steps.

    Raises:
        MatrixError: the matrix has no base fee for this usage and medium (and the holder gave no price).
        ValueError: negative prices, a non-positive list duration or width, or last seen before first seen.
    """
    m = matrix or load_matrix()
    if use.last_seen < use.first_seen:
        raise ValueError("last seen lies before first seen")
    if use.display_width <= 0:
        raise ValueError("the displayed width must be positive")
    if holder.list_days <= 0 or (holder.list_price is not None and holder.list_price < 0) or any(
            s < 0 for s in holder.comparable_sales):
        raise ValueError("holder prices must be non-negative and list durations positive")
    w = _Working(m.rounding)
    if holder.comparable_sales:
        w.add("base_sales", w.down(_median(holder.comparable_sales)), count=str(len(holder.comparable_sales)))
    elif holder.list_price is not None:
        # the list price buys `list_days`; the matrix's own duration curve turns it into a one-year price
        per = m.duration_factor(holder.list_days)
        w.add("base_list_price", w.down(holder.list_price * per.denominator // per.numerator),
              price=format_cpy(holder.list_price), days=str(holder.list_days), per=_ratio(per))
    else:
        price = m.base.get(use.usage, {}).get(use.medium)
        if price is None:
            raise MatrixError(f"matrix {m.version} has no base fee for {use.usage.value} use in {use.medium.value}")
        w.add("base_table", w.down(price), usage=use.usage.value, medium=use.medium.value, version=m.version)
    size = m.size_of(use.display_width)
    w.scale("size", size.factor, width=str(use.display_width), size=size.name)
    w.scale("prominence", m.prominence[use.prominence], prominence=use.prominence.value)
    days = use.days_online
    w.scale("duration", m.duration_factor(days), days=str(days), first=f"{use.first_seen:%Y-%m-%d}",
            last=f"{use.last_seen:%Y-%m-%d}")
    country_code, rule = m.country(use.country)
    w.scale("country", rule.factor, country=country_code)
    fee = w.running
    w.add("licence_fee", 0)
    wanted = [name for name, flag in (("missing_credit", not use.credit_given), ("aerial", use.aerial),
                                      ("models", use.models)) if flag]
    for name in wanted:
        rate = m.surcharges[name]
        if name in rule.surcharges:
            w.add(f"surcharge_{name}", w.down(fee * rate.numerator // rate.denominator), percent=_ratio(rate * 100))
        else:
            w.add("surcharge_not_allowed", 0, surcharge=name, country=country_code)
    capped = False
    if holder.list_price is not None:
        cap = w.down(holder.list_price * m.cap_multiple.numerator // m.cap_multiple.denominator)
        if w.running > cap:
            capped = True
            w.add("cap", cap - w.running, multiple=_ratio(m.cap_multiple), price=format_cpy(holder.list_price))
    w.add("total", 0)
    return Breakdown(m.version, m.sha256, tuple(w.lines), w.running, capped)
