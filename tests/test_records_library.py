"""The library under the records pages: the account registry's capture health, the audit log's
filters and paging, the recorded ``verify`` result, user administration, disposition progress."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from archiver.access.admin import (
    change_limit,
    change_password,
    change_role,
    confirm_password,
    reset_password,
    set_active,
    unlock_user,
    user_detail,
)
from archiver.access.roles import Role
from archiver.access.tokens import issue_token, list_tokens, revoke_token, token_access
from archiver.access.users import (
    LockoutPolicy,
    SignInOutcome,
    add_user,
    current_access,
    sign_in,
)
from archiver.capture.account import capture_account
from archiver.capture.health import account_status, account_statuses
from archiver.dashboard import dashboard
from archiver.errors import ArchiverError, NotFound
from archiver.exports.business_days import HolidayCalendar
from archiver.retention.dispositions import (
    CertificateFormat,
    certificate_file,
    disposition_view,
    list_dispositions,
)
from archiver.retention.purge import purge
from archiver.store.archive import Archive
from archiver.store.audit_log import AuditFilter, audit_actions, audit_events
from archiver.store.limits import AccountLimit
from archiver.store.vocabulary import RunTrigger
from archiver.verify import last_verify, verify_archive
from tests.support.retention import TOKEN_ENV, Captured, captured, set_today  # noqa: F401

PASSWORD = "a long enough test password"


def test_registry_shows_approval_token_variable_and_failures_with_reasons(
        captured: Captured) -> None:  # noqa: F811
    archive, account = captured.archive, captured.account
    # The platform refuses a wrong token: the run fails and says why.
    failed = capture_account(archive, account, {TOKEN_ENV: "not-the-token"},
                             sleep=lambda _s: None)
    assert failed.status == "failed"
    [row] = account_statuses(archive, {TOKEN_ENV: "anything"})
    assert row.account_id == account.id and row.token_set and row.token_required
    assert row.account["token_env"] == TOKEN_ENV
    assert row.last_run is not None and row.last_run.status == "failed"
    assert row.last_good_at is not None
    assert row.failures_since_good == 1
    assert row.failures[0].error and "access refused" in row.failures[0].error
    assert row.token_problem and "refused the token" in row.token_problem
    assert not row.approved
    # Without the variable in the environment: said, and the value never appears anywhere.
    data = account_statuses(archive, {})[0].as_json()
    assert data["token_set"] is False and "not-the-token" not in str(data)
    # A good run again clears the failures.
    capture_account(archive, account, {TOKEN_ENV: captured.server.token}, sleep=lambda _s: None)
    again = account_status(archive, account.id, {})
    assert again.failures_since_good == 0 and again.failures == [] and not again.token_problem


def test_a_good_sweep_does_not_hide_a_failed_full_capture(
        captured: Captured) -> None:  # noqa: F811
    """A sweep or a webhook reads only part of an account: the desk counts failures since the
    last good *full* capture, as the stale-capture notice does."""
    archive, account = captured.archive, captured.account
    good_full = account_status(archive, account.id, {}).last_good_at
    failed = capture_account(archive, account, {TOKEN_ENV: "not-the-token"},
                             trigger=RunTrigger.NIGHTLY, sleep=lambda _s: None)
    assert failed.status == "failed"
    sweep = capture_account(archive, account, {TOKEN_ENV: captured.server.token},
                            trigger=RunTrigger.SWEEP, scopes=[], sleep=lambda _s: None)
    assert sweep.status == "succeeded"
    row = account_status(archive, account.id, {})
    assert row.failures_since_good == 1
    assert row.last_good_at == good_full
    assert row.last_run is not None and row.last_run.trigger == "sweep"


def test_dashboard_health_is_the_registrys(captured: Captured) -> None:  # noqa: F811
    archive, account = captured.archive, captured.account
    capture_account(archive, account, {TOKEN_ENV: "not-the-token"}, sleep=lambda _s: None)
    environ = {TOKEN_ENV: "anything"}
    [row] = dashboard(archive, HolidayCalendar(), environ=environ).accounts
    assert row == account_statuses(archive, environ)[0]
    assert row.token_problem and "refused the token" in row.token_problem
    outside = AccountLimit.only([account.id + 1])
    assert dashboard(archive, HolidayCalendar(), environ=environ, within=outside).accounts == []


def test_registry_honours_the_account_limit(captured: Captured) -> None:  # noqa: F811
    archive, account = captured.archive, captured.account
    assert account_statuses(archive, {}, within=AccountLimit.only([])) == []
    with pytest.raises(NotFound):
        account_status(archive, account.id, {}, within=AccountLimit.only([account.id + 1]))
    assert account_status(archive, account.id, {},
                          within=AccountLimit.only([account.id])).account_id == account.id


def test_audit_log_filters_by_action_family_actor_target_and_time_and_pages(
        archive: Archive) -> None:
    moments = [datetime(2024, 5, d, 12, tzinfo=UTC) for d in (1, 2, 3)]
    for i, moment in enumerate(moments):
        archive.clock = lambda m=moment: m
        add_user(archive, f"user{i}", Role.VIEWER, password=PASSWORD, actor=f"admin{i % 2}")
    everything = audit_events(archive)
    assert everything.total >= 3
    assert [e.event_id for e in everything.entries] == sorted(
        (e.event_id for e in everything.entries), reverse=True)
    users = audit_events(archive, AuditFilter(action="user"))
    assert users.total == 3 and {e.action for e in users.entries} == {"user.add"}
    assert audit_events(archive, AuditFilter(action="use")).total == 0  # families, not prefixes
    assert audit_events(archive, AuditFilter(actor="admin1")).total == 1
    assert audit_events(archive, AuditFilter(target_type="user", target_id="user2")).total == 1
    day2 = audit_events(archive, AuditFilter(action="user.add", since=moments[1],
                                             until=moments[1] + timedelta(hours=1)))
    assert [e.target_id for e in day2.entries] == ["user1"]
    page = audit_events(archive, AuditFilter(action="user"), limit=2, offset=2)
    assert page.total == 3 and [e.target_id for e in page.entries] == ["user0"]
    assert {"user", "user.add"} <= set(audit_actions(archive))
    # A LIKE wildcard in the filter is only a character.
    assert audit_events(archive, AuditFilter(action="user_")).total == 0


def test_every_verify_run_is_recorded_and_the_last_one_is_shown(captured: Captured) -> None:  # noqa: F811
    archive = captured.archive
    assert last_verify(archive) is None
    report = verify_archive(archive, actor="records-manager")
    found = last_verify(archive)
    assert found is not None and found.ok and found.problems == 0
    assert found.actor == "records-manager"
    assert found.summary["versions"] == report.versions and found.summary["blobs"] > 0


def test_user_administration_is_audited_and_takes_effect(archive: Archive) -> None:
    policy = LockoutPolicy(max_failures=2, lock_for=timedelta(minutes=5))
    admin = add_user(archive, "admin", Role.ADMIN, password=PASSWORD, actor="test")
    user = add_user(archive, "clerk", Role.LEGAL, password=PASSWORD, actor="admin")
    change_role(archive, "clerk", Role.VIEWER, actor="admin")
    change_limit(archive, "clerk", [], actor="admin")
    access = current_access(archive, user.id)
    assert access is not None and access.role is Role.VIEWER
    assert access.limit == AccountLimit.only([])
    # The last admin can be neither demoted nor disabled.
    with pytest.raises(ArchiverError, match="last active admin"):
        change_role(archive, "admin", Role.VIEWER, actor="admin")
    with pytest.raises(ArchiverError, match="last active admin"):
        set_active(archive, "admin", False, actor="admin")
    set_active(archive, "clerk", False, actor="admin")
    assert current_access(archive, user.id) is None
    set_active(archive, "clerk", True, actor="admin")
    # Locked out by wrong passwords; an admin ends the lock early.
    for _ in range(2):
        sign_in(archive, "clerk", "wrong password here", policy=policy)
    assert sign_in(archive, "clerk", PASSWORD, policy=policy).outcome is SignInOutcome.LOCKED
    unlock_user(archive, "clerk", actor="admin")
    assert sign_in(archive, "clerk", PASSWORD, policy=policy).outcome is SignInOutcome.SIGNED_IN
    fresh = reset_password(archive, "clerk", actor="admin")
    assert fresh != PASSWORD
    assert sign_in(archive, "clerk", PASSWORD).outcome is SignInOutcome.REFUSED
    assert sign_in(archive, "clerk", fresh).outcome is SignInOutcome.SIGNED_IN
    detail = user_detail(archive, "clerk")
    assert detail["role"] == "viewer" and detail["accounts"] == [] and "password_hash" not in detail
    actions = [e.action for e in audit_events(archive, AuditFilter(target_id="clerk"),
                                              limit=100).entries]
    for action in ("user.role", "user.limit", "user.disable", "user.enable", "user.unlock",
                   "user.password_reset"):
        assert action in actions
    assert admin.id != user.id


def test_own_password_change_needs_the_current_one_and_counts_wrong_ones(
        archive: Archive) -> None:
    policy = LockoutPolicy(max_failures=2, lock_for=timedelta(minutes=5))
    user = add_user(archive, "clerk", Role.CUSTODIAN, password=PASSWORD, actor="test")
    access = current_access(archive, user.id)
    assert access is not None
    with pytest.raises(ArchiverError, match="too short"):
        change_password(archive, access, PASSWORD, "short", policy=policy)
    with pytest.raises(ArchiverError, match="current password is wrong"):
        change_password(archive, access, "not my password", "a brand new password", policy=policy)
    assert confirm_password(archive, access, PASSWORD, purpose="test", policy=policy)
    # The second wrong password in a row locks the user.
    assert not confirm_password(archive, access, "still not it", purpose="test", policy=policy)
    assert current_access(archive, user.id) is None
    unlock_user(archive, "clerk", actor="admin")
    change_password(archive, access, PASSWORD, "a brand new password", policy=policy)
    assert sign_in(archive, "clerk", "a brand new password").outcome is SignInOutcome.SIGNED_IN
    refused = audit_events(archive, AuditFilter(action="user.password_refused"))
    assert refused.total == 2


def test_tokens_are_listed_without_their_value_and_revoked_only_by_their_owner(
        archive: Archive) -> None:
    add_user(archive, "clerk", Role.VIEWER, password=PASSWORD, actor="test")
    add_user(archive, "other", Role.VIEWER, password=PASSWORD, actor="test")
    issued = issue_token(archive, "clerk", "report script", actor="clerk")
    [row] = list_tokens(archive, "clerk")
    assert row["label"] == "report script" and row["active"]
    assert issued.token not in str(row)
    with pytest.raises(NotFound):
        revoke_token(archive, issued.token_id, actor="other", user_name="other")
    assert token_access(archive, issued.token) is not None
    revoke_token(archive, issued.token_id, actor="clerk", user_name="clerk")
    assert token_access(archive, issued.token) is None
    assert not list_tokens(archive, "clerk")[0]["active"]


def test_disposition_progress_and_certificate_from_the_store(captured: Captured) -> None:  # noqa: F811
    archive = captured.archive
    set_today(archive, date(2025, 7, 1))  # posts (1 year) and comments (30 days) are due
    assert list_dispositions(archive) == []
    result = purge(archive, date(2025, 7, 1), approved_by="records-manager")
    [view] = list_dispositions(archive)
    assert view.disposition_id == result.disposition_id
    assert view.status == "completed" and view.stage == "completed" and view.percent == 100
    assert view.destroyed == result.destroyed > 0 and view.pending == 0
    assert disposition_view(archive, view.disposition_id) == view
    pdf = certificate_file(archive, view.disposition_id, CertificateFormat.PDF)
    assert pdf.data.startswith(b"%PDF") and pdf.media_type == "application/pdf"
    cert = certificate_file(archive, view.disposition_id, CertificateFormat.JSON)
    assert cert.sha256 == result.certificate_sha256
    assert cert.file_name == f"disposition-{view.disposition_id}-certificate.json"
    with pytest.raises(NotFound):
        certificate_file(archive, view.disposition_id + 1, CertificateFormat.JSON)
