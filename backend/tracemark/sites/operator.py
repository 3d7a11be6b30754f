# ruff: noqa: RUF001, RUF002 - imprints are written with full-width and typographic characters
"""Who runs a site: finding the imprint page and reading the operator's details from it.

Many countries oblige a commercial site to name its operator: Germany's Impressum (§ 5 DDG, formerly TMG),
Austria's (§ 5 ECG, § 25 MedienG), France's mentions légales (LCEN art. 6), Japan's 特定商取引法に基づく表記
(Act on Specified Commercial Transactions), the UK's company details (Companies Act 2006). Such a page names the
operator, its postal address, how to reach it, and its VAT and register ids: what a letter needs.

Reading order:
1. schema.org `Organization` / `LocalBusiness` (and their subtypes) in JSON-LD or microdata: structured, but a
   site may describe anything with it, so it fills only what the imprint text leaves open.
2. The imprint text, laid out in lines (`tracemark.sites._html`): labelled lines (`Telefon: ...`,
   `会社名：...`, `Siège social : ...`, table rows and definition lists become such lines), a name with a legal
   form (GmbH, SARL, Ltd, 株式会社, ...), a postal address found by its postcode (formats per country), e-mail
   addresses (also `mailto:` links and obfuscations such as `info [at] example [dot] de`), telephone numbers, EU
   VAT ids (validated against each country's format) and register ids (HRB 12345, FN 123456a, RCS Paris B
   123 456 789, SIREN, company number, 法人番号).

3. Ethereum wallets the operator publishes (`0x` and 40 hex digits in the imprint text, in `ethereum:` and block
   explorer links, in its structured data): an address in mixed case must carry a valid EIP-55 checksum; all lower
   or all upper case carries none. The licence check matches them against the licensees of on-chain licences.

`extract_operator` returns None when a page says nothing about an operator. On a page that does not present
itself as an imprint (no imprint heading, no imprint URL), text alone counts only when it shows at least two
kinds of details, so that a blog post with an e-mail address is not taken for an imprint.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit, urlunsplit

import lxml.html

from tracemark.sites import _html
from tracemark.sites._countries import (
    CITY_COUNTRY,
    COUNTRY_NAMES,
    ISO_CODES,
    PHONE_CODES,
    VAT_PREFIX_COUNTRY,
)
from tracemark.sites._html import Line

__all__ = ["Operator", "checksum_address", "extract_operator", "find_wallets", "imprint_links", "wallet_address"]


@dataclass(frozen=True)
class Operator:
    """The operator of a site as its imprint or structured data names it.

    Attributes:
        name: Company or person, with its legal form (`Muster GmbH`, `株式会社サンプル`).
        address: The postal address on one line (`Musterweg 1, 10115 Berlin`).
        postcode: The postcode in it, as written.
        locality: The town after the postcode.
        country: ISO 3166-1 alpha-2 code of the address's country, when the address says so clearly enough.
        country_basis: Why the address is taken to lie in `country` (e.g. `German postcode, imprint in German`).
        email: Contact e-mail address (de-obfuscated).
        phone: Telephone number as written.
        vat_id: VAT id, normalised (`DE123456789`, `ATU12345678`, `CHE123456789`).
        company_id: Register id with the register when named (`HRB 12345 (Amtsgericht Charlottenburg)`).
        source_url: The page the details were read from.
        source: `imprint` (page text), `schema.org` (structured data) or `imprint+schema.org`.
        wallets: Ethereum addresses the operator publishes, EIP-55 checksummed (at most `MAX_WALLETS`).
    """

    name: str | None = None
    address: str | None = None
    postcode: str | None = None
    locality: str | None = None
    country: str | None = None
    country_basis: str | None = None
    email: str | None = None
    phone: str | None = None
    vat_id: str | None = None
    company_id: str | None = None
    source_url: str = ""
    source: str = "imprint"
    wallets: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The operator as a JSON-ready dict (every field, None where unknown; `wallets` a list)."""
        out: dict[str, Any] = asdict(self)
        out["wallets"] = list(self.wallets)
        return out

    @property
    def is_empty(self) -> bool:
        """Whether nothing about the operator is known."""
        return not any((self.name, self.address, self.email, self.phone, self.vat_id, self.company_id))


# ---- finding the imprint page -----------------------------------------------------------------------------------

# (pattern, score): the link text or URL names an imprint (best), company details, a contact page, an about page.
_LINK_TEXT_SCORES: list[tuple[re.Pattern[str], int]] = [
    (re.compile(r"impressum|imprint|legal\s*notice|site\s*notice|mentions\s*l[ée]gales|anbieterkennzeichnung|"
                r"特定商取引|特商法|legal\s*disclosure|informations?\s*l[ée]gales", re.I), 100),
    (re.compile(r"会社概要|会社情報|運営会社|運営者情報|運営者|corporate\s*information|company\s*(?:info|details|"
                r"profile)|legal\s*information|rechtliche\s*hinweise|^legal$|^rechtliches$", re.I), 70),
    (re.compile(r"kontakt|contact|お問い?合わ?せ|問合せ|nous\s*contacter|contactez", re.I), 45),
    (re.compile(r"über\s*uns|about(?:\s*us)?$|à\s*propos|a\s*propos|qui\s*sommes|私たちについて|企業情報", re.I), 20),
]
_LINK_PATH_SCORES: list[tuple[re.Pattern[str], int]] = [
    (re.compile(r"impressum|imprint|legal[-_]?notice|site[-_]?notice|mentions[-_]?legales|tokushoho|"
                r"tokutei|legal[-_]?disclosure|anbieterkennzeichnung", re.I), 90),
    (re.compile(r"(?:^|/)(?:company|corporate|kaisha|gaiyou|gaiyo|legal|rechtliches)(?:[/._-]|$)", re.I), 55),
    (re.compile(r"kontakt|contact|inquiry|toiawase|otoiawase", re.I), 40),
    (re.compile(r"about|ueber-uns|uber-uns|a-propos|qui-sommes", re.I), 15),
]
# Links that name a neighbouring page an imprint link often stands next to: never an imprint.
_NOT_IMPRINT = re.compile(r"datenschutz|privacy|cookie|agb\b|terms|conditions|confidentialit|プライバシー|"
                          r"個人情報|利用規約|newsletter|karriere|career|jobs", re.I)


def _host(url: str) -> str:
    host = (urlsplit(url).hostname or "").lower()
    return host[4:] if host.startswith("www.") else host


