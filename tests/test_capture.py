"""The capture rules, end to end: the Facebook connector against the loopback Graph server, into
a real archive (SQLite file and PostgreSQL), blobs on disk and a Whoosh index on disk."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from archiver.capture.account import capture_account
from archiver.capture.results import CaptureResult, Phase
from archiver.item_detail import item_detail
from archiver.search.interface import SearchFilters
from archiver.search.items import search_items
from archiver.standins.dataset import Comment, load_sample
from archiver.standins.graph_server import GraphServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive
from archiver.store.models import Account, AuditEvent, CaptureRun, Item, ItemVersion
from archiver.verify import verify_archive
from tests.support.graph import SleepRecorder

TOKEN_ENV = "ARCHIVER_TOKEN_TEST_PAGE"

EDITED_POST = "104882335720091_2012"
HIDDEN_COMMENT = "2004_3013"
DELETED_COMMENT = "2001_3003"
NEW_COMMENT = "2012_3037"


@pytest.fixture
def server() -> Iterator[GraphServer]:
    with GraphServer(load_sample(), page_size=5) as srv:
        yield srv


@pytest.fixture
def account(archive: Archive, server: GraphServer) -> Account:
    ds = server.dataset
    return add_account(
        archive,
        AccountSpec(platform="facebook", external_id=ds.page_id, handle="springfieldpd",
                    api_base=server.base_url, token_env=TOKEN_ENV),
        actor="test",
    )


def run(archive: Archive, account: Account, server: GraphServer,
        sleep: SleepRecorder | None = None) -> CaptureResult:
    return capture_account(archive, account, {TOKEN_ENV: server.token},
                           sleep=sleep or SleepRecorder())


def items_by_external(archive: Archive) -> dict[str, Item]:
    with archive.sessions() as s:
        return {i.external_id: i for i in s.scalars(select(Item))}


def count(archive: Archive, model: type) -> int:
    with archive.sessions() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def test_first_capture_stores_every_post_comment_and_reply(
    archive: Archive, account: Account, server: GraphServer
) -> None:
    ds = server.dataset
    result = run(archive, account, server)
    assert result.status == "succeeded", result.error
    expected = len(ds.posts) + len(ds.comments)
    assert result.new_items == expected
    assert result.new_versions == expected
    assert result.removed == 0
    items = items_by_external(archive)
    assert len(items) == expected
    kinds = {i.kind for i in items.values()}
    assert kinds == {"post", "comment", "reply"}
    # Replies and comments point at their parents.
    for item in items.values():
        if item.kind == "reply":
            parent = next(p for p in items.values() if p.id == item.parent_id)
            assert parent.kind == "comment"
        if item.kind == "comment":
            parent = next(p for p in items.values() if p.id == item.parent_id)
            assert parent.kind == "post"
    hidden_at_start = {c.id for c in ds.comments if c.is_hidden}
    assert {e for e, i in items.items() if i.status == "hidden"} == hidden_at_start
    assert verify_archive(archive).ok


def test_second_capture_records_edit_hide_and_removal_with_evidence(
    archive: Archive, account: Account, server: GraphServer
) -> None:
    run(archive, account, server)
    server.apply_second_state()
    result = run(archive, account, server)
    assert result.status == "succeeded", result.error
    assert result.removed == 1
    assert result.new_items == 1  # the new comment
    items = items_by_external(archive)

    edited = item_detail(archive, items[EDITED_POST].id)
    assert [v["seq"] for v in edited["versions"]] == [1, 2]
    assert "Oak St." in edited["versions"][1]["text"]
    assert "Oak St." not in edited["versions"][0]["text"]

    hidden = item_detail(archive, items[HIDDEN_COMMENT].id)
    assert [v["status"] for v in hidden["versions"]] == ["active", "hidden"]

    removed = item_detail(archive, items[DELETED_COMMENT].id)
    assert removed["status"] == "removed"
    assert [v["status"] for v in removed["versions"]] == ["active", "removed"]
    # The text is still on record, and the platform's own answer is the evidence.
    assert removed["versions"][1]["text"] == removed["versions"][0]["text"]
    evidence = removed["removal_evidence"]
    assert "33" in str(evidence) and "100" in str(evidence)
    assert removed["versions"][1]["evidence_sha256"] == removed["removal_evidence_sha256"]

    # A version for exactly what changed: edit, hide, removal, new comment (and replies of the
    # deleted comment, which Facebook deletes with it, if it had any).
    deleted_replies = [c for c in load_sample().comments if c.parent_id == DELETED_COMMENT]
    assert result.removed == 1 + len(deleted_replies)
    assert result.new_versions == 4 + len(deleted_replies)

    found = search_items(archive, "*", SearchFilters(status="removed"))
    assert [r["external_id"] for r in found.results] == [DELETED_COMMENT]
    assert verify_archive(archive).ok


def test_unchanged_recapture_writes_no_version(
    archive: Archive, account: Account, server: GraphServer
) -> None:
    run(archive, account, server)
    versions = count(archive, ItemVersion)
    result = run(archive, account, server)
    assert result.status == "succeeded"
    assert (result.new_items, result.new_versions, result.removed) == (0, 0, 0)
    assert count(archive, ItemVersion) == versions
    assert result.seen == versions


@pytest.mark.parametrize("fault", ["500", "429", "rate_code_17", "malformed", "truncated"])
def test_failed_listing_marks_nothing_removed(
    archive: Archive, account: Account, server: GraphServer, fault: str
) -> None:
    run(archive, account, server)
    server.apply_second_state()
    # Every read of the deleted comment's post's comment listing now fails.
    post_id = DELETED_COMMENT.split("_")[0]
    match = {"path": "comments"}
    if fault == "500":
        server.fail_status(500, times=None, **match)
    elif fault == "429":
        server.rate_limit_429("60", times=None, **match)
    elif fault == "rate_code_17":
        server.graph_error(17, times=None, **match)
    elif fault == "malformed":
        server.malformed(times=None, **match)
    else:
        server.truncated(times=None, **match)
    result = run(archive, account, server)
    assert result.status == "failed"
    assert result.removed == 0
    assert "springfieldpd" in (result.error or "")
    items = items_by_external(archive)
    assert items[DELETED_COMMENT].status == "active"
    assert post_id
    with archive.sessions() as s:
        run_row = s.get(CaptureRun, result.run_id)
        assert run_row is not None and run_row.status == "failed" and run_row.error
    assert verify_archive(archive).ok


def test_expired_token_is_a_clear_error_naming_the_account(
    archive: Archive, account: Account, server: GraphServer
) -> None:
    server.expire_token()
    result = run(archive, account, server)
    assert result.status == "failed"
    assert "springfieldpd" in (result.error or "") and "token" in (result.error or "").lower()
    assert "\n" not in (result.error or "")


def test_unset_token_fails_before_any_request(
    archive: Archive, account: Account, server: GraphServer
) -> None:
    result = capture_account(archive, account, {})
    assert result.status == "failed"
    assert TOKEN_ENV in (result.error or "") and "springfieldpd" in (result.error or "")
    assert server.request_count == 0


def test_token_never_reaches_database_blobs_or_index(
    archive: Archive, account: Account, server: GraphServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    run(archive, account, server)
    server.apply_second_state()
    server.fail_status(500, times=1, path="comments")
    run(archive, account, server)
    token = server.token.encode()
    home = Path(archive.settings.home)
    for path in home.rglob("*"):
        if path.is_file():
            assert token not in path.read_bytes(), f"token found in {path}"
    with archive.sessions() as s:
        for event in s.scalars(select(AuditEvent)):
            assert server.token not in event.details_json
        for run_row in s.scalars(select(CaptureRun)):
            assert server.token not in (run_row.error or "")
    assert server.token not in caplog.text


def test_re_signed_media_links_are_not_a_change(
    archive: Archive, account: Account, server: GraphServer
) -> None:
    """CDNs re-sign media URLs on every read; the same file must not make a new version."""
    from dataclasses import replace as dc_replace

    run(archive, account, server)
    ds = server.dataset
    posts = tuple(
        dc_replace(p, attachments=tuple(
            dc_replace(a, src=f"{a.src}?oh=00_AfB{n}&oe=65F1A2B3") if a.src else a
            for a in p.attachments))
        for n, p in enumerate(ds.posts)
    )
    server.set_dataset(dc_replace(ds, posts=posts))
    result = run(archive, account, server)
    assert result.status == "succeeded"
    assert result.new_versions == 0


LONE = "\ud83d"  # half of an emoji: valid JSON ("\ud83d"), not encodable as UTF-8
LONG_ID = "2001_" + "9" * 300  # longer than any archive id column


def serve_with_comments(server: GraphServer, messages: dict[str, str],
                        extra: tuple[Comment, ...] = ()) -> None:
    """Serve the sample with some comments' messages replaced, plus ``extra`` comments."""
    from dataclasses import replace as dc_replace

    ds = server.dataset
    comments = tuple(dc_replace(c, message=messages.get(c.id, c.message)) for c in ds.comments)
    server.set_dataset(dc_replace(ds, comments=comments + extra))


