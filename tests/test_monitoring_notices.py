"""Notices arrive: new flags batched into one e-mail (real SMTP on loopback, STARTTLS and a
login too) and one webhook POST, with links and no more comment text than needed; delivery
retried per channel; capture-health notices (failed run, no good capture for 26 hours, token
near expiry or refused) written once; never a token in a message."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from archiver.capture.account import capture_account
from archiver.daemon.notices import run_notices, run_policy_checks
from archiver.store.models import AuditEvent, CaptureRun
from archiver.store.monitoring import Notice
from archiver.store.vocabulary import RunStatus, RunTrigger
from tests.support.notify import (  # noqa: F401 - fixtures
    SMTP_PASSWORD,
    SmtpServer,
    WebhookReceiver,
    smtp_server,
    tls_smtp_server,
    webhook_receiver,
)
from tests.support.retention import TOKEN_ENV, Captured, captured  # noqa: F401 - fixture
from tests.test_cli import archiver

SECRET = "hook-secret-77"


def environ(sample: Captured, *parts: dict[str, str]) -> dict[str, str]:
    env = {TOKEN_ENV: sample.server.token}
    for part in parts:
        env.update(part)
    return env


def no_token_anywhere(sample: Captured, smtp: SmtpServer,
                      hooks: WebhookReceiver | None = None) -> None:
    token = sample.server.token
    assert all(token.encode() not in raw for raw in smtp.mailbox.raw)
    assert hooks is None or all(token.encode() not in p.body for p in hooks.posts)


def test_new_flags_arrive_batched_by_mail_and_webhook(
        captured: Captured, smtp_server: SmtpServer,  # noqa: F811
        webhook_receiver: WebhookReceiver) -> None:  # noqa: F811
    captured.comment_later("\u202eevil\u202c Shut up, you clowns \x1b[2J")
    env = environ(captured, smtp_server.env, {"ARCHIVER_NOTIFY_WEBHOOK_URL": webhook_receiver.url,
                                              "ARCHIVER_NOTIFY_WEBHOOK_SECRET": SECRET})
    summary = run_notices(captured.archive, env)
    # Capture flagged the comments as it stored them; the notice batches all five.
    assert (summary["flagged"], len(summary["delivery"]["sent"])) == (0, 1)

    [mail] = smtp_server.mailbox.messages
    assert str(mail["Subject"]).strip() == "5 new flags to review (GO 80.11 comment monitoring)"
    assert smtp_server.mailbox.envelopes[0][1] == ["pio@pd.example.invalid",
                                                   "psu@pd.example.invalid"]
    assert mail.get_content_type() == "text/plain"
    [body] = smtp_server.mailbox.bodies()
    assert "rule phone-number (personal_info): GO 80.11 III.A.1.c" in body
    assert "555-0147" not in body and "[withheld]" in body  # no personal data repeated
    assert "https://desk.pd.example.invalid/items/" in body
    assert "on the platform: https://www.facebook.com/104882335720091/posts/2004" in body
    assert "\x1b" not in body and "\u202e" not in body and "\\u202eevil" in body
    assert "archiver review decide" in body

    [posted] = webhook_receiver.posts
    assert posted.path == "/hooks/archiver?key=abc"
    signature = hmac.new(SECRET.encode(), posted.body, hashlib.sha256).hexdigest()
    assert posted.headers["x-archiver-signature-256"] == f"sha256={signature}"
    data = posted.json()
    assert data["kind"] == "flags" and data["total"] == 5
    rules = {(f["rule"], f["category"]) for f in data["flags"]}
    assert ("links", "link") in rules and ("personal-attacks", "personal_attack") in rules
    assert all(f["link"].startswith("https://desk.pd.example.invalid/items/")
               for f in data["flags"])
    assert all(len(f["excerpt"]) <= 160 for f in data["flags"])
    no_token_anywhere(captured, smtp_server, webhook_receiver)

    # Nothing new: nothing sent again.
    again = run_notices(captured.archive, env)
    assert again["flag_notice"] is None and again["delivery"]["sent"] == []
    assert len(smtp_server.mailbox.messages) == 1 and len(webhook_receiver.posts) == 1


def test_starttls_and_login_are_used(captured: Captured,  # noqa: F811
                                     tls_smtp_server: SmtpServer) -> None:  # noqa: F811
    summary = run_notices(captured.archive, environ(captured, tls_smtp_server.env))
    assert summary["delivery"]["failed"] == [] and len(summary["delivery"]["sent"]) == 1
    assert len(tls_smtp_server.mailbox.messages) == 1
    assert all(SMTP_PASSWORD.encode() not in raw for raw in tls_smtp_server.mailbox.raw)
    # Without the agency's CA the server's certificate is refused: nothing is sent in clear.
    env = {k: v for k, v in tls_smtp_server.env.items() if k != "ARCHIVER_NOTIFY_SMTP_CA_FILE"}
    captured.comment_later("you idiots", suffix="88888")
    failed = run_notices(captured.archive, environ(captured, env))["delivery"]["failed"]
    assert len(failed) == 1 and "CERTIFICATE_VERIFY_FAILED" in failed[0]["error"]
    assert SMTP_PASSWORD not in failed[0]["error"]


def test_a_failed_channel_is_retried_alone(
        captured: Captured, smtp_server: SmtpServer,  # noqa: F811
        webhook_receiver: WebhookReceiver, settings_env: dict[str, str]) -> None:  # noqa: F811
    webhook_receiver.status = 500
    env = environ(captured, smtp_server.env, {"ARCHIVER_NOTIFY_WEBHOOK_URL": webhook_receiver.url})
    first = run_notices(captured.archive, env)["delivery"]
    error = first["failed"][0]["error"]
    assert first["sent"] == [] and "webhook" in error
    assert "HTTP 500" in error and "key=abc" not in error
    assert len(smtp_server.mailbox.messages) == 1  # the e-mail went out
    with captured.archive.sessions() as s:
        notice = s.scalars(select(Notice)).one()
        assert (notice.sent_at, notice.channels, notice.attempts) == (None, "email", 1)
    # From the command line: the failure is on stderr and the exit status says so.
    done = archiver({**settings_env, **env}, "notices", "send")
    assert done.returncode == 1 and "webhook" in done.stderr
    webhook_receiver.status = 200
    second = run_notices(captured.archive, env)["delivery"]
    assert len(second["sent"]) == 1
    assert len(smtp_server.mailbox.messages) == 1 and len(webhook_receiver.posts) == 3
    with captured.archive.sessions() as s:
        actions = list(s.scalars(select(AuditEvent.action).where(
            AuditEvent.action.like("notice.%")).order_by(AuditEvent.id)))
    assert actions == ["notice.failed", "notice.failed", "notice.sent"]


def test_capture_health_notices_arrive_once(captured: Captured,  # noqa: F811
                                            smtp_server: SmtpServer) -> None:  # noqa: F811
    archive, server = captured.archive, captured.server
    env = environ(captured, smtp_server.env)
    run_notices(archive, env)  # the sample's flags
    smtp_server.mailbox.messages.clear()

    server.expire_token()
    failed = capture_account(archive, captured.account, env, sleep=lambda _s: None)
    assert failed.status == "failed"
    # 27 hours later, still no good capture.
    later = datetime.now(UTC) + timedelta(hours=27)
    archive.clock = lambda: later
    summary = run_notices(archive, env)
    assert len(summary["failed_run_notices"]) == 1 and len(summary["stale_notices"]) == 1
    subjects = smtp_server.mailbox.subjects()
    assert "Capture failed: account 1 (facebook:springfield-pd)" in subjects
    assert ("No good capture of account 1 (facebook:springfield-pd) for 26 hours or more"
            in subjects)
    body = "\n".join(smtp_server.mailbox.bodies())
    assert "access refused" in body and "Nothing was marked removed" in body
    assert run_notices(archive, env)["delivery"]["sent"] == []  # written once
    no_token_anywhere(captured, smtp_server)


def test_token_near_expiry_and_refused(captured: Captured,  # noqa: F811
                                       smtp_server: SmtpServer) -> None:  # noqa: F811
    archive, server = captured.archive, captured.server
    env = environ(captured, smtp_server.env)
    server.token_expires_at = int((datetime.now(UTC) + timedelta(days=3)).timestamp())
    summary = run_policy_checks(archive, env)
    assert len(summary["token_notices"]) == 1
    [token_mail] = [m for m in smtp_server.mailbox.messages if "Token expires" in m["Subject"]]
    text = token_mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert f"${TOKEN_ENV}" in text and "(in 2 days)" in text
    assert run_policy_checks(archive, env)["token_notices"] == []  # once per expiry date

    server.expire_token()
    refused = run_policy_checks(archive, env)
    assert len(refused["token_notices"]) == 1
    assert any(s.startswith("Token refused: account 1") for s in smtp_server.mailbox.subjects())
    no_token_anywhere(captured, smtp_server)
    with archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Notice)
                        .where(Notice.kind == "token")) == 2


def test_a_page_that_stops_meeting_a_requirement_is_notified(
        captured: Captured, smtp_server: SmtpServer) -> None:  # noqa: F811
    archive, server = captured.archive, captured.server
    env = environ(captured, smtp_server.env)
    first = run_policy_checks(archive, env)
    assert (first["checked"], first["passed"], first["no_longer_met"]) == (1, 1, {})
    server.page_profile = {**server.page_profile,
                           "description": "Welcome to our page! Stay safe, Springfield."}
    second = run_policy_checks(archive, env)
    assert second["no_longer_met"] == {1: ["comments-monitored", "opinions-not-department",
                                           "public-disclosure"]}
    [mail] = [m for m in smtp_server.mailbox.messages if "Page statements" in m["Subject"]]
    assert str(mail["Subject"]).strip() == (
        "Page statements: facebook:springfield-pd no longer meets comments-monitored, "
        "opinions-not-department, public-disclosure (GO 80.11)")
    body = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "last found in description: Comments on this page are monitored." in body
    # A third check changes nothing: no second notice.
    run_policy_checks(archive, env)
    assert len([m for m in smtp_server.mailbox.messages if "Page statements" in m["Subject"]]) == 1
    with archive.sessions() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "policy.checked"))
        assert [json.loads(e.details_json)["passed"] for e in events] == [True, False, False]


def test_an_interrupted_run_is_notified(captured: Captured,  # noqa: F811
                                        smtp_server: SmtpServer) -> None:  # noqa: F811
    """A capture whose process died (found and marked so by the next run) is as loud as a
    failed one: what it meant to read may never have been stored."""
    archive = captured.archive
    env = environ(captured, smtp_server.env)
    run_notices(archive, env)
    smtp_server.mailbox.messages.clear()
    with archive.transaction() as s:
        started = archive.clock() - timedelta(hours=1)
        s.add(CaptureRun(account_id=captured.account.id, started_at=started,
                         finished_at=started + timedelta(minutes=5),
                         status=RunStatus.INTERRUPTED, trigger=RunTrigger.NIGHTLY,
                         error="the capture's process stopped before it finished"))
    summary = run_notices(archive, env)
    assert len(summary["failed_run_notices"]) == 1
    assert ("Capture was interrupted before it finished: account 1 (facebook:springfield-pd)"
            in smtp_server.mailbox.subjects())
