"""Country data the site readers need: ISO 3166-1 alpha-2 codes, country names in the languages we serve,
country-code TLDs that are used as generic ones, languages spoken mainly in one country, telephone codes."""

from __future__ import annotations


def _words(text: str, sep: str | None = None) -> list[str]:
    return [w.strip() for w in text.split(sep) if w.strip()]


ISO_CODES = frozenset(_words(
    """AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY
    BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK
    FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR
    IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK
    ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF
    TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"""
))

TLD_EXCEPTIONS = {"uk": "GB"}
"""Country-code TLDs whose country code differs (.uk is the United Kingdom, GB; .gb is unused)."""

NOT_A_COUNTRY_TLDS = frozenset(
    # .eu is a union, not a country. The others are country codes widely sold as generic names (.io, .co, .tv,
    # .me, .ai, ...): a site under them tells nothing about where its operator is.
    _words("eu ac ai cc co fm gg io la ly me nu sh tk to tv vc ws")
)

IDN_TLDS = {
    "xn--p1ai": "RU", "xn--fiqs8s": "CN", "xn--fiqz9s": "CN", "xn--j6w193g": "HK", "xn--kprw13d": "TW",
    "xn--kpry57d": "TW", "xn--3e0b707e": "KR", "xn--qxam": "GR", "xn--90ais": "BY", "xn--j1amh": "UA",
    "xn--wgbh1c": "EG", "xn--mgbaam7a8h": "AE", "xn--mgberp4a5d4ar": "SA", "xn--h2brj9c": "IN", "xn--o3cw4h": "TH",
    "xn--90a3ac": "RS",
}

LANGUAGE_COUNTRY = {
    # Languages whose web is mostly one country's. English, Spanish, Portuguese, Arabic, Chinese and the like are
    # left out: a bare `lang="es"` says nothing useful about the country.
    "ja": "JP", "de": "DE", "fr": "FR", "it": "IT", "nl": "NL", "pl": "PL", "cs": "CZ", "sk": "SK", "hu": "HU",
    "da": "DK", "sv": "SE", "nb": "NO", "nn": "NO", "no": "NO", "fi": "FI", "et": "EE", "lv": "LV", "lt": "LT",
    "el": "GR", "bg": "BG", "ro": "RO", "hr": "HR", "sl": "SI", "uk": "UA", "ru": "RU", "tr": "TR", "he": "IL",
    "ko": "KR", "th": "TH", "vi": "VN", "id": "ID", "is": "IS", "ka": "GE", "hy": "AM", "fa": "IR",
}

COUNTRY_NAMES: dict[str, str] = {}
for _code, _names in {
    "DE": "Deutschland|Germany|Allemagne|ドイツ|Bundesrepublik Deutschland|Federal Republic of Germany",
    "AT": "Österreich|Oesterreich|Austria|Autriche|オーストリア",
    "CH": "Schweiz|Switzerland|Suisse|Svizzera|スイス",
    "FR": "Frankreich|France|フランス|République française",
    "BE": "Belgien|Belgium|Belgique|België|ベルギー",
    "LU": "Luxemburg|Luxembourg|ルクセンブルク",
    "NL": "Niederlande|Netherlands|The Netherlands|Pays-Bas|Nederland|オランダ",
    "IT": "Italien|Italy|Italie|Italia|イタリア",
    "ES": "Spanien|Spain|Espagne|España|スペイン",
    "PT": "Portugal|ポルトガル",
    "GB": "Vereinigtes Königreich|Großbritannien|United Kingdom|UK|Great Britain|England|Scotland|Wales|"
    "Northern Ireland|Royaume-Uni|イギリス|英国",
    "IE": "Irland|Ireland|Irlande|アイルランド",
    "US": "USA|U.S.A.|United States|United States of America|Vereinigte Staaten|États-Unis|Etats-Unis|アメリカ|"
    "アメリカ合衆国|米国",
    "CA": "Kanada|Canada|カナダ",
    "JP": "Japan|Japon|日本|日本国",
    "PL": "Polen|Poland|Pologne|Polska",
    "DK": "Dänemark|Denmark|Danemark|Danmark",
    "SE": "Schweden|Sweden|Suède|Sverige",
    "NO": "Norwegen|Norway|Norvège|Norge",
    "FI": "Finnland|Finland|Finlande|Suomi",
    "CZ": "Tschechien|Czech Republic|Czechia|République tchèque",
    "AU": "Australien|Australia|Australie",
    "CN": "China|Chine|中国|中華人民共和国",
    "KR": "Südkorea|South Korea|Korea|Corée du Sud|韓国|大韓民国",
    "LI": "Liechtenstein",
    "MC": "Monaco",
}.items():
    for _name in _names.split("|"):
        COUNTRY_NAMES[_name.casefold()] = _code

PHONE_CODES = {
    "49": "DE", "43": "AT", "41": "CH", "33": "FR", "32": "BE", "352": "LU", "31": "NL", "39": "IT", "34": "ES",
    "351": "PT", "44": "GB", "353": "IE", "81": "JP", "48": "PL", "45": "DK", "46": "SE", "47": "NO", "358": "FI",
    "420": "CZ", "61": "AU", "86": "CN", "82": "KR", "423": "LI", "377": "MC",
}

CITY_COUNTRY = {
    # Large cities, to place a postcode whose format several countries share (4 digits: AT, CH, BE, LU, DK, ...).
    **dict.fromkeys(_words("wien|vienna|graz|linz|salzburg|"
                    "innsbruck|klagenfurt|villach|wels|dornbirn|bregenz", "|"), "AT"),
    **dict.fromkeys(_words("zürich|zurich|genève|geneva|genf|basel|bern|berne|lausanne|luzern|lucerne|lugano|"
                    "winterthur|st. gallen|zug", "|"), "CH"),
    **dict.fromkeys(_words("bruxelles|brussel|brussels|antwerpen|anvers|"
                    "gent|gand|liège|luik|charleroi|namur", "|"), "BE"),
    **dict.fromkeys(_words("københavn|copenhagen|aarhus|odense|aalborg", "|"), "DK"),
    **dict.fromkeys(_words("oslo|bergen|trondheim|stavanger", "|"), "NO"),
    **dict.fromkeys(_words("berlin|hamburg|münchen|munich|köln|cologne|frankfurt|frankfurt am main|stuttgart|"
                    "düsseldorf|leipzig|dresden|hannover|nürnberg|bremen|essen|dortmund|bonn|mannheim|"
                    "karlsruhe|freiburg", "|"), "DE"),
    **dict.fromkeys(_words("paris|lyon|marseille|toulouse|nice|"
                    "nantes|strasbourg|montpellier|bordeaux|lille|rennes", "|"), "FR"),
}

VAT_PREFIX_COUNTRY = {"EL": "GR", "XI": "GB", "CHE": "CH"}
"""VAT id prefixes that are not the ISO code (Greece uses EL; Northern Ireland XI; Swiss UID CHE)."""
