"""Letters to the recipient of a case, in its language, and the port that keeps every letter.

Language: chosen from the site's country (`choose_language`): German for DE, AT and LI, French for FR and MC,
Japanese for JP; in a country with several official languages (CH, BE, LU, CA) the page's language decides when we
write it; everything else, and anything unknown, falls back to English.

Texts: the English texts in this module are the gettext message ids; translations live in
`locale/<language>/LC_MESSAGES/letters.po`, read through Babel. The `.po` files are the only form in the repository:
`catalog()` compiles one in memory the first time it is needed (Babel's `read_po` and `write_mo`, then the standard
library's `GNUTranslations`), so there is no build step and no compiled file that could drift from its source. A
test checks that every message id is translated in every catalog with the same placeholders. The breakdown's lines
are translated from `compensation.LINE_TEXT` (the same English texts are their message ids) and the words they
name (usage, medium, size, ...) with a message context.

Sending: `LetterDispatcher` is the scheduler's stage effect. It keeps each letter under the action's idempotency key
before sending it and marks it sent afterwards; called again for the same key (after a crash) it sends the kept
letter again only if it was never marked sent, with the same Message-ID, so a mail system can drop the duplicate.
SMTP offers no stronger promise: the window is the time between the server's answer and `mark_sent`.
"""

from __future__ import annotations

import gettext
import hashlib
import io
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Protocol

from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

from tracemark.cases.clock import Clock
from tracemark.cases.compensation import LINE_TEXT, Breakdown, cpy
from tracemark.cases.deadlines import DeadlinePolicy, DueTransition
from tracemark.cases.workflow import Case, CaseState

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "letters"
SUPPORTED = ("en", "de", "fr", "ja")
FALLBACK = "en"
COUNTRY_LANGUAGES: Mapping[str, tuple[str, ...]] = {
    "DE": ("de",), "AT": ("de",), "LI": ("de",), "FR": ("fr",), "MC": ("fr",), "JP": ("ja",),
    "CH": ("de", "fr", "it"), "BE": ("nl", "fr", "de"), "LU": ("lb", "fr", "de"), "CA": ("en", "fr"),
}
_AMOUNT_FORMAT = "#,##0.00################"


def choose_language(country: str | None, page_language: str | None = None) -> str:
    """The letter's language for a site in `country` whose pages are in `page_language` (e.g. `fr-CH`)."""
    spoken = COUNTRY_LANGUAGES.get((country or "").upper(), ())
    page = (page_language or "").split("-")[0].split("_")[0].lower()
    if len(spoken) > 1:
        if page in spoken and page in SUPPORTED:
            return page
        return next((lang for lang in spoken if lang in SUPPORTED), FALLBACK)
    if spoken and spoken[0] in SUPPORTED:
        return spoken[0]
    return FALLBACK


class LetterKind(StrEnum):
    """The letter each stage sends."""

    OFFER = "offer"
    REMINDER = "reminder"
    DAMAGES = "damages"
    LAWYER_WARNING = "lawyer_warning"
    COURT = "court"


LETTER_FOR_STAGE: Mapping[CaseState, LetterKind] = {
    CaseState.OFFER: LetterKind.OFFER,
    CaseState.REMINDER: LetterKind.REMINDER,
    CaseState.DAMAGES: LetterKind.DAMAGES,
    CaseState.LAWYER_WARNING: LetterKind.LAWYER_WARNING,
    CaseState.COURT: LetterKind.COURT,
}
POST_LICENCE_LETTERS = frozenset({LetterKind.OFFER, LetterKind.REMINDER})


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for marking a message without translating it
    """Marks a message id for the catalogs; returns it unchanged."""
    return message