def imprint_links(html: str, base_url: str) -> list[str]:
    """Links of a page that probably lead to the site's imprint, contact or company page, best first.

    Args:
        html: The page.
        base_url: Its URL (relative links are resolved against it, or against its `<base href>`).

    Returns:
        Absolute http(s) URLs without fragment, de-duplicated; links to other sites only when their text names
        an imprint outright.
    """
    root = _html.parse(html)
    if root is None:
        return []
    base_href = next((b.get("href") for b in root.iter("base") if b.get("href")), None)
    base = urljoin(base_url, base_href) if base_href else base_url
    own = _host(base_url)
    scored: dict[str, tuple[int, int]] = {}
    for position, (href, text, label) in enumerate(_html.links(root)):
        if href.startswith(("#", "mailto:", "tel:", "javascript:", "data:")):
            continue
        try:
            absolute = urljoin(base, href)
            parts = urlsplit(absolute)
        except ValueError:
            continue
        if parts.scheme not in ("http", "https") or not parts.hostname:
            continue
        url = urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))
        words = f"{text} {label}".strip()
        if _NOT_IMPRINT.search(words) or _NOT_IMPRINT.search(unquote(parts.path)):
            continue
        text_score = max((score for pattern, score in _LINK_TEXT_SCORES if pattern.search(words)), default=0)
        path_score = max((score for pattern, score in _LINK_PATH_SCORES if pattern.search(unquote(parts.path))),
                         default=0)
        score = max(text_score, path_score) + min(text_score, path_score) // 4
        if score == 0:
            continue
        host = _host(absolute)
        if host != own and not host.endswith("." + own) and not own.endswith("." + host):
            if text_score < 100:
                continue
            score -= 30
        if url not in scored or scored[url][0] < score:
            scored[url] = (score, scored.get(url, (0, position))[1])
    return [url for url, _ in sorted(scored.items(), key=lambda item: (-item[1][0], item[1][1]))]


# ---- patterns ---------------------------------------------------------------------------------------------------

_IMPRINT_HEADING = re.compile(
    r"impressum|imprint|legal\s*notice|site\s*notice|mentions\s*l[ée]gales|informations?\s*l[ée]gales|"
    r"anbieterkennzeichnung|angaben\s*gem(?:ä|ae)(?:ß|ss)\s*§|特定商取引|会社概要|運営会社|運営者情報|会社情報|"
    r"company\s*(?:information|details)|corporate\s*information|legal\s*disclosure|éditeur\s*du\s*site|"
    r"[ée]dition\s*du\s*site",
    re.I,
)
_IMPRINT_URL = re.compile(r"impressum|imprint|legal|mentions|tokushoho|tokutei|company|kaisha|gaiyo|about|contact|"
                          r"kontakt", re.I)

# Legal forms that end a company name (case-sensitive where a lower-case word would be ordinary text: "sa", "ag").
_LEGAL_FORMS = (
    r"(?:\bGmbH\s*&\s*Co\.?\s*KG(?:aA)?|\bgGmbH|\bGmbH|\bmbH|\bUG\s*\(haftungsbeschr(?:ä|ae)nkt\)|\bUG|\bAG|\bKGaA|"
    r"\be\.\s?K\.|\be\.\s?Kfm\.|\be\.\s?Kfr\.|\bKG|\bOHG|\bGbR|\be\.\s?V\.|\beG|\bSE|\bSARL|\bS\.A\.R\.L\.?|"
    r"\bSàrl|\bSASU|\bSAS|\bS\.A\.S\.?|\bEURL|\bSNC|\bSCI|\bSCOP|\bSA|\bS\.A\.|\b[Ll]td\.?|\bLimited|\bLLC|"
    r"\bL\.L\.C\.|\b[Ii]nc\.?|\bIncorporated|\bCorp\.?|\bCorporation|\bPLC|\bplc|\bLLP|\bLP|\bCo\.,\s*Ltd\.?|"
    r"\bK\.K\.|\bB\.?V\.?|\bN\.?V\.?|\bS\.p\.A\.|\bS\.r\.l\.|\bS\.L\.|\bAB|\bA/S|\bApS|\bOy|\bAS|"
    r"\bsp\.\s?z\s?o\.\s?o\.|\bs\.r\.o\.|\bKft\.|\be\.\s?U\.)"
)
_LEGAL_FORM_END = re.compile(_LEGAL_FORMS + r"\s*[)）]?\.?\s*$")
_FORMS_WITHOUT_STOP = {
    "GmbH", "gGmbH", "mbH", "AG", "KG", "KGaA", "OHG", "UG", "GbR", "eG", "SE", "SARL", "SAS", "SASU", "EURL", "SNC",
    "SCI", "SA", "SRL", "LLC", "PLC", "plc", "LLP", "LP", "Limited", "Corporation", "Incorporated", "AB", "AS", "ApS",
    "Oy",
}
# What may follow a company name on its line: its capital, its seat, its registration.
_NAME_TAIL = re.compile(r"\s+(?:au\s+capital|with\s+(?:a\s+)?(?:share\s+)?capital|mit\s+(?:einem\s+)?(?:Stamm|Grund)"
                        r"kapital|mit\s+Sitz|registered\s+in|immatricul|inscrite?\s+au|dont\s+le\s+si[èe]ge)", re.I)
# Words that may stand inside a company name in lower case (`Lumière d'Azur`, `Müller und Söhne`).
_NAME_CONNECTORS = {"&", "und", "and", "et", "de", "du", "des", "la", "le", "les", "von", "van", "der", "den",
                    "of", "the", "+", "-", "–"}
_JP_LEGAL_FORM = re.compile(r"株式会社|合同会社|有限会社|合資会社|合名会社|一般社団法人|一般財団法人|"
                            r"公益社団法人|公益財団法人|特定非営利活動法人|NPO法人|[(（]株[)）]|[(（]有[)）]")

