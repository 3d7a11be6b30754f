"""Delivers plain-text letters over SMTP with the standard library's `smtplib`.

One connection per letter (letters are few and far between; a connection kept open would only go stale). The
connection is encrypted with STARTTLS (default) or implicit TLS, and the server's certificate is checked against the
system's CAs or `smtp_ca_file`; `none` is for a relay on loopback and for tests, and never carries a login. The
message is UTF-8 (`EmailMessage`, the SMTP policy: CRLF lines, encoded headers), names its language
(`Content-Language`), carries the Message-ID the caller chose (stable per letter, so a repeated delivery can be
recognised) and says it was sent automatically (`Auto-Submitted`, RFC 3834, so vacation replies stay away).
Header values are checked for line breaks before anything is built. Every failure, including a refused recipient,
raises `MailError`.
"""

from __future__ import annotations

import email.policy
import email.utils
import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path

from tracemark.config import Settings

SECURITY = ("starttls", "tls", "none")


class MailError(Exception):
    """A letter that could not be handed to the SMTP server."""


def _single_line(name: str, value: str) -> str:
    if any(c in value for c in "\r\n\x00"):
        raise MailError(f"{name} must be a single line")
    return value


def _address(name: str, value: str) -> str:
    _single_line(name, value)
    _, addr = email.utils.parseaddr(value)
    if not addr or "@" not in addr or addr.count("@") != 1:
        raise MailError(f"{name} {value!r} is not an e-mail address")
    try:
        Address(addr_spec=addr)
    except (ValueError, IndexError) as exc:
        raise MailError(f"{name} {value!r} is not an e-mail address: {exc}") from None
    return value


class SmtpMailer:
    """Sends letters through one SMTP server; satisfies `tracemark.cases.letters.LetterTransport`."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        security: str = "starttls",
        username: str = "",
        password: str = "",
        timeout_s: float = 30.0,
        ca_file: Path | None = None,
        reply_to: str = "",
    ) -> None:
        if not host:
            raise MailError("no SMTP host configured")
        if security not in SECURITY:
            raise MailError(f"SMTP security must be one of {', '.join(SECURITY)}, not {security!r}")
        if username and security == "none":
            raise MailError("refusing to send SMTP credentials over an unencrypted connection")
        self.host, self.port, self.security = host, port, security
        self.sender = _address("sender", sender)
        self.reply_to = _address("reply-to", reply_to) if reply_to else ""
        self.username, self.password, self.timeout_s, self.ca_file = username, password, timeout_s, ca_file

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpMailer:
        """The mailer the settings describe (`TRACEMARK_SMTP_*`, `TRACEMARK_MAIL_*`).

        Raises:
            MailError: no host configured, or an invalid combination.
        """
        return cls(settings.smtp_host, settings.smtp_port, sender=settings.mail_from,
                   security=settings.smtp_security, username=settings.smtp_username,
                   password=settings.smtp_password.get_secret_value(), timeout_s=settings.smtp_timeout_s,
                   ca_file=settings.smtp_ca_file, reply_to=settings.mail_reply_to)

    def build(self, *, to: str, subject: str, body: str, message_id: str, language: str) -> EmailMessage:
        """The message as it will be sent.

        Raises:
            MailError: a header value with a line break, or an address that is none.
        """
        msg = EmailMessage(policy=email.policy.SMTP)
        msg["From"] = self.sender
        msg["To"] = _address("recipient", to)
        if self.reply_to:
            msg["Reply-To"] = self.reply_to
        msg["Subject"] = _single_line("subject", subject)
        msg["Date"] = email.utils.formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = _single_line("message id", message_id)
        msg["Auto-Submitted"] = "auto-generated"
        msg.set_content(body, charset="utf-8")
        msg["Content-Language"] = _single_line("language", language)  # after set_content, which drops Content-*
        return msg

    def _context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)

    def send(self, *, to: str, subject: str, body: str, message_id: str, language: str) -> None:
        """Delivers one letter.

        Raises:
            MailError: the message is malformed, the server cannot be reached, TLS or login fails, or the server
                refuses the message or the recipient.
        """
        msg = self.build(to=to, subject=subject, body=body, message_id=message_id, language=language)
        try:
            if self.security == "tls":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s,
                                                      context=self._context())
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
            with smtp:
                if self.security == "starttls":
                    smtp.starttls(context=self._context())
                if self.username:
                    smtp.login(self.username, self.password)
                refused = smtp.send_message(msg)
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"letter {message_id} to {to} not delivered: {type(exc).__name__}: {exc}") from exc
        if refused:
            raise MailError(f"letter {message_id}: recipients refused: {refused}")
