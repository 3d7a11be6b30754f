"""The authorship audit's rules, one family of cases per check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tracemark.domain.registration import (
    AuditReport,
    CheckResult,
    EarlierSighting,
    Outcome,
    RegisteredMatch,
    check_creator_metadata,
    check_declaration,
    check_earlier_sightings,
    check_exact_duplicate,
    check_near_duplicates,
    names_agree,
)

ALICE = "0x" + "a1" * 20
BOB = "0x" + "b2" * 20
APPLIED = datetime(2026, 12, 1, tzinfo=UTC)


def test_exact_duplicate_fails_naming_the_certificate() -> None:
    assert check_exact_duplicate(None).outcome is Outcome.PASS
    result = check_exact_duplicate(0xABC)
    assert result.outcome is Outcome.FAIL
    assert "0xabc" in result.reason


@pytest.mark.parametrize(
    ("matches", "outcome"),
    [
        ([], Outcome.PASS),
        ([RegisteredMatch("cert-1", ALICE, 0.95, 1.0)], Outcome.PASS),  # the applicant's own image
        ([RegisteredMatch("cert-2", BOB, 0.9, 0.5)], Outcome.FAIL),
        ([RegisteredMatch("cert-2", BOB, 0.3, 0.3)], Outcome.REVIEW),
        (
            [RegisteredMatch("cert-1", ALICE, 0.99, 1), RegisteredMatch("cert-2", BOB.upper(), 0.35, 0.4)],
            Outcome.REVIEW,
        ),
    ],
)
def test_near_duplicates(matches: list[RegisteredMatch], outcome: Outcome) -> None:
    assert check_near_duplicates(matches, ALICE).outcome is outcome


def test_near_duplicate_names_the_other_holder() -> None:
    result = check_near_duplicates([RegisteredMatch("cert-2", BOB, 0.9, 0.5)], ALICE)
    assert BOB in result.reason
    assert result.details["reference"] == "cert-2"


def test_earlier_sighting_elsewhere_goes_to_review() -> None:
    sighting = EarlierSighting("https://news.example/a", "news.example", APPLIED - timedelta(days=30))
    result = check_earlier_sightings([sighting], APPLIED)
    assert result.outcome is Outcome.REVIEW
    assert "news.example" in result.reason


def test_sightings_after_the_application_or_on_own_sites_pass() -> None:
    later = EarlierSighting("https://x.example/a", "x.example", APPLIED + timedelta(days=1))
    own = EarlierSighting("https://blog.janedoe.example/p", "blog.janedoe.example", APPLIED - timedelta(days=300))
    assert check_earlier_sightings([later, own], APPLIED, ["janedoe.example"]).outcome is Outcome.PASS
    # A look-alike domain is not the applicant's.
    fake = EarlierSighting("https://notjanedoe.example/p", "notjanedoe.example", APPLIED - timedelta(days=3))
    assert check_earlier_sightings([fake], APPLIED, ["janedoe.example"]).outcome is Outcome.REVIEW


@pytest.mark.parametrize(
    ("declared", "recorded", "agree"),
    [
        ("Jane Doe", "© 2024 Jane Doe. All rights reserved.", True),
        ("José Müller", "JOSE MULLER", True),
        ("Jane Doe", "Copyright (c) Jane Doe", True),
        ("Jane Doe", "John Smith", False),
        ("Jane Doe", "Getty Images", False),
        ("", "Jane Doe", False),
    ],
)
def test_names_agree(declared: str, recorded: str, agree: bool) -> None:
    assert names_agree(declared, recorded) is agree


def test_creator_metadata_consistent_absent_conflicting() -> None:
    assert check_creator_metadata("Jane Doe", {}).outcome is Outcome.PASS
    assert check_creator_metadata("Jane Doe", {"EXIF:Artist": "   "}).outcome is Outcome.PASS
    assert check_creator_metadata("Jane Doe", {"EXIF:Artist": "Jane Doe"}).outcome is Outcome.PASS
    conflicting = check_creator_metadata(
        "Jane Doe", {"EXIF:Artist": "Jane Doe", "XMP:dc:rights": "© Reuters / John Smith"}
    )
    assert conflicting.outcome is Outcome.REVIEW
    assert "XMP:dc:rights" in conflicting.reason
    assert check_creator_metadata(None, {"EXIF:Artist": "John Smith"}).outcome is Outcome.REVIEW


def test_declaration_must_be_signed_by_the_holder_wallet() -> None:
    assert check_declaration(ALICE.upper(), ALICE).outcome is Outcome.PASS
    assert check_declaration(BOB, ALICE).outcome is Outcome.FAIL
    assert check_declaration(None, ALICE).outcome is Outcome.FAIL


def test_report_outcome_is_the_worst_and_its_digest_is_stable() -> None:
    passing = CheckResult("a", Outcome.PASS, "ok")
    review = CheckResult("b", Outcome.REVIEW, "look")
    failing = CheckResult("c", Outcome.FAIL, "no")
    assert AuditReport(()).outcome is Outcome.PASS
    assert AuditReport((passing, review)).outcome is Outcome.REVIEW
    assert AuditReport((review, failing, passing)).outcome is Outcome.FAIL
    report = AuditReport((passing, review))
    assert report.digest() == AuditReport((passing, review)).digest()
    assert report.digest() != AuditReport((passing,)).digest()
    assert report.as_dict()["outcome"] == "review"
