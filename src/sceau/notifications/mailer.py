"""Sending one e-mail by SMTP: plain, STARTTLS or implicit TLS, as configured."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr

from sceau.notifications.templates import RenderedNotice
from sceau.settings import Settings


class MailNotSent(Exception):
    """``permanent`` when the server refused for good (5xx): no retry helps."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True)
class MailSettings:
    host: str | None
    port: int
    security: str
    user: str | None
    password: str | None
    sender: str
    timeout: float
    ca_file: str | None

    @classmethod
    def of(cls, settings: Settings) -> MailSettings:
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            user=settings.smtp_user,
            password=(
                settings.smtp_password.get_secret_value()
                if settings.smtp_password
                else None
            ),
            sender=settings.smtp_from,
            timeout=settings.smtp_timeout_seconds,
            ca_file=str(settings.smtp_ca_file) if settings.smtp_ca_file else None,
        )

    @property
    def domain(self) -> str:
        address = parseaddr(self.sender)[1]
        return address.rpartition("@")[2] or "pixel-sceau.invalid"

    def __repr__(self) -> str:  # never show the password
        return f"MailSettings(host={self.host!r}, port={self.port})"


def build_message(
    notice: RenderedNotice, *, sender: str, to: str, message_id: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = str(Address(addr_spec=to))
    message["Subject"] = notice.subject
    message["Date"] = formatdate(usegmt=True)
    # The same Message-ID on every retry, so that a mailbox can drop a repeat.
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(notice.text)
    message.add_alternative(notice.html, subtype="html")
    return message


class Mailer:
    def __init__(self, config: MailSettings) -> None:
        self.config = config

    def send(self, message: EmailMessage) -> None:
        config = self.config
        if not config.host:
            raise MailNotSent("SMTP non configuré (SCEAU_SMTP_HOST)")
        context = ssl.create_default_context(cafile=config.ca_file)
        try:
            smtp: smtplib.SMTP
            if config.security == "tls":
                smtp = smtplib.SMTP_SSL(
                    config.host, config.port, timeout=config.timeout, context=context
                )
            else:
                smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
            with smtp:
                if config.security == "starttls":
                    smtp.starttls(context=context)
                if config.user and config.password is not None:
                    smtp.login(config.user, config.password)
                smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise MailNotSent(
                f"destinataire refusé ({', '.join(map(str, codes))})",
                permanent=all(code >= 500 for code in codes),
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise MailNotSent(
                f"réponse SMTP {exc.smtp_code}", permanent=exc.smtp_code >= 500
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise MailNotSent(f"SMTP injoignable : {type(exc).__name__}") from exc
