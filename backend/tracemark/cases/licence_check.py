"""The licence check that runs before a claim is opened and before every letter: a pure decision over facts.

A claim never goes to someone who holds a licence, and never about a use the law or the holder exempts. The check
looks at every source it is given and records each observation, decisive or not, so the result can be shown:

1. **Standing**: a disputed certificate opens no case (outcome `blocked`).
2. **On-chain licences** of the certificate: one whose licensee is a wallet of the site's operator, or whose site
   binding names the host (or a parent domain), and whose term overlaps the use (first to last seen), is a licence.
   The licence's kind is recorded but does not narrow the match: a licensee of the wrong kind is a case for a
   person, not for an automatic letter.
3. **The holder's whitelist**: a whitelisted domain (and its subdomains) is licensed.
4. **Licence statements in the page** (schema.org `license`, `acquireLicensePage`) **and in the image** (XMP
   `xmpRights:WebStatement`, `cc:license`, `plus:LicensorURL`): a Creative Commons licence counts only when the
   holder granted it for this image (then attribution decides, see 5); a URL the holder publishes itself (its own
   rights statement, copied along with the image) is no licence; a statement a caseworker has examined and
   dismissed is no licence; any other licence URL (a stock agency, the site's own licence page) names a licence we
   cannot confirm, and the check refuses the claim rather than risk writing to a licensee.
5. **Exemptions**: Creative Commons granted by the holder with the holder's credit given (the public-domain tools
   need none); a press-kit image used editorially; a claim past the limitation period of the use's country
   (Germany: three years from the end of the year the holder learned of the use, §§ 195, 199 BGB; Austria: three
   years from knowledge, § 1489 ABGB). A country without a rule on record gets no automatic exemption, and the
   check says so.

The outcome is the strongest of: blocked > licensed > exempt > clear. Only `clear` allows a claim.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from tracemark.cases.image_rights import ImageRights


class CheckOutcome(StrEnum):
    """What the licence check decided, ordered from the only one that allows a claim to the strongest refusal."""

    CLEAR = "clear"
    EXEMPT = "exempt"
    LICENSED = "licensed"
    BLOCKED = "blocked"

    @property
    def rank(self) -> int:
        """0 for clear up to 3 for blocked."""
        return list(CheckOutcome).index(self)


class Source(StrEnum):
    """Where an observation comes from."""

    STANDING = "standing"
    ON_CHAIN = "on_chain_licence"
    WHITELIST = "whitelist"
    PAGE = "page_metadata"
    IMAGE = "image_metadata"
    CREATIVE_COMMONS = "creative_commons"
    PRESS_KIT = "press_kit"
    LIMITATION = "limitation_period"


@dataclass(frozen=True)
class Observation:
    """One thing the check saw: where, what it means, and whether it decides the outcome (`effect` is the outcome
    it forces, or `clear` for a recorded fact that forces nothing)."""

    source: Source
    effect: CheckOutcome
    detail: str


@dataclass(frozen=True)
class OnChainLicence:
    """A licence record of the chain (as the indexer serves it)."""

    certificate_id: int
    licensee: str
    kind: str
    start: datetime
    end: datetime
    site: str | None = None  # a host the licence is bound to off-chain, when the licensee named one


@dataclass(frozen=True)
class PageLicenceData:
    """Licence data extracted from the page that shows the image (schema.org fields of its ImageObject, and the
    credit text shown with it)."""

    licence_urls: tuple[str, ...] = ()
    acquire_licence_pages: tuple[str, ...] = ()
    credit_text: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        """True when the page gives no licence data for the image."""
        return not (self.licence_urls or self.acquire_licence_pages or self.credit_text)

    def as_dict(self) -> dict[str, list[str]]:
        """Plain data for storage: each field as a list of strings."""
        return {name: list(getattr(self, name)) for name in _PAGE_FIELDS}

    @classmethod
    def from_dict(cls, data: Any) -> PageLicenceData:
        """The data `as_dict` wrote (or anything else: what is not a list of strings is ignored; values are trimmed
        to `MAX_STORED_VALUE` characters, at most `MAX_STORED_VALUES` per field)."""
        if not isinstance(data, dict):
            return cls()
        return cls(**{name: _stored_strings(data.get(name)) for name in _PAGE_FIELDS})


@dataclass(frozen=True)
class HolderFacts:
    """What the holder has said about this image and its uses."""

    holder: str
    credit_names: tuple[str, ...] = ()
    whitelist: tuple[str, ...] = ()
    open_licences: tuple[str, ...] = ()  # Creative Commons licence URLs the holder granted for this image
    own_statements: tuple[str, ...] = ()  # URLs the holder publishes itself (licence pages, rights statements)
    press_kit: bool = False  # the holder released this image in a press kit
    learned_at: date | None = None  # when the holder learned of this use (for the limitation period)


@dataclass(frozen=True)
class UseFacts:
    """The use found on the web: where, by whom, when, and how."""

    certificate_id: int
    host: str
    page_url: str
    first_seen: datetime
    last_seen: datetime
    country: str | None = None
    usage: str = "commercial"  # commercial, editorial or private
    operator_addresses: tuple[str, ...] = ()  # wallets known to belong to the site's operator
    dismissed_statements: tuple[str, ...] = ()  # licence statements a caseworker examined and found no licence


@dataclass(frozen=True)
class LicenceCheck:
    """The recorded result: the outcome, every observation, and when the check ran."""

    outcome: CheckOutcome
    observations: tuple[Observation, ...]
    checked_at: datetime
    certificate_id: int
    host: str

    @property
    def licence_found(self) -> bool:
        """True when a licence or an exemption was found (the claim is refused)."""
        return self.outcome in (CheckOutcome.LICENSED, CheckOutcome.EXEMPT)

    @property
    def allows_claim(self) -> bool:
        """True only when nothing stands against a claim."""
        return self.outcome is CheckOutcome.CLEAR

    @property
    def decisive(self) -> tuple[Observation, ...]:
        """The observations that forced the outcome."""
        return tuple(o for o in self.observations if o.effect is self.outcome and o.effect is not CheckOutcome.CLEAR)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for storage and display."""
        return {
            "outcome": self.outcome.value,
            "checked_at": self.checked_at.isoformat(),
            "certificate_id": str(self.certificate_id),
            "host": self.host,
            "observations": [{"source": o.source.value, "effect": o.effect.value, "detail": o.detail}
                             for o in self.observations],
        }

    def summary(self) -> str:
        """One line a person can read: the outcome and its decisive evidence."""
        if self.outcome is CheckOutcome.CLEAR:
            return f"no licence or exemption found for {self.host} ({len(self.observations)} observations)"
        return f"{self.outcome.value}: " + "; ".join(o.detail for o in self.decisive)


