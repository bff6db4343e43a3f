"""The RSS/Atom connector against the loopback feed server, and through capture."""

from __future__ import annotations

import logging
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.connectors.base import ConnectorConfig
from archiver.connectors.errors import ConnectorError, MalformedResponse, TransientError
from archiver.connectors.feeds import FeedConnector, parse_feed_body
from archiver.connectors.records import ROOT_SCOPE, Gone, ItemRef, ListingComplete, Record, Unknown
from archiver.item_detail import item_detail
from archiver.standins.feed_server import DELETED_ID, EDITED_ID, FeedServer
from archiver.store.archive import Archive
from tests.support.graph import SleepRecorder
from tests.support.parser_fuzz import assert_records_or_one_error
from tests.support.platforms_b import feed_server, make_connector, register, timed_capture

__all__ = ["feed_server"]


def connector(url: str, **kw: object) -> FeedConnector:
    c = make_connector("feed", url, url, kw.pop("token", None), **kw)  # type: ignore[arg-type]
    assert isinstance(c, FeedConnector)
    return c


def recs(items: list[Record | ListingComplete]) -> dict[str, Record]:
    return {x.external_id: x for x in items if isinstance(x, Record)}


def test_rss_entries_identity_and_no_completeness(feed_server: FeedServer) -> None:
    items = list(connector(feed_server.rss_url).read())
    r = recs(items)
    assert len(r) == 6 and not any(isinstance(x, ListingComplete) for x in items)
    assert "https://pd.example.invalid/news/3" in r  # no guid: the link is the identity
    one = r["tag:pd.example.invalid,2024:news-1"]
    assert one.kind == "post" and one.scope == ROOT_SCOPE and one.media[0].url.endswith(".jpg")
    assert "<b>updates</b>" in (one.text or "") and one.created_at is not None


def test_conditional_get_304(feed_server: FeedServer) -> None:
    validators: dict[str, str] = {}
    c = connector(feed_server.atom_url, validators=validators)
    assert len(recs(list(c.read()))) == 6 and "etag" in validators
    assert list(c.read()) == [] and feed_server.not_modified == 1
    feed_server.apply_second_state()
    r = recs(list(c.read()))
    assert "Correction" in (r[EDITED_ID].text or "") and DELETED_ID not in r


def test_complete_feed_and_tombstone_lookup(feed_server: FeedServer) -> None:
    feed_server.complete = True
    c = connector(feed_server.atom_url)
    items = list(c.read())
    assert isinstance(items[-1], ListingComplete) and items[-1].scope == ROOT_SCOPE
    assert isinstance(c.lookup(ItemRef(DELETED_ID, "post", ROOT_SCOPE)), Unknown)
    feed_server.apply_second_state()
    gone = c.lookup(ItemRef(DELETED_ID, "post", ROOT_SCOPE))
    assert isinstance(gone, Gone) and gone.evidence["tombstone"]["when"] == "2024-02-21T08:00:00Z"
    assert isinstance(c.lookup(ItemRef("tag:other", "post", ROOT_SCOPE)), Unknown)


def test_errors_rate_limit_and_truncation(feed_server: FeedServer) -> None:
    c = connector(feed_server.rss_url)
    feed_server.rate_limit_429(retry_after="4")
    assert len(recs(list(c.read()))) == 6 and c.sleep.calls == [4.0]  # type: ignore[attr-defined]
    feed_server.truncated()
    with pytest.raises(MalformedResponse, match="not well-formed"):
        list(connector(feed_server.rss_url).read())
    feed_server.fail_status(502, times=None)
    with pytest.raises(TransientError):
        list(connector(feed_server.rss_url, max_retries=1).read())


def test_paging_loop_not_applicable_but_bounded(feed_server: FeedServer) -> None:
    # A feed is one document: a "loop" fault changes nothing and the read ends.
    feed_server.paging_loop(times=None)
    assert len(recs(list(connector(feed_server.atom_url).read()))) == 6


def test_token_never_leaks(feed_server: FeedServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    c = connector(feed_server.rss_url, token="private-feed-token")
    items = list(c.read())
    feed_server.malformed()
    with pytest.raises(ConnectorError) as info:
        list(connector(feed_server.rss_url, token="private-feed-token").read())
    assert "private-feed-token" not in str(info.value)
    assert all("private-feed-token" not in repr(x) for x in items)
    assert all("private-feed-token" not in rec.getMessage() for rec in caplog.records)


VALID = (
    b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
    b"<entry><id>a</id><title>x</title><content>y</content></entry></feed>"
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.binary(max_size=200),
        st.integers(0, len(VALID)).map(lambda n: VALID[:n]),
        st.text(max_size=60).map(lambda t: VALID.replace(b"y", t.encode())),
    )
)
def test_parser_ends_in_records_or_one_connector_error(body: bytes) -> None:
    assert_records_or_one_error(parse_feed_body, body)


