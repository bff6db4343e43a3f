"""E-mail over SMTP (:mod:`smtplib`): STARTTLS before any login, plain text, files attached.

The body is text/plain in UTF-8, so no mail reader renders a visitor's markup; the subject is
our own words on one line. A failure is one :class:`NotifyError` line naming the server, never
the password (https://docs.python.org/3/library/smtplib.html).
"""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from archiver.notify.message import Message, NotifyError
from archiver.notify.settings import MailSettings
from archiver.terminal import visible


def _email(settings: MailSettings, message: Message) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = visible(message.subject)
    mail["From"] = settings.sender
    mail["To"] = ", ".join(settings.recipients)
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = make_msgid(domain=settings.sender.rsplit("@", 1)[-1])
    mail["X-Archiver-Notice"] = message.kind
    mail.set_content(message.body(), subtype="plain", charset="utf-8")
    for attachment in message.attachments:
        main, _, sub = attachment.media_type.partition("/")
        mail.add_attachment(attachment.content, maintype=main, subtype=sub or "octet-stream",
                            filename=attachment.name)
    return mail


def send_mail(settings: MailSettings, message: Message) -> None:
    """Send ``message`` to the configured recipients, or raise :class:`NotifyError`."""
    where = f"SMTP {settings.host}:{settings.port}"
    try:
        with smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout) as smtp:
            smtp.ehlo()
            if settings.starttls:
                context = ssl.create_default_context(
                    cafile=str(settings.ca_file) if settings.ca_file else None)
                smtp.starttls(context=context)
                smtp.ehlo()
            if settings.username is not None and settings.password is not None:
                smtp.login(settings.username, settings.password)
            smtp.send_message(_email(settings, message))
    except smtplib.SMTPResponseException as exc:
        reason = exc.smtp_error.decode("utf-8", "replace") if isinstance(
            exc.smtp_error, bytes) else str(exc.smtp_error)
        raise NotifyError(f"{where}: {exc.smtp_code} {visible(' '.join(reason.split()))}"
                          ) from None
    except (smtplib.SMTPException, OSError, ssl.SSLError) as exc:
        raise NotifyError(f"{where}: {type(exc).__name__}: "
                          f"{visible(' '.join(str(exc).split()))}") from None
