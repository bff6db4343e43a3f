"""The LinkedIn connector against the loopback LinkedIn ``/rest`` server, and through capture,
search and export."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given

from archiver.connectors.errors import (
    ConnectorError,
    PagingLoop,
    RateLimitExhausted,
)
from archiver.connectors.linkedin import NO_HIDDEN_STATE, LinkedInConnector, parse_comments_body
from archiver.connectors.records import (
    ROOT_SCOPE,
    Gone,
    ItemRef,
    ListingComplete,
    Present,
    Record,
    Unknown,
)
from archiver.item_detail import item_detail
from archiver.standins.linkedin_server import (
    ADDED,
    DELETED,
    EDITED_COMMENT,
    EDITED_POST,
    HOSTILE,
    ORG_ID,
    LinkedInServer,
)
from archiver.store.archive import Archive
from tests.support.agency_platforms import exported_items, found_texts, linkedin_server
from tests.support.parser_fuzz import FUZZ, assert_records_or_one_error, hostile_bodies
from tests.support.platforms_b import make_connector, register, timed_capture

__all__ = ["linkedin_server"]
FIRST_REPLY = f"urn:li:comment:({EDITED_POST},70000000010000000012)"


def connector(server: LinkedInServer, **kw: object) -> LinkedInConnector:
    token = kw.pop("token", server.token)
    c = make_connector("linkedin", ORG_ID, server.base_url, token, **kw)  # type: ignore[arg-type]
    assert isinstance(c, LinkedInConnector)
    return c


def recs(events: list[object]) -> dict[str, Record]:
    return {x.external_id: x for x in events if isinstance(x, Record)}


def test_reads_posts_comments_and_replies(linkedin_server: LinkedInServer) -> None:
    c = connector(linkedin_server)
    events = list(c.read())
    r = recs(events)
    assert Counter(x.kind for x in r.values()) == {"post": 6, "comment": 24, "reply": 12}
    done = [x.scope for x in events if isinstance(x, ListingComplete)]
    assert done[-1] == ROOT_SCOPE and len(done) == 7
    post = r[EDITED_POST]
    assert post.url == f"https://www.linkedin.com/feed/update/{EDITED_POST}/"
    assert post.author_id == f"urn:li:organization:{ORG_ID}" and post.created_at is not None
    reply = r[FIRST_REPLY]
    assert reply.kind == "reply" and reply.scope == EDITED_POST
    assert reply.parent_external_id == f"urn:li:comment:({EDITED_POST},7000000001000000001)"
    hostile = [x for x in r.values() if x.text == HOSTILE]
    assert len(hostile) == 1 and hostile[0].status == "active"
    # every call was versioned; the posts finder said it was one (the server insists)
    assert linkedin_server.versions == {"202610"}
    assert linkedin_server.path_counts["/rest/posts"] == 2  # 6 posts at 5 a page
    assert c.stats.notes == [NO_HIDDEN_STATE]


def test_second_state_edits_and_lookups(linkedin_server: LinkedInServer) -> None:
    c = connector(linkedin_server)
    linkedin_server.apply_second_state()
    r = recs(list(c.read()))
    assert "(edited)" in (r[EDITED_COMMENT].text or "") and r[EDITED_COMMENT].updated_at
    assert "(deadline extended)" in (r[EDITED_POST].text or "")
    assert DELETED not in r and ADDED in r
    gone = c.lookup(ItemRef(DELETED, "comment", EDITED_POST, EDITED_POST))
    assert isinstance(gone, Gone) and gone.evidence["http_status"] == 404
    assert linkedin_server.token not in json.dumps(gone.evidence)
    assert isinstance(c.lookup(ItemRef(EDITED_COMMENT, "comment", EDITED_POST)), Present)
    assert isinstance(c.lookup(ItemRef(FIRST_REPLY, "reply", EDITED_POST)), Present)
    assert isinstance(c.lookup(ItemRef(EDITED_POST, "post", ROOT_SCOPE)), Present)
    assert isinstance(c.lookup(ItemRef("urn:li:share:9", "post", ROOT_SCOPE)), Gone)
    linkedin_server.fail_status(500, times=None)
    assert isinstance(c.lookup(ItemRef(DELETED, "comment", EDITED_POST)), Unknown)


def test_lookup_unknown_when_the_organization_no_longer_reads(
    linkedin_server: LinkedInServer
) -> None:
    c = connector(linkedin_server)
    linkedin_server.apply_second_state()
    linkedin_server.fail_status(403, path="/rest/posts$", times=None)
    assert isinstance(c.lookup(ItemRef(DELETED, "comment", EDITED_POST)), Unknown)


def test_throttle_is_waited_out_daily_limit_stops_at_once(
    linkedin_server: LinkedInServer
) -> None:
    c = connector(linkedin_server)
    linkedin_server.rate_limit_429(retry_after="7", path="/comments", times=2)
    assert len(recs(list(c.read()))) == 42
    assert c.stats.rate_limited == 2 and c.sleep.calls == [7.0, 7.0]  # type: ignore[attr-defined]
    c = connector(linkedin_server)
    linkedin_server.daily_limit(nth=linkedin_server.request_count + 4, times=None)
    with pytest.raises(ConnectorError, match="resets at 00:00 UTC") as info:
        list(c.read())
    assert "\n" not in str(info.value) and c.sleep.calls == []  # type: ignore[attr-defined]


def test_rate_limit_budget(linkedin_server: LinkedInServer) -> None:
    c = connector(linkedin_server, rate_limit_budget_s=10.0)
    linkedin_server.rate_limit_429(retry_after="6", times=None)
    with pytest.raises(RateLimitExhausted):
        list(c.read())


def test_paging_loop_detected(linkedin_server: LinkedInServer) -> None:
    linkedin_server.paging_loop(path="/rest/posts$", times=None)
    with pytest.raises(PagingLoop, match="/rest/posts"):
        list(connector(linkedin_server).read())


VALID = json.dumps({"elements": [
    {"commentUrn": "urn:li:comment:(urn:li:share:1,2)", "actor": "urn:li:person:a",
     "message": {"text": "hi"}, "created": {"time": 1714557600000},
     "commentsSummary": {"totalFirstLevelComments": 1}},
    {"commentUrn": "urn:li:comment:(urn:li:share:1,3)", "parentComment":
     "urn:li:comment:(urn:li:share:1,2)", "lastModified": {"time": 1714557600001}}],
    "paging": {"start": 0, "count": 10, "total": 2}}).encode()
KEYS = ["elements", "commentUrn", "actor", "message", "text", "created", "lastModified", "time",
        "commentsSummary", "totalFirstLevelComments", "parentComment", "paging", "start",
        "count", "total"]


def test_parser_reads_valid_page() -> None:
    out = parse_comments_body(VALID)
    assert [(r.kind, r.parent_external_id) for r in out] == [
        ("comment", "urn:li:share:1"), ("reply", "urn:li:comment:(urn:li:share:1,2)")]


@FUZZ
@given(hostile_bodies(VALID, KEYS))
def test_parser_ends_in_records_or_one_connector_error(body: bytes) -> None:
    assert_records_or_one_error(parse_comments_body, body)


def test_capture_end_to_end(archive: Archive, linkedin_server: LinkedInServer) -> None:
    acct = register(archive, "linkedin", ORG_ID, linkedin_server.base_url, linkedin_server.token)
    first = timed_capture(acct, linkedin_server, "linkedin first capture")
    assert first.status == "succeeded" and first.new_items == 42
    assert first.notes == [NO_HIDDEN_STATE]
    linkedin_server.apply_second_state()
    second = acct.capture()
    assert second.status == "succeeded", second.error
    assert (second.new_items, second.removed, second.unconfirmed) == (1, 1, 0)
    assert second.new_versions == 4  # post edit, comment edit, removal, new comment
    removed = item_detail(archive, acct.items()[DELETED].id)
    assert removed["status"] == "removed" and removed["removal_evidence"]
    versions = acct.versions()
    again = timed_capture(acct, linkedin_server, "linkedin unchanged re-capture")
    assert again.new_versions == 0 and acct.versions() == versions


def test_captured_account_is_searched_and_exported(
    archive: Archive, linkedin_server: LinkedInServer, tmp_path: Path
) -> None:
    acct = register(archive, "linkedin", ORG_ID, linkedin_server.base_url, linkedin_server.token)
    assert acct.capture().status == "succeeded"
    assert found_texts(archive, "onerror", acct.account.id) == [HOSTILE]
    bag, _ = exported_items(archive, '"opening #2"', tmp_path)
    rows = list(csv.DictReader((bag / "data" / "index.csv").open(encoding="utf-8")))
    assert {r["platform"] for r in rows} == {"linkedin"} and len(rows) == 1 + 4 + 2
    html = "".join(p.read_text(encoding="utf-8") for p in (bag / "data" / "threads").glob("*.html"))
    assert "<img src=x" not in html and "&lt;img src=x" in html
    assert not [p for p in bag.rglob("*") if "secrets" in p.name]


def test_profile_is_the_organizations_description(linkedin_server: LinkedInServer) -> None:
    profile = connector(linkedin_server).profile()
    found = {f.name: f.text for f in profile.fields}
    assert list(found) == ["localizedName", "localizedDescription", "localizedWebsite"]
    assert "call 911 in an emergency" in found["localizedDescription"]
    assert profile.url == "https://www.linkedin.com/company/springfield-pd/"
    assert profile.requests == (f"GET /rest/organizations/{ORG_ID}",)
