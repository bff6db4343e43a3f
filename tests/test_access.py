"""People and permissions: ``archiver users``, roles, passwords, API tokens, the account limit
in the library's own reading calls."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from archiver.access.roles import Permission, Role
from archiver.access.tokens import issue_token, revoke_token, token_access
from archiver.access.users import Access, SignInOutcome, add_user, list_users, sign_in
from archiver.config import Settings
from archiver.errors import ArchiverError, NotFound
from archiver.item_detail import item_detail
from archiver.search.interface import SearchFilters
from archiver.search.items import search_items
from archiver.store.archive import Archive
from archiver.store.limits import AccountLimit
from tests.support.retention import Captured, captured  # noqa: F401 - fixture
from tests.test_cli import archiver, assert_one_line_error

PASSWORD = "a long enough password"


def test_roles_build_on_each_other() -> None:
    assert Role.ADMIN.at_least(Role.VIEWER) and not Role.VIEWER.at_least(Role.CUSTODIAN)
    assert [r.value for r in sorted(Role, key=lambda r: r.rank)] == [
        "viewer", "custodian", "legal", "records_manager", "admin"]
    legal = Access(1, "l", Role.LEGAL, AccountLimit())
    assert [p for p in Permission if legal.can(p)] == [
        Permission.READ, Permission.REQUESTS, Permission.HOLDS]


def test_users_add_prints_a_password_once_and_keeps_only_its_hash(
        archive: Archive, settings_env: dict[str, str]) -> None:
    done = archiver(settings_env, "users", "add", "chief", "--role", "admin", "--json")
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)["password"]
    assert len(shown) >= 20
    piped = subprocess.run([sys.executable, "-m", "archiver.cli", "users", "add", "clerk",
                            "--role", "records-manager", "--password-stdin"],
                           input=PASSWORD + "\n", env={**settings_env, "PATH": "/usr/bin"},
                           capture_output=True, text=True, timeout=120)
    assert piped.returncode == 0, piped.stderr
    assert "shown once" not in piped.stdout and PASSWORD not in piped.stdout
    listed = archiver(settings_env, "users", "list", "--json")
    rows = {r["name"]: r for r in json.loads(listed.stdout)}
    assert rows["clerk"]["role"] == "records_manager" and rows["chief"]["accounts"] == "all"
    assert shown not in listed.stdout
    assert sign_in(archive, "chief", shown).outcome is SignInOutcome.SIGNED_IN
    assert sign_in(archive, "clerk", PASSWORD).outcome is SignInOutcome.SIGNED_IN
    assert_one_line_error(archiver(settings_env, "users", "add", "x", "--role", "boss"),
                          "unknown role 'boss'")
    assert_one_line_error(archiver(settings_env, "users", "add", "chief", "--role", "viewer"),
                          "already exists")
    assert_one_line_error(archiver(settings_env, "users", "add", "y", "--role", "viewer",
                                   "--account", "99"), "no account with id 99")


def test_a_short_password_or_a_strange_name_is_refused(archive: Archive) -> None:
    with pytest.raises(ArchiverError, match="too short"):
        add_user(archive, "short", Role.VIEWER, password="abc", actor="test")
    with pytest.raises(ArchiverError, match="not allowed"):
        add_user(archive, "name with\nnewline", Role.VIEWER, password=PASSWORD, actor="test")
    assert list_users(archive) == []


def test_api_tokens_are_kept_hashed_and_can_be_revoked(archive: Archive,
                                                       settings: Settings) -> None:
    add_user(archive, "script", Role.VIEWER, password=PASSWORD, actor="test")
    issued = issue_token(archive, "script", "nightly report", actor="test")
    found = token_access(archive, issued.token)
    assert found is not None and found.name == "script"
    with archive.engine.connect() as conn:
        dumped = "\n".join(str(r) for r in conn.exec_driver_sql("SELECT * FROM api_tokens"))
    assert issued.token not in dumped
    revoke_token(archive, issued.token_id, actor="test")
    assert token_access(archive, issued.token) is None
    assert token_access(archive, "arv_" + "x" * 43) is None


def test_the_library_honours_an_account_limit(captured: Captured) -> None:  # noqa: F811
    archive, account = captured.archive, captured.account
    elsewhere = AccountLimit.only([account.id + 1])
    assert search_items(archive, "*", SearchFilters(), within=elsewhere).total == 0
    everything = search_items(archive, "*", SearchFilters())
    assert search_items(archive, "*", SearchFilters(),
                        within=AccountLimit.only([account.id])).total == everything.total
    item = everything.results[0]["item_id"]
    with pytest.raises(NotFound, match=f"no item with id {item}"):
        item_detail(archive, item, within=elsewhere)
    with pytest.raises(NotFound, match=f"no account with id {account.id}"):
        search_items(archive, "*", SearchFilters(account_id=account.id), within=elsewhere)


def test_facet_counts_in_one_pass_match_one_search_per_value(captured: Captured  # noqa: F811
                                                             ) -> None:
    from archiver.search.interface import SearchIndex
    from archiver.search.items import facet_counts

    archive = captured.archive
    values = {"status": ["active", "hidden", "removed"], "kind": ["post", "comment", "reply"],
              "platform": ["facebook", "x"], "account_id": [captured.account.id, 999]}
    for query, filters in (("*", SearchFilters()), ("closure OR road", SearchFilters()),
                           ("*", SearchFilters(status="active", kind="comment")),
                           ("police", SearchFilters(account_ids=frozenset({999})))):
        fast = archive.index.facet_counts(query, filters, values)
        assert fast == SearchIndex.facet_counts(archive.index, query, filters, values)
    counted = facet_counts(archive, "*", SearchFilters())
    assert sum(counted["status"].values()) == search_items(archive, "*", SearchFilters()).total