SUBJECTS: Mapping[LetterKind, str] = {
    LetterKind.OFFER: N_("Your use of a photograph on {site}: licence offer (case {case_id})"),
    LetterKind.REMINDER: N_("Reminder: your use of a photograph on {site} (case {case_id})"),
    LetterKind.DAMAGES: N_("Claim for damages: your use of a photograph on {site} (case {case_id})"),
    LetterKind.LAWYER_WARNING: N_("Final notice before legal action (case {case_id})"),
    LetterKind.COURT: N_("Court proceedings (case {case_id})"),
}
INTROS: Mapping[LetterKind, str] = {
    LetterKind.OFFER: N_(
        "We act for the rights holder of a photograph that your website shows. Before writing to you we checked the "
        "licences registered for this image, the rights holder's list of permitted sites and the licence information "
        "in your page and in the image itself: none of them covers this use."),
    LetterKind.REMINDER: N_(
        "We wrote to you on {offer_date} about the photograph below and have not received an answer."),
    LetterKind.DAMAGES: N_(
        "Our letters about the photograph below have not been answered. The licence offered earlier is no longer "
        "available: the rights holder now claims damages, calculated as shown below."),
    LetterKind.LAWYER_WARNING: N_(
        "Our letters about the photograph below have not been answered. Unless the amount below is settled in time, "
        "the case will be handed to a lawyer, which will cause further costs."),
    LetterKind.COURT: N_(
        "As the claim below was not settled, the case has been handed over for court proceedings. You can still "
        "settle it through the link below."),
}
GREETING = N_("Dear {name},")
GREETING_ANONYMOUS = N_("Dear Sir or Madam,")
IMAGE_LINE = N_("Image: {image_url}")
PAGE_LINE = N_("Page: {page_url}")
FIRST_SEEN_LINE = N_("First seen: {first_seen}")
CASE_REFERENCE = N_("Case reference: {case_id}")
OFFER_LINE = N_("You can buy a licence for this use now, for {amount} CPY.")
CLAIM_LINE = N_("Amount claimed: {amount} CPY")
WORKING_HEADING = N_("How the amount is calculated:")
RESPOND_BY = N_("Please answer by {date} through your case page:")
CASE_LINK_ONLY = N_("Your case page:")
PORTAL_OFFER = N_(
    "There you can see the evidence, show a licence you hold, buy the licence, or tell us why you think we are wrong.")
PORTAL_SETTLE = N_(
    "There you can see the evidence, show a licence you hold, settle the claim, or tell us why you think we are wrong.")
CLOSING = N_("Kind regards,")
SIGNATURE = N_("{sender}, on behalf of {holder}")

#: Words the breakdown names, translated with a message context (`pgettext(context, word)`).
VOCABULARY: Mapping[str, tuple[str, ...]] = {
    "usage": ("commercial", "editorial", "private"),
    "medium": ("web", "social", "ecommerce", "print"),
    "size": ("thumbnail", "small", "medium", "large"),
    "prominence": ("incidental", "standard", "featured"),
    "surcharge": ("missing_credit", "aerial", "models"),
}
_NUMERIC_PARAMS = frozenset({"price", "multiple", "percent", "per"})


def message_ids() -> list[str]:
    """Every message id of the letters (without the vocabulary), for the catalogs and their completeness test."""
    ids = [*SUBJECTS.values(), *INTROS.values(), GREETING, GREETING_ANONYMOUS, IMAGE_LINE, PAGE_LINE,
           FIRST_SEEN_LINE, CASE_REFERENCE, OFFER_LINE, CLAIM_LINE, WORKING_HEADING, RESPOND_BY, CASE_LINK_ONLY,
           PORTAL_OFFER, PORTAL_SETTLE, CLOSING, SIGNATURE]
    for what, why in LINE_TEXT.values():
        ids += [what, why]
    return list(dict.fromkeys(ids))