def test_lone_surrogate_is_stored_safely_and_loses_nothing(
    archive: Archive, account: Account, server: GraphServer
) -> None:
    ds = server.dataset
    serve_with_comments(server, {HIDDEN_COMMENT: f"Thanks {LONE} quokka"})
    result = run(archive, account, server)
    assert result.status == "succeeded", result.error
    assert result.new_items == len(ds.posts) + len(ds.comments)
    assert (result.failed_items, result.text_replaced) == (0, 1)
    items = items_by_external(archive)
    detail = item_detail(archive, items[HIDDEN_COMMENT].id)
    # The searchable, displayable text is valid Unicode; what the platform sent is in the record
    # blob with its JSON escape, so the original value is recoverable exactly.
    assert detail["versions"][0]["text"] == "Thanks \ufffd quokka"
    with archive.sessions() as s:
        version = s.scalars(select(ItemVersion).where(
            ItemVersion.item_id == items[HIDDEN_COMMENT].id)).one()
        assert version.record_sha256 is not None
        raw = archive.store.get(version.record_sha256)
    assert b'"Thanks \\ud83d quokka"' in raw
    assert json.loads(raw)["message"] == f"Thanks {LONE} quokka"
    found = search_items(archive, "quokka", SearchFilters())
    assert [r["external_id"] for r in found.results] == [HIDDEN_COMMENT]
    with archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(CaptureRun)
                        .where(CaptureRun.status == "running")) == 0
    # Hashing is deterministic: the same comment again is no change.
    again = run(archive, account, server)
    assert (again.status, again.new_versions) == ("succeeded", 0), again.error
    assert verify_archive(archive).ok