_LABELS: dict[str, re.Pattern[str]] = {
    "name": re.compile(
        r"^(?:firma|firmenname|firmierung|unternehmen|anbieter|diensteanbieter|betreiber(?:in)?|seitenbetreiber|"
        r"inhaber(?:in)?|name|company(?:\s*name)?|operator|owner|business\s*name|legal\s*name|registered\s*name|"
        r"trading\s*name|publisher|raison\s*sociale|d[ée]nomination(?:\s*sociale)?|soci[ée]t[ée]|[ée]diteur(?:\s*du"
        r"\s*site)?|nom|propri[ée]taire|会社名|商号|社名|法人名|販売業者|事業者名?|運営会社|運営者|運営|名称|"
        r"事業者の名称|販売事業者)$", re.I),
    "address": re.compile(
        r"^(?:anschrift|adresse|postanschrift|sitz(?:\s*der\s*gesellschaft)?|gesch(?:ä|ae)ftsadresse|address|"
        r"postal\s*address|registered\s*(?:office|address)|head\s*office|business\s*address|si[èe]ge(?:\s*social)?|"
        r"adresse\s*postale|所在地|住所|本社所在地|本社|事業所|事業者の住所|販売業者の住所)$", re.I),
    "email": re.compile(r"^(?:e-?mail|mail|email\s*address|e-?mail-adresse|courriel|adresse\s*(?:e-?mail|"
                        r"électronique|electronique)|メール(?:アドレス)?|電子メール|e-?mailアドレス)$", re.I),
    "phone": re.compile(r"^(?:tel(?:efon|ephone|\.)?|fon|phone(?:\s*number)?|t[ée]l(?:[ée]phone|\.)?|電話(?:番号)?|"
                        r"tel|mobil(?:e|telefon)?|handy|portable|hotline)$", re.I),
    "vat": re.compile(r"^(?:ust\.?-?id(?:nr\.?|-?nummer)?\.?|ust-?idnr\.?|umsatzsteuer-?(?:identifikations)?"
                      r"(?:nummer|-?id(?:\.?\s*nr\.?)?)?|vat(?:\s*(?:id|no\.?|number|reg(?:istration)?\.?\s*no\.?))?|"
                      r"(?:n°|no|numéro)?\s*(?:de\s*)?tva(?:\s*intra(?:communautaire)?)?|uid(?:-?nr\.?|-?nummer)?|"
                      r"mwst(?:-?nr\.?)?|iva|btw)$", re.I),
}
_LABEL_SPLIT = re.compile(r"^\s*(?P<label>[^:：]{1,48}?)\s*[:：]\s*(?P<value>.+)$")
_EMAIL = re.compile(r"(?<![A-Za-z0-9._%+\-])[A-Za-z0-9][A-Za-z0-9._%+\-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}"
                    r"[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?){0,8}\.[A-Za-z]{2,24}")
_OBFUSCATED_AT = re.compile(r"\s*[\[({<]\s*(?:at|ät|@|arobase|chez|アット|あっと)\s*[\])}>]\s*|\s*＠\s*", re.I)
_OBFUSCATED_DOT = re.compile(r"\s*[\[({<]\s*(?:dot|punkt|point|pt|ドット|\.)\s*[\])}>]\s*|．", re.I)
_SPOKEN_AT = re.compile(r"\s+(?:at|AT|ät)\s+")
_SPOKEN_DOT = re.compile(r"\s+(?:dot|DOT|punkt|point)\s+")
_PHONE = re.compile(r"(?:\+|00)?\(?\d[\d\s()/.\-‐－–]{5,22}\d")
_PHONE_INLINE = re.compile(
    r"(?:^|[\s,;|·])(?:Tel(?:efon|ephone)?|Fon|Phone|T[ée]l(?:[ée]phone)?|TEL|電話(?:番号)?|Mobil|Mobile)\.?\s*"
    r"(?:[:：.]\s*)?(?P<num>(?:\+|00)?\(?\d[\d\s()/.\-‐－–]{5,22}\d)", re.I)

_VAT_FORMATS = {
    "DE": r"\d{9}", "AT": r"U\d{8}", "FR": r"[0-9A-HJ-NP-Z]{2}\d{9}", "GB": r"\d{9}(?:\d{3})?", "XI": r"\d{9}",
    "NL": r"\d{9}B\d{2}", "BE": r"[01]\d{9}", "LU": r"\d{8}", "IT": r"\d{11}", "ES": r"[0-9A-Z]\d{7}[0-9A-Z]",
    "PL": r"\d{10}", "DK": r"\d{8}", "SE": r"\d{10}01", "IE": r"\d{7}[A-W][A-I]?|\d[A-Z+*]\d{5}[A-W]",
    "PT": r"\d{9}", "CZ": r"\d{8,10}", "EL": r"\d{9}", "FI": r"\d{8}", "SK": r"\d{10}", "SI": r"\d{8}",
    "HU": r"\d{8}", "RO": r"\d{2,10}", "BG": r"\d{9,10}", "HR": r"\d{11}", "EE": r"\d{9}", "LV": r"\d{11}",
    "LT": r"\d{9}(?:\d{3})?", "MT": r"\d{8}", "CY": r"\d{8}[A-Z]", "CHE": r"\d{9}",
}


def _spaced(pattern: str) -> str:
    """A format that tolerates one space, dot or hyphen between its characters (`DE 123 456 789`)."""
    out: list[str] = []
    for token in re.findall(r"\\d\{\d+(?:,\d+)?\}|\[[^\]]+\](?:\{\d+\}|\?)?|\\d|[A-Z]|\(\?:[^)]*\)\??|\|", pattern):
        repeat = re.fullmatch(r"(\\d|\[[^\]]+\])\{(\d+)(?:,(\d+))?\}", token)
        if repeat:
            unit, low, high = repeat.group(1), int(repeat.group(2)), repeat.group(3)
            piece = f"(?:[ .\\-]?{unit})"
            out.append(f"{piece}{{{low}}}" if high is None else f"{piece}{{{low},{int(high)}}}")
        else:
            out.append(f"[ .\\-]?{token}" if token not in ("|",) else token)
    return "".join(out)


_VAT = re.compile(
    r"(?<![A-Za-z0-9])(?:" + "|".join(
        f"(?P<{prefix}>{prefix}(?:{_spaced(fmt)}))" for prefix, fmt in _VAT_FORMATS.items()
    ) + r")(?![A-Za-z0-9])"
)
_COMPANY_IDS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(?P<id>(?:HRB|HRA|GnR|PR|VR|GsR)\s?\d{1,7}(?:\s?[A-Z]{1,3}\b)?)"), "DE"),
    (re.compile(r"\b(?:FN|Firmenbuchnummer:?)\s?(?P<id>\d{1,7}\s?[a-z])\b"), "AT"),
    (re.compile(r"\b(?P<id>RCS\s+[A-ZÉ][\w\-éèÉ]+(?:[\- ][A-ZÉ][\w\-éè]+)?\s+(?:[AB]\s+)?"
                r"\d{3}\s?\d{3}\s?\d{3})"), "FR"),
    (re.compile(r"\b(?P<id>SIRE[NT]\s*:?\s*\d{3}\s?\d{3}\s?\d{3}(?:\s?\d{5})?)"), "FR"),
    (re.compile(r"(?:company\s*(?:registration\s*)?(?:number|no\.?)|registered\s*in\s*england(?:\s*(?:and|&)\s*"
                r"wales)?(?:\s*under)?(?:\s*company)?(?:\s*(?:number|no\.?))?)\s*:?\s*(?P<id>[A-Z]{2}\d{6}|\d{6,8})",
                re.I), "GB"),
    (re.compile(r"法人番号\s*[:：]?\s*(?P<id>\d{13})"), "JP"),
    (re.compile(r"(?:CHE|UID)[-\s]?(?P<id>\d{3}\.\d{3}\.\d{3})"), "CH"),
]
_REGISTER_COURT = re.compile(
    r"(?:Amtsgericht|Registergericht|Handelsregister(?:\s*beim)?\s*(?:Amtsgericht)?)\s*:?\s*"
    r"(?P<court>[A-ZÄÖÜ][\wäöüß\-]+(?:[\- ](?:am|an|im|der)?\s?[A-ZÄÖÜ][\wäöüß\-.]+)?)"
)

