"""Flagging: the shipped GO 80.11 rules on the captured sample page, on later comments, on the
department's own posts, and on a webhook delivery; each version is flagged once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import httpx
from sqlalchemy import func, select

from archiver.capture.account import capture_account
from archiver.daemon.webhooks import WebhookApp, WebhookSecrets
from archiver.monitoring.flags import flag_runs, flag_unchecked
from archiver.standins.dataset import GRAPH_TIME, Author, Post
from archiver.store.models import AuditEvent, CaptureRun
from archiver.store.monitoring import ReviewFlag
from tests.support.graph import SleepRecorder
from tests.support.monitoring import flag_stored_items, rules_by_item, seen_flags
from tests.support.retention import TOKEN_ENV, Captured, captured  # noqa: F401 - fixture
from tests.test_webhooks import SECRET, VERIFY, comment, feed_body, serving, sign

HOSTILE = {
    "2002_3008": {"markup-and-scripts"},  # <script>alert(1)</script> ... never find anyone
    "2006_3020": {"off-topic-advertising", "links"},  # BUY CHEAP FOLLOWERS at spam-link...
    "2004_3013": {"phone-number"},  # Call me at (217) 555-0147.
}


def test_shipped_rules_flag_the_sample_pages_hostile_comments_and_personal_data(
        captured: Captured) -> None:  # noqa: F811
    # Capture ran the rules as it stored the page: nothing is left unchecked.
    outcome = flag_stored_items(captured.archive)
    assert (outcome.checked, outcome.flagged) == (0, 0)
    assert rules_by_item(captured.archive) == HOSTILE
    matched = {(f.external_id, f.rule): f.matched for f in seen_flags(captured.archive)}
    assert matched[("2004_3013", "phone-number")] == "(217) 555-0147"
    assert matched[("2006_3020", "links")] == "spam-link.example.invalid"
    assert matched[("2002_3008", "markup-and-scripts")] == "<script"
    flags = seen_flags(captured.archive)
    assert {f.audience for f in flags} == {"visitors"} and {f.origin for f in flags} == {
        "capture"}
    # The FTC's site (a .gov link) and the department's own posts are not flagged.
    assert "2006_3022" not in rules_by_item(captured.archive)
    with captured.archive.sessions() as s:
        [event] = s.scalars(select(AuditEvent).where(AuditEvent.action == "review.flagged"))
    assert '"flags": 4' in event.details_json and '"rules": "go-80-11"' in event.details_json


def test_each_version_is_flagged_once_and_a_status_change_is_not_flagged_again(
        captured: Captured) -> None:  # noqa: F811
    archive = captured.archive
    flag_stored_items(archive)
    again = flag_stored_items(archive)
    assert (again.checked, again.flagged) == (0, 0)
    # The second state hides the comment with the phone number and adds one: only the new
    # comment's words are new.
    captured.server.apply_second_state()
    result = capture_account(archive, captured.account, {TOKEN_ENV: captured.server.token},
                             sleep=lambda _s: None)
    assert result.status == "succeeded"
    later = flag_unchecked(archive)  # capture checked the new and changed versions already
    assert (later.checked, later.flagged) == (0, 0)
    with archive.sessions() as s:
        assert s.scalar(select(func.count()).select_from(ReviewFlag)) == 4


def test_a_later_comment_is_flagged_as_capture_stores_it(captured: Captured) -> None:  # noqa: F811
    result = captured.comment_later("I know where you live, 742 Evergreen Terrace. Watch your "
                                    "back, you idiots. Mail me: moe@example.com")
    assert result.status == "succeeded"
    assert rules_by_item(captured.archive)["2001_99999"] == {
        "threats", "personal-attacks", "street-address", "email-address"}
    assert {f.origin for f in seen_flags(captured.archive) if f.external_id == "2001_99999"} \
        == {"capture"}
    assert flag_unchecked(captured.archive).flagged == 0  # the catch-up finds nothing left


def test_the_departments_own_post_is_checked_for_statements_about_guilt(
        captured: Captured) -> None:  # noqa: F811
    server = captured.server
    page = Author(server.dataset.page_id, server.dataset.page_name)
    post = Post(id=f"{server.dataset.page_id}_2099", author=page,
                message="ARREST: John Smith, 34, was arrested and charged with burglary. He "
                        "confessed and will be convicted.",
                created_time=datetime(2024, 6, 2, tzinfo=UTC).strftime(GRAPH_TIME),
                permalink_url="https://www.facebook.com/104882335720091/posts/2099")
    server.set_dataset(replace(server.dataset, posts=(*server.dataset.posts, post)))
    captured.comment_later("Everyone knows John Smith is guilty.")
    assert capture_account(captured.archive, captured.account, {TOKEN_ENV: server.token},
                           sleep=lambda _s: None).status == "succeeded"
    flag_stored_items(captured.archive)
    flags = {f.external_id: f for f in seen_flags(captured.archive)}
    own = flags[post.id]
    assert (own.rule, own.category, own.audience, own.matched) == (
        "guilt-and-pending-cases", "own_post", "department", "arrested")
    # A visitor saying so is not the department's statement: the rule is not run on it.
    assert "2001_99999" not in flags


def test_a_webhook_comment_is_flagged_at_once(captured: Captured) -> None:  # noqa: F811
    archive = captured.archive
    flag_stored_items(archive)
    app = WebhookApp(archive, WebhookSecrets(VERIFY, SECRET), {TOKEN_ENV: captured.server.token},
                     lock_wait=0.0, sleep=SleepRecorder())
    body = feed_body(comment("add", "2001_9001", "Call me on 913-555-0188, SSN 078-05-1120"))
    with serving(app) as url:
        answer = httpx.post(f"{url}/facebook", content=body, timeout=10,
                            headers={"Content-Type": "application/json",
                                     "X-Hub-Signature-256": sign(body)})
    assert answer.status_code == 200, answer.text
    # Flagged as the delivery was answered, not at the next catch-up.
    hook = [f for f in seen_flags(archive) if f.external_id == "2001_9001"]
    assert {(f.rule, f.matched, f.origin) for f in hook} == {
        ("phone-number", "913-555-0188", "webhook"), ("ssn", "078-05-1120", "webhook")}
    with archive.sessions() as s:
        runs = list(s.scalars(select(CaptureRun.id).where(CaptureRun.trigger == "webhook")))
    assert flag_runs(archive, runs).flagged == 0  # the same run again flags nothing twice
