"""Which country a site belongs to, and why.

The evidence, strongest first:
1. the operator's postal address (from its imprint or structured data): where the operator can be reached by
   letter, which is what a case needs;
2. the host's country-code TLD (`.de`, `.co.jp`; `.uk` is GB). Generic TLDs say nothing; neither do `.eu` (a union)
   nor country codes sold as generic names (`.io`, `.co`, `.tv`, `.me`, ...);
3. a region subtag of the page's language (`Content-Language: de-AT`, `<html lang="fr-CH">`);
4. a bare language spoken mainly in one country (`ja` is JP; `de` is DE): weak, used only when nothing else is
   known. English, Spanish, Portuguese, Arabic and Chinese give nothing.

The reason names the evidence used, and the other evidence when it points elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tracemark.sites._countries import IDN_TLDS, ISO_CODES, LANGUAGE_COUNTRY, NOT_A_COUNTRY_TLDS, TLD_EXCEPTIONS
from tracemark.sites.operator import Operator

__all__ = ["Country", "country_of", "country_of_language", "country_of_tld"]

_REGION = re.compile(r"^[a-z]{2,3}(?:-[a-z]{4})?-([a-z]{2}|\d{3})(?:-|$)", re.I)


@dataclass(frozen=True)
class Country:
    """The country of a site.

    Attributes:
        code: ISO 3166-1 alpha-2, upper case.
        reason: Why, in words.
        basis: The kind of evidence that decided: `address`, `tld`, `content-language`, `html-lang`,
            `content-language (language only)` or `html-lang (language only)`.
        evidence: Every observation considered, as `kind: value -> code` (the deciding one first).
    """

    code: str
    reason: str
    basis: str
    evidence: tuple[str, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, object]:
        """The country as a JSON-ready dict: code, reason, basis, evidence."""
        return {"code": self.code, "reason": self.reason, "basis": self.basis, "evidence": list(self.evidence)}


def country_of_tld(url_or_host: str) -> str | None:
    """The country of a host's country-code TLD, or None for a generic or not-a-country TLD."""
    host = urlsplit(url_or_host).hostname if "//" in url_or_host else url_or_host
    host = (host or "").rstrip(".").lower()
    if not host or re.fullmatch(r"[\d.]+|\[?[0-9a-f:]+\]?", host):
        return None  # an IP address has no TLD
    tld = host.rsplit(".", 1)[-1]
    if tld in IDN_TLDS:
        return IDN_TLDS[tld]
    if tld in NOT_A_COUNTRY_TLDS or len(tld) != 2:
        return None
    code = TLD_EXCEPTIONS.get(tld, tld.upper())
    return code if code in ISO_CODES and tld != "gb" else None


def _tags(value: str | None) -> list[str]:
    if not value:
        return []
    out = []
    for part in value.split(","):
        tag = part.split(";")[0].strip().replace("_", "-")
        if tag and tag != "*":
            out.append(tag)
    return out


def _region_of(tag: str) -> str | None:
    match = _REGION.match(tag)
    if match is None or match.group(1).isdigit():
        return None  # numeric regions (es-419: Latin America) are no country
    code = match.group(1).upper()
    code = "GB" if code == "UK" else code
    return code if code in ISO_CODES else None


def country_of_language(tag: str) -> str | None:
    """The country a bare language tag points to, weakly (`ja` -> JP), or None."""
    return LANGUAGE_COUNTRY.get(tag.split("-")[0].lower())


def country_of(url: str, *, html_lang: str | None = None, content_language: str | None = None,
               operator: Operator | None = None) -> Country | None:
    """The country of a site, with the reason.

    Args:
        url: A URL of the site (its host's TLD is read).
        html_lang: The page's `<html lang>`.
        content_language: The response's `Content-Language` header.
        operator: The operator read from the site's imprint, if any.

    Returns:
        The country, or None when nothing points to one.
    """
    found: list[tuple[str, str, str, str]] = []  # (code, basis, observation, reason)
    if operator is not None and operator.country:
        code = operator.country.upper()
        where = operator.address or "(address)"
        why = f" ({operator.country_basis})" if operator.country_basis else ""
        found.append((code, "address", f"address: {where} -> {code}",
                      f"the operator's postal address ({where}) lies in {code}{why}"))
    tld_code = country_of_tld(url)
    host = (urlsplit(url).hostname or "").lower()
    if tld_code is not None:
        tld = host.rsplit(".", 1)[-1]
        found.append((tld_code, "tld", f"tld: .{tld} -> {tld_code}", f"the host {host} has the country-code TLD "
                      f".{tld} ({tld_code})"))
    for basis, value in (("content-language", content_language), ("html-lang", html_lang)):
        for tag in _tags(value):
            region = _region_of(tag)
            if region is not None:
                found.append((region, basis, f"{basis}: {tag} -> {region}",
                              f"the page's language {tag} ({basis.replace('-', ' ')}) names the region {region}"))
    for basis, value in (("content-language", content_language), ("html-lang", html_lang)):
        for tag in _tags(value):
            if _region_of(tag) is not None:
                continue
            spoken = country_of_language(tag)
            if spoken is not None:
                found.append((spoken, f"{basis} (language only)", f"{basis}: {tag} -> {spoken} (weak)",
                              f"only the page's language is known: {tag} ({basis.replace('-', ' ')}), mostly "
                              f"spoken in {spoken}; weak evidence"))
    if not found:
        return None
    code, basis, _, reason = found[0]
    others = [obs for c, _, obs, _ in found[1:] if c != code]
    if others:
        reason += "; other evidence points elsewhere: " + ", ".join(others)
    evidence = tuple(dict.fromkeys(obs for _, _, obs, _ in found))
    return Country(code=code, reason=reason, basis=basis, evidence=evidence)