# Postcodes: (pattern, countries it may belong to). Group `pc` is the postcode, `city` the town after it.
_CITY = r"(?P<city>[A-ZÀ-ÖØ-Þ][\w\-'’.]*(?:[ \-](?:(?:am|an|im|in|der|de|la|le|les|sur|sous|en|bei|ob|on|upon)"\
        r"\s)?[A-ZÀ-ÖØ-Þ(][\w\-'’.)]*){0,3})"
_POSTCODES: list[tuple[re.Pattern[str], tuple[str, ...]]] = [
    (re.compile(r"(?<![\w-])(?P<prefix>D|A|CH|F|B|L|FL|NL|I|E|DK|S|N)\s?-\s?(?P<pc>\d{4,5})\s+" + _CITY), ()),
    (re.compile(r"〒\s?(?P<pc>\d{3}\s?[-‐－−ー]\s?\d{4})\s*(?P<city>\S+)?"), ("JP",)),
    (re.compile(r"(?<!\d)(?P<pc>\d{3}-\d{4})(?!\d)\s*(?P<city>(?:東京都|北海道|大阪府|京都府|\S{2,3}県)\S*)"), ("JP",)),
    (re.compile(r"(?P<city>(?:東京都|北海道|大阪府|京都府|\S{2,3}県)\S*[市区町村郡]\S*)"), ("JP",)),
    (re.compile(r"\b(?P<pc>(?:GIR ?0AA|[A-PR-UWYZ][A-HK-Y]?\d[A-Z\d]? ?\d[ABD-HJLNP-UW-Z]{2}))\b"), ("GB",)),
    (re.compile(r"\b(?P<pc>[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z] ?\d[ABCEGHJ-NPRSTV-Z]\d)\b"), ("CA",)),
    (re.compile(r"\b(?P<state>A[LKZR]|C[AOT]|D[EC]|FL|GA|HI|I[DLNA]|K[SY]|LA|M[EDAINSOT]|N[EVHJMYCD]|O[HKR]|PA|RI|"
                r"S[CD]|T[NX]|UT|V[TA]|W[AVIY])\s+(?P<pc>\d{5}(?:-\d{4})?)\b"), ("US",)),
    (re.compile(r"(?<![\d\w])(?P<pc>\d{4} ?[A-Z]{2})\s+(?P<city>[A-Z][\w\-']+)"), ("NL",)),
    (re.compile(r"(?<![\d\w.,/-])(?P<pc>\d{2}-\d{3})\s+" + _CITY), ("PL",)),
    (re.compile(r"(?<![\d\w.,/-])(?P<pc>\d{5})\s+" + _CITY), ("DE", "FR", "IT", "ES", "FI", "US")),
    (re.compile(r"(?<![\d\w.,/-])(?P<pc>\d{4})\s+" + _CITY), ("AT", "CH", "BE", "LU", "DK", "NO", "LI")),
]
_PREFIX_COUNTRY = {"D": "DE", "A": "AT", "CH": "CH", "F": "FR", "B": "BE", "L": "LU", "FL": "LI", "NL": "NL",
                   "I": "IT", "E": "ES", "DK": "DK", "S": "SE", "N": "NO"}
_STREET = re.compile(
    r"(?:\d+\s?[a-zA-Z]?(?:[-/]\d+[a-z]?)?\.?$)|(?:^\d+[a-zA-Z]?(?:[-/]\d+)?,?\s+\S)|"
    r"(?:(?:str(?:\.|a(?:ß|ss)e)|weg|gasse|platz|allee|ring|damm|ufer|chaussee)\b)|"
    r"(?:\b(?:rue|avenue|boulevard|bd|chemin|all[ée]e|impasse|quai|place|road|street|lane|square|drive|way|suite|"
    r"floor|postfach|p\.?o\.?\s*box)\b)|(?:丁目|番地?|号)", re.I)
_LANG_HINTS = {
    "de": re.compile(r"impressum|anschrift|telefon|gesch(?:ä|ae)ftsf(?:ü|ue)hr|stra(?:ß|ss)e|gem(?:ä|ae)(?:ß|ss)|"
                     r"vertreten|registergericht|umsatzsteuer", re.I),
    "fr": re.compile(r"mentions\s*l[ée]gales|si[èe]ge|t[ée]l[ée]phone|directeur|publication|h[ée]bergeur|rue|"
                     r"soci[ée]t[ée]|capital", re.I),
    "ja": re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]"),
}
_LANGUAGE_NAMES = {"de": "German", "fr": "French", "ja": "Japanese", "en": "English"}
_LANGUAGE_HOME = {"de": ("DE", "AT", "CH", "LI", "LU", "BE"), "fr": ("FR", "BE", "CH", "LU", "MC", "CA"),
                  "ja": ("JP",), "it": ("IT", "CH"), "nl": ("NL", "BE"), "da": ("DK",), "es": ("ES",)}
_COUNTRY_ADJECTIVE = {"DE": "German", "AT": "Austrian", "CH": "Swiss", "FR": "French", "BE": "Belgian",
                      "LU": "Luxembourgish", "IT": "Italian", "ES": "Spanish", "FI": "Finnish", "US": "US",
                      "DK": "Danish", "NO": "Norwegian", "LI": "Liechtenstein", "NL": "Dutch", "PL": "Polish",
                      "GB": "UK", "CA": "Canadian", "JP": "Japanese", "SE": "Swedish"}


_MAX_LINE = 500

# ---- reading ----------------------------------------------------------------------------------------------------


