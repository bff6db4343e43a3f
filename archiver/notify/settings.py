"""Where messages to staff go, from the environment (like the scheduler's and the webhook
receiver's settings). Credentials are read here and kept out of every ``repr``.

=====================================  ===========================================================
``ARCHIVER_NOTIFY_SMTP_HOST``          the mail server; unset: no e-mail
``ARCHIVER_NOTIFY_SMTP_PORT``          default 587 (25 with STARTTLS off)
``ARCHIVER_NOTIFY_SMTP_FROM``          the sender address
``ARCHIVER_NOTIFY_SMTP_TO``            recipients, separated by commas
``ARCHIVER_NOTIFY_SMTP_STARTTLS``      ``yes`` (default) or ``no``; credentials are never sent
                                       without it
``ARCHIVER_NOTIFY_SMTP_CA_FILE``       a CA bundle (PEM) for a mail server with an agency
                                       certificate
``ARCHIVER_NOTIFY_SMTP_USER``,         the login, if the server asks for one
``ARCHIVER_NOTIFY_SMTP_PASSWORD``
``ARCHIVER_NOTIFY_WEBHOOK_URL``        a URL that takes a JSON POST per message; unset: none
``ARCHIVER_NOTIFY_WEBHOOK_SECRET``     signs each body: ``X-Archiver-Signature-256: sha256=HMAC``
``ARCHIVER_NOTIFY_ITEM_URL``           a link to an item, ``{item_id}`` replaced (e.g. the web
                                       desk's page); unset: the command that shows it
=====================================  ===========================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from archiver.config import path_setting
from archiver.errors import ConfigError

PREFIX = "ARCHIVER_NOTIFY_"
YES = ("1", "yes", "true", "on")
NO = ("0", "no", "false", "off")


@dataclass(frozen=True)
class MailSettings:
    """An SMTP server and who gets the messages."""

    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    starttls: bool = True
    ca_file: Path | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = 30.0


@dataclass(frozen=True)
class WebhookSettings:
    """A URL that takes one JSON POST per message."""

    url: str = field(repr=False)  # may carry a key in its query string
    secret: str | None = field(default=None, repr=False)
    timeout: float = 30.0


@dataclass(frozen=True)
class NotifySettings:
    """Every channel configured (either may be None) and how an item is linked."""

    mail: MailSettings | None = None
    webhook: WebhookSettings | None = None
    item_url: str | None = None

    @property
    def channels(self) -> tuple[str, ...]:
        """The configured channels' names: ``email``, ``webhook``."""
        return tuple(name for name, on in (("email", self.mail), ("webhook", self.webhook))
                     if on is not None)

    def item_link(self, item_id: int) -> str:
        """Where a person opens the item."""
        if self.item_url:
            return self.item_url.replace("{item_id}", str(item_id))
        return f"archiver items show {item_id}"

    def secrets(self) -> tuple[str, ...]:
        """The credentials these settings hold, so no message or error can carry them."""
        found = [self.mail.password if self.mail else None,
                 self.webhook.secret if self.webhook else None]
        return tuple(s for s in found if s)


def _flag(environ: Mapping[str, str], name: str, default: bool) -> bool:
    text = (environ.get(name) or "").strip().lower()
    if not text:
        return default
    if text in YES or text in NO:
        return text in YES
    raise ConfigError(f"{name}: {text!r} is not yes or no")


def _http_url(name: str, value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name}: not an http(s) URL")
    return value


def _mail(environ: Mapping[str, str]) -> MailSettings | None:
    host = (environ.get(PREFIX + "SMTP_HOST") or "").strip()
    if not host:
        return None
    starttls = _flag(environ, PREFIX + "SMTP_STARTTLS", True)
    port_text = (environ.get(PREFIX + "SMTP_PORT") or "").strip()
    try:
        port = int(port_text) if port_text else (587 if starttls else 25)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise ConfigError(f"{PREFIX}SMTP_PORT: {port_text!r} is not a port number")
    sender = (environ.get(PREFIX + "SMTP_FROM") or "").strip()
    recipients = tuple(a.strip() for a in (environ.get(PREFIX + "SMTP_TO") or "").split(",")
                       if a.strip())
    if not sender or "@" not in sender:
        raise ConfigError(f"{PREFIX}SMTP_FROM: set the sender's address to send e-mail")
    if not recipients or not all("@" in a for a in recipients):
        raise ConfigError(f"{PREFIX}SMTP_TO: set the recipients' addresses, separated by "
                          "commas")
    username = environ.get(PREFIX + "SMTP_USER") or None
    password = environ.get(PREFIX + "SMTP_PASSWORD") or None
    if (username is None) != (password is None):
        raise ConfigError(f"{PREFIX}SMTP_USER and {PREFIX}SMTP_PASSWORD go together")
    if username is not None and not starttls:
        raise ConfigError(f"{PREFIX}SMTP_USER: credentials are sent only over STARTTLS "
                          f"({PREFIX}SMTP_STARTTLS=yes)")
    ca_text = environ.get(PREFIX + "SMTP_CA_FILE")
    return MailSettings(host=host, port=port, sender=sender, recipients=recipients,
                        starttls=starttls,
                        ca_file=path_setting(PREFIX + "SMTP_CA_FILE", ca_text) if ca_text
                        else None,
                        username=username, password=password)


def notify_settings(environ: Mapping[str, str]) -> NotifySettings:
    """The channels ``environ`` configures; a half-configured one is a :class:`ConfigError`."""
    url = (environ.get(PREFIX + "WEBHOOK_URL") or "").strip()
    webhook = None
    if url:
        webhook = WebhookSettings(url=_http_url(PREFIX + "WEBHOOK_URL", url),
                                  secret=environ.get(PREFIX + "WEBHOOK_SECRET") or None)
    item_url = (environ.get(PREFIX + "ITEM_URL") or "").strip() or None
    if item_url is not None:
        _http_url(PREFIX + "ITEM_URL", item_url)
        if "{item_id}" not in item_url:
            raise ConfigError(f"{PREFIX}ITEM_URL: put {{item_id}} where the item's id goes")
    return NotifySettings(mail=_mail(environ), webhook=webhook, item_url=item_url)
