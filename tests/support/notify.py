"""Loopback receivers for notices: a real SMTP server (aiosmtpd), with STARTTLS and a login when
asked, and an HTTP server that keeps every webhook POST."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SMTP_USER = "archiver"
SMTP_PASSWORD = "smtp-secret-9c2e"  # noqa: S105 - made up, loopback only


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Mailbox:
    """What the SMTP server received: every message, parsed, with its envelope."""

    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Session,  # noqa: N802 - aiosmtpd's API
                          envelope: Envelope) -> str:
        data = envelope.original_content or b""
        self.raw.append(data)
        self.envelopes.append((str(envelope.mail_from), list(envelope.rcpt_tos)))
        parsed = message_from_bytes(data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 OK"

    def bodies(self) -> list[str]:
        """Each message's text part."""
        out = []
        for m in self.messages:
            part = m.get_body(("plain",))
            assert part is not None
            out.append(part.get_content())
        return out

    def subjects(self) -> list[str]:
        return [str(m["Subject"]).strip() for m in self.messages]


@dataclass
class SmtpServer:
    """A running loopback SMTP server and the environment that sends to it."""

    mailbox: Mailbox
    host: str
    port: int
    env: dict[str, str]


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "archiver test mail")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


def _login(server: Any, session: Session, envelope: Envelope, mechanism: str,
           data: Any) -> AuthResult:
    ok = (isinstance(data, LoginPassword) and data.login == SMTP_USER.encode()
          and data.password == SMTP_PASSWORD.encode())
    return AuthResult(success=ok)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server on loopback (no STARTTLS, no login)."""
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer(mailbox, "127.0.0.1", port, {
            "ARCHIVER_NOTIFY_SMTP_HOST": "127.0.0.1", "ARCHIVER_NOTIFY_SMTP_PORT": str(port),
            "ARCHIVER_NOTIFY_SMTP_STARTTLS": "no",
            "ARCHIVER_NOTIFY_SMTP_FROM": "archiver@pd.example.invalid",
            "ARCHIVER_NOTIFY_SMTP_TO": "pio@pd.example.invalid, psu@pd.example.invalid",
            "ARCHIVER_NOTIFY_ITEM_URL": "https://desk.pd.example.invalid/items/{item_id}"})
    finally:
        controller.stop()


@pytest.fixture
def tls_smtp_server(tmp_path: Path) -> Iterator[SmtpServer]:
    """An SMTP server that requires STARTTLS (its own certificate) and a login."""
    cert_file, key_file = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, tls_context=context,
                            require_starttls=True, auth_required=True,
                            authenticator=_login, auth_require_tls=True)
    controller.start()
    try:
        yield SmtpServer(mailbox, "127.0.0.1", port, {
            "ARCHIVER_NOTIFY_SMTP_HOST": "127.0.0.1", "ARCHIVER_NOTIFY_SMTP_PORT": str(port),
            "ARCHIVER_NOTIFY_SMTP_CA_FILE": str(cert_file),
            "ARCHIVER_NOTIFY_SMTP_USER": SMTP_USER, "ARCHIVER_NOTIFY_SMTP_PASSWORD": SMTP_PASSWORD,
            "ARCHIVER_NOTIFY_SMTP_FROM": "archiver@pd.example.invalid",
            "ARCHIVER_NOTIFY_SMTP_TO": "pio@pd.example.invalid"})
    finally:
        controller.stop()


@dataclass
class Posted:
    """One POST the webhook receiver got."""

    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """A loopback HTTP server that keeps every POST; ``status`` is what it answers."""

    posts: list[Posted] = field(default_factory=list)
    status: int = 204
    url: str = ""


@pytest.fixture
def webhook_receiver() -> Iterator[WebhookReceiver]:
    """A running :class:`WebhookReceiver` (``url`` is where to POST)."""
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the http.server API
            length = int(self.headers.get("Content-Length") or 0)
            receiver.posts.append(Posted(self.path, {k.lower(): v for k, v in
                                                     self.headers.items()},
                                         self.rfile.read(length)))
            self.send_response(receiver.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{httpd.server_address[1]}/hooks/archiver?key=abc"
    try:
        yield receiver
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
