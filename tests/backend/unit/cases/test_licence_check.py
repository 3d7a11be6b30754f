"""The licence check: each source and exemption, with the evidence recorded; a licensee never gets a claim."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from tracemark.cases.image_rights import ImageRights, image_rights
from tracemark.cases.licence_check import (
    CheckOutcome,
    HolderFacts,
    LicenceCheck,
    OnChainLicence,
    PageLicenceData,
    Source,
    UseFacts,
    check_licence,
    creative_commons_licence,
    host_matches,
)
from tracemark.cases.workflow import CaseState, ClaimRefusedError, Standing, record_licence_check, submit_claim

from .images import jpeg, xmp_packet
from .support import HOLDER, HOLDER_ADDR, SYSTEM, case_in

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
NO_PAGE_DATA = PageLicenceData()
SITE_WALLET = "0x00000000000000000000000000000000000000E1"
HOLDER_FACTS = HolderFacts(holder=HOLDER_ADDR, credit_names=("Jane Doe",), learned_at=date(2026, 5, 1))
USE = UseFacts(certificate_id=7, host="shop.example.de", page_url="https://shop.example.de/p/1",
               first_seen=NOW - timedelta(days=60), last_seen=NOW - timedelta(days=1), country="DE",
               operator_addresses=(SITE_WALLET,))
CC_BY = "https://creativecommons.org/licenses/by/4.0/deed.de"


def check(*, disputed: bool = False, holder: HolderFacts = HOLDER_FACTS, use: UseFacts = USE,
          licences: tuple[OnChainLicence, ...] = (), page: PageLicenceData = NO_PAGE_DATA,
          image: ImageRights | None = None, now: datetime = NOW) -> LicenceCheck:
    return check_licence(disputed=disputed, holder=holder, use=use, licences=licences, page=page, image=image,
                         now=now)


def licence(**changes: object) -> OnChainLicence:
    base = OnChainLicence(7, SITE_WALLET, "web", NOW - timedelta(days=100), NOW + timedelta(days=265))
    return replace(base, **changes)  # type: ignore[arg-type]


def test_nothing_found_is_clear_and_says_what_was_looked_at() -> None:
    result = check()
    assert result.outcome is CheckOutcome.CLEAR and result.allows_claim and not result.licence_found
    assert any(o.source is Source.LIMITATION and "until 2029-12-31" in o.detail for o in result.observations)
    assert "no licence or exemption found for shop.example.de" in result.summary()


def test_on_chain_licence_of_the_operators_wallet() -> None:
    result = check(licences=(licence(licensee=SITE_WALLET.lower()),))
    assert result.outcome is CheckOutcome.LICENSED and result.licence_found and not result.allows_claim
    (decisive,) = result.decisive
    assert decisive.source is Source.ON_CHAIN and "web licence" in decisive.detail
    assert SITE_WALLET.lower() in decisive.detail


def test_on_chain_licence_bound_to_the_site() -> None:
    result = check(licences=(licence(licensee="0x00000000000000000000000000000000000000F9", site="example.de"),))
    assert result.outcome is CheckOutcome.LICENSED and "bound to example.de" in result.summary()


@pytest.mark.parametrize("other", [
    {"certificate_id": 8},  # another image
    {"licensee": "0x00000000000000000000000000000000000000F9"},  # someone else
    {"licensee": "0x00000000000000000000000000000000000000F9", "site": "example.com"},
])
def test_licences_of_others_do_not_count(other: dict[str, object]) -> None:
    assert check(licences=(licence(**other),)).outcome is CheckOutcome.CLEAR


def test_an_expired_licence_is_recorded_but_does_not_count() -> None:
    old = licence(start=NOW - timedelta(days=400), end=NOW - timedelta(days=61))
    result = check(licences=(old,))
    assert result.outcome is CheckOutcome.CLEAR
    assert any("does not cover the use" in o.detail for o in result.observations)
    overlapping = licence(start=NOW - timedelta(days=400), end=NOW - timedelta(days=30))
    assert check(licences=(overlapping,)).outcome is CheckOutcome.LICENSED  # covers part of the use: no claim


@pytest.mark.parametrize(("host", "domain", "match"), [
    ("shop.example.de", "example.de", True), ("example.de", "example.de", True), ("EXAMPLE.DE.", "example.de", True),
    ("shop.example.de", "*.example.de", True), ("badexample.de", "example.de", False),
    ("example.de.evil.com", "example.de", False), ("example.de", "", False),
])
def test_host_matching(host: str, domain: str, match: bool) -> None:
    assert host_matches(host, domain) is match


def test_whitelisted_domain() -> None:
    result = check(holder=replace(HOLDER_FACTS, whitelist=("example.de",)))
    assert result.outcome is CheckOutcome.LICENSED and result.decisive[0].source is Source.WHITELIST


@pytest.mark.parametrize(("url", "key"), [
    ("https://creativecommons.org/licenses/by/4.0/", "by/4.0"),
    ("http://www.creativecommons.org/licenses/by-sa/3.0/de/deed.de", "by-sa/3.0"),
    ("https://creativecommons.org/licenses/by-nc/4.0/legalcode", "by-nc/4.0"),
    ("https://creativecommons.org/publicdomain/zero/1.0/", "publicdomain/zero/1.0"),
    ("https://example.com/licenses/by/4.0/", None), ("https://creativecommons.org/about", None),
])
def test_creative_commons_urls(url: str, key: str | None) -> None:
    assert creative_commons_licence(url) == key


def test_creative_commons_with_attribution_is_exempt() -> None:
    holder = replace(HOLDER_FACTS, open_licences=("https://creativecommons.org/licenses/by/4.0/",))
    page = PageLicenceData(licence_urls=(CC_BY,), credit_text=("Foto: jane  DOE / CC BY 4.0",))
    result = check(holder=holder, page=page)
    assert result.outcome is CheckOutcome.EXEMPT and result.licence_found
    assert "attribution given" in result.decisive[0].detail


def test_creative_commons_without_attribution_is_not_exempt() -> None:
    holder = replace(HOLDER_FACTS, open_licences=("https://creativecommons.org/licenses/by/4.0/",))
    result = check(holder=holder, page=PageLicenceData(licence_urls=(CC_BY,)))
    assert result.outcome is CheckOutcome.CLEAR
    assert any("without attribution" in o.detail for o in result.observations)


def test_creative_commons_the_holder_never_granted_is_no_licence() -> None:
    result = check(page=PageLicenceData(licence_urls=(CC_BY,), credit_text=("Jane Doe",)))
    assert result.outcome is CheckOutcome.CLEAR
    assert any("never granted" in o.detail for o in result.observations)


def test_public_domain_dedication_needs_no_attribution() -> None:
    cc0 = "https://creativecommons.org/publicdomain/zero/1.0/"
    result = check(holder=replace(HOLDER_FACTS, open_licences=(cc0,)), image=ImageRights(licence_urls=(cc0,)))
    assert result.outcome is CheckOutcome.EXEMPT


def test_attribution_from_the_image_metadata() -> None:
    holder = replace(HOLDER_FACTS, open_licences=(CC_BY,))
    rights = image_rights(jpeg(xmp_packet(cc_license=CC_BY), iptc={(2, 80): "Jane Doe"}))
    assert check(holder=holder, image=rights).outcome is CheckOutcome.EXEMPT


def test_a_third_party_licence_statement_refuses_the_claim() -> None:
    page = PageLicenceData(acquire_licence_pages=("https://stock.example/licence/123",))
    result = check(page=page)
    assert result.outcome is CheckOutcome.LICENSED and "cannot confirm" in result.summary()
    rights = image_rights(jpeg(xmp_packet(licensor_url="https://agency.example/l/9")))
    assert check(image=rights).outcome is CheckOutcome.LICENSED


def test_the_holders_own_statement_carried_with_the_image_is_no_licence() -> None:
    holder = replace(HOLDER_FACTS, own_statements=("https://tracemark.example/c/",))
    rights = image_rights(jpeg(xmp_packet(web_statement="https://www.tracemark.example/c/7")))
    result = check(holder=holder, image=rights)
    assert result.outcome is CheckOutcome.CLEAR
    assert any("holder's own statement" in o.detail for o in result.observations)
    # a prefix of the holder's URL is not enough: the path must continue at a slash
    other = image_rights(jpeg(xmp_packet(web_statement="https://tracemark.example/c-evil/7")))
    assert check(holder=holder, image=other).outcome is CheckOutcome.LICENSED


def test_a_dismissed_statement_no_longer_refuses() -> None:
    page = PageLicenceData(licence_urls=("https://shop.example.de/bildrechte",))
    use = replace(USE, dismissed_statements=("http://shop.example.de/bildrechte/",))
    result = check(page=page, use=use)
    assert result.outcome is CheckOutcome.CLEAR and "examined by a caseworker" in result.observations[0].detail


def test_usage_terms_are_recorded_for_a_person() -> None:
    result = check(image=ImageRights(usage_terms=("Licensed to Shop GmbH",)))
    assert result.outcome is CheckOutcome.CLEAR
    assert any(o.detail == "xmpRights:UsageTerms: Licensed to Shop GmbH" for o in result.observations)


def test_press_kit_exemption_for_editorial_use_only() -> None:
    holder = replace(HOLDER_FACTS, press_kit=True)
    assert check(holder=holder, use=replace(USE, usage="editorial")).outcome is CheckOutcome.EXEMPT
    commercial = check(holder=holder)
    assert commercial.outcome is CheckOutcome.CLEAR and "not editorial" in commercial.observations[0].detail


@pytest.mark.parametrize(("learned", "now", "barred"), [
    (date(2022, 3, 1), datetime(2025, 12, 31, 23, 59, tzinfo=UTC), False),  # until the end of 2025
    (date(2022, 3, 1), datetime(2026, 1, 1, 0, 0, tzinfo=UTC), True),
    (date(2022, 12, 31), datetime(2025, 12, 31, 12, tzinfo=UTC), False),
    (date(2023, 1, 1), datetime(2026, 12, 31, 12, tzinfo=UTC), False),
])
def test_german_limitation_runs_from_the_end_of_the_year(learned: date, now: datetime, barred: bool) -> None:
    result = check(holder=replace(HOLDER_FACTS, learned_at=learned), now=now)
    assert (result.outcome is CheckOutcome.EXEMPT) is barred
    (lim,) = [o for o in result.observations if o.source is Source.LIMITATION]
    assert "§§ 195, 199 BGB" in lim.detail


def test_austrian_limitation_runs_from_knowledge() -> None:
    holder = replace(HOLDER_FACTS, learned_at=date(2023, 5, 10))
    at = replace(USE, country="AT")
    assert check(holder=holder, use=at, now=datetime(2026, 5, 10, tzinfo=UTC)).outcome is CheckOutcome.CLEAR
    assert check(holder=holder, use=at, now=datetime(2026, 5, 11, tzinfo=UTC)).outcome is CheckOutcome.EXEMPT


def test_no_limitation_rule_is_said_not_guessed() -> None:
    holder = replace(HOLDER_FACTS, learned_at=date(2000, 1, 1))
    result = check(holder=holder, use=replace(USE, country="BR"))
    assert result.outcome is CheckOutcome.CLEAR
    assert any("no limitation rule on record for country BR" in o.detail for o in result.observations)


def test_disputed_certificate_blocks_above_everything() -> None:
    result = check(disputed=True, licences=(licence(),))
    assert result.outcome is CheckOutcome.BLOCKED and not result.allows_claim and not result.licence_found
    assert result.decisive[0].source is Source.STANDING


def test_licensee_is_never_sent_a_claim() -> None:
    """Through the workflow: the check with an on-chain licence ends the case; no claim can follow."""
    case = case_in(CaseState.ILLEGAL)
    result = check(licences=(licence(),), now=case.last_event.at)
    ended = record_licence_check(case, result, actor=SYSTEM, at=case.last_event.at)
    assert ended.state is CaseState.LICENSED and not ended.is_open
    with pytest.raises(Exception, match="ended as licensed"):
        submit_claim(ended, actor=HOLDER, at=ended.last_event.at, standing=Standing(HOLDER_ADDR, False), reason="c")


def test_disputed_certificate_cannot_open_a_case() -> None:
    case = case_in(CaseState.ILLEGAL)
    blocked = check(disputed=True, now=case.last_event.at)
    kept = record_licence_check(case, blocked, actor=SYSTEM, at=case.last_event.at)
    assert kept.state is CaseState.ILLEGAL and kept.latest_check is blocked
    # even with an earlier clear check, a disputed standing at claim time refuses the claim
    clear = record_licence_check(case, check(now=case.last_event.at), actor=SYSTEM, at=case.last_event.at)
    with pytest.raises(ClaimRefusedError, match="disputed"):
        submit_claim(clear, actor=HOLDER, at=clear.last_event.at, standing=Standing(HOLDER_ADDR, True), reason="c")


def test_unknown_knowledge_date_is_said() -> None:
    result = check(holder=replace(HOLDER_FACTS, learned_at=None))
    assert result.outcome is CheckOutcome.CLEAR
    assert any("not known" in o.detail for o in result.observations if o.source is Source.LIMITATION)


def test_the_check_is_recorded_as_plain_data() -> None:
    data = check(licences=(licence(),)).as_dict()
    assert data["outcome"] == "licensed" and data["host"] == "shop.example.de" and data["certificate_id"] == "7"
    assert {"source": "on_chain_licence", "effect": "licensed"}.items() <= data["observations"][0].items()
    assert data["checked_at"] == NOW.isoformat()
