"""Webhooks end to end: a real waitress server on loopback, signed POSTs of Meta's payloads, the
Facebook connector's look-ups against the loopback Graph server, a real archive on both DBs."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from archiver.capture.account import capture_account
from archiver.capture.lock import capture_lock
from archiver.daemon.webhooks import ServerLimits, WebhookApp, WebhookSecrets, make_server
from archiver.errors import ConfigError
from archiver.standins.dataset import load_sample
from archiver.standins.graph_server import GraphServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive
from archiver.store.models import Account, AuditEvent, CaptureRun, Item, ItemVersion
from tests.support.graph import SleepRecorder

TOKEN_ENV = "ARCHIVER_TOKEN_WEBHOOK_TEST"
VERIFY = "verify-me-7f3a"
SECRET = "app-secret-52c1"
PAGE = "104882335720091"
POST = f"{PAGE}_2001"


@pytest.fixture
def server() -> Iterator[GraphServer]:
    with GraphServer(load_sample(), page_size=5) as srv:
        yield srv


@pytest.fixture
def account(archive: Archive, server: GraphServer) -> Account:
    return add_account(archive, AccountSpec(
        platform="facebook", external_id=PAGE, handle="springfieldpd",
        api_base=server.base_url, token_env=TOKEN_ENV), actor="test")


@contextmanager
def serving(app: WebhookApp, limits: ServerLimits | None = None) -> Iterator[str]:
    """``app`` served by waitress on a free loopback port: its /webhooks URL."""
    httpd = make_server(app, "127.0.0.1", 0) if limits is None else make_server(
        app, "127.0.0.1", 0, limits)
    thread = threading.Thread(target=httpd.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.effective_port}/webhooks"
    finally:
        httpd.close()
        thread.join(timeout=5)


@pytest.fixture
def hook_url(archive: Archive, server: GraphServer, account: Account) -> Iterator[str]:
    app = WebhookApp(archive, WebhookSecrets(VERIFY, SECRET), {TOKEN_ENV: server.token},
                     lock_wait=0.0, sleep=SleepRecorder())
    with serving(app) as url:
        yield url


def sign(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def feed_body(*values: dict[str, Any], time: int = 1717243200) -> bytes:
    """Meta's shape; json.dumps escapes non-ASCII as \\uXXXX, as Meta does."""
    changes = [{"field": "feed", "value": v} for v in values]
    return json.dumps({"object": "page", "entry": [
        {"id": PAGE, "time": time, "changes": changes}]}).encode("ascii")


def comment(verb: str, comment_id: str, message: str | None = None, *,
            sender: bool = False, parent: str = POST) -> dict[str, Any]:
    value: dict[str, Any] = {"item": "comment", "verb": verb, "comment_id": comment_id,
                             "post_id": POST, "parent_id": parent, "created_time": 1717243100}
    if sender:
        value.update(sender_id="5550002", sender_name="Ana Núñez")
    else:
        value["from"] = {"id": "5550001", "name": "Jane Doe"}
    if message is not None:
        value["message"] = message
    return value


def post(url: str, body: bytes, signature: str | None) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return httpx.post(url, content=body, headers=headers, timeout=10)


def versions(archive: Archive, external_id: str) -> list[ItemVersion]:
    with archive.sessions() as s:
        item = s.scalar(select(Item).where(Item.external_id == external_id))
        if item is None:
            return []
        return list(s.scalars(select(ItemVersion).where(ItemVersion.item_id == item.id)
                              .order_by(ItemVersion.seq)))


def test_handshake_echoes_challenge_only_for_the_right_token(hook_url: str) -> None:
    for path in ("facebook", "instagram"):
        ok = httpx.get(f"{hook_url}/{path}", params={
            "hub.mode": "subscribe", "hub.challenge": "1158201444", "hub.verify_token": VERIFY})
        assert ok.status_code == 200 and ok.text == "1158201444"
    wrong = httpx.get(f"{hook_url}/facebook", params={
        "hub.mode": "subscribe", "hub.challenge": "1", "hub.verify_token": "guess"})
    assert wrong.status_code == 403 and "1" not in wrong.text.replace("forbidden", "")
    mode = httpx.get(f"{hook_url}/facebook", params={
        "hub.mode": "unsubscribe", "hub.challenge": "1", "hub.verify_token": VERIFY})
    assert mode.status_code == 403
    assert httpx.get(f"{hook_url}/twitter").status_code == 404


