# ruff: noqa: RUF001 - imprints are written with full-width and typographic characters
"""Reading site operators from imprint pages in German, English, French and Japanese, and schema.org data."""

from __future__ import annotations

import pytest

from tests.backend.unit.sites import pages
from tracemark.sites import Operator, extract_operator, imprint_links


def test_german_impressum_with_obfuscated_email_and_register() -> None:
    op = extract_operator(pages.GERMAN_IMPRESSUM, "https://www.bildwerk-nord.de/impressum")
    assert op is not None
    assert op.name == "Bildwerk Nord GmbH & Co. KG"  # not the web agency named in the footer
    assert op.address == "Speicherstraße 12a, 20457 Hamburg"
    assert (op.postcode, op.locality, op.country) == ("20457", "Hamburg", "DE")
    assert op.email == "kontakt@bildwerk-nord.de"
    assert op.phone == "+49 (0)40 123 456-0"  # the telephone, not the fax
    assert op.vat_id == "DE123456789"
    assert op.company_id == "HRA 123456 (Amtsgericht Hamburg)"
    assert op.source == "imprint"
    assert op.source_url == "https://www.bildwerk-nord.de/impressum"


def test_austrian_impressum_in_broken_html() -> None:
    op = extract_operator(pages.AUSTRIAN_IMPRESSUM_BROKEN, "https://alpenblick.at/impressum")
    assert op is not None
    assert op.name == "Fotostudio Alpenblick e.U."
    assert op.address == "Mariahilfer Straße 45/3, 1060 Wien"
    assert op.country == "AT"  # four-digit postcodes are shared; Vienna, the UID and +43 settle it
    assert op.email == "office@alpenblick.at"
    assert op.phone == "+43 1 234 56 78"
    assert op.vat_id == "ATU12345678"
    assert op.company_id == "FN 123456a"


def test_english_legal_notice() -> None:
    op = extract_operator(pages.ENGLISH_LEGAL_NOTICE, "https://harbourlight.co.uk/legal-notice")
    assert op is not None
    assert op.name == "Harbour Light Images Ltd"  # the lead-in "This website is operated by" is cut off
    assert op.address == "14 Quayside Road, Bristol BS1 4RN, United Kingdom"
    assert op.postcode == "BS1 4RN"
    assert op.country == "GB"
    assert op.email == "hello@harbourlight.co.uk"
    assert op.phone == "+44 117 496 0123"
    assert op.vat_id == "GB123456789"
    assert op.company_id == "Company number 09876543"
    assert op.source == "imprint"  # the JSON-LD added nothing the text lacked


def test_french_mentions_legales() -> None:
    op = extract_operator(pages.FRENCH_MENTIONS, "https://lumiere-azur.fr/mentions-legales")
    assert op is not None
    assert op.name == "Lumière d'Azur SARL"  # not the host (OVH SAS) named further down
    assert op.address == "12, rue de la Buffa, 06000 Nice, France"
    assert op.country == "FR"
    assert op.email == "contact@lumiere-azur.fr"
    assert op.phone == "04 93 12 34 56"
    assert op.vat_id == "FR40812345678"
    assert op.company_id == "RCS Nice B 812 345 678"


def test_japanese_tokushoho_table() -> None:
    op = extract_operator(pages.JAPANESE_TOKUSHOHO, "https://sakura-photo.jp/law")
    assert op is not None
    assert op.name == "株式会社サクラフォト"
    assert op.address == "〒150-0002 東京都渋谷区渋谷2-21-1 渋谷ヒカリエ 8F"
    assert op.postcode == "150-0002"
    assert op.country == "JP"
    assert op.email == "info@sakura-photo.jp"  # full-width at sign
    assert op.phone == "03-1234-5678"
    assert op.company_id == "法人番号 1234567890123"


def test_japanese_company_profile_definition_list() -> None:
    op = extract_operator(pages.JAPANESE_COMPANY_DL, "https://minato.example.co.jp/company/")
    assert op is not None
    assert op.name == "合同会社ミナト写真館"
    assert op.address == "〒530-0001, 大阪府大阪市北区梅田1丁目1番3号"
    assert op.country == "JP"
    assert op.email == "minato@example.co.jp"


def test_schema_org_json_ld_with_cdata_and_trailing_commas() -> None:
    op = extract_operator(pages.SCHEMA_ONLY, "https://atelier-rg.fr/")
    assert op == Operator(
        name="Atelier Rive Gauche SAS", address="8 rue Jacob, 75006 Paris, FR", postcode="75006", locality="Paris",
        country="FR", country_basis="schema.org addressCountry", email="bonjour@atelier-rg.fr",
        phone="+33 1 42 00 00 00", vat_id="FR83404833048", source_url="https://atelier-rg.fr/", source="schema.org",
    )