def test_capture_end_to_end(archive: Archive, feed_server: FeedServer) -> None:
    feed_server.complete = True
    acct = register(archive, "feed", feed_server.atom_url, feed_server.atom_url, "feed-token")
    first = timed_capture(acct, feed_server, "feed first capture")
    assert first.status == "succeeded" and first.new_items == 6
    feed_server.apply_second_state()
    second = acct.capture()
    assert second.status == "succeeded", second.error
    assert (second.new_items, second.removed, second.new_versions) == (0, 1, 2)
    removed = item_detail(archive, acct.items()[DELETED_ID].id)
    assert removed["status"] == "removed" and "tombstone" in str(removed["removal_evidence"])
    versions = acct.versions()
    again = timed_capture(acct, feed_server, "feed unchanged re-capture")
    assert again.new_versions == 0 and acct.versions() == versions


def test_capture_rolled_off_entry_is_not_removed(archive: Archive, feed_server: FeedServer) -> None:
    acct = register(archive, "feed", feed_server.rss_url, feed_server.rss_url, "feed-token")
    acct.capture()
    feed_server.apply_second_state()
    result = acct.capture()
    assert result.status == "succeeded" and result.removed == 0
    assert acct.items()[DELETED_ID].status == "active"


def test_capture_counts_entries_no_longer_in_the_feed(
    archive: Archive, feed_server: FeedServer
) -> None:
    acct = register(archive, "feed", feed_server.rss_url, feed_server.rss_url, None)
    assert acct.capture().no_longer_listed == 0
    feed_server.apply_second_state()
    result = acct.capture()
    assert result.status == "succeeded" and result.removed == 0
    assert result.no_longer_listed == 1 and result.as_json()["no_longer_listed"] == 1
    assert acct.capture().no_longer_listed == 1  # still gone, still only reported


def test_redirects_are_followed_and_the_final_url_recorded(feed_server: FeedServer) -> None:
    start = feed_server.redirect("/old/news.rss", "/moved/news.rss", 301)  # relative Location
    feed_server.redirect("/moved/news.rss", feed_server.rss_url, 302)  # absolute Location
    c = connector(start)
    assert len(recs(list(c.read()))) == 6
    assert c.final_url == feed_server.rss_url
    assert c.stats.notes == [
        f"feed {start} redirects to {feed_server.rss_url} (HTTP 301, 302): "
        "consider registering the final address"
    ]
    # The look-up reads the same redirected feed.
    assert isinstance(c.lookup(ItemRef(DELETED_ID, "post", ROOT_SCOPE)), Unknown)


def test_five_redirects_are_followed_a_sixth_is_too_many(feed_server: FeedServer) -> None:
    hops = [f"/hop/{n}" for n in range(7)]
    for here, there in zip(hops, hops[1:], strict=False):
        feed_server.redirect(here, there, 307)
    feed_server.redirect(hops[-1], feed_server.atom_url, 308)
    assert len(recs(list(connector(f"{feed_server.origin}{hops[2]}").read()))) == 6
    with pytest.raises(ConnectorError) as info:
        list(connector(f"{feed_server.origin}{hops[1]}").read())
    assert str(info.value) == "feed: GET /hop/1: too many redirects (more than 5)"


def test_a_redirect_loop_is_named_a_loop(feed_server: FeedServer) -> None:
    start = feed_server.redirect("/loop/a", "/loop/b", 302)
    feed_server.redirect("/loop/b", "/loop/a", 302)
    with pytest.raises(ConnectorError) as info:
        list(connector(start).read())
    assert str(info.value) == "feed: GET /loop/a: redirect loop (/loop/a -> /loop/b -> /loop/a)"


def test_token_does_not_follow_a_redirect_to_another_host(feed_server: FeedServer) -> None:
    with FeedServer() as elsewhere:
        start = feed_server.redirect("/old/news.rss", elsewhere.rss_url, 301)
        assert len(recs(list(connector(start, token="private-feed-token").read()))) == 6
        assert [how for _, how in feed_server.requests] == ["header"]
        assert [how for _, how in elsewhere.requests] == ["none"]


def test_each_retry_is_reported_to_the_callback(feed_server: FeedServer) -> None:
    feed_server.fail_status(500, times=None)
    lines: list[str] = []
    c = FeedConnector(
        ConnectorConfig(feed_server.rss_url + "?key=secret", backoff_base=0.5),
        sleep=SleepRecorder(), rng=random.Random(7),
        on_retry=lambda notice: lines.append(notice.line()),
    )
    with pytest.raises(TransientError):
        list(c.read())
    assert len(lines) == 5 and len(c.sleep.calls) == 5  # type: ignore[attr-defined]
    for n, (line, wait) in enumerate(zip(lines, c.sleep.calls, strict=True), 1):  # type: ignore[attr-defined]
        assert line == (f"feed: GET /feeds/news.rss: HTTP 500; attempt {n} of 6, "
                        f"retrying in {wait:.1f}s")
    assert not any("secret" in line for line in lines)
