"""The authorship audit that runs before anything is minted, and the registration's metadata document.

Each check answers pass, fail or review with a reason a person can read. The audit's outcome is the worst of its
checks (fail > review > pass): a fail stops the registration, a review sends it to a caseworker, and only an
audit where every check passes lets the platform sign an attestation. The report is stored whole, and its
SHA-256 (over a canonical JSON form) goes into the metadata, so anyone can later check which report a
certificate was minted on.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """The answer of one check, ordered from best to worst."""

    PASS = "pass"  # noqa: S105 - an outcome, not a password
    REVIEW = "review"
    FAIL = "fail"

    @property
    def rank(self) -> int:
        """0 for pass, 1 for review, 2 for fail."""
        return [Outcome.PASS, Outcome.REVIEW, Outcome.FAIL].index(self)


@dataclass(frozen=True)
class CheckResult:
    """One audit check: its name, its outcome, why, and the facts it looked at."""

    check: str
    outcome: Outcome
    reason: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditReport:
    """All checks of one application; `outcome` is the worst of them."""

    checks: tuple[CheckResult, ...]

    @property
    def outcome(self) -> Outcome:
        """The worst outcome of the checks (pass when there are none)."""
        return max((c.outcome for c in self.checks), key=lambda o: o.rank, default=Outcome.PASS)

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data (what is stored and shown)."""
        return {
            "outcome": self.outcome.value,
            "checks": [asdict(c) | {"outcome": c.outcome.value} for c in self.checks],
        }

    def digest(self) -> str:
        """SHA-256 (hex) of the report's canonical JSON: what the metadata records."""
        return hashlib.sha256(canonical_json(self.as_dict())).hexdigest()


def canonical_json(document: Any) -> bytes:
    """A stable byte form of a JSON document: sorted keys, no insignificant spaces, UTF-8."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# --- 1. exact duplicates ---------------------------------------------------------------------------------------


def check_exact_duplicate(existing_certificate: int | None) -> CheckResult:
    """Fails when the image's SHA-256 is already registered, naming the certificate."""
    if existing_certificate is None:
        return CheckResult("exact_duplicate", Outcome.PASS, "no certificate has this exact image")
    return CheckResult(
        "exact_duplicate",
        Outcome.FAIL,
        f"this exact image is already registered as certificate {existing_certificate:#x}",
        {"certificate": str(existing_certificate)},
    )


# --- 2. near duplicates (verified matches) ------------------------------------------------------------------------


@dataclass(frozen=True)
class RegisteredMatch:
    """A verified match between the application's image and a registered one."""

    reference: str
    holder: str
    score: float
    coverage: float


STRONG_MATCH_SCORE = 0.6
"""A verified match at or above this score is treated as the same photograph beyond reasonable doubt."""


def check_near_duplicates(matches: Iterable[RegisteredMatch], applicant: str) -> CheckResult:
    """Fails on a strong verified match with another holder's image; a weaker one goes to review.

    Matches with the applicant's own registrations pass: a holder may register an edit of its own photograph.
    """
    others = [m for m in matches if m.holder.lower() != applicant.lower()]
    if not others:
        return CheckResult("near_duplicate", Outcome.PASS, "no verified match with another holder's image")
    best = max(others, key=lambda m: m.score)
    details = {"reference": best.reference, "holder": best.holder, "score": best.score, "coverage": best.coverage}
    if best.score >= STRONG_MATCH_SCORE:
        return CheckResult(
            "near_duplicate",
            Outcome.FAIL,
            f"the image is a copy of {best.reference}, registered by {best.holder} (score {best.score:.2f})",
            details,
        )
    return CheckResult(
        "near_duplicate",
        Outcome.REVIEW,
        f"the image may be a copy of {best.reference}, registered by {best.holder} (weak match, score "
        f"{best.score:.2f}); a caseworker decides",
        details,
    )


# --- 3. earlier sightings on the web ---------------------------------------------------------------------------


@dataclass(frozen=True)
class EarlierSighting:
    """The image seen on the web by the crawler."""

    page_url: str
    site: str
    first_seen: datetime


