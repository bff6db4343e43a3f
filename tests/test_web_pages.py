"""The desk's reading pages and their API twins over HTTP: what each shows, that the account
limit holds everywhere, that reads are audited under the user's name."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from sqlalchemy import func, select

from archiver.access.roles import Role
from archiver.exports.selection import ThreadWindow
from archiver.item_history import item_thread
from archiver.store.models import AuditEvent, Item, ItemVersion, MediaFile, VersionMedia
from tests.support.web import (
    HOSTILE,
    LOCKOUT,
    PASSWORD,
    UNIT,
    Desk,
    csrf_token,
    signed_in_client,
    user_of,
)


def _media_of(desk: Desk, account: str) -> str:
    with desk.archive.sessions() as s:
        sha = s.scalar(select(MediaFile.sha256)
                       .join(VersionMedia, VersionMedia.media_file_id == MediaFile.id)
                       .join(ItemVersion, ItemVersion.id == VersionMedia.version_id)
                       .join(Item, Item.id == ItemVersion.item_id)
                       .where(Item.account_id == desk.accounts[account],
                              MediaFile.sha256.is_not(None)).limit(1))
    assert sha is not None
    return sha


def _an_item_of(desk: Desk, account: str) -> int:
    with desk.archive.sessions() as s:
        found = s.scalar(select(Item.id).where(Item.account_id == desk.accounts[account])
                         .order_by(Item.id).limit(1))
    assert found is not None
    return found


def _audited(desk: Desk, action: str, actor: str) -> list[AuditEvent]:
    with desk.archive.sessions() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action,
                                                       AuditEvent.actor == actor)))


def test_dashboard_shows_capture_health_arrivals_and_the_chart(desk: Desk) -> None:
    with signed_in_client(desk, user_of(Role.RECORDS_MANAGER)) as client:
        page = client.get("/").text
    assert "springfield-pd" in page and "county-sheriff" in page
    assert "<svg" in page and "Versions captured per day" in page
    assert "Eligible for disposition" in page and "Requests due" in page
    with signed_in_client(desk, user_of(Role.VIEWER)) as client:
        page = client.get("/").text
    assert "Eligible for disposition" not in page and "Active holds" not in page


def test_search_highlights_counts_facets_and_pages(desk: Desk) -> None:
    with signed_in_client(desk, user_of(Role.VIEWER)) as client:
        page = client.get("/search", params={"q": "closure"}).text
        assert "<mark>closure</mark>" in page.lower() or "<mark>Closure</mark>" in page
        assert re.search(r"\d+ items? in \d+ threads?", page)
        everything = client.get("/search", params={"q": "*"}).text
        assert 'rel="next"' in everything
        assert "status=removed" in everything  # a facet link
        removed = client.get("/search", params={"q": "*", "status": "removed"}).text
        assert "Removed</span>" in removed
        bad = client.get("/search", params={"q": "closure OR"})
    assert bad.status_code == 400 and 'role="alert"' in bad.text


def test_a_search_is_kept_as_a_request_scope_or_a_hold_by_those_who_may(desk: Desk) -> None:
    account = desk.accounts["city"]
    wanted = {"q": "closure", "account": str(account), "since": "2020-01-01"}
    with signed_in_client(desk, user_of(Role.VIEWER)) as client:
        page = client.get("/search", params=wanted).text
    assert "/holds/new" not in page and "/requests/new" not in page
    with signed_in_client(desk, user_of(Role.CUSTODIAN)) as client:
        page = client.get("/search", params=wanted).text
        assert "/holds/new" not in page
        request_link = re.search(r'href="(/requests/new\?[^"]+)"', page)
        assert request_link is not None
        form = client.get(request_link.group(1).replace("&amp;", "&")).text
        assert 'value="closure"' in form and 'value="2020-01-01"' in form
    with signed_in_client(desk, user_of(Role.LEGAL)) as client:
        page = client.get("/search", params=wanted).text
        hold_link = re.search(r'href="(/holds/new\?[^"]+)"', page)
        assert hold_link is not None
        preview = client.get(hold_link.group(1).replace("&amp;", "&"))
    assert preview.status_code == 200 and 'value="closure"' in preview.text


def test_hostile_comment_is_text_on_every_page(desk: Desk) -> None:
    item = desk.hostile_item_id
    with signed_in_client(desk, user_of(Role.VIEWER)) as client:
        pages = [client.get(f"/items/{item}/thread").text, client.get(f"/items/{item}").text,
                 client.get("/search", params={"q": "visitor"}).text]
    for page in pages:
        assert "<script>alert(1)</script>" not in page
        assert "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert HOSTILE.split()[0] not in pages[0]


def test_thread_and_history_show_edits_hiding_removal_and_evidence(desk: Desk) -> None:
    with desk.archive.sessions() as s:
        removed = s.scalar(select(Item.id).where(Item.status == "removed"))
        edited = s.scalar(select(Item.id).where(Item.current_seq > 1, Item.kind == "post"))
    with signed_in_client(desk, user_of(Role.VIEWER)) as client:
        thread = client.get(f"/items/{removed}/thread").text
        history = client.get(f"/items/{removed}").text
        changed = client.get(f"/items/{edited}").text
    assert 'class="mark removed"' in thread and 'class="mark hidden"' in thread
    assert f'href="/items/{removed}"' in thread
    assert "Evidence of removal" in history and "Status changed" in history
    assert "<ins>" in changed and "Version 2" in changed


def test_media_is_a_download_that_never_renders(desk: Desk) -> None:
    sha = _media_of(desk, "city")
    with signed_in_client(desk, user_of(Role.VIEWER)) as client:
        answer = client.get(f"/media/{sha}")
    assert answer.status_code == 200
    assert answer.headers["content-disposition"].startswith("attachment;")
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in answer.headers["content-security-policy"]
    assert answer.headers["content-type"] in ("image/png", "application/octet-stream")
    assert _audited(desk, "desk.media_download", user_of(Role.VIEWER))


def test_a_limited_user_never_sees_another_accounts_items(desk: Desk) -> None:
    other = _an_item_of(desk, "county")
    other_media = _media_of(desk, "county")
    with signed_in_client(desk, UNIT) as client:
        page = client.get("/search", params={"q": "*"}).text
        assert "county-sheriff" not in page and "Synthetic post" not in page
        assert client.get("/search", params={"q": "Synthetic"}).text.count('class="hit"') == 0
        refused = client.get("/search", params={"q": "*", "account": desk.accounts["county"]})
        assert refused.status_code == 400
        for path in (f"/items/{other}", f"/items/{other}/thread", f"/media/{other_media}"):
            assert client.get(path).status_code == 404, path
        assert "county-sheriff" not in client.get("/").text
    headers = {"Authorization": f"Bearer {desk.tokens[UNIT]}"}
    with httpx.Client(base_url=desk.base_url, headers=headers) as api:
        found = api.get("/api/search", params={"q": "*"}).json()
        assert {r["account_id"] for r in found["results"]} == {desk.accounts["city"]}
        assert set(found["facets"]["account_id"]) == {str(desk.accounts["city"])}
        for path in (f"/api/items/{other}", f"/api/items/{other}/thread",
                     f"/api/media/{other_media}"):
            assert api.get(path).status_code == 404, path
        assert api.get("/api/me").json()["accounts"] == [desk.accounts["city"]]


def test_api_needs_a_token_and_answers_like_the_pages(desk: Desk) -> None:
    with httpx.Client(base_url=desk.base_url) as anonymous:
        assert anonymous.get("/api/search?q=*").status_code == 401
        bad = anonymous.get("/api/me", headers={"Authorization": "Bearer arv_nope"})
        assert bad.status_code == 401
    viewer = user_of(Role.VIEWER)
    headers = {"Authorization": f"Bearer {desk.tokens[viewer]}"}
    with httpx.Client(base_url=desk.base_url, headers=headers) as api:
        found = api.get("/api/search", params={"q": "closure"}).json()
        assert found["total"] >= 1 and found["results"][0]["item_id"]
        item = found["results"][0]["item_id"]
        detail = api.get(f"/api/items/{item}").json()
        assert detail["item_id"] == item and "holds" in detail
        thread = api.get(f"/api/items/{item}/thread").json()
        assert any(i["item_id"] == item for i in thread["items"])
        board = api.get("/api/dashboard").json()
        assert "eligible_for_disposition" not in board and board["accounts"]
        # A session cookie is no key to the API: only the bearer token is.
        assert api.post("/api/search").status_code == 405
    events = _audited(desk, "desk.search", viewer)
    assert any('"via": "api"' in e.details_json for e in events)
    assert _audited(desk, "desk.item_view", viewer)


def test_lock_out_after_failed_sign_ins_and_timed_release(desk: Desk) -> None:
    from archiver.access.users import add_user

    add_user(desk.archive, "lock-me", Role.VIEWER, password=PASSWORD, actor="test")

    def attempt(password: str) -> httpx.Response:
        with httpx.Client(base_url=desk.base_url) as client:
            token = csrf_token(client.get("/sign-in").text)
            return client.post("/sign-in", data={"name": "lock-me", "password": password,
                                                 "csrf_token": token})

    for _ in range(LOCKOUT.max_failures):
        assert attempt("wrong password!").status_code == 401
    locked = attempt(PASSWORD)
    assert locked.status_code == 401 and "locked" in locked.text
    desk.clock.advance(LOCKOUT.lock_for + timedelta(seconds=1))
    assert attempt(PASSWORD).status_code == 302
    assert _audited(desk, "user.sign_in_refused", "lock-me")


def test_an_idle_session_expires(desk: Desk) -> None:
    with signed_in_client(desk, user_of(Role.VIEWER)) as client:
        assert client.get("/").status_code == 200
        desk.clock.advance(timedelta(minutes=31))
        assert client.get("/").status_code == 302


def test_sign_out_ends_the_session_even_for_a_copied_cookie(desk: Desk) -> None:
    with signed_in_client(desk, user_of(Role.CUSTODIAN)) as client:
        copied = dict(client.cookies)
        token = csrf_token(client.get("/").text)
        assert client.post("/sign-out", data={"csrf_token": token}).status_code == 302
        desk.clock.advance(timedelta(seconds=1))
    with httpx.Client(base_url=desk.base_url, cookies=copied) as thief:
        assert thief.get("/").status_code == 302


def test_a_long_thread_is_read_in_parts(desk: Desk) -> None:
    """A post can gather thousands of comments: the desk reads a thread a part at a time, the
    post always heading it, by default the part holding the item asked for."""
    with desk.archive.sessions() as s:
        root = s.scalar(select(Item.parent_id).where(Item.kind == "comment")
                        .group_by(Item.parent_id).order_by(func.count().desc()).limit(1))
    assert root is not None
    order = [i.item_id for i in item_thread(desk.archive, root).items]
    assert len(order) >= 5
    part = item_thread(desk.archive, root, window=ThreadWindow(size=2, start=2))
    assert [i.item_id for i in part.items] == [order[0], *order[2:4]]
    assert (part.start, part.count, part.shown_until) == (2, len(order), 4)
    last = item_thread(desk.archive, order[-1], window=ThreadWindow(size=2, around=order[-1]))
    assert last.items[0].item_id == order[0] and last.items[-1].item_id == order[-1]
    assert last.shown_until == len(order)
    viewer = user_of(Role.VIEWER)
    headers = {"Authorization": f"Bearer {desk.tokens[viewer]}"}
    with httpx.Client(base_url=desk.base_url, headers=headers) as api:
        answer = api.get(f"/api/items/{root}/thread", params={"start": 2, "size": 2}).json()
    assert (answer["start"], answer["total"]) == (2, len(order))
    assert [i["item_id"] for i in answer["items"]] == [order[0], *order[2:4]]
    with signed_in_client(desk, viewer) as client:
        page = client.get(f"/items/{order[-1]}/thread").text
    assert f"{len(order)} items in reading order" in page