@dataclass(frozen=True)
class LimitationRule:
    """A limitation period: `years` from knowledge of the use, from the end of that year when `from_year_end`."""

    years: int
    from_year_end: bool
    statute: str

    def expires(self, learned: date) -> date:
        """The last day on which a claim can still be brought."""
        if self.from_year_end:
            return date(learned.year + self.years, 12, 31)
        try:
            end = learned.replace(year=learned.year + self.years)
        except ValueError:  # 29 February in a year without it
            end = date(learned.year + self.years, 3, 1)
        return end


LIMITATION_RULES: dict[str, LimitationRule] = {
    "DE": LimitationRule(3, True, "§§ 195, 199 BGB"),
    "AT": LimitationRule(3, False, "§ 1489 ABGB"),
}

PUBLIC_DOMAIN_TOOLS = ("publicdomain/zero/", "publicdomain/mark/")
MAX_STORED_VALUE = 2048
MAX_STORED_VALUES = 50
_PAGE_FIELDS = ("licence_urls", "acquire_licence_pages", "credit_text")


def _stored_strings(value: Any) -> tuple[str, ...]:
    """The strings of a stored list (anything else is no value), bounded, without duplicates."""
    if not isinstance(value, list | tuple):
        return ()
    out: list[str] = []
    for item in value[: MAX_STORED_VALUES * 4]:
        if isinstance(item, str) and (text := item.strip()[:MAX_STORED_VALUE]) and text not in out:
            out.append(text)
        if len(out) >= MAX_STORED_VALUES:
            break
    return tuple(out)
_SPACE = re.compile(r"\s+")


def host_matches(host: str, domain: str) -> bool:
    """True when `host` is `domain` or one of its subdomains (case and a trailing dot ignored)."""
    h, d = host.lower().rstrip("."), domain.lower().rstrip(".").lstrip(".")
    if d.startswith("*."):
        d = d[2:]
    return bool(d) and (h == d or h.endswith("." + d))