def test_an_item_that_cannot_be_stored_does_not_stop_the_others(
    archive: Archive, account: Account, server: GraphServer
) -> None:
    ds = server.dataset
    post = ds.posts[0].id
    bad = Comment(id=LONG_ID, post_id=post, message="too long an id",
                  created_time="2024-05-01T14:03:22+0000", author=None)
    serve_with_comments(server, {HIDDEN_COMMENT: f"Thanks {LONE} quokka"}, (bad,))
    result = run(archive, account, server)
    assert result.status == "partial", result.error
    assert result.failed_items == 1
    assert "1 item(s) could not be stored" in (result.error or "")
    assert "external id" in (result.error or "")
    items = items_by_external(archive)
    assert LONG_ID not in items
    assert len(items) == len(ds.posts) + len(ds.comments)
    with archive.sessions() as s:
        run_row = s.get(CaptureRun, result.run_id)
        assert run_row is not None and run_row.status == "partial" and run_row.error
        failures = s.scalars(select(AuditEvent).where(
            AuditEvent.action == "capture.item_failed")).all()
    assert len(failures) == 1 and LONG_ID in failures[0].details_json
    assert verify_archive(archive).ok


@pytest.mark.parametrize("error", [RuntimeError("disk gone"), KeyboardInterrupt()])
def test_a_run_never_stays_running_after_an_error(
    archive: Archive, account: Account, server: GraphServer, error: BaseException
) -> None:
    """The progress callback is the caller's (the CLI's bar): an error there, or Ctrl-C while
    a batch is stored, stops the run; the run is closed with the reason, not left running."""
    def progress(count: int) -> None:
        raise error

    with pytest.raises(type(error)):
        capture_account(archive, account, {TOKEN_ENV: server.token}, sleep=SleepRecorder(),
                        progress=progress, media=False)
    with archive.sessions() as s:
        [run_row] = s.scalars(select(CaptureRun)).all()
    expected = "failed" if isinstance(error, Exception) else "interrupted"
    assert run_row.status == expected and run_row.finished_at is not None
    assert type(error).__name__ in (run_row.error or "")
    # What the first batch stored is kept.
    assert count(archive, ItemVersion) > 0


def test_a_run_names_each_phase_before_it_and_counts_its_steps(
    archive: Archive, account: Account, server: GraphServer
) -> None:
    """What a progress display is told: each phase as it starts (the index commit before it
    runs), its total when known, and the steps that follow it."""
    told: list[tuple[str, int | None, int]] = []  # phase, total, documents in the index then
    steps: dict[str, int] = {}

    def on_phase(phase: Phase, total: int | None) -> None:
        told.append((str(phase), total, archive.index.search("*", SearchFilters()).total))

    def progress(n: int) -> None:
        steps[told[-1][0]] = steps.get(told[-1][0], 0) + n

    def capture() -> CaptureResult:
        return capture_account(archive, account, {TOKEN_ENV: server.token},
                               sleep=SleepRecorder(), progress=progress, on_phase=on_phase)

    first = capture()
    seen = len(server.dataset.posts) + len(server.dataset.comments)
    assert [t[:2] for t in told[:3]] == [("storing", None), ("indexing", seen),
                                         ("storing", None)]
    assert told[1][2] == 0  # told before the commit: nothing indexed yet
    assert told[3][0] == "downloading media" and told[3][1] == first.media_stored > 0
    assert steps == {"storing": seen, "indexing": seen, "downloading media": first.media_stored}

    server.apply_second_state()
    told.clear()
    steps.clear()
    second = capture()
    assert second.removed == 1
    lookups = [t for t in told if t[0] == "checking removals"]
    assert lookups and steps["checking removals"] == lookups[-1][1] >= 1