@lru_cache(maxsize=len(SUPPORTED))
def catalog(language: str) -> gettext.NullTranslations:
    """The translations of `language`, compiled in memory from its `.po` file (English: the message ids)."""
    if language == FALLBACK:
        return gettext.NullTranslations()
    if language not in SUPPORTED:
        raise ValueError(f"no letters in {language!r}; supported: {', '.join(SUPPORTED)}")
    with (LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as po:
        messages = read_po(po, locale=language, domain=DOMAIN)
    compiled = io.BytesIO()
    write_mo(compiled, messages, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


@dataclass(frozen=True)
class LetterContext:
    """What a letter says beyond the case itself; the service gathers it (recipient, portal link, amounts)."""

    recipient_email: str
    case_link: str
    holder_name: str
    recipient_name: str | None = None
    page_language: str | None = None
    offer_price: int | None = None  # the post-licence price, smallest CPY unit (offer and reminder)
    breakdown: Breakdown | None = None  # the damages' working (damages and later)
    first_seen: datetime | None = None  # when the use was first seen (default: when the case was opened)
    sender_name: str = "Tracemark"


@dataclass(frozen=True)
class RenderedLetter:
    """A letter's text in one language."""

    language: str
    subject: str
    body: str


class LetterError(ValueError):
    """A letter that cannot be written from what it was given."""


class _Text:
    def __init__(self, language: str) -> None:
        self.language = language
        self.t = catalog(language)

    def __call__(self, message: str, **params: str) -> str:
        return self.t.gettext(message).format(**params)

    def word(self, context: str, word: str) -> str:
        text = self.t.pgettext(context, word)
        return text.replace("_", " ") if text == word else text  # English: the code itself, readable

    def amount(self, value: int) -> str:
        return format_decimal(cpy(value), format=_AMOUNT_FORMAT, locale=self.language, decimal_quantization=False)

    def number(self, text: str) -> str:
        try:
            return format_decimal(text, format="#,##0.##########", locale=self.language, decimal_quantization=False)
        except (ArithmeticError, ValueError):
            return text

    def date(self, moment: datetime) -> str:
        return format_date(moment.date(), format="long", locale=self.language)


def _line_text(text: _Text, code: str, params: Mapping[str, str]) -> tuple[str, str]:
    localised: dict[str, str] = {}
    for key, value in params.items():
        if key in VOCABULARY and value in VOCABULARY[key]:
            localised[key] = text.word(key, value)
        elif key in _NUMERIC_PARAMS:
            localised[key] = text.number(value)
        else:
            localised[key] = value
    what, why = LINE_TEXT[code]
    return text(what), text(why, **localised)


def working_lines(breakdown: Breakdown, language: str) -> list[str]:
    """The working of an amount, one line per step, in `language` (as in the letters and the portal)."""
    t = _Text(language)
    out: list[str] = []
    for line in breakdown.lines:
        what, why = _line_text(t, line.code, dict(line.params))
        if line.is_subtotal:
            out.append(f"= {what} ({why}): {t.amount(line.running)} CPY")
        else:
            sign = "-" if line.amount < 0 else "+"
            factor = f" (x {t.number(line.factor)})" if line.factor else ""
            out.append(f"{sign} {what}: {why}{factor}: {t.amount(abs(line.amount))} CPY")
    return out


def translate(language: str, message: str, **params: str) -> str:
    """`message` (an English message id of the letters' catalogs) in `language`, with its placeholders filled."""
    return _Text(language)(message, **params)


def format_amount(value: int, language: str) -> str:
    """An amount in the smallest CPY unit, as CPY in `language`'s number format."""
    return _Text(language).amount(value)


def render_letter(
    kind: LetterKind, case: Case, context: LetterContext, language: str, *, respond_by: datetime | None,
) -> RenderedLetter:
    """Writes the letter of `kind` for `case` in `language`.

    Raises:
        LetterError: an offer or reminder without the post-licence price, a later letter without the working, or a
            post-licence price in a letter from the damages claim on (no post-licence is offered any more).
        ValueError: an unsupported language.
    """
    t = _Text(language)
    if kind in POST_LICENCE_LETTERS:
        if context.offer_price is None:
            raise LetterError(f"a {kind.value} letter needs the post-licence price")
    else:
        if context.breakdown is None:
            raise LetterError(f"a {kind.value} letter needs the damages and their working")
        if context.offer_price is not None:
            raise LetterError(f"no post-licence is offered in a {kind.value} letter")
    subject = t(SUBJECTS[kind], site=case.host, case_id=case.case_id)
    lines = [t(GREETING, name=context.recipient_name) if context.recipient_name else t(GREETING_ANONYMOUS), ""]
    offer_date = case.entered(CaseState.OFFER)
    lines += [t(INTROS[kind], offer_date=t.date(offer_date) if offer_date else ""), ""]
    first_seen = context.first_seen or case.events[0].at
    lines += [t(IMAGE_LINE, image_url=case.image_url), t(PAGE_LINE, page_url=case.page_url),
              t(FIRST_SEEN_LINE, first_seen=t.date(first_seen)), t(CASE_REFERENCE, case_id=case.case_id), ""]
    if context.offer_price is not None:
        lines += [t(OFFER_LINE, amount=t.amount(context.offer_price)), ""]
    if context.breakdown is not None:
        lines += [t(CLAIM_LINE, amount=t.amount(context.breakdown.total)), "", t(WORKING_HEADING)]
        lines += [f"  {x}" for x in working_lines(context.breakdown, language)]
        lines.append("")
    lines.append(t(RESPOND_BY, date=t.date(respond_by)) if respond_by else t(CASE_LINK_ONLY))
    lines += [context.case_link, t(PORTAL_OFFER if kind in POST_LICENCE_LETTERS else PORTAL_SETTLE), ""]
    lines += [t(CLOSING), t(SIGNATURE, sender=context.sender_name, holder=context.holder_name)]
    return RenderedLetter(language, subject, "\n".join(lines) + "\n")


# --- keeping and sending ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Letter:
    """A letter kept with its case: what was written, to whom, under which key, and when it was sent."""

    key: str
    case_id: str
    kind: LetterKind
    language: str
    to: str
    subject: str
    body: str
    message_id: str
    created_at: datetime
    sent_at: datetime | None = None


class LetterStore(Protocol):
    """Where letters are kept (`tracemark.store.case_repository.SqlLetterStore`: `case_letters`, keyed by `key`)."""

    def get(self, key: str) -> Letter | None:
        """The letter kept under `key`."""
        ...

    def add(self, letter: Letter) -> None:
        """Keeps a new letter; raises `ValueError` when its key is taken."""
        ...

    def mark_sent(self, key: str, at: datetime) -> None:
        """Records that the letter under `key` was handed to the mail server."""
        ...

    def for_case(self, case_id: str) -> list[Letter]:
        """Every letter of a case, oldest first."""
        ...


class InMemoryLetterStore:
    """Letters in a locked dictionary."""

    def __init__(self) -> None:
        self._letters: dict[str, Letter] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Letter | None:
        """The letter kept under `key`."""
        with self._lock:
            return self._letters.get(key)

    def add(self, letter: Letter) -> None:
        """Keeps a new letter."""
        with self._lock:
            if letter.key in self._letters:
                raise ValueError(f"a letter is already kept under {letter.key}")
            self._letters[letter.key] = letter

    def mark_sent(self, key: str, at: datetime) -> None:
        """Marks the letter sent."""
        with self._lock:
            self._letters[key] = replace(self._letters[key], sent_at=at)

    def for_case(self, case_id: str) -> list[Letter]:
        """The case's letters by creation time."""
        with self._lock:
            return sorted((x for x in self._letters.values() if x.case_id == case_id), key=lambda x: x.created_at)


class LetterTransport(Protocol):
    """Delivers a letter by e-mail (`tracemark.mail.SmtpMailer` is one)."""

    def send(self, *, to: str, subject: str, body: str, message_id: str, language: str) -> None:
        """Hands the message to the mail server; raises on failure."""
        ...


LetterContextSource = Callable[[Case, LetterKind], LetterContext]
_ADDRESS = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")


class LetterDispatcher:
    """The scheduler's stage effect: writes, keeps and sends the letter of the stage a case has entered."""

    def __init__(self, store: LetterStore, transport: LetterTransport, clock: Clock, policy: DeadlinePolicy,
                 context: LetterContextSource, *, message_domain: str = "tracemark.invalid") -> None:
        self.store, self.transport, self.clock, self.policy = store, transport, clock, policy
        self.context, self.message_domain = context, message_domain

    def __call__(self, case: Case, due: DueTransition, key: str, /) -> None:
        """Sends the letter for `case`'s new stage unless the one kept under `key` was sent already."""
        kind = LETTER_FOR_STAGE.get(case.state)
        if kind is None:
            return
        letter = self.store.get(key)
        if letter is not None and letter.sent_at is not None:
            return
        if letter is None:
            letter = self.write(case, kind, key)
            self.store.add(letter)
        self.transport.send(to=letter.to, subject=letter.subject, body=letter.body, message_id=letter.message_id,
                            language=letter.language)
        self.store.mark_sent(key, self.clock.now())

    def write(self, case: Case, kind: LetterKind, key: str) -> Letter:
        """The letter of `kind` for `case`, not yet kept or sent.

        Raises:
            LetterError: the recipient's address is not an e-mail address, or the context does not fit the kind.
        """
        ctx = self.context(case, kind)
        if not _ADDRESS.match(ctx.recipient_email):
            raise LetterError(f"case {case.case_id}: {ctx.recipient_email!r} is not an e-mail address")
        wait = self.policy.wait(case.state)
        respond_by = case.stage_started_at + wait if wait else None
        language = choose_language(case.country, ctx.page_language)
        rendered = render_letter(kind, case, ctx, language, respond_by=respond_by)
        digest = hashlib.sha256(key.encode()).hexdigest()[:32]
        return Letter(key, case.case_id, kind, language, ctx.recipient_email, rendered.subject, rendered.body,
                      f"<{digest}@{self.message_domain}>", self.clock.now())