def extract_operator(html: str, url: str) -> Operator | None:
    """Reads the operator of a site from a page (its imprint, contact or company page, or any page with
    schema.org data).

    Args:
        html: The page's HTML (broken markup is fine).
        url: The page's URL (recorded as `source_url`; an imprint-like URL makes the text count on its own).

    Returns:
        The operator, or None when the page names none.
    """
    root = _html.parse(html)
    if root is None:
        return None
    lang = _language(root, url)
    structured = _structured_operator(root)
    lines = _html.lines_of(root)
    start = next((i for i, line in enumerate(lines) if line.heading and len(line.text) <= 80
                  and _IMPRINT_HEADING.search(line.text)), None)
    if start is None:  # an imprint heading written as bold text or a plain line
        start = next((i for i, line in enumerate(lines) if len(line.text) <= 60
                      and _IMPRINT_HEADING.search(line.text) and not _is_link_text(root, line.text)), None)
    imprint_like = start is not None or bool(_IMPRINT_URL.search(unquote(urlsplit(url).path)))
    region = lines[start:] if start is not None else lines
    text_operator, strength = _read_text(region[:250], root, lang)
    if text_operator is not None and not imprint_like and strength < 2:
        text_operator = None
    merged = _merge(text_operator, structured)
    if merged is None or merged.is_empty:
        return None
    merged = _place(merged, lang)
    return replace(merged, source_url=url, wallets=_wallets(root, region[:250]))


# ---- wallets -----------------------------------------------------------------------------------------------------

MAX_WALLETS = 10
_WALLET = re.compile(r"(?<![0-9A-Za-z])0[xX]([0-9a-fA-F]{40})(?![0-9a-fA-F])")
_ZERO_ADDRESS = "0" * 40
_MAX_WALLET_SCAN = 200_000  # characters of text, links and structured data searched


def checksum_address(hex40: str) -> str:
    """The EIP-55 form of an address given as its 40 hex digits."""
    from eth_utils.crypto import keccak

    lower = hex40.lower()
    digest = keccak(text=lower).hex()
    return "0x" + "".join(c.upper() if c.isalpha() and int(digest[i], 16) >= 8 else c for i, c in enumerate(lower))


def wallet_address(text: str) -> str | None:
    """The checksummed address a `0x` + 40 hex string stands for, or None: mixed case must be a valid EIP-55
    checksum (a typo there is caught, not guessed at); the zero address is nobody's."""
    match = _WALLET.fullmatch(text.strip())
    if match is None:
        return None
    digits = match.group(1)
    if digits.lower() == _ZERO_ADDRESS:
        return None
    checksummed = checksum_address(digits)
    if digits not in (digits.lower(), digits.upper()) and digits != checksummed[2:]:
        return None
    return checksummed


def find_wallets(text: str) -> list[str]:
    """The valid Ethereum addresses in a text, checksummed, each once, in order (at most `MAX_WALLETS`)."""
    out: list[str] = []
    for match in _WALLET.finditer(text[:_MAX_WALLET_SCAN]):
        address = wallet_address(match.group(0))
        if address is not None and address not in out:
            out.append(address)
            if len(out) >= MAX_WALLETS:
                break
    return out


def _strings(value: Any, limit: int = 2000) -> Iterator[str]:
    stack, seen = [value], 0
    while stack and seen < limit:
        item = stack.pop()
        seen += 1
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _wallets(root: lxml.html.HtmlElement, region: list[Line]) -> tuple[str, ...]:
    """The wallets the operator publishes: in the imprint text, in `ethereum:` and explorer links (by their
    `/address/0x...`), and in the schema.org data of the operator."""
    parts = [line.text for line in region]
    for count, anchor in enumerate(root.iter("a")):
        if count >= 5000:
            break
        href = anchor.get("href") or ""
        if href.lower().startswith("ethereum:") or "/address/0x" in href.lower():
            parts.append(unquote(href[:300]).replace("ethereum:", " ").replace("/", " ").replace("@", " "))
    try:
        for block in _html.json_ld(root):
            for node in _walk(block):
                if _is_org(node):
                    parts.extend(_strings(node))
    except RecursionError:
        pass
    return tuple(find_wallets("\n".join(parts)))


def _is_link_text(root: lxml.html.HtmlElement, text: str) -> bool:
    return any(_html.clean(a.text_content()) == text for a in root.iter("a"))


def _language(root: lxml.html.HtmlElement, url: str) -> str:
    declared = (_html.html_lang(root) or "").split("-")[0].split("_")[0].lower()
    body = " ".join(line.text for line in _html.lines_of(root)[:300])
    kana = len(re.findall(r"[\u3040-\u30ff]", body))
    if declared == "ja" or kana >= 5:
        return "ja"
    if declared:
        return declared
    counts = {lang: len(pattern.findall(body)) for lang, pattern in _LANG_HINTS.items() if lang != "ja"}
    best = max(counts, key=lambda k: counts[k])
    return best if counts[best] >= 2 else "en"


def _labelled(line: str) -> tuple[str, str] | None:
    """(field, value) for a `label: value` line whose label names a field."""
    match = _LABEL_SPLIT.match(line)
    if match is None:
        return None
    label = re.sub(r"[\s.]*$", "", match.group("label")).strip()
    label = re.sub(r"^[\W_]+", "", label)
    for field, pattern in _LABELS.items():
        if pattern.match(label) or pattern.match(label.rstrip(".")):
            return field, match.group("value").strip()
    return None


_ABBREVIATIONS = {"st", "str", "nr", "no", "dr", "co", "mr", "mrs", "ms", "prof", "hr", "fr", "bzw", "ca", "tel",
                  "z", "b", "inh", "gesch", "ggf", "vgl", "abs", "art", "bd", "av", "ave", "rd"}
_SENTENCE_END = re.compile(r"\.\s+(?=[A-ZÄÖÜÀ-Þ])")


def _sentences(line: str) -> list[str]:
    """A line cut at sentence ends (a full stop, a space, a capital), not after an abbreviation (`Str. 5`)."""
    out, start = [], 0
    for match in _SENTENCE_END.finditer(line):
        word = re.findall(r"[\w]+$", line[start : match.start()])
        if word and (word[0].lower() in _ABBREVIATIONS or len(word[0]) == 1):
            continue
        out.append(line[start : match.start() + 1])
        start = match.end()
    out.append(line[start:])
    return out


def _segments(line: str) -> list[str]:
    """A line cut at sentence ends, commas, bars and bullets; a lone house number stays with what follows
    (`12, rue ...`)."""
    parts = [p.strip() for sentence in _sentences(line) for p in re.split(r"\s*(?:,|;|\||·|•|／)\s*", sentence)
             if p.strip()]
    out: list[str] = []
    for part in parts:
        if out and re.fullmatch(r"\d+[a-z]?", out[-1]) and not re.fullmatch(r"\d+", part):
            out[-1] = f"{out[-1]}, {part}"
        else:
            out.append(part)
    return out


def _deobfuscate(text: str) -> str:
    text = _OBFUSCATED_AT.sub("@", text)
    return _OBFUSCATED_DOT.sub(".", text)


def _emails(text: str, spoken: bool = False) -> list[str]:
    text = _deobfuscate(text)
    if spoken:
        text = _SPOKEN_DOT.sub(".", _SPOKEN_AT.sub("@", text))
    return [m.group(0).rstrip(".") for m in _EMAIL.finditer(text)]


