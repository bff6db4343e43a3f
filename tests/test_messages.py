"""Direct messages (Facebook Page conversations, Instagram messages, X direct messages): their own
kind, a window of the latest, a missing permission reported, kept out of open-records searches
unless asked for by kind. Against the loopback Graph, Instagram and X servers, end to end on
SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.capture.account import capture_account
from archiver.config import Settings
from archiver.connectors.errors import ConnectorError
from archiver.connectors.graph_messages import message_record
from archiver.connectors.messages import MESSAGES_SCOPE
from archiver.connectors.records import ListingComplete, ListingWindow, Record
from archiver.connectors.x_messages import parse_dm_page
from archiver.daemon.webhooks import WebhookApp, WebhookSecrets
from archiver.exports.selection import Scope, resolve_item_ids
from archiver.retention.schedule import load_schedule
from archiver.search.filters import filters_from_options
from archiver.standins.dataset import load_sample
from archiver.standins.graph_server import GraphServer
from archiver.standins.instagram_server import InstagramServer
from archiver.standins.x_server import XServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive
from tests.support.cli import archiver
from tests.support.graph import SleepRecorder, make_facebook_connector
from tests.support.platforms_a import FakeClock, make_instagram_connector, make_x_connector
from tests.test_webhooks import post, serving, sign

NOW = datetime.now(UTC)
VISITOR = {"id": "5550001", "name": "Jane Doe"}
TOKEN_ENV = "ARCHIVER_TOKEN_TEST_MESSAGES"


def messages(events: list[object]) -> dict[str, Record]:
    return {e.external_id: e for e in events if isinstance(e, Record) and e.kind == "message"}


def test_page_conversations_show_their_latest_twenty_as_a_window(
    graph_server: GraphServer
) -> None:
    page = {"id": graph_server.dataset.page_id, "name": "Springfield PD"}
    ids = [graph_server.inbox.add_message("t_1", VISITOR, page, f"question {n}",
                                          NOW - timedelta(minutes=30 - n)) for n in range(25)]
    reply = graph_server.inbox.add_message("t_2", page, VISITOR, "We are on it.", NOW)
    events = list(make_facebook_connector(graph_server).read())
    got = messages(events)
    assert set(got) == {*ids[5:], reply}  # the API shows each conversation's 20 latest
    assert got[ids[-1]].platform_status == "received" and got[reply].platform_status == "sent"
    assert got[ids[-1]].author_name == "Jane Doe" and got[ids[-1]].scope == MESSAGES_SCOPE
    assert ListingWindow(MESSAGES_SCOPE) in events
    assert ListingComplete(MESSAGES_SCOPE) not in events


def test_instagram_conversations_are_read_through_me(instagram_server: InstagramServer) -> None:
    ig_user = {"id": instagram_server.ig.user_id, "username": "springfieldpd"}
    visitor = {"id": "9990001", "username": "jdoe"}
    mid = instagram_server.inbox.add_message("ig_t1", visitor, ig_user, "Is the road open?", NOW)
    sent = instagram_server.inbox.add_message("ig_t1", ig_user, visitor, "Yes.", NOW)
    got = messages(list(make_instagram_connector(instagram_server).read()))
    assert (got[mid].author_name, got[mid].platform_status) == ("jdoe", "received")
    assert got[sent].platform_status == "sent"
    assert "/me/conversations" in "".join(instagram_server.path_counts)


def test_x_direct_messages(x_server: XServer, fake_clock: FakeClock) -> None:
    account, visitor = x_server.dataset.account.id, x_server.dataset.users[1].id
    now = fake_clock.now()
    old = x_server.dms.add("c1", visitor, "a month ago", now - timedelta(days=31))
    asked = x_server.dms.add("c1", visitor, "Who do I call about a towed car?", now)
    answered = x_server.dms.add("c1", account, "Call 555-0100.", now)
    x_server.dms.add("c1", visitor, "", now, event_type="ParticipantsJoin")
    events = list(make_x_connector(x_server, fake_clock).read())
    got = messages(events)
    assert set(got) == {asked, answered} and old not in got  # X keeps 30 days
    assert got[asked].author_name == "Visitor 1 (@visitor1)"
    assert (got[asked].platform_status, got[answered].platform_status) == ("received", "sent")
    assert ListingWindow(MESSAGES_SCOPE) in events


@pytest.mark.parametrize("platform", ["facebook", "instagram", "x"])
def test_missing_permission_is_reported_never_taken_for_an_empty_inbox(
    platform: str, graph_server: GraphServer, instagram_server: InstagramServer, x_server: XServer,
    fake_clock: FakeClock
) -> None:
    if platform == "facebook":
        graph_server.inbox.refused = True
        c = make_facebook_connector(graph_server)
        key, words = "page_messages_not_permitted", "pages_messaging"
    elif platform == "instagram":
        instagram_server.inbox.refused = True
        c = make_instagram_connector(instagram_server)
        key, words = "instagram_messages_not_permitted", "instagram_manage_messages"
    else:
        x_server.dms.refused = True
        c = make_x_connector(x_server, fake_clock)
        key, words = "x_direct_messages_not_permitted", "dm.read"
    events = list(c.read())
    assert ListingComplete("") in events  # the posts are read as before
    assert not any(getattr(e, "scope", None) == MESSAGES_SCOPE for e in events)
    [note] = c.stats.notes
    assert "messages not read: the token lacks a permission" in note and words in note
    assert c.stats.extra[key] == 1


LEAF = st.none() | st.booleans() | st.integers() | st.text(max_size=12)
KEYS = ["id", "message", "from", "to", "created_time", "attachments", "data", "image_data",
        "video_data", "file_url", "url", "name", "username", "text", "sender_id", "event_type",
        "created_at", "includes", "users", "meta"]
SHAPES = st.recursive(LEAF, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(KEYS), inner, max_size=5), max_leaves=20)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SHAPES)
def test_message_parsers_end_in_records_or_one_connector_error(value: object) -> None:
    for parse in (lambda v: [message_record(v, ("1",), "/messages")] if isinstance(v, dict)
                  else parse_dm_page(v, "1", "/2/dm_events"),
                  lambda v: parse_dm_page(v, "1", "/2/dm_events")):
        try:
            out = parse(value)
        except ConnectorError as exc:
            assert "\n" not in str(exc)
        else:
            assert all(r.kind == "message" and r.platform_status in ("sent", "received")
                       for r in out)


def test_messages_have_their_own_series_in_the_bundled_schedules() -> None:
    root = Path(__file__).resolve().parent.parent / "retention_schedules"
    kansas = load_schedule(root / "kansas-municipal-template.yaml")
    series = kansas.series_for(platform="facebook", account=(), kind="message", tags=())
    assert series.code == "KS-CITY-SM-02" and "DEPARTMENT SERIES" in series.authority.citation
    assert kansas.series_for(platform="x", account=(), kind="post", tags=()).code != series.code


# --- end to end: captured, then left out of open-records searches unless asked for ----------


def test_captured_messages_stay_out_of_open_records_searches(
    archive: Archive, settings: Settings, settings_env: dict[str, str]
) -> None:
    with GraphServer(load_sample(), page_size=5) as server:
        page = {"id": server.dataset.page_id, "name": "Springfield PD"}
        mid = server.inbox.add_message("t_9", VISITOR, page, "My address is 12 Zyzzyva Lane.", NOW)
        account = add_account(archive, AccountSpec(
            platform="facebook", external_id=server.dataset.page_id, handle="springfieldpd",
            api_base=server.base_url, token_env=TOKEN_ENV), actor="test")
        result = capture_account(archive, account, {TOKEN_ENV: server.token},
                                 sleep=SleepRecorder())
        assert result.status == "succeeded", result.error

    def found(*args: str) -> list[dict[str, object]]:
        done = archiver(settings_env, "search", *args, "--json", "--limit", "500")
        assert done.returncode == 0, done.stderr
        return list(json.loads(done.stdout)["results"])

    assert not any(r["kind"] == "message" for r in found("*"))
    assert not found("Zyzzyva")
    [row] = found("Zyzzyva", "--kind", "message")
    assert row["external_id"] == mid
    tz = settings.tz
    everything = resolve_item_ids(archive, Scope(query="*", filters=filters_from_options({}, tz)))
    asked = resolve_item_ids(archive, Scope(query="*", filters=filters_from_options(
        {"kind": "message"}, tz)))
    assert len(asked) == 1 and not set(asked) & set(everything)


# --- webhooks: every message kept as it arrives, the 20-message limit notwithstanding --------


def test_webhook_messages_echoes_and_edits_are_kept(archive: Archive) -> None:
    with GraphServer(load_sample(), page_size=5) as server:
        page_id = server.dataset.page_id
        account = add_account(archive, AccountSpec(
            platform="facebook", external_id=page_id, handle="springfieldpd",
            api_base=server.base_url, token_env=TOKEN_ENV), actor="test")
        ms = int(NOW.timestamp() * 1000)
        incoming = {"sender": {"id": "5550001"}, "recipient": {"id": page_id}, "timestamp": ms,
                    "message": {"mid": "m_in1", "text": "My car was towed \u2014 where is it?",
                                "attachments": [{"type": "image", "payload": {
                                    "url": f"{server.origin}/media/dm1.png"}}]}}
        echo = {"sender": {"id": page_id}, "recipient": {"id": "5550001"}, "timestamp": ms + 1,
                "message": {"mid": "m_out1", "text": "Call 555-0100.", "is_echo": True}}
        edit = {"sender": {"id": "5550001"}, "recipient": {"id": page_id},
                "timestamp": ms + 2000,
                "message_edit": {"mid": "m_in1", "text": "Where is my towed car?", "num_edit": 1}}
        read = {"sender": {"id": "5550001"}, "recipient": {"id": page_id}, "timestamp": ms,
                "read": {"watermark": ms}}
        app = WebhookApp(archive, WebhookSecrets("verify", "secret"),
                         {TOKEN_ENV: server.token}, lock_wait=0.0, sleep=SleepRecorder())
        with serving(app) as url:
            for events in ([incoming, echo, read], [edit]):
                body = json.dumps({"object": "page", "entry": [
                    {"id": page_id, "time": ms // 1000, "messaging": events}]}).encode("ascii")
                answer = post(f"{url}/facebook", body, sign(body, "secret"))
                assert answer.status_code == 200, answer.text
        got = {r["external_id"]: r for r in found_items(archive)}
        assert (got["m_in1"]["kind"], got["m_in1"]["platform_status"]) == ("message", "received")
        assert got["m_out1"]["platform_status"] == "sent"
        assert got["m_in1"]["version_count"] == 2 and "towed car" in got["m_in1"]["text"]
        # Polling later: the conversations API no longer shows them; nothing is called removed.
        later = capture_account(archive, account, {TOKEN_ENV: server.token},
                                sleep=SleepRecorder())
        assert later.status == "succeeded", later.error
        assert later.removed == 0 and later.no_longer_listed == 2


def found_items(archive: Archive) -> list[dict[str, object]]:
    """Every message in the archive, as ``search --kind message`` shows them."""
    from archiver.search.items import search_items

    filters = filters_from_options({"kind": "message"}, archive.settings.tz)
    return [dict(r) for r in search_items(archive, "*", filters, limit=100).results]
