"""Mail: the SMTP adapter that delivers letters (`SmtpMailer`, configured from Settings)."""

from tracemark.mail.smtp import MailError, SmtpMailer

__all__ = ["MailError", "SmtpMailer"]