def test_unsigned_and_mis_signed_posts_are_refused(
    archive: Archive, hook_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = feed_body(comment("add", "2001_9001", "Gracias, se\u00f1or \u2615"))
    assert b"\\u00f1" in body  # the raw bytes carry the escape, not UTF-8
    url = f"{hook_url}/facebook"
    assert post(url, body, None).status_code == 403
    assert post(url, body, sign(body, "not-the-secret")).status_code == 403
    assert post(url, body, "sha1=" + sign(body)[7:]).status_code == 403
    # Signed over re-serialised JSON (UTF-8, not \u escapes): not the bytes sent, so refused.
    reserialised = json.dumps(json.loads(body), ensure_ascii=False).encode("utf-8")
    assert post(url, body, sign(reserialised)).status_code == 403
    assert versions(archive, "2001_9001") == []
    assert "refused" in caplog.text and SECRET not in caplog.text


def test_add_edit_hide_become_versions_at_once(archive: Archive, hook_url: str) -> None:
    url = f"{hook_url}/facebook"
    body = feed_body(comment("add", "2001_9001", "Gracias, se\u00f1or \u2615"))
    resp = post(url, body, sign(body))
    assert resp.status_code == 200, resp.text
    [v1] = versions(archive, "2001_9001")
    assert (v1.text, v1.status, v1.author_name) == ("Gracias, se\u00f1or \u2615", "active",
                                                     "Jane Doe")
    with archive.sessions() as s:
        item = s.scalar(select(Item).where(Item.external_id == "2001_9001"))
        assert item is not None and item.kind == "comment" and item.scope == POST

    for verb, text in (("edited", "Gracias!"), ("edit", "Gracias!!")):
        body = feed_body(comment(verb, "2001_9001", text))
        assert post(url, body, sign(body)).status_code == 200
    assert [v.text for v in versions(archive, "2001_9001")] == [
        "Gracias, se\u00f1or \u2615", "Gracias!", "Gracias!!"]

    # The same content again is no change: no new version.
    assert post(url, body, sign(body)).status_code == 200
    assert len(versions(archive, "2001_9001")) == 3

    body = feed_body(comment("hide", "2001_9001", "Gracias!!"))
    assert post(url, body, sign(body)).status_code == 200
    last = versions(archive, "2001_9001")[-1]
    assert (last.seq, last.status, last.platform_status) == (4, "hidden", "hidden")
    # An edit of a hidden comment does not unhide it.
    body = feed_body(comment("edited", "2001_9001", "edited while hidden"))
    assert post(url, body, sign(body)).status_code == 200
    assert versions(archive, "2001_9001")[-1].status == "hidden"


def test_sender_variant_and_replies(archive: Archive, hook_url: str) -> None:
    url = f"{hook_url}/facebook"
    body = feed_body(comment("add", "2001_9002", "Top", sender=True),
                     comment("add", "2001_9003", "A reply", parent="2001_9002"))
    assert post(url, body, sign(body)).status_code == 200
    [top] = versions(archive, "2001_9002")
    assert (top.author_name, top.author_id) == ("Ana N\u00fa\u00f1ez", "5550002")
    with archive.sessions() as s:
        reply = s.scalar(select(Item).where(Item.external_id == "2001_9003"))
        parent = s.scalar(select(Item).where(Item.external_id == "2001_9002"))
        assert reply is not None and parent is not None
        assert reply.kind == "reply" and reply.parent_id == parent.id


def test_remove_is_audited_and_confirmed_by_lookup(
    archive: Archive, hook_url: str, server: GraphServer, account: Account
) -> None:
    first = capture_account(archive, account, {TOKEN_ENV: server.token}, sleep=SleepRecorder(),
                            media=False)
    assert first.status == "succeeded", first.error
    url = f"{hook_url}/facebook"

    # Still on the page: the report is on record, the status does not change.
    body = feed_body(comment("remove", "2001_3001"))
    assert post(url, body, sign(body)).status_code == 200
    assert versions(archive, "2001_3001")[-1].status == "active"

    server.apply_second_state()  # deletes 2001_3003 on the Graph server
    before = server.request_count
    body = feed_body(comment("remove", "2001_3003"))
    assert post(url, body, sign(body)).status_code == 200
    assert server.request_count > before  # the look-up really went to the platform
    last = versions(archive, "2001_3003")[-1]
    assert last.status == "removed" and last.evidence_sha256 is not None
    with archive.sessions() as s:
        item = s.scalar(select(Item).where(Item.external_id == "2001_3003"))
        assert item is not None and item.status == "removed"
        reported = s.scalars(select(AuditEvent).where(
            AuditEvent.action == "webhook.remove_reported")).all()
    assert {e.target_id for e in reported} >= {str(item.id)}
    assert all(e.target_type == "item" for e in reported)


def test_busy_account_asks_for_redelivery(
    archive: Archive, hook_url: str, account: Account
) -> None:
    body = feed_body(comment("add", "2001_9004", "while a capture runs"))
    with capture_lock(archive, account.id, heartbeat=False):
        resp = post(f"{hook_url}/facebook", body, sign(body))
    assert resp.status_code == 503
    assert versions(archive, "2001_9004") == []
    assert post(f"{hook_url}/facebook", body, sign(body)).status_code == 200
    assert len(versions(archive, "2001_9004")) == 1


def test_unknown_page_and_other_fields_are_ignored(archive: Archive, hook_url: str) -> None:
    body = json.dumps({"object": "page", "entry": [
        {"id": "999", "time": 1,
         "changes": [{"field": "feed", "value": comment("add", "9_1", "x")}]},
        {"id": PAGE, "time": 1, "changes": [{"field": "ratings", "value": {"item": "rating"}}]},
    ]}).encode()
    assert post(f"{hook_url}/facebook", body, sign(body)).status_code == 200
    assert versions(archive, "9_1") == []
    bad = b'{"object": "user", "entry": []}'
    assert post(f"{hook_url}/facebook", bad, sign(bad)).status_code == 400


LONE = "\ud83d"  # half of an emoji: valid JSON, not encodable as UTF-8


def audit(archive: Archive, action: str) -> list[dict[str, Any]]:
    with archive.sessions() as s:
        return [json.loads(e.details_json) for e in s.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))]