def test_schema_org_microdata() -> None:
    op = extract_operator(pages.MICRODATA, "https://nordlicht.example/")
    assert op is not None
    assert op.name == "Nordlicht Media AG"
    assert op.address == "Königsallee 1, 40212 Düsseldorf"
    assert op.country == "DE"
    assert op.email == "presse@nordlicht.example"  # from the mailto: of the itemprop link
    assert op.phone == "+49 211 000000"


def test_the_cli_contract_page() -> None:
    html = ("<html lang='de'><body><h1>Impressum</h1><p>Muster GmbH, Musterweg 1, 10115 Berlin</p>"
            "<p>E-Mail: info@muster-gmbh.de</p></body></html>")
    op = extract_operator(html, "http://shop.example.de:8080/impressum")
    assert op is not None
    assert (op.name, op.address, op.email, op.country) == (
        "Muster GmbH", "Musterweg 1, 10115 Berlin", "info@muster-gmbh.de", "DE")
    assert op.as_dict()["email"] == "info@muster-gmbh.de"
    assert set(op.as_dict()) >= {"name", "address", "email", "phone", "vat_id", "company_id", "source_url", "source"}


@pytest.mark.parametrize("written", [
    "info [at] example [dot] de", "info(at)example(dot)de", "info {at} example {punkt} de", "info＠example．de",
    "info [ät] example [.] de",
])
def test_email_obfuscations(written: str) -> None:
    html = f"<h1>Impressum</h1><p>Beispiel GmbH</p><p>E-Mail: {written}</p>"
    op = extract_operator(html, "https://example.de/impressum")
    assert op is not None and op.email in ("info@example.de",), written


def test_spoken_email_only_in_a_labelled_line() -> None:
    op = extract_operator("<h1>Imprint</h1><p>Example Ltd</p><p>Email: info at example dot com</p>",
                          "https://example.com/imprint")
    assert op is not None and op.email == "info@example.com"


@pytest.mark.parametrize(("text", "vat"), [
    ("USt-IdNr.: DE123456789", "DE123456789"), ("VAT: DE 123 456 789", "DE123456789"),
    ("TVA : FR 40 812345678", "FR40812345678"), ("UID: ATU12345678", "ATU12345678"),
    ("BTW NL123456789B01", "NL123456789B01"), ("MWST CHE-123.456.789", "CHE123456789"),
    ("Partita IVA IT12345678901", "IT12345678901"),
])
def test_vat_formats(text: str, vat: str) -> None:
    op = extract_operator(f"<h1>Impressum</h1><p>Beispiel GmbH</p><p>{text}</p>", "https://example.eu/impressum")
    assert op is not None and op.vat_id == vat


def test_malformed_vat_ids_are_not_taken() -> None:
    op = extract_operator("<h1>Impressum</h1><p>Beispiel GmbH</p><p>USt-IdNr.: DE12345</p>",
                          "https://example.de/impressum")
    assert op is not None and op.vat_id is None


def test_sole_trader_without_legal_form() -> None:
    html = ("<h1>Impressum</h1><p>Max Mustermann</p><p>Fotografie</p><p>Hauptstr. 3</p><p>80331 München</p>"
            "<p>Tel.: 089 123456</p>")
    op = extract_operator(html, "https://mustermann-foto.de/impressum")
    assert op is not None
    assert op.name == "Max Mustermann"
    assert op.address == "Hauptstr. 3, 80331 München"
    assert op.phone == "089 123456"
    assert op.country == "DE"


def test_country_prefixed_postcode() -> None:
    op = extract_operator("<h1>Impressum</h1><p>Bergbild AG</p><p>Bahnhofstrasse 1, CH-8001 Zürich</p>",
                          "https://bergbild.example.com/impressum")
    assert op is not None and op.country == "CH" and op.address == "Bahnhofstrasse 1, CH-8001 Zürich"


def test_a_page_that_is_no_imprint_needs_more_than_an_email() -> None:
    assert extract_operator(pages.BLOG_POST, "https://blog.example.com/2026/kyoto") is None
    # ... but a footer with a company name and its address counts anywhere.
    footer = "<p>Welcome</p><footer>Beispiel GmbH · Hauptstr. 3 · 80331 München · info@beispiel.de</footer>"
    op = extract_operator(footer, "https://beispiel.de/")
    assert op is not None and op.name == "Beispiel GmbH" and op.address == "Hauptstr. 3, 80331 München"