def _cloudflare_emails(root: lxml.html.HtmlElement) -> list[str]:
    """Addresses hidden by Cloudflare's e-mail protection (`data-cfemail`: a key byte, then the address XOR key)."""
    out: list[str] = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        encoded = element.get("data-cfemail")
        if encoded is None and (element.get("href") or "").startswith("/cdn-cgi/l/email-protection#"):
            encoded = element.get("href", "").split("#", 1)[1]
        if not encoded or len(encoded) % 2 or len(encoded) > 512:
            continue
        try:
            raw = bytes.fromhex(encoded)
        except ValueError:
            continue
        decoded = bytes(b ^ raw[0] for b in raw[1:]).decode("utf-8", "replace")
        if _EMAIL.fullmatch(decoded) and decoded not in out:
            out.append(decoded)
    return out


def _phone_of(value: str) -> str | None:
    match = _PHONE.search(value)
    if match is None:
        return None
    number = _html.clean(match.group(0))
    digits = re.sub(r"\D", "", number)
    return number if 6 <= len(digits) <= 16 else None


def _vat_ids(text: str) -> list[str]:
    out: list[str] = []
    for match in _VAT.finditer(text):
        raw = match.group(0)
        out.append(re.sub(r"[ .\-]", "", raw))
    return out


def _company_id(text: str) -> tuple[str, str] | None:
    for pattern, country in _COMPANY_IDS:
        match = pattern.search(text)
        if match is None:
            continue
        ident = _html.clean(match.group("id"))
        if country == "DE":
            court = _REGISTER_COURT.search(text)
            if court is not None:
                ident = f"{ident} (Amtsgericht {court.group('court').removeprefix('Amtsgericht ')})"
        elif country == "AT":
            ident = f"FN {ident}"
        elif country == "JP":
            ident = f"法人番号 {ident}"
        elif country == "GB":
            ident = f"Company number {ident}"
        elif country == "CH":
            ident = f"CHE-{ident}"
        return ident, country
    return None


def _company_name(segment: str) -> str | None:
    """The company name a segment holds, when it holds one: it ends in a legal form (`... Bildwerk Nord GmbH &
    Co. KG`), or carries a Japanese one; a lead-in (`This website is operated by`) is cut off."""
    candidate = segment.strip(" :-–,")
    if ":" in candidate or "：" in candidate:
        candidate = re.split(r"[:：]", candidate, maxsplit=1)[1].strip()
    if not candidate or len(candidate) > 160 or "@" in candidate or "http" in candidate.lower():
        return None
    if _JP_LEGAL_FORM.search(candidate):
        return candidate if len(candidate) <= 60 else None
    candidate = _NAME_TAIL.split(candidate, maxsplit=1)[0].strip(" ,")
    if re.search(r"\b(?:HRB|HRA|Amtsgericht|Registergericht|RCS|SIRE[NT]|capital|Kapital)\b", candidate, re.I):
        return None
    match = _LEGAL_FORM_END.search(candidate)
    if match is None or match.start() == 0:
        return None
    # Walk back from the legal form over the name's words: capitalised words, digits and connectors.
    words = candidate[: match.start()].split()
    kept: list[str] = []
    for word in reversed(words):
        bare = word.strip("\"'„“”»«()")
        letters = re.sub(r"^[a-z]['’]", "", bare)  # d'Azur, l'Atelier
        if bare and (letters[:1].isupper() or letters[:1].isdigit() or bare.lower() in _NAME_CONNECTORS):
            kept.insert(0, word)
        else:
            break
    while kept and (kept[0].lower() in _NAME_CONNECTORS or kept[0].isdigit()):
        kept.pop(0)  # a connector or a number (a year after ©) does not start a name
    if not kept or len(kept) > 8:
        return None
    name = " ".join([*kept, candidate[match.start():].strip()])
    if name.endswith(".") and name[:-1].rsplit(" ", 1)[-1] in _FORMS_WITHOUT_STOP:
        name = name[:-1]  # a sentence's full stop after a form that has none of its own (`... GmbH.`)
    return name


def _street_of(segment: str) -> str | None:
    """The segment as a street line (a labelled address's value), or None: it needs a number and a street's look."""
    labelled = _labelled(segment)
    if labelled is not None:
        if labelled[0] != "address":
            return None
        segment = labelled[1]
    if (not re.search(r"\d", segment) or not _STREET.search(segment) or "@" in segment or len(segment) > 80
            or _company_name(segment) is not None):
        return None
    return segment


def _find_address(segments: list[tuple[int, str]], lines: list[str]) -> tuple[str, str | None, str | None,
                                                                            tuple[str, ...], str | None] | None:
    """(address, postcode, locality, candidate countries, named country) of the first address in the segments."""
    for index, (_, segment) in enumerate(segments):
        if "@" in segment or re.search(r"\b(?:tel|fax|phone|telefon|t[ée]l)\b", segment, re.I):
            continue
        for pattern, countries in _POSTCODES:
            match = pattern.search(segment)
            if match is None or re.search(r"(?:©|\(c\)|copyright|seit|since|depuis|anno)\s*$",
                                          segment[: match.start()], re.I):
                continue
            groups = match.groupdict()
            postcode = groups.get("pc")
            city = (groups.get("city") or "").strip() or None
            candidates = countries
            if groups.get("prefix"):
                candidates = (_PREFIX_COUNTRY[groups["prefix"]],)
            if groups.get("state"):
                city = None
            if candidates == ("JP",) and postcode is None and not re.search(r"\d", segment):
                continue  # a prefecture without any number is not an address
            whole = segment.split(":", 1)[1].strip() if _labelled(segment) else segment.strip()
            parts = [whole if len(whole) <= 80 else segment[match.start():].strip()]
            # The street: the segment before, when it looks like one.
            if index > 0 and candidates != ("JP",):
                before = segments[index - 1][1]
                street = _street_of(before)
                if street is not None:
                    parts.insert(0, street)
                elif (index > 1 and re.fullmatch(r"[^\W\d][\w .'’-]{1,40}", before)
                      and (street := _street_of(segments[index - 2][1])) is not None):
                    parts[:0] = [street, before]  # street, town, state and postcode (US style)
            elif candidates == ("JP",) and index + 1 < len(segments) and postcode is not None and city is None:
                parts.append(segments[index + 1][1])
            named: str | None = None
            for _, after in segments[index + 1 : index + 3]:
                code = COUNTRY_NAMES.get(after.strip(" .").casefold())
                if code is not None:
                    named = code
                    parts.append(after.strip())
                    break
            if named is None:
                for word in re.split(r"[\s,]+", segment):
                    code = COUNTRY_NAMES.get(word.strip(" .").casefold())
                    if code is not None and word not in ("UK",):
                        named = code
                        break
            address = ", ".join(dict.fromkeys(p.rstrip(" .") for p in parts if p.rstrip(" .")))
            return address, postcode, city.rstrip(" .") if city else None, candidates, named
    return None