def _url_key(url: str) -> str:
    """A comparable form of a URL: host and path, lower-case, without scheme, `www.`, query or trailing slash."""
    parts = urlsplit(url.strip() if "//" in url else "//" + url.strip())
    host = (parts.hostname or "").removeprefix("www.")
    return f"{host}{parts.path.rstrip('/')}".lower()


def creative_commons_licence(url: str) -> str | None:
    """The licence of a Creative Commons URL as `by/4.0` or `publicdomain/zero/1.0`, or None for another URL.
    Deed and legal-code suffixes and a language suffix are ignored."""
    key = _url_key(url)
    if not key.startswith("creativecommons.org/"):
        return None
    path = key.removeprefix("creativecommons.org/").split("/")
    path = [p for p in path if p and not p.startswith(("deed", "legalcode"))]
    if len(path) >= 3 and path[0] == "licenses":
        return "/".join(path[1:3])
    if len(path) >= 3 and path[0] == "publicdomain":
        return "/".join(path[0:3])
    return None


def _normal(text: str) -> str:
    return _SPACE.sub(" ", text).strip().casefold()


def _attribution_given(holder: HolderFacts, page: PageLicenceData, image: ImageRights | None) -> str | None:
    names = [_normal(n) for n in holder.credit_names if _normal(n)]
    texts = list(page.credit_text)
    if image is not None:
        texts += list(image.creators) + list(image.credits) + list(image.copyright_notices)
    for text in texts:
        for name in names:
            if name in _normal(text):
                return text
    return None


def _statements(page: PageLicenceData, image: ImageRights | None) -> Iterable[tuple[Source, str, str]]:
    for url in page.licence_urls:
        yield Source.PAGE, "schema.org license", url
    for url in page.acquire_licence_pages:
        yield Source.PAGE, "schema.org acquireLicensePage", url
    if image is not None:
        for url in image.licence_urls:
            yield Source.IMAGE, "cc:license", url
        for url in image.web_statements:
            yield Source.IMAGE, "xmpRights:WebStatement", url
        for url in image.licensor_urls:
            yield Source.IMAGE, "plus:LicensorURL", url


def _check_statements(
    holder: HolderFacts, use: UseFacts, page: PageLicenceData, image: ImageRights | None
) -> list[Observation]:
    out: list[Observation] = []
    granted = {c for c in (creative_commons_licence(u) for u in holder.open_licences) if c}
    own = [_url_key(u) for u in holder.own_statements]
    dismissed = {_url_key(u) for u in use.dismissed_statements}
    credit = _attribution_given(holder, page, image)
    for source, field_name, url in _statements(page, image):
        key = _url_key(url)
        cc = creative_commons_licence(url)
        if cc is not None:
            if cc not in granted:
                out.append(Observation(source, CheckOutcome.CLEAR, f"{field_name} names Creative Commons {cc}, "
                                       "which the holder never granted for this image"))
            elif cc.startswith(PUBLIC_DOMAIN_TOOLS):
                out.append(Observation(Source.CREATIVE_COMMONS, CheckOutcome.EXEMPT,
                                       f"the holder released the image as {cc}; {field_name} names it"))
            elif credit is not None:
                out.append(Observation(Source.CREATIVE_COMMONS, CheckOutcome.EXEMPT,
                                       f"Creative Commons {cc} granted by the holder, attribution given ({credit!r})"))
            else:
                out.append(Observation(Source.CREATIVE_COMMONS, CheckOutcome.CLEAR,
                                       f"Creative Commons {cc} granted by the holder, but without attribution"))
        elif any(key == o or key.startswith(o + "/") for o in own if o):
            out.append(Observation(source, CheckOutcome.CLEAR,
                                   f"{field_name} {url} is the holder's own statement, carried with the image"))
        elif key in dismissed:
            out.append(Observation(source, CheckOutcome.CLEAR,
                                   f"{field_name} {url} was examined by a caseworker and is no licence"))
        elif key:
            out.append(Observation(source, CheckOutcome.LICENSED,
                                   f"{field_name} names a licence we cannot confirm: {url}"))
    if image is not None:
        for terms in image.usage_terms:
            out.append(Observation(Source.IMAGE, CheckOutcome.CLEAR, f"xmpRights:UsageTerms: {terms}"))
    return out