@pytest.mark.parametrize("html", [
    "", "   ", "\x00\x00", "not html at all", "<", "<html><body></body></html>",
    "<?xml version='1.0' encoding='utf-8'?>",
    "<html><body><h1>Impressum</h1></body></html>", "<script>var x = '<h1>Impressum</h1>';</script>",
    '<script type="application/ld+json">{not json</script>',
    '<script type="application/ld+json">{"@type": "Organization"}</script>',
    '<script type="application/ld+json">[1, "x", null]</script>',
    "<table><tr><th>会社名<td><dl><dt>住所<dt><dd></table>",
])
def test_nothing_to_read_gives_none(html: str) -> None:
    assert extract_operator(html, "https://example.de/impressum") is None


def test_huge_lines_are_read_fast() -> None:
    import time

    started = time.monotonic()
    assert extract_operator("<h1>Impressum</h1><p>" + "a" * 200_000 + "</p>", "https://example.de/impressum") is None
    assert extract_operator("<h1>Impressum</h1><p>" + "a." * 100_000 + "@x</p>", "https://example.de/i") is None
    assert time.monotonic() - started < 5


def test_xhtml_with_encoding_declaration() -> None:
    html = ("<?xml version='1.0' encoding='utf-8'?><html xmlns='http://www.w3.org/1999/xhtml' xml:lang='de'>"
            "<body><h1>Impressum</h1><p>Muster GmbH</p><p>Musterweg 1</p><p>10115 Berlin</p></body></html>")
    op = extract_operator(html, "https://example.de/impressum")
    assert op is not None and op.name == "Muster GmbH" and op.country == "DE"


def test_imprint_links_best_first() -> None:
    found = imprint_links(pages.FOOTER_LINKS, "https://www.shop.example.de/page")
    assert found[:3] == [
        "https://www.shop.example.de/legal/impressum.html",  # fragment dropped
        "https://www.shop.example.de/mentions-legales",
        "https://www.shop.example.de/law.html",
    ]
    assert "https://www.shop.example.de/company/" in found
    assert found.index("https://www.shop.example.de/company/") < found.index("https://www.shop.example.de/contact")
    assert found.index("https://www.shop.example.de/contact") < found.index("https://www.shop.example.de/about-us")
    assert "https://www.shop.example.de/privacy" not in found
    assert "https://facebook.com/legal" not in found  # another site, and not an imprint by name
    assert "https://other.example.com/impressum" in found  # another site named an imprint: kept, ranked down
    assert not any(u.startswith(("mailto:", "javascript:")) for u in found)


def test_imprint_links_by_url_alone_and_base_href() -> None:
    html = ('<html><head><base href="https://cdn.example.jp/shop/"></head><body>'
            '<a href="tokushoho.html"><img src="x.png"></a><a href="inquiry/">➜</a></body></html>')
    assert imprint_links(html, "https://example.jp/") == ["https://cdn.example.jp/shop/tokushoho.html",
                                                          "https://cdn.example.jp/shop/inquiry/"]


@pytest.mark.parametrize("html", ["", "<a href='http://[::1'>Impressum</a>", "<a>Impressum</a>", "<<<>>>"])
def test_imprint_links_on_broken_input(html: str) -> None:
    assert imprint_links(html, "https://example.de/") == []