def _read_text(region: list[Line], root: lxml.html.HtmlElement,
               lang: str) -> tuple[Operator | None, int]:
    """The operator the imprint text names, and how many kinds of details it showed."""
    texts = [line.text[:_MAX_LINE] for line in region]  # an imprint line is short; a huge one is no imprint
    fields: dict[str, str] = {}
    for text in texts:
        labelled = _labelled(text)
        if labelled is None:
            continue
        field, value = labelled
        if field in fields or _labelled(f"{value}: x") is not None:
            continue  # a value that is itself a label is a broken table, not a value
        if field == "email":
            found = _emails(value, spoken=True)
            if found:
                fields["email"] = found[0]
        elif field == "phone":
            number = _phone_of(value)
            if number:
                fields["phone"] = number
        elif field == "vat":
            ids = _vat_ids(value.upper())
            if ids:
                fields["vat"] = ids[0]
        else:
            fields[field] = value
    segments = [(i, seg) for i, text in enumerate(texts) for seg in _segments(text)]
    # Name: a labelled name, else the first segment with a legal form, else the first plain line after the
    # imprint heading (a sole trader's name).
    labelled_name = fields.get("name")
    name = _company_name(labelled_name) if labelled_name else None
    if name is None:
        name = next((n for _, seg in segments if (n := _company_name(seg)) is not None), None)
    if name is None:
        name = labelled_name
    weak_name = False
    if name is None and region and region[0].heading:
        for line in region[1:6]:
            text = line.text
            if (_labelled(text) is None and not re.search(r"\d|@|§", text) and len(text.split()) <= 5
                    and len(text) <= 60
                    and not _IMPRINT_HEADING.search(text) and not line.heading):
                name, weak_name = text, True
                break
    # Address: a labelled one first (its value and the line after), else the first postcode.
    address_info = None
    if "address" in fields:
        at = next(i for i, t in enumerate(texts) if (lab := _labelled(t)) is not None and lab[0] == "address")
        near = [(at, s) for s in _segments(fields["address"])]
        near += [(at + 1, s) for s in _segments(texts[at + 1])] if at + 1 < len(texts) else []
        address_info = _find_address(near, texts)
    if address_info is None:
        address_info = _find_address(segments, texts)
    # E-mail: labelled, else a mailto: link, else the first address in the text.
    email = fields.get("email")
    if email is None:
        email = next(iter(_cloudflare_emails(root)), None)
    if email is None:
        mailto = [unquote(a.get("href", "")[7:]).split("?")[0].strip() for a in root.iter("a")
                  if a.get("href", "").lower().startswith("mailto:")]
        mailto = [m for m in mailto if _EMAIL.fullmatch(m)]
        found = _emails("\n".join(texts))
        email = found[0] if found else (mailto[0] if mailto else None)
    phone = fields.get("phone")
    if phone is None:
        for text in texts:
            match = _PHONE_INLINE.search(text)
            if match is not None and (number := _phone_of(match.group("num"))):
                phone = number
                break
    if phone is None:
        tel = [a.get("href", "")[4:] for a in root.iter("a") if a.get("href", "").lower().startswith("tel:")]
        phone = next((n for t in tel if (n := _phone_of(unquote(t)))), None)
    joined = "\n".join(texts)
    vat = fields.get("vat")
    if vat is None:
        ids = _vat_ids(joined)
        vat = ids[0] if ids else None
    company = _company_id(joined)
    address, postcode, locality, candidates, named = address_info or (None, None, None, (), None)
    operator = Operator(
        name=name, address=address, postcode=postcode, locality=locality, email=email, phone=phone,
        vat_id=vat, company_id=company[0] if company else None, source="imprint",
    )
    if operator.is_empty:
        return None, 0
    strength = sum(bool(x) for x in (name and not weak_name, address, email or phone, vat or company))
    if address is not None:
        country, basis = _address_country(candidates, named, postcode, locality, vat, phone,
                                           company[1] if company else None, lang, address)
        operator = replace(operator, country=country, country_basis=basis)
    return operator, strength


def _address_country(candidates: tuple[str, ...], named: str | None, postcode: str | None, locality: str | None,
                     vat: str | None, phone: str | None, register: str | None, lang: str,
                     address: str) -> tuple[str | None, str | None]:
    """The country of an address, and why: a country named in it, a country-prefixed or unambiguous postcode
    format, else a shared format settled by the town, the VAT id, the register, the telephone code or the
    language of the imprint."""
    if named is not None:
        return named, "the address names the country"
    if len(candidates) == 1:
        code = candidates[0]
        what = "prefecture" if code == "JP" and postcode is None else "postcode"
        return code, f"{_COUNTRY_ADJECTIVE.get(code, code)} {what} format ({postcode or locality})"
    if not candidates:
        return None, None
    hints: list[tuple[str, str]] = []
    if locality is not None:
        city = CITY_COUNTRY.get(locality.casefold().split()[0]) or CITY_COUNTRY.get(locality.casefold())
        if city is not None:
            hints.append((city, f"town {locality}"))
    if vat is not None:
        prefix = "CHE" if vat.startswith("CHE") else vat[:2]
        hints.append((VAT_PREFIX_COUNTRY.get(prefix, prefix), f"VAT id {vat}"))
    if register is not None:
        hints.append((register, "company register"))
    if phone is not None:
        digits = re.sub(r"[^\d+]", "", phone)
        digits = "+" + digits[2:] if digits.startswith("00") else digits
        if digits.startswith("+"):
            for width in (3, 2, 1):
                by_phone = PHONE_CODES.get(digits[1 : 1 + width])
                if by_phone is not None:
                    hints.append((by_phone, f"telephone code +{digits[1 : 1 + width]}"))
                    break
    for code, why in hints:
        if code in candidates:
            return code, f"{_COUNTRY_ADJECTIVE.get(code, code)} postcode format ({postcode}) and {why}"
    homes = [c for c in _LANGUAGE_HOME.get(lang, ()) if c in candidates]
    if homes:
        code = homes[0]
        return code, (f"{_COUNTRY_ADJECTIVE.get(code, code)} postcode format ({postcode}), imprint in "
                      f"{_LANGUAGE_NAMES.get(lang, lang)}")
    return None, None


# ---- schema.org ------------------------------------------------------------------------------------------------

