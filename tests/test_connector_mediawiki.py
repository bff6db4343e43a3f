"""The MediaWiki connector against the loopback Action API server, and through capture."""

from __future__ import annotations

import json
import logging
from collections import Counter

import pytest
from hypothesis import given

from archiver.connectors.errors import AuthError, ConnectorError, PagingLoop
from archiver.connectors.mediawiki import MediaWikiConnector, parse_revisions_body
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
from archiver.standins.mediawiki_server import DELETED_PAGE, HIDDEN_REV, MediaWikiServer
from archiver.store.archive import Archive
from tests.support.parser_fuzz import FUZZ, assert_records_or_one_error, hostile_bodies
from tests.support.platforms_b import make_connector, mediawiki_server, register, timed_capture

__all__ = ["mediawiki_server"]


def connector(server: MediaWikiServer, **kw: object) -> MediaWikiConnector:
    token = kw.pop("token", server.token)
    c = make_connector("mediawiki", "wiki", server.base_url, token, page_size=2, **kw)  # type: ignore[arg-type]
    assert isinstance(c, MediaWikiConnector)
    return c


def recs(items: list[Record | ListingComplete]) -> dict[str, Record]:
    return {x.external_id: x for x in items if isinstance(x, Record)}


def test_every_revision_of_every_page(mediawiki_server: MediaWikiServer) -> None:
    items = list(connector(mediawiki_server).read())
    r = recs(items)
    assert Counter(x.kind for x in r.values()) == {"post": 6, "page_revision": 15}
    done = [x.scope for x in items if isinstance(x, ListingComplete)]
    assert done[-1] == ROOT_SCOPE and len(done) == 7
    rev = r["rev-502"]
    assert rev.scope == "page-101" and rev.parent_external_id == "page-101"
    assert rev.text == "== Policy 1 ==\nRevision 2 of policy 1." and rev.author_name == "Editor2"
    assert r["page-101"].text.endswith("Revision 2 of policy 1.")  # the latest revision
    # continuation: 6 pages at 2 a request, page 103's 4 revisions at 2 a request
    assert mediawiki_server.path_counts["/w/api.php"] == 3 + 1 + 2 + 2 + 1 + 1 + 2


def test_second_state_and_lookups(mediawiki_server: MediaWikiServer) -> None:
    c = connector(mediawiki_server)
    mediawiki_server.apply_second_state()
    r = recs(list(c.read()))
    assert (r[f"rev-{HIDDEN_REV}"].status, r[f"rev-{HIDDEN_REV}"].text) == ("hidden", None)
    assert f"page-{DELETED_PAGE}" not in r and "Amended." in (r["page-101"].text or "")
    gone = c.lookup(ItemRef(f"page-{DELETED_PAGE}", "post", ROOT_SCOPE))
    assert isinstance(gone, Gone) and gone.evidence["delete_log_event"]["logpage"] == DELETED_PAGE
    rev = c.lookup(ItemRef("rev-510", "page_revision", "page-104", "page-104"))
    assert isinstance(rev, Gone) and "510" in rev.evidence["revision_query"]["query"]["badrevids"]
    assert isinstance(c.lookup(ItemRef("page-101", "post", ROOT_SCOPE)), Present)
    assert isinstance(c.lookup(ItemRef("rev-501", "page_revision", "page-101")), Present)
    # missing but never deleted (no log event): Unknown
    assert isinstance(c.lookup(ItemRef("page-999", "post", ROOT_SCOPE)), Unknown)


def test_maxlag_waits_retry_after_and_errors(mediawiki_server: MediaWikiServer) -> None:
    c = connector(mediawiki_server)
    mediawiki_server.api_error("maxlag", retry_after="5", nth=2)
    assert len(recs(list(c.read()))) == 21
    assert c.sleep.calls == [5.0]  # type: ignore[attr-defined]
    with pytest.raises(AuthError, match="mwoauth-invalid-authorization"):
        list(connector(mediawiki_server, token="bad").read())
    with pytest.raises(AuthError, match="readapidenied"):
        list(connector(mediawiki_server, token=None).read())
    mediawiki_server.api_error("badvalue")
    with pytest.raises(ConnectorError, match="badvalue"):
        list(connector(mediawiki_server).read())


def test_paging_loop_detected(mediawiki_server: MediaWikiServer) -> None:
    mediawiki_server.paging_loop(times=3)
    with pytest.raises(PagingLoop):
        list(connector(mediawiki_server).read())


def test_token_never_leaks(
    mediawiki_server: MediaWikiServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = mediawiki_server.token
    assert token is not None
    items = list(connector(mediawiki_server).read())
    assert {how for _, how in mediawiki_server.requests} == {"header"}
    mediawiki_server.apply_second_state()
    gone = connector(mediawiki_server).lookup(ItemRef(f"page-{DELETED_PAGE}", "post", ""))
    assert token not in json.dumps(gone.evidence)  # type: ignore[union-attr]
    assert all(token not in json.dumps(r.raw) for r in recs(items).values())
    assert all(token not in rec.getMessage() for rec in caplog.records)


VALID = json.dumps(
    {
        "continue": {"rvcontinue": "3", "continue": "||"},
        "query": {
            "pages": [
                {
                    "pageid": 1,
                    "title": "A",
                    "revisions": [
                        {
                            "revid": 2,
                            "user": "U",
                            "timestamp": "2024-03-01T09:00:00Z",
                            "slots": {"main": {"content": "text"}},
                        },
                        {"revid": 3, "texthidden": True, "slots": {"main": {"texthidden": True}}},
                    ],
                }
            ]
        },
    }
).encode()
KEYS = [
    "query",
    "pages",
    "pageid",
    "title",
    "revisions",
    "revid",
    "user",
    "userid",
    "timestamp",
    "slots",
    "main",
    "content",
    "texthidden",
    "continue",
    "missing",
]


def test_parser_reads_valid_page() -> None:
    assert [r.status for r in parse_revisions_body(VALID)] == ["active", "hidden"]


@FUZZ
@given(hostile_bodies(VALID, KEYS))
def test_parser_ends_in_records_or_one_connector_error(body: bytes) -> None:
    assert_records_or_one_error(parse_revisions_body, body)


def test_capture_end_to_end(archive: Archive, mediawiki_server: MediaWikiServer) -> None:
    acct = register(archive, "mediawiki", "wiki", mediawiki_server.base_url, mediawiki_server.token)
    first = timed_capture(acct, mediawiki_server, "mediawiki first capture")
    assert first.status == "succeeded" and first.new_items == 21
    mediawiki_server.apply_second_state()
    second = acct.capture()
    assert second.status == "succeeded", second.error
    # new revision + page 101's new text, hidden revision 503, page 104 and its revision 510 gone
    assert (second.new_items, second.removed, second.new_versions) == (1, 2, 5)
    items = acct.items()
    page = item_detail(archive, items[f"page-{DELETED_PAGE}"].id)
    assert page["status"] == "removed" and "delete" in str(page["removal_evidence"])
    hidden = item_detail(archive, items[f"rev-{HIDDEN_REV}"].id)
    assert [v["status"] for v in hidden["versions"]] == ["active", "hidden"]
    versions = acct.versions()
    again = timed_capture(acct, mediawiki_server, "mediawiki unchanged re-capture")
    assert again.new_versions == 0 and acct.versions() == versions
