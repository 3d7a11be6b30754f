# ruff: noqa: RUF001 - Japanese letters are written with full-width punctuation
"""Letters: the language by country, complete catalogs, rendering in four languages, keeping and sending once."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tracemark.cases.clock import ManualClock
from tracemark.cases.compensation import (
    UNIT,
    HolderPrices,
    Medium,
    Prominence,
    Usage,
    UseDescription,
    compute_compensation,
)
from tracemark.cases.deadlines import DeadlinePolicy, DueTransition, due_transitions
from tracemark.cases.letters import (
    LETTER_FOR_STAGE,
    SUPPORTED,
    VOCABULARY,
    InMemoryLetterStore,
    LetterContext,
    LetterDispatcher,
    LetterError,
    LetterKind,
    catalog,
    choose_language,
    message_ids,
    render_letter,
)
from tracemark.cases.scheduler import DeadlineScheduler, InMemoryActionLedger, InMemoryCaseRepository
from tracemark.cases.workflow import Case, CaseState, open_case, transition

from .support import SYSTEM, case_in

DAY = timedelta(days=1)
BREAKDOWN = compute_compensation(
    UseDescription(Usage.COMMERCIAL, Medium.WEB, 1300, Prominence.FEATURED, datetime(2026, 1, 1, tzinfo=UTC),
                   datetime(2026, 3, 1, tzinfo=UTC), "DE", False, models=True),
    HolderPrices(list_price=100 * UNIT, comparable_sales=(1000 * UNIT,)))
OFFER_CTX = LetterContext("info@shop.example.de", "https://tracemark.example/c/Zk9x", "Jane Doe",
                          recipient_name="Erika Muster", offer_price=1234 * UNIT + UNIT // 2)
DAMAGES_CTX = replace(OFFER_CTX, offer_price=None, breakdown=BREAKDOWN)
PLACEHOLDER = re.compile(r"\{(\w+)\}")


@pytest.mark.parametrize(("country", "page", "language"), [
    ("DE", None, "de"), ("at", None, "de"), ("LI", "en", "de"), ("FR", None, "fr"), ("MC", None, "fr"),
    ("JP", None, "ja"), ("CH", "fr-CH", "fr"), ("CH", "de", "de"), ("CH", "it-CH", "de"), ("CH", None, "de"),
    ("BE", "fr", "fr"), ("BE", "nl", "fr"), ("LU", None, "fr"), ("CA", "fr-CA", "fr"), ("CA", None, "en"),
    ("US", "ja", "en"), ("BR", None, "en"), (None, "de", "en"), ("", None, "en"),
])
def test_language_from_the_country_with_a_fallback(country: str | None, page: str | None, language: str) -> None:
    assert choose_language(country, page) == language


@pytest.mark.parametrize("language", ["de", "fr", "ja"])
def test_catalogs_are_complete_with_the_same_placeholders(language: str) -> None:
    t = catalog(language)
    for msgid in message_ids():
        translated = t.gettext(msgid)
        assert translated != msgid or msgid == "{prominence}" or (language == "fr" and msgid in ("Total", "Image: "
                                                                                               "{image_url}")), msgid
        assert set(PLACEHOLDER.findall(translated)) == set(PLACEHOLDER.findall(msgid)), msgid
    for context, words in VOCABULARY.items():
        for word in words:
            assert t.pgettext(context, word) != word, (context, word)


def test_unknown_language_is_refused() -> None:
    with pytest.raises(ValueError, match="supported"):
        catalog("xx")


def _letter(kind: LetterKind, language: str, ctx: LetterContext = OFFER_CTX) -> tuple[str, str]:
    stage = {v: k for k, v in LETTER_FOR_STAGE.items()}[kind]
    case = case_in(stage)
    r = render_letter(kind, case, ctx, language, respond_by=case.last_event.at + 14 * DAY)
    assert r.language == language
    return r.subject, r.body


EXPECTED_OFFER = {
    "en": ("Your use of a photograph on shop.example.de: licence offer (case case-1)", "Dear Erika Muster,",
           "for 1,234.50 CPY", "Please answer by March 16, 2026 through your case page:", "Kind regards,"),
    "de": ("Ihre Nutzung eines Fotos auf shop.example.de: Lizenzangebot (Fall case-1)", "Guten Tag Erika Muster,",
           "für 1.234,50 CPY", "Bitte antworten Sie bis zum 16. März 2026 über Ihre Fallseite:",
           "Mit freundlichen Grüßen"),
    "fr": ("Votre utilisation d'une photographie sur shop.example.de : offre de licence (dossier case-1)",
           "Bonjour Erika Muster,", "pour 1\u202f234,50 CPY", "Merci de répondre avant le 16 mars 2026",
           "Cordialement,"),
    "ja": ("shop.example.de における写真のご利用について：ライセンスのご提案（案件 case-1）", "Erika Muster 様",
           "今なら 1,234.50 CPY で", "2026年3月16日までに、案件ページからご回答ください：",
           "よろしくお願いいたします。"),
}


@pytest.mark.parametrize("language", SUPPORTED)
def test_offer_letter_in_four_languages(language: str) -> None:
    subject, body = _letter(LetterKind.OFFER, language)
    expected_subject, *phrases = EXPECTED_OFFER[language]
    assert subject == expected_subject
    for phrase in phrases:
        assert phrase in body, (phrase, body)
    assert "https://tracemark.example/c/Zk9x" in body and "https://shop.example.de/i/1.jpg" in body
    assert "Jane Doe" in body


@pytest.mark.parametrize(("language", "phrases"), [
    ("en", ["Amount claimed: 500.00 CPY", "+ Missing author credit: +100 % of the licence fee: 1,462.50 CPY",
            "- Cap: at most 5 x the holder's list price of 100 CPY: 2,863.75 CPY",
            "  = Total (amount claimed): 500.00 CPY", "median of the holder's 1 own sales", "large (x 1.3)",
            "no longer available"]),
    ("de", ["Geforderter Betrag: 500,00 CPY", "+ Fehlende Urhebernennung: +100 % der Lizenzgebühr: 1.462,50 CPY",
            "angezeigt mit 1300 Pixel Breite: groß (x 1,3)", "= Summe (geforderter Betrag): 500,00 CPY",
            "Foto mit Models", "- Obergrenze: höchstens 5 x", "nicht mehr erhältlich"]),
    ("fr", ["Montant réclamé : 500,00 CPY", "Absence de mention de l'auteur", "Plafond", "1\u202f462,50 CPY"]),
    ("ja", ["請求金額：500.00 CPY", "著作者表示なし", "上限", "目立つ位置 (x 1.5)"]),
])
def test_damages_letter_shows_the_working(language: str, phrases: list[str]) -> None:
    _subject, body = _letter(LetterKind.DAMAGES, language, DAMAGES_CTX)
    for phrase in phrases:
        assert phrase in body, (phrase, body)
    assert "licence for this use now" not in body and "Lizenz für diese Nutzung erwerben" not in body
    assert len([line for line in body.splitlines() if line.startswith("  ")]) == len(BREAKDOWN.lines)


@pytest.mark.parametrize("language", SUPPORTED)
def test_every_kind_renders_in_every_language(language: str) -> None:
    for kind in LetterKind:
        ctx = OFFER_CTX if kind in (LetterKind.OFFER, LetterKind.REMINDER) else DAMAGES_CTX
        subject, body = _letter(kind, language, ctx)
        assert "case-1" in subject and "{" not in subject + body and "}" not in body


def test_reminder_names_the_offer_date_and_court_has_no_deadline() -> None:
    _, body = _letter(LetterKind.REMINDER, "en")
    assert "We wrote to you on March 2, 2026" in body
    case = case_in(CaseState.COURT)
    r = render_letter(LetterKind.COURT, case, DAMAGES_CTX, "de", respond_by=None)
    assert "Ihre Fallseite:\nhttps://tracemark.example/c/Zk9x" in r.body and "bis zum" not in r.body


def test_anonymous_greeting() -> None:
    _, body = _letter(LetterKind.OFFER, "fr", replace(OFFER_CTX, recipient_name=None))
    assert body.startswith("Madame, Monsieur,\n")


def test_letters_refuse_what_does_not_fit_their_stage() -> None:
    with pytest.raises(LetterError, match="post-licence price"):
        _letter(LetterKind.OFFER, "en", replace(OFFER_CTX, offer_price=None))
    with pytest.raises(LetterError, match="working"):
        _letter(LetterKind.DAMAGES, "en", OFFER_CTX)
    with pytest.raises(LetterError, match="no post-licence is offered"):
        _letter(LetterKind.LAWYER_WARNING, "en", replace(DAMAGES_CTX, offer_price=UNIT))


# --- keeping and sending through the scheduler --------------------------------------------------------------------


class Outbox:
    def __init__(self, fail_times: int = 0) -> None:
        self.sent: list[dict[str, str]] = []
        self.fail_times = fail_times

    def send(self, *, to: str, subject: str, body: str, message_id: str, language: str) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise OSError("connection refused")
        self.sent.append({"to": to, "subject": subject, "body": body, "message_id": message_id, "lang": language})


def context_for(case: Case, kind: LetterKind) -> LetterContext:
    return OFFER_CTX if kind in (LetterKind.OFFER, LetterKind.REMINDER) else DAMAGES_CTX


def _setup(country: str = "FR") -> tuple[InMemoryCaseRepository, ManualClock, InMemoryLetterStore, DeadlinePolicy]:
    case = case_in(CaseState.APPROVED)
    case = replace(case, country=country)
    repo = InMemoryCaseRepository()
    repo.save(case, 0)
    return repo, ManualClock(case.last_event.at), InMemoryLetterStore(), DeadlinePolicy()


def test_each_stage_sends_its_letter_once_and_keeps_it() -> None:
    repo, clock, store, policy = _setup()
    outbox = Outbox()
    ledger = InMemoryActionLedger()

    def run() -> None:
        dispatcher = LetterDispatcher(store, outbox, clock, policy, context_for, message_domain="tracemark.example")
        DeadlineScheduler(repo, ledger, clock, policy, effect=dispatcher).run_once()

    run()
    for wait in (14, 14, 14, 30):
        run()
        clock.advance(wait * DAY)
        run()
        run()
    letters = store.for_case("case-1")
    assert [x.kind for x in letters] == list(LetterKind)
    assert [m["subject"] for m in outbox.sent] == [x.subject for x in letters]
    assert all(x.language == "fr" and x.sent_at is not None for x in letters)
    assert len({m["message_id"] for m in outbox.sent}) == 5
    assert all(re.fullmatch(r"<[0-9a-f]{32}@tracemark\.example>", m["message_id"]) for m in outbox.sent)
    assert "Merci de répondre avant le" in letters[0].body


def test_a_failed_send_keeps_the_letter_and_retries_the_same_one() -> None:
    repo, clock, store, policy = _setup("JP")
    outbox = Outbox(fail_times=1)
    ledger = InMemoryActionLedger()
    dispatcher = LetterDispatcher(store, outbox, clock, policy, context_for)
    report = DeadlineScheduler(repo, ledger, clock, policy, effect=dispatcher).run_once()
    assert "connection refused" in report.failed[0][1]
    kept = store.get("case-1/offer")
    assert kept is not None and kept.sent_at is None and repo.get("case-1").state is CaseState.APPROVED
    clock.advance(timedelta(minutes=1))
    DeadlineScheduler(repo, ledger, clock, policy, effect=dispatcher).run_once()
    assert len(outbox.sent) == 1 and outbox.sent[0]["body"] == kept.body and outbox.sent[0]["lang"] == "ja"
    assert store.get("case-1/offer").sent_at == clock.now()  # type: ignore[union-attr]
    assert repo.get("case-1").state is CaseState.OFFER


def test_a_letter_sent_before_a_crash_is_not_sent_again() -> None:
    repo, clock, store, policy = _setup()
    outbox = Outbox()
    dispatcher = LetterDispatcher(store, outbox, clock, policy, context_for)
    case = repo.get("case-1")
    (due,) = due_transitions([case], clock.now(), policy)
    entered = transition(case, CaseState.OFFER, actor=SYSTEM, at=clock.now(), reason="approved")
    dispatcher(entered, due, due.key)  # the letter went out, then the process died before saving the case
    DeadlineScheduler(repo, InMemoryActionLedger(), clock, policy, effect=dispatcher).run_once()
    assert len(outbox.sent) == 1 and repo.get("case-1").state is CaseState.OFFER


def test_a_bad_recipient_address_sends_nothing() -> None:
    repo, clock, store, policy = _setup()
    outbox = Outbox()

    def bad(case: Case, kind: LetterKind) -> LetterContext:
        return replace(OFFER_CTX, recipient_email="not-an-address")

    report = DeadlineScheduler(repo, InMemoryActionLedger(), clock, policy,
                               effect=LetterDispatcher(store, outbox, clock, policy, bad)).run_once()
    assert "not an e-mail address" in report.failed[0][1] and outbox.sent == [] and store.get("case-1/offer") is None


def test_stages_without_a_letter_send_nothing() -> None:
    _repo, clock, store, policy = _setup()
    outbox = Outbox()
    dispatcher = LetterDispatcher(store, outbox, clock, policy, context_for)
    case = open_case(case_id="x", certificate_id=1, holder="0x1", host="h.example", page_url="p", image_url="i",
                     country=None, at=clock.now())
    dispatcher(case, DueTransition("x", CaseState.FINDING, CaseState.FINDING, clock.now()), "x/finding")
    assert outbox.sent == [] and store.for_case("x") == []