_ORG_TYPES = {
    "organization", "localbusiness", "corporation", "onlinebusiness", "onlinestore", "store", "ngo",
    "newsmediaorganization", "professionalservice", "educationalorganization", "governmentorganization",
    "medicalorganization", "performinggroup", "sportsorganization", "airline", "consortium", "project",
    "researchorganization", "workersunion", "fundingscheme", "library", "foodestablishment", "restaurant",
    "lodgingbusiness", "hotel", "legalservice", "attorney", "notary", "travelagency", "realestateagent",
    "photograph", "photographer", "homeandconstructionbusiness", "automotivebusiness", "healthandbeautybusiness",
    "entertainmentbusiness", "financialservice", "sportsactivitylocation", "emergencyservice",
}


def _types(node: dict[str, Any]) -> list[str]:
    value = node.get("@type") or node.get("type") or []
    values = value if isinstance(value, list) else [value]
    return [str(v).rsplit("/", 1)[-1].rsplit(":", 1)[-1].lower() for v in values if v]


def _is_org(node: dict[str, Any]) -> bool:
    return any(t in _ORG_TYPES or t.endswith(("organization", "business", "store", "corporation"))
               for t in _types(node))


def _walk(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        yield value
        for child in value.values():
            yield from _walk(child)
    elif isinstance(value, list):
        for child in value:
            yield from _walk(child)


def _text(value: Any) -> str | None:
    if isinstance(value, list):
        value = next((v for v in value if v), None)
    if isinstance(value, dict):
        value = value.get("name") or value.get("@value") or value.get("value")
    if value is None or isinstance(value, (dict, list)):
        return None
    text = _html.clean(str(value))
    return text or None


def _postal(value: Any) -> tuple[str | None, str | None, str | None, str | None]:
    """(one-line address, postcode, locality, country code) of a schema.org address."""
    if isinstance(value, list):
        value = next((v for v in value if v), None)
    if isinstance(value, str):
        return _html.clean(value) or None, None, None, None
    if not isinstance(value, dict):
        return None, None, None, None
    street = _text(value.get("streetAddress"))
    postcode = _text(value.get("postalCode"))
    locality = _text(value.get("addressLocality"))
    region = _text(value.get("addressRegion"))
    country_text = _text(value.get("addressCountry"))
    country: str | None = None
    if country_text:
        upper = country_text.upper()
        country = ("GB" if upper == "UK" else upper) if upper in ISO_CODES or upper == "UK" else \
            COUNTRY_NAMES.get(country_text.casefold())
    town = " ".join(p for p in (postcode, locality) if p) or None
    parts = [p for p in (street, town, region, country_text) if p]
    return (", ".join(parts) or None), postcode, locality, country


def _org_operator(node: dict[str, Any]) -> Operator:
    address, postcode, locality, country = _postal(node.get("address") or node.get("location"))
    email = _text(node.get("email"))
    if email:
        email = email.removeprefix("mailto:").strip()
        email = next(iter(_emails(email)), None)
    phone = _text(node.get("telephone"))
    vat = _text(node.get("vatID")) or _text(node.get("taxID"))
    vat_ids = _vat_ids(vat.upper()) if vat else []
    return Operator(
        name=_text(node.get("legalName")) or _text(node.get("name")), address=address, postcode=postcode,
        locality=locality, country=country, country_basis="schema.org addressCountry" if country else None,
        email=email, phone=phone, vat_id=vat_ids[0] if vat_ids else vat,
        company_id=_text(node.get("identifier")) if isinstance(node.get("identifier"), str) else None,
        source="schema.org",
    )


def _microdata(root: lxml.html.HtmlElement) -> list[dict[str, Any]]:
    """schema.org microdata items of a page as JSON-LD-like dicts."""

    def item(element: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"@type": (element.get("itemtype") or "").split()}

        def collect(parent: Any) -> None:
            for child in parent:
                if not isinstance(child.tag, str):
                    continue
                prop = child.get("itemprop")
                if prop:
                    if child.get("itemscope") is not None:
                        value: Any = item(child)
                    elif child.tag in ("meta",):
                        value = child.get("content")
                    elif child.tag in ("a", "link", "area"):
                        value = child.get("href")
                        if value and value.startswith(("mailto:", "tel:")):
                            value = value.split(":", 1)[1]
                        else:
                            value = _html.clean(child.text_content()) or value
                    else:
                        value = child.get("content") or _html.clean(child.text_content())
                    for name in prop.split():
                        out.setdefault(name, value)
                    if child.get("itemscope") is not None:
                        continue
                elif child.get("itemscope") is not None:
                    continue
                collect(child)

        collect(element)
        return out

    return [item(e) for e in root.iter() if isinstance(e.tag, str) and e.get("itemscope") is not None
            and e.get("itemprop") is None]


def _structured_operator(root: lxml.html.HtmlElement) -> Operator | None:
    nodes = [n for block in _html.json_ld(root) for n in _walk(block) if _is_org(n)]
    nodes += [n for item in _microdata(root) for n in _walk(item) if _is_org(n)]
    operators = [op for op in (_org_operator(n) for n in nodes) if not op.is_empty and op.name]
    if not operators:
        return None

    def richness(op: Operator) -> int:
        return sum(bool(v) for v in (op.address, op.email, op.phone, op.vat_id, op.company_id)) * 2 + bool(op.name)

    return max(operators, key=richness)


def _merge(text: Operator | None, structured: Operator | None) -> Operator | None:
    """The imprint text's details, completed by structured data."""
    if text is None:
        return structured
    if structured is None:
        return text
    values: dict[str, Any] = {}
    for field in ("name", "address", "email", "phone", "vat_id", "company_id"):
        values[field] = getattr(text, field) or getattr(structured, field)
    address_from = text if text.address else structured
    values.update(postcode=address_from.postcode, locality=address_from.locality, country=address_from.country,
                  country_basis=address_from.country_basis)
    if text.address and text.country is None and structured.country is not None:
        values.update(country=structured.country, country_basis="schema.org addressCountry")
    used_structured = any(getattr(text, f) is None and getattr(structured, f) is not None
                          for f in ("name", "address", "email", "phone", "vat_id", "company_id"))
    return Operator(**values, source="imprint+schema.org" if used_structured else "imprint")


def _place(operator: Operator, lang: str) -> Operator:
    """Fills the address's country for structured data whose address names none (by the same rules as text)."""
    if operator.country is not None or operator.address is None:
        return operator
    found = _find_address([(0, s) for s in _segments(operator.address)], [operator.address])
    if found is None:
        return operator
    _, postcode, locality, candidates, named = found
    company = _company_id(operator.company_id or "")
    country, basis = _address_country(candidates, named, postcode or operator.postcode,
                                      locality or operator.locality, operator.vat_id, operator.phone,
                                      company[1] if company else None, lang, operator.address)
    return replace(operator, country=country, country_basis=basis)

