"""The country of a site and the reason: postal address, country-code TLD, language region, bare language."""

from __future__ import annotations

import pytest

from tracemark.sites import Country, Operator, country_of
from tracemark.sites.country import country_of_tld

VIENNA = Operator(name="Alpenblick e.U.", address="Mariahilfer Straße 45, 1060 Wien", country="AT",
                  country_basis="Austrian postcode format (1060) and town Wien")


def test_the_address_wins_and_the_reason_says_so() -> None:
    country = country_of("https://alpenblick.de/impressum", html_lang="de-DE", content_language=None,
                         operator=VIENNA)
    assert country is not None
    assert country.code == "AT" and country.basis == "address"
    assert "Mariahilfer Straße 45, 1060 Wien" in country.reason and "AT" in country.reason
    assert "tld: .de -> DE" in country.reason  # the disagreeing evidence is named
    assert country.as_dict()["code"] == "AT" and "reason" in country.as_dict()


@pytest.mark.parametrize(("url", "code"), [
    ("https://shop.example.de/", "DE"), ("http://example.co.uk/x", "GB"), ("https://example.co.jp", "JP"),
    ("https://EXAMPLE.FR./", "FR"), ("http://shop.example.de:8080/bilder", "DE"),
    ("https://xn--80ak6aa92e.xn--p1ai", "RU"),
    ("https://example.com", None), ("https://example.eu", None), ("https://example.io", None),
    ("https://example.tv", None), ("https://example.photography", None), ("http://127.0.0.1:8000/", None),
    ("http://[::1]:8000/", None), ("https://example.gb", None), ("", None),
])
def test_tld(url: str, code: str | None) -> None:
    assert country_of_tld(url) == code
    found = country_of(url, html_lang=None, content_language=None, operator=None)
    assert (found.code if found else None) == code
    if found is not None:
        assert found.basis == "tld" and "TLD" in found.reason


def test_region_subtags_beat_bare_languages() -> None:
    c = country_of("https://example.com/", html_lang="de", content_language="de-AT")
    assert c is not None and "de-AT" in c.reason
    assert c == Country(code="AT", basis="content-language", reason=c.reason,
                        evidence=("content-language: de-AT -> AT", "html-lang: de -> DE (weak)"))
    c = country_of("https://example.com/", html_lang="fr-CH", content_language=None, operator=None)
    assert c is not None and (c.code, c.basis) == ("CH", "html-lang")
    c = country_of("https://example.com/", html_lang="en_GB", content_language=None, operator=None)
    assert c is not None and c.code == "GB"
    c = country_of("https://example.com/", html_lang="sr-Latn-RS", content_language=None, operator=None)
    assert c is not None and c.code == "RS"


def test_bare_language_is_weak_and_last() -> None:
    c = country_of("https://example.com/", html_lang="ja", content_language=None, operator=None)
    assert c is not None and c.code == "JP" and c.basis == "html-lang (language only)" and "weak" in c.reason
    # The TLD is better evidence than a bare language.
    c = country_of("https://example.fr/", html_lang="ja", content_language=None, operator=None)
    assert c is not None and c.code == "FR" and c.basis == "tld"


@pytest.mark.parametrize("lang", ["en", "es", "pt", "zh", "ar", "es-419", "*", "", "x", "en-XX", "en-ZZ"])
def test_languages_that_name_no_country(lang: str) -> None:
    assert country_of("https://example.com/", html_lang=lang, content_language=lang, operator=None) is None


def test_tld_beats_language_region() -> None:
    c = country_of("https://example.at/", html_lang="de-DE", content_language=None, operator=None)
    assert c is not None and c.code == "AT" and "html-lang: de-DE -> DE" in c.reason


def test_operator_without_known_country_falls_back() -> None:
    op = Operator(name="Example Inc.", address="somewhere")
    c = country_of("https://example.ch/", html_lang=None, content_language=None, operator=op)
    assert c is not None and c.code == "CH" and c.basis == "tld"


def test_content_language_list() -> None:
    c = country_of("https://example.org/", html_lang=None, content_language="en, fr-BE;q=0.5")
    assert c is not None and c.code == "BE"
