"""The SMTP adapter against a real SMTP server on loopback, and the case letters delivered through it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from tests.backend.conftest import free_port
from tests.backend.unit.cases.support import case_in
from tracemark.cases.clock import ManualClock
from tracemark.cases.compensation import UNIT, HolderPrices, Medium, Prominence, Usage, UseDescription
from tracemark.cases.compensation import compute_compensation as compute
from tracemark.cases.deadlines import DeadlinePolicy
from tracemark.cases.letters import (
    InMemoryLetterStore,
    LetterContext,
    LetterDispatcher,
    LetterKind,
    render_letter,
)
from tracemark.cases.scheduler import DeadlineScheduler, InMemoryActionLedger, InMemoryCaseRepository
from tracemark.cases.workflow import Case, CaseState
from tracemark.config import Settings
from tracemark.mail import MailError, SmtpMailer

from .conftest import PASSWORD, REFUSED, USER, Server

pytestmark = pytest.mark.integration

SENDER = "Tracemark Fälle <cases@tracemark.example>"
CTX = LetterContext("info@shop.example.de", "https://tracemark.example/c/Zk9x", "Jane Doe",
                    recipient_name="Erika Muster", offer_price=99 * UNIT)


def plain(server: Server, **kw: object) -> SmtpMailer:
    return SmtpMailer("127.0.0.1", server.port, sender=SENDER, security="none", timeout_s=10, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("language", ["en", "de", "fr", "ja"])
def test_a_letter_in_each_language_arrives_intact(plain_smtp: Server, language: str) -> None:
    case = case_in(CaseState.OFFER)
    letter = render_letter(LetterKind.OFFER, case, CTX, language, respond_by=case.last_event.at + timedelta(days=14))
    plain(plain_smtp, reply_to="help@tracemark.example").send(
        to="Erika Muster <info@shop.example.de>", subject=letter.subject, body=letter.body,
        message_id="<abc123@tracemark.example>", language=language)
    (got,) = plain_smtp.inbox.messages
    assert got.mail_from == "cases@tracemark.example" and got.rcpt_tos == ["info@shop.example.de"]
    msg = got.message
    assert msg["Subject"].strip() == letter.subject  # a long subject is folded onto the next line
    assert msg["From"] == SENDER and msg["Reply-To"] == "help@tracemark.example"
    assert msg["Message-ID"] == "<abc123@tracemark.example>" and msg["Content-Language"] == language
    assert msg["Auto-Submitted"] == "auto-generated" and msg["Date"]
    assert msg.get_content_type() == "text/plain" and msg.get_content_charset() == "utf-8"
    assert msg.get_content().replace("\r\n", "\n") == letter.body


def test_starttls_with_login(starttls_smtp: Server) -> None:
    mailer = SmtpMailer("127.0.0.1", starttls_smtp.port, sender=SENDER, username=USER, password=PASSWORD,
                        ca_file=starttls_smtp.ca_file, timeout_s=10)
    mailer.send(to="a@b.example", subject="s", body="b\n", message_id="<1@t.example>", language="en")
    assert len(starttls_smtp.inbox.messages) == 1


def test_starttls_wrong_password_or_untrusted_certificate_fails(starttls_smtp: Server) -> None:
    wrong = SmtpMailer("127.0.0.1", starttls_smtp.port, sender=SENDER, username=USER, password="wrong",
                       ca_file=starttls_smtp.ca_file, timeout_s=10)
    with pytest.raises(MailError, match="SMTPAuthenticationError"):
        wrong.send(to="a@b.example", subject="s", body="b", message_id="<1@t.example>", language="en")
    untrusted = SmtpMailer("127.0.0.1", starttls_smtp.port, sender=SENDER, username=USER, password=PASSWORD,
                           timeout_s=10)
    with pytest.raises(MailError, match="CERTIFICATE_VERIFY_FAILED"):
        untrusted.send(to="a@b.example", subject="s", body="b", message_id="<1@t.example>", language="en")
    assert starttls_smtp.inbox.messages == []


def test_a_server_that_requires_starttls_refuses_plain_text(starttls_smtp: Server) -> None:
    with pytest.raises(MailError):
        plain(starttls_smtp).send(to="a@b.example", subject="s", body="b", message_id="<1@t.example>",
                                  language="en")
    assert starttls_smtp.inbox.messages == []


def test_implicit_tls(tls_smtp: Server) -> None:
    mailer = SmtpMailer("127.0.0.1", tls_smtp.port, sender=SENDER, security="tls", ca_file=tls_smtp.ca_file,
                        timeout_s=10)
    mailer.send(to="a@b.example", subject="Grüße", body="Hallo\n", message_id="<2@t.example>", language="de")
    assert tls_smtp.inbox.messages[0].message["Subject"].strip() == "Grüße"


def test_refused_recipient_and_unreachable_server(plain_smtp: Server) -> None:
    with pytest.raises(MailError, match="SMTPRecipientsRefused"):
        plain(plain_smtp).send(to=REFUSED, subject="s", body="b", message_id="<3@t.example>", language="en")
    nobody = SmtpMailer("127.0.0.1", free_port(), sender=SENDER, security="none", timeout_s=5)
    with pytest.raises(MailError, match="not delivered"):
        nobody.send(to="a@b.example", subject="s", body="b", message_id="<4@t.example>", language="en")
    assert plain_smtp.inbox.messages == []


@pytest.mark.parametrize(("field", "value", "message"), [
    ("subject", "Hello\r\nBcc: victim@example.com", "single line"),
    ("to", "a@b.example\nBcc: victim@example.com", "single line"),
    ("to", "not an address", "not an e-mail address"),
    ("to", "a@b@c.example", "not an e-mail address"),
    ("message_id", "<1@t>\r\nX: y", "single line"),
])
def test_header_injection_and_bad_addresses_are_refused_before_connecting(plain_smtp: Server, field: str,
                                                                          value: str, message: str) -> None:
    args = {"to": "a@b.example", "subject": "s", "body": "b", "message_id": "<5@t.example>", "language": "en"}
    args[field] = value
    with pytest.raises(MailError, match=message):
        plain(plain_smtp).send(**args)
    assert plain_smtp.inbox.messages == []


def test_configuration_errors() -> None:
    with pytest.raises(MailError, match="no SMTP host"):
        SmtpMailer("", 25, sender=SENDER)
    with pytest.raises(MailError, match="unencrypted"):
        SmtpMailer("127.0.0.1", 25, sender=SENDER, security="none", username="u", password="p")
    with pytest.raises(MailError, match="one of"):
        SmtpMailer("127.0.0.1", 25, sender=SENDER, security="ssl3")
    with pytest.raises(MailError, match="sender"):
        SmtpMailer("127.0.0.1", 25, sender="Tracemark")


def test_from_settings(plain_smtp: Server) -> None:
    settings = Settings(smtp_host="127.0.0.1", smtp_port=plain_smtp.port, smtp_security="none",
                        mail_from="Cases <cases@tracemark.example>", smtp_timeout_s=5)
    mailer = SmtpMailer.from_settings(settings)
    mailer.send(to="a@b.example", subject="s", body="b\n", message_id="<6@t.example>", language="en")
    assert plain_smtp.inbox.messages[0].message["From"] == "Cases <cases@tracemark.example>"
    with pytest.raises(MailError, match="no SMTP host"):
        SmtpMailer.from_settings(Settings(smtp_host=""))


def test_the_whole_escalation_by_mail_each_letter_once(plain_smtp: Server) -> None:
    """No answer -> offer, reminder, damages, lawyer's warning, court: five letters in German, each delivered once,
    though the scheduler runs twice at every deadline and is restarted in between."""
    policy = DeadlinePolicy(reminder_after=timedelta(days=21))
    case = case_in(CaseState.APPROVED)
    repo = InMemoryCaseRepository()
    repo.save(case, 0)
    clock = ManualClock(case.last_event.at)
    ledger, store = InMemoryActionLedger(), InMemoryLetterStore()
    breakdown = compute(UseDescription(Usage.COMMERCIAL, Medium.WEB, 900, Prominence.STANDARD, clock.now(),
                                       clock.now() + timedelta(days=40), "DE", False), HolderPrices())

    def context(c: Case, kind: LetterKind) -> LetterContext:
        return CTX if kind in (LetterKind.OFFER, LetterKind.REMINDER) else replace(CTX, offer_price=None,
                                                                                  breakdown=breakdown)

    def run() -> None:  # a new process each time: only the repository, ledger and letter store persist
        mailer = plain(plain_smtp)
        dispatcher = LetterDispatcher(store, mailer, clock, policy, context, message_domain="tracemark.example")
        DeadlineScheduler(repo, ledger, clock, policy, effect=dispatcher).run_once()

    run()
    run()
    for days in (21, 14, 14, 30):
        clock.advance(timedelta(days=days) - timedelta(minutes=1))
        run()
        clock.advance(timedelta(minutes=1))
        run()
        run()
    subjects = [r.message["Subject"].strip() for r in plain_smtp.inbox.messages]
    assert subjects == [
        "Ihre Nutzung eines Fotos auf shop.example.de: Lizenzangebot (Fall case-1)",
        "Erinnerung: Ihre Nutzung eines Fotos auf shop.example.de (Fall case-1)",
        "Schadensersatzforderung: Ihre Nutzung eines Fotos auf shop.example.de (Fall case-1)",
        "Letzte Mahnung vor rechtlichen Schritten (Fall case-1)",
        "Gerichtliches Verfahren (Fall case-1)",
    ]
    kept = store.for_case("case-1")
    assert [x.message_id for x in kept] == [r.message["Message-ID"] for r in plain_smtp.inbox.messages]
    damages = plain_smtp.inbox.messages[2].message.get_content()
    assert "Geforderter Betrag: 375,00 CPY" in damages and "Fehlende Urhebernennung" in damages
    assert "Lizenz für diese Nutzung erwerben" not in damages
    assert repo.get("case-1").state is CaseState.COURT