def _check_on_chain(use: UseFacts, licences: Sequence[OnChainLicence]) -> list[Observation]:
    out: list[Observation] = []
    wallets = {a.lower() for a in use.operator_addresses}
    for lic in licences:
        if lic.certificate_id != use.certificate_id:
            continue
        by_wallet = lic.licensee.lower() in wallets
        by_site = lic.site is not None and host_matches(use.host, lic.site)
        if not (by_wallet or by_site):
            continue
        party = f"licensee {lic.licensee}" if by_wallet else f"licence bound to {lic.site}"
        term = f"{lic.start:%Y-%m-%d} to {lic.end:%Y-%m-%d}"
        if lic.start <= use.last_seen and lic.end >= use.first_seen:
            out.append(Observation(Source.ON_CHAIN, CheckOutcome.LICENSED,
                                   f"on-chain {lic.kind} licence, {party}, {term}"))
        else:
            out.append(Observation(Source.ON_CHAIN, CheckOutcome.CLEAR,
                                   f"on-chain {lic.kind} licence, {party}, {term}, does not cover the use "
                                   f"({use.first_seen:%Y-%m-%d} to {use.last_seen:%Y-%m-%d})"))
    return out


def _check_limitation(holder: HolderFacts, use: UseFacts, today: date) -> Observation:
    if holder.learned_at is None:
        return Observation(Source.LIMITATION, CheckOutcome.CLEAR, "when the holder learned of the use is not known")
    rule = LIMITATION_RULES.get((use.country or "").upper())
    if rule is None:
        return Observation(Source.LIMITATION, CheckOutcome.CLEAR,
                           f"no limitation rule on record for country {use.country or 'unknown'}")
    expires = rule.expires(holder.learned_at)
    if today > expires:
        return Observation(Source.LIMITATION, CheckOutcome.EXEMPT,
                           f"time-barred since {expires:%Y-%m-%d} ({rule.statute}; learned {holder.learned_at})")
    return Observation(Source.LIMITATION, CheckOutcome.CLEAR,
                       f"within the limitation period until {expires:%Y-%m-%d} ({rule.statute})")


def check_licence(
    *,
    disputed: bool,
    holder: HolderFacts,
    use: UseFacts,
    licences: Sequence[OnChainLicence],
    page: PageLicenceData,
    image: ImageRights | None,
    now: datetime,
) -> LicenceCheck:
    """Checks every source for a licence or exemption of one use; see the module docstring for the rules.

    Args:
        disputed: whether the certificate is flagged as disputed on chain.
        holder: the holder's whitelist, credit names, granted licences and statements.
        use: the sighting's host, page, period, country and the operator's wallets.
        licences: the certificate's on-chain licences (others are ignored).
        page: licence data extracted from the page.
        image: rights fields read from the found image (`image_rights`), or None when not available.
        now: the time of the check.

    Returns:
        The recorded check with its outcome and every observation.
    """
    obs: list[Observation] = []
    if disputed:
        obs.append(Observation(Source.STANDING, CheckOutcome.BLOCKED,
                               "the certificate is disputed: no case can be opened until it is cleared"))
    obs += _check_on_chain(use, licences)
    for domain in holder.whitelist:
        if host_matches(use.host, domain):
            obs.append(Observation(Source.WHITELIST, CheckOutcome.LICENSED,
                                   f"{use.host} is on the holder's whitelist ({domain})"))
    obs += _check_statements(holder, use, page, image)
    if holder.press_kit:
        if use.usage == "editorial":
            obs.append(Observation(Source.PRESS_KIT, CheckOutcome.EXEMPT,
                                   "the holder released the image in a press kit; the use is editorial"))
        else:
            obs.append(Observation(Source.PRESS_KIT, CheckOutcome.CLEAR,
                                   f"press-kit image, but the use is {use.usage}, not editorial"))
    obs.append(_check_limitation(holder, use, now.date()))
    outcome = max((o.effect for o in obs), key=lambda e: e.rank, default=CheckOutcome.CLEAR)
    return LicenceCheck(outcome, tuple(obs), now, use.certificate_id, use.host)


__all__ = [
    "LIMITATION_RULES", "CheckOutcome", "HolderFacts", "LicenceCheck", "LimitationRule", "Observation",
    "OnChainLicence", "PageLicenceData", "Source", "UseFacts", "check_licence", "creative_commons_licence",
    "host_matches",
]