@pytest.mark.parametrize(("html", "expected"), [
    ("<h1>Mentions légales</h1><p>Photo Lumière SAS au capital de 1 000 €</p>"
     "<p>8 avenue Jean Médecin, 06000 Nice</p><p>contact@photolumiere.fr</p>",
     {"name": "Photo Lumière SAS", "address": "8 avenue Jean Médecin, 06000 Nice", "country": "FR"}),
    ("<h1>Imprint</h1><p>Acme Photo LLC, 123 Main St, Springfield, IL 62701, USA</p><p>Phone: (217) 555-0100</p>",
     {"name": "Acme Photo LLC", "address": "123 Main St, Springfield, IL 62701, USA", "country": "US",
      "phone": "(217) 555-0100"}),
    ("<h1>会社概要</h1><p>会社名：株式会社テスト写真</p><p>所在地：〒100-0001 東京都千代田区千代田1-1</p>"
     "<p>TEL：03-0000-0000</p>",
     {"name": "株式会社テスト写真", "address": "〒100-0001 東京都千代田区千代田1-1", "country": "JP",
      "phone": "03-0000-0000"}),
    ("<h2>Mentions légales</h2><p>Studio Lumen SRL</p><p>Rue Neuve 12</p><p>1000 Bruxelles</p>"
     "<p>TVA BE 0123.456.789</p>",
     {"name": "Studio Lumen SRL", "address": "Rue Neuve 12, 1000 Bruxelles", "country": "BE",
      "vat_id": "BE0123456789"}),
    ("<h2>Colofon</h2><p>Fotostudio Zon B.V.</p><p>Keizersgracht 1</p><p>1012 AB Amsterdam</p><p>info@zon.nl</p>",
     {"name": "Fotostudio Zon B.V.", "address": "Keizersgracht 1, 1012 AB Amsterdam", "country": "NL"}),
    ("<h1>Impressum</h1><p>Bildagentur Nord GmbH<br>Hafenstr. 5<br>D-20457 Hamburg</p>",
     {"name": "Bildagentur Nord GmbH", "address": "Hafenstr. 5, D-20457 Hamburg", "country": "DE"}),
    ('<h1>Impressum</h1><p>Muster GmbH</p><p>Musterweg 1, 10115 Berlin</p><p>E-Mail: <a href="/cdn-cgi/l/'
     'email-protection" class="__cf_email__" data-cfemail="422b2c242d022f37313627306c2627">[email protected]</a>'
     "</p>", {"email": "info@muster.de"}),
    ("<h1>Impressum</h1><p>Muster GmbH</p><p>Musterweg 1, 10115 Berlin</p>"
     "<p><a href='mailto:kontakt@muster.de?subject=Hallo'>E-Mail schreiben</a></p>", {"email": "kontakt@muster.de"}),
    ("<footer><p>© 2026 Sea Light Photography Ltd. Registered in England and Wales No. 12345678. Registered "
     "office: 1 High Street, Oxford OX1 1AA.</p></footer>",
     {"name": "Sea Light Photography Ltd.", "address": "1 High Street, Oxford OX1 1AA", "country": "GB",
      "company_id": "Company number 12345678"}),
    ("<h1>Impressum</h1><p>Alpen Foto GmbH. Marktgasse 3. 9000 St. Gallen. Schweiz.</p>",
     {"name": "Alpen Foto GmbH", "locality": "St. Gallen", "country": "CH"}),
    ("<h1>Impressum</h1><h2>Angaben gemäß § 5 DDG</h2><p>Erika Musterfrau<br>Fotografie Musterfrau<br>"
     "Lindenallee 7<br>50667 Köln</p><h2>Kontakt</h2><p>Telefon: 0221 123456<br>E-Mail: erika@musterfrau-foto.de</p>",
     {"name": "Erika Musterfrau", "address": "Lindenallee 7, 50667 Köln", "phone": "0221 123456", "country": "DE"}),
], ids=["fr-capital", "us", "ja-fullwidth", "be", "nl", "d-prefix", "cloudflare", "mailto", "uk-footer",
        "sentences", "de-sole-trader"])
def test_more_layouts(html: str, expected: dict[str, str]) -> None:
    op = extract_operator(html, "https://example.com/impressum")
    assert op is not None
    got = op.as_dict()
    assert {key: got[key] for key in expected} == expected


def test_random_broken_markup_never_raises() -> None:
    import random

    from tracemark.sites import country_of

    rng = random.Random(11)
    pieces = ["<h1>", "</h1>", "<p>", "</p>", "<br>", "<table>", "<tr>", "<td>", "<th>", "</table>", "<dl>", "<dt>",
              "<dd>", "<a href='", "mailto:x@y.de", "'>", "</a>", "<script type='application/ld+json'>", "{\"@type\":",
              "\"Organization\"", "</script>", "Impressum", "GmbH", "株式会社", "〒100-0001", "10115 Berlin", ", ",
              "E-Mail:", "info [at] x [dot] de", "Tel.", "+49 30 1234567", "DE123456789", "HRB 1", "<!--", "-->",
              "<div itemscope itemtype='https://schema.org/Organization'>", "<span itemprop='name'>", "</span>",
              "&amp;", "&#0;", "\x00", "\ufffd", "<", ">", "\"", "'", "<?xml version='1.0' encoding='utf-8'?>",
              "<base href='", "javascript:", "//", "Mentions légales", "SARL", "会社概要", "：", "\n", " "]
    for _ in range(400):
        html = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 60)))
        op = extract_operator(html, "https://example.de/impressum")
        imprint_links(html, "https://example.de/")
        country_of("https://example.de/", html_lang=None, content_language=None, operator=op)


@pytest.mark.parametrize("depth", [300, 1500, 20_000])
def test_deeply_nested_pages(depth: int) -> None:
    html = "<h1>Impressum</h1>" + "<div>" * depth + "Muster GmbH, Musterweg 1, 10115 Berlin"
    op = extract_operator(html, "https://x.de/impressum")  # no RecursionError, whatever the depth
    if depth <= 1500:  # libxml2 keeps up to its depth limit; the text below it is read
        assert op is not None and op.name == "Muster GmbH"