def test_one_bad_comment_does_not_lose_the_good_one(archive: Archive, hook_url: str) -> None:
    too_long = "2001_" + "7" * 300
    body = feed_body(comment("add", "2001_9101", f"half an emoji {LONE}"),
                     comment("add", "2001_9102", "a good one"),
                     comment("add", too_long, "an id no column holds"))
    assert b"\\ud83d" in body
    resp = post(f"{hook_url}/facebook", body, sign(body))
    assert resp.status_code == 200, resp.text
    assert [v.text for v in versions(archive, "2001_9102")] == ["a good one"]
    assert [v.text for v in versions(archive, "2001_9101")] == ["half an emoji \ufffd"]
    assert versions(archive, too_long) == []
    [failure] = audit(archive, "capture.item_failed")
    assert failure["external_id"] == too_long and "more than 255" in failure["reason"]
    # The body is kept exactly as received, escape included.
    assert archive.store.get(hashlib.sha256(body).hexdigest()) == body
    with archive.sessions() as s:
        statuses = list(s.scalars(select(CaptureRun.status)))
    assert statuses == ["partial"]


def test_replayed_or_late_events_never_roll_history_back(archive: Archive, hook_url: str) -> None:
    url = f"{hook_url}/facebook"
    t0 = 1717243200
    add = feed_body(comment("add", "2001_9201", "first words"), time=t0)
    edit = feed_body(comment("edited", "2001_9201", "second thoughts"), time=t0 + 60)
    for body in (add, edit):
        assert post(url, body, sign(body)).status_code == 200
    assert [v.text for v in versions(archive, "2001_9201")] == ["first words", "second thoughts"]

    # Meta redelivers the old add (the same signed bytes), an edit made in between arrives
    # late, and the latest edit comes again: none of them is news.
    late = feed_body(comment("edited", "2001_9201", "in between"), time=t0 + 30)
    for body in (add, late, edit):
        assert post(url, body, sign(body)).status_code == 200
    assert [v.text for v in versions(archive, "2001_9201")] == ["first words", "second thoughts"]
    ignored = audit(archive, "webhook.change_ignored")
    assert [(e["external_id"], e["reason"]) for e in ignored] == [
        ("2001_9201", "older than the archived state"),
        ("2001_9201", "older than the archived state"),
        ("2001_9201", "identical to the archived state"),
    ]
    assert ignored[0]["webhook_body_sha256"] == hashlib.sha256(add).hexdigest()
    with archive.sessions() as s:
        assert len(s.scalars(select(CaptureRun)).all()) == 2  # ignored deliveries run nothing

    newer = feed_body(comment("edited", "2001_9201", "third time"), time=t0 + 120)
    assert post(url, newer, sign(newer)).status_code == 200
    assert [v.text for v in versions(archive, "2001_9201")][-1] == "third time"