def _site_tied_to(site: str, applicant_sites: Iterable[str]) -> bool:
    site = site.lower().removeprefix("www.")
    for own in applicant_sites:
        own = own.lower().removeprefix("www.")
        if site == own or site.endswith("." + own):
            return True
    return False


def check_earlier_sightings(
    sightings: Iterable[EarlierSighting], applied_at: datetime, applicant_sites: Sequence[str] = ()
) -> CheckResult:
    """Sends the application to review when the image was online before it, on a site not tied to the applicant."""
    earlier = sorted(
        (s for s in sightings if s.first_seen < applied_at and not _site_tied_to(s.site, applicant_sites)),
        key=lambda s: s.first_seen,
    )
    if not earlier:
        return CheckResult(
            "earlier_sightings", Outcome.PASS, "not seen on the web before, elsewhere than the applicant's sites"
        )
    first = earlier[0]
    return CheckResult(
        "earlier_sightings",
        Outcome.REVIEW,
        f"the image was online on {first.site} since {first.first_seen.date().isoformat()}, before this application;"
        " a caseworker checks who published it first",
        {
            "sightings": [
                {"page_url": s.page_url, "site": s.site, "first_seen": s.first_seen.isoformat()} for s in earlier
            ]
        },
    )


# --- 4. creator metadata ------------------------------------------------------------------------------------------

_NOISE = re.compile(
    r"\b(copyright|all rights reserved|photo(graph)?( by)?|foto|by|von|par|credit|image|\d{4})\b|[©℗(]c[)]|©",
    re.IGNORECASE,
)


def _name_tokens(text: str) -> set[str]:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = _NOISE.sub(" ", text)
    return {t for t in re.split(r"[^\w]+", text) if len(t) > 1}


def names_agree(declared: str, recorded: str) -> bool:
    """Whether a recorded creator or copyright line names the declared person (accents, case, © and years aside)."""
    a, b = _name_tokens(declared), _name_tokens(recorded)
    return bool(a and b) and (a <= b or b <= a)


def check_creator_metadata(declared_name: str | None, recorded: dict[str, str]) -> CheckResult:
    """Compares EXIF / XMP / IPTC creator and copyright fields with the name the applicant declares.

    Args:
        declared_name: The creator name the applicant gives (may be empty).
        recorded: Field name -> value, e.g. `{"EXIF:Artist": "Jane Doe", "XMP:dc:rights": "© 2024 Jane Doe"}`.

    Returns:
        pass when the fields agree with the name or there are none; review when any of them names someone else.
    """
    fields = {k: v.strip() for k, v in recorded.items() if v and v.strip() and _name_tokens(v)}
    if not fields:
        return CheckResult("creator_metadata", Outcome.PASS, "the image carries no creator or copyright fields")
    if not declared_name or not _name_tokens(declared_name):
        return CheckResult(
            "creator_metadata",
            Outcome.REVIEW,
            "the image names a creator but the application declares none",
            {"fields": fields},
        )
    conflicting = {k: v for k, v in fields.items() if not names_agree(declared_name, v)}
    if conflicting:
        return CheckResult(
            "creator_metadata",
            Outcome.REVIEW,
            f"the image's metadata names someone other than {declared_name!r}: "
            + "; ".join(f"{k} = {v!r}" for k, v in conflicting.items()),
            {"fields": fields, "conflicting": conflicting},
        )
    return CheckResult(
        "creator_metadata", Outcome.PASS, f"the image's creator fields agree with {declared_name!r}", {"fields": fields}
    )


# --- 5. the applicant's declaration -----------------------------------------------------------------------------


def check_declaration(signed_by: str | None, holder_wallet: str) -> CheckResult:
    """Passes when the declaration of authorship is signed by the wallet that will hold the certificate."""
    if signed_by is None:
        return CheckResult("declaration", Outcome.FAIL, "the declaration of authorship is not signed")
    if signed_by.lower() != holder_wallet.lower():
        return CheckResult(
            "declaration",
            Outcome.FAIL,
            f"the declaration is signed by {signed_by}, not by the wallet that would hold the certificate",
        )
    return CheckResult("declaration", Outcome.PASS, "the declaration is signed by the holder's wallet")
