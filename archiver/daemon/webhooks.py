"""The webhook endpoints (**contract**): ``/webhooks/facebook`` and ``/webhooks/instagram``.

* ``GET`` is Meta's verification handshake: ``hub.mode=subscribe`` and ``hub.verify_token`` equal
  to ``ARCHIVER_WEBHOOK_VERIFY_TOKEN`` → 200 with ``hub.challenge`` as the body; anything else 403.
* ``POST`` must carry ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>``
  with the secret from ``ARCHIVER_FB_APP_SECRET``, checked over the raw bytes as received
  (:func:`archiver.connectors.graph_webhooks.signature_ok`). Unsigned or mis-signed requests get
  403 and a log line. A signed body is read into changes by
  :mod:`archiver.connectors.graph_webhooks`, applied at once (:mod:`archiver.capture.realtime`)
  and answered 200; if a capture of the account holds its lock too long, 503 asks Meta to
  deliver again later.

Followed: https://developers.facebook.com/docs/graph-api/webhooks/getting-started (verification
requests, event notifications, "Validating Payloads").
Served by waitress (a pure-Python production WSGI server) from :func:`serve`.

Slow clients: the endpoint is public, and waitress stops accepting once ``connection_limit``
connections are open, however idle. So the server holds many more connections than Meta ever
opens and closes any connection idle for ``channel_timeout`` seconds, a half-sent request
included (:class:`ServerLimits`; waitress's own defaults, 100 connections and 120 s, let 150
stalled clients shut real deliveries out for minutes). In production a reverse proxy in front
(deploy/nginx-webhooks.conf) bounds header and body time per client and connections per address.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any
from urllib.parse import parse_qs

from archiver.capture.lock import CaptureLocked
from archiver.capture.realtime import LOCK_WAIT_S, apply_changes
from archiver.capture.results import CaptureResult
from archiver.connectors.graph_webhooks import PayloadError, parse_body, signature_ok
from archiver.connectors.records import Platform
from archiver.errors import ArchiverError, ConfigError
from archiver.monitoring.flags import flag_runs
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.store.blob_records import store_blob
from archiver.store.vocabulary import RunStatus

log = logging.getLogger(__name__)

VERIFY_TOKEN_ENV = "ARCHIVER_WEBHOOK_VERIFY_TOKEN"  # noqa: S105 - a variable name, not a secret
APP_SECRET_ENV = "ARCHIVER_FB_APP_SECRET"  # noqa: S105 - a variable name, not a secret
PATHS = {"/webhooks/facebook": Platform.FACEBOOK, "/webhooks/instagram": Platform.INSTAGRAM}
MAX_BODY = 1024 * 1024  # Meta batches up to 1000 changes; far below a megabyte

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


@dataclass(frozen=True)
class WebhookSecrets:
    """The verify token and app secret; kept out of ``repr`` so they never reach a log."""

    verify_token: str
    app_secret: str

    def __repr__(self) -> str:
        return "WebhookSecrets(***)"

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> WebhookSecrets:
        """Both secrets from the environment, or a one-line error naming what is missing."""
        missing = [n for n in (VERIFY_TOKEN_ENV, APP_SECRET_ENV) if not environ.get(n)]
        if missing:
            raise ConfigError(f"webhooks: set {' and '.join(missing)} before serving webhooks")
        return cls(environ[VERIFY_TOKEN_ENV], environ[APP_SECRET_ENV])


LIMIT_ENV = {
    "connection_limit": "ARCHIVER_WEBHOOK_CONNECTION_LIMIT",
    "channel_timeout": "ARCHIVER_WEBHOOK_IDLE_TIMEOUT",
    "cleanup_interval": "ARCHIVER_WEBHOOK_CLEANUP_INTERVAL",
}


@dataclass(frozen=True)
class ServerLimits:
    """How many connections the webhook server holds and how long an idle one may stay.

    Meta opens a handful of connections and sends each request whole at once, so 500 open
    connections is far above need, yet well below the 1024 descriptors ``select`` can watch; a
    connection that sends nothing for 10 seconds (a request stalled half-way included) is closed,
    checked every 2 seconds. A request being answered is never idle.
    """

    connection_limit: int = 500
    channel_timeout: int = 10  # seconds
    cleanup_interval: int = 2  # seconds

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ServerLimits:
        """The limits, each overridable by its variable (``LIMIT_ENV``); one-line errors."""
        values: dict[str, int] = {}
        for spec in fields(cls):
            name = LIMIT_ENV[spec.name]
            text = environ.get(name)
            if not text:
                continue
            try:
                value = int(text)
            except ValueError:
                value = 0
            if not 0 < value <= 100_000:
                raise ConfigError(f"{name}: {text!r} is not a whole number from 1 to 100000")
            values[spec.name] = value
        return cls(**values)


class WebhookApp:
    """The WSGI application. ``environ`` gives the connectors their tokens at delivery time."""

    def __init__(
        self,
        archive: Archive,
        secrets: WebhookSecrets,
        environ: Mapping[str, str],
        *,
        lock_wait: float = LOCK_WAIT_S,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.archive = archive
        self.secrets = secrets
        self.environ = environ
        self.lock_wait = lock_wait
        self.sleep = sleep

    def __call__(self, env: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = env.get("PATH_INFO", "")
        method = env.get("REQUEST_METHOD", "GET")
        platform = PATHS.get(path.rstrip("/"))
        if platform is None:
            return _reply(start_response, "404 Not Found", b"not found\n")
        if method == "GET":
            return self.handshake(env, start_response)
        if method == "POST":
            return self.notification(platform, env, start_response)
        return _reply(start_response, "405 Method Not Allowed", b"method not allowed\n",
                      [("Allow", "GET, POST")])

    def handshake(self, env: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Meta's verification request: echo the challenge when the verify token matches."""
        query = parse_qs(env.get("QUERY_STRING", ""), keep_blank_values=True)
        mode = (query.get("hub.mode") or [""])[0]
        token = (query.get("hub.verify_token") or [""])[0]
        challenge = (query.get("hub.challenge") or [""])[0]
        if mode == "subscribe" and hmac.compare_digest(
            token.encode("utf-8"), self.secrets.verify_token.encode("utf-8")
        ):
            log.info("webhook verification accepted on %s", env.get("PATH_INFO"))
            return _reply(start_response, "200 OK", challenge.encode("utf-8"))
        log.warning("webhook verification refused on %s from %s", env.get("PATH_INFO"),
                    env.get("REMOTE_ADDR"))
        return _reply(start_response, "403 Forbidden", b"forbidden\n")

    def notification(
        self, platform: str, env: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        """A change notification: check the signature on the raw bytes, then apply it."""
        try:
            length = int(env.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            return _reply(start_response, "413 Payload Too Large", b"too large\n")
        body = env["wsgi.input"].read(length) if length else b""
        signature = env.get("HTTP_X_HUB_SIGNATURE_256")
        if not signature_ok(self.secrets.app_secret, body, signature):
            log.warning("webhook %s refused: %s signature from %s", env.get("PATH_INFO"),
                        "missing" if not signature else "wrong", env.get("REMOTE_ADDR"))
            return _reply(start_response, "403 Forbidden", b"forbidden\n")
        try:
            changes, ignored = parse_body(platform, body)
        except PayloadError as exc:
            log.warning("webhook %s: signed but unusable: %s", env.get("PATH_INFO"), exc)
            return _reply(start_response, "400 Bad Request", b"bad request\n")
        body_sha = self._keep_body(platform, body, len(changes), ignored)
        try:
            result = apply_changes(self.archive, changes, self.environ, body_sha256=body_sha,
                                   lock_wait=self.lock_wait, sleep=self.sleep)
        except CaptureLocked as exc:
            log.warning("webhook %s: %s; asking for redelivery", env.get("PATH_INFO"), exc)
            return _reply(start_response, "503 Service Unavailable", b"busy, retry later\n",
                          [("Retry-After", "60")])
        self._flag(result.runs)
        failed = [r for r in result.runs if r.status != RunStatus.SUCCEEDED]
        for run in failed:
            log.warning("webhook run %s: %s", run.run_id, run.error)
        log.info("webhook %s: %d change(s) applied, %d ignored", env.get("PATH_INFO"),
                 result.changes, ignored + result.ignored)
        return _reply(start_response, "200 OK", b"EVENT_RECEIVED")

    def _flag(self, runs: list[CaptureResult]) -> None:
        """The monitoring rules on what the delivery stored, at once; if they cannot run now,
        the scheduler's notices job catches up (the items stay unchecked until then)."""
        try:
            flag_runs(self.archive, [r.run_id for r in runs], origin="webhook")
        except ArchiverError as exc:
            log.warning("webhook: monitoring rules not run now: %s", exc)

    def _keep_body(self, platform: str, body: bytes, changes: int, ignored: int) -> str:
        """The signed body, exactly as received, is evidence: a blob plus an audit event."""
        now = self.archive.clock()
        with self.archive.transaction() as s:
            sha = store_blob(s, self.archive.store, body, "application/json", now)
            record_event(s, action="webhook.received", occurred_at=now, actor="webhook",
                         target_type="webhook", target_id=platform,
                         details={"body_sha256": sha, "changes": changes, "ignored": ignored})
        return sha


def _reply(
    start_response: StartResponse, status: str, body: bytes,
    headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    # Plain text, never sniffed as HTML: the handshake echoes a caller-supplied challenge.
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("X-Content-Type-Options", "nosniff"),
                            ("Content-Length", str(len(body))), *(headers or [])])
    return [body]


def make_server(
    app: WebhookApp, host: str = "127.0.0.1", port: int = 8080,
    limits: ServerLimits | None = None,
) -> Any:
    """A waitress server for ``app`` (not yet running); ``port=0`` picks a free port."""
    from waitress.server import create_server

    limits = limits or ServerLimits()
    # One worker: deliveries are few, and one writer at a time keeps the search index simple.
    # A half-sent request never reaches it: waitress reads a whole request before dispatching.
    # poll() instead of select(): no ceiling of 1024 descriptors under a raised limit.
    return create_server(
        app, host=host, port=port, threads=1, ident="archiver",
        connection_limit=limits.connection_limit, channel_timeout=limits.channel_timeout,
        cleanup_interval=limits.cleanup_interval, asyncore_use_poll=True,
    )


def serve(
    app: WebhookApp, host: str = "127.0.0.1", port: int = 8080,
    limits: ServerLimits | None = None,
) -> None:
    """Serve until interrupted."""
    server = make_server(app, host, port, limits)
    log.info("serving webhooks on http://%s:%s/webhooks/{facebook,instagram}", host,
             server.effective_port)
    server.run()