def test_event_older_than_a_scheduled_capture_is_ignored(
    archive: Archive, hook_url: str, server: GraphServer, account: Account
) -> None:
    first = capture_account(archive, account, {TOKEN_ENV: server.token}, sleep=SleepRecorder(),
                            media=False)
    assert first.status == "succeeded", first.error
    before = [v.text for v in versions(archive, "2001_3001")]
    # Sent long before the capture read the page: the capture already has what came after it.
    body = feed_body(comment("edited", "2001_3001", "an edit from long ago"), time=1449135003)
    assert post(f"{hook_url}/facebook", body, sign(body)).status_code == 200
    assert [v.text for v in versions(archive, "2001_3001")] == before
    [event] = audit(archive, "webhook.change_ignored")
    assert event["reason"] == "older than the archived state"


STALLED = 150


def stall(port: int, count: int) -> list[socket.socket]:
    """``count`` connections that send half a request's headers and then say nothing more."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            sock.sendall(b"POST /webhooks/facebook HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Length: 100\r\n")
            sockets.append(sock)
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    return sockets


def post_through_stalled_clients(archive: Archive, url: str, external_id: str) -> float:
    """Hold STALLED stalled connections open, post a signed comment; the seconds it took."""
    port = int(url.split(":")[2].split("/")[0])
    sockets = stall(port, STALLED)
    try:
        body = feed_body(comment("add", external_id, "through the crowd"))
        started = time.monotonic()
        resp = httpx.post(f"{url}/facebook", content=body, timeout=20, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": sign(body)})
        took = time.monotonic() - started
    finally:
        for sock in sockets:
            sock.close()
    assert resp.status_code == 200, resp.text
    assert [v.text for v in versions(archive, external_id)] == ["through the crowd"]
    return took


def test_stalled_clients_do_not_shut_out_a_signed_post(archive: Archive, hook_url: str) -> None:
    """Liveness, not speed: the limit is far above the post's normal latency."""
    assert post_through_stalled_clients(archive, hook_url, "2001_9301") < 20


def test_idle_connections_are_closed_when_the_limit_is_reached(
    archive: Archive, server: GraphServer, account: Account
) -> None:
    """Even with more stalled clients than connections allowed, the idle ones are closed in
    time and the real delivery gets through."""
    limits = ServerLimits(connection_limit=50, channel_timeout=1, cleanup_interval=1)
    app = WebhookApp(archive, WebhookSecrets(VERIFY, SECRET), {TOKEN_ENV: server.token},
                     lock_wait=0.0, sleep=SleepRecorder())
    with serving(app, limits) as url:
        assert post_through_stalled_clients(archive, url, "2001_9302") < 20


def test_server_limits_come_from_the_environment() -> None:
    assert ServerLimits.from_env({}) == ServerLimits()
    limits = ServerLimits.from_env({"ARCHIVER_WEBHOOK_CONNECTION_LIMIT": "800",
                                    "ARCHIVER_WEBHOOK_IDLE_TIMEOUT": "5",
                                    "ARCHIVER_WEBHOOK_CLEANUP_INTERVAL": "1"})
    assert limits == ServerLimits(connection_limit=800, channel_timeout=5, cleanup_interval=1)
    with pytest.raises(ConfigError, match="ARCHIVER_WEBHOOK_IDLE_TIMEOUT: 'soon'"):
        ServerLimits.from_env({"ARCHIVER_WEBHOOK_IDLE_TIMEOUT": "soon"})
    with pytest.raises(ConfigError, match="ARCHIVER_WEBHOOK_CONNECTION_LIMIT"):
        ServerLimits.from_env({"ARCHIVER_WEBHOOK_CONNECTION_LIMIT": "0"})
