"""The command line as a user meets it: real subprocesses, the contract's JSON, one-line errors."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from archiver.sample.dataset import load_sample
from archiver.sample.feed_server import FeedServer
from archiver.sample.graph_server import GraphServer
from connectors import PLATFORMS

TOKEN_ENV = "ARCHIVER_TOKEN_CLI_TEST"


def archiver(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {**os.environ, **env}
    return subprocess.run([sys.executable, "-m", "archiver.cli", *args], env=full,
                          capture_output=True, text=True, timeout=120)


def assert_one_line_error(done: subprocess.CompletedProcess[str], needle: str) -> None:
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error:") and needle in lines[0], lines[0]
    assert "Traceback" not in done.stderr


@pytest.fixture
def server() -> Iterator[GraphServer]:
    with GraphServer(load_sample()) as srv:
        yield srv


@pytest.fixture
def ready(settings_env: dict[str, str], server: GraphServer) -> dict[str, str]:
    """An initialised archive with the sample page registered and captured once."""
    assert archiver(settings_env, "init").returncode == 0
    added = archiver(settings_env, "accounts", "add", "facebook", server.dataset.page_id,
                     "--handle", "springfieldpd", "--api-base", server.base_url,
                     "--token-env", TOKEN_ENV, "--approved-by", "Chief", "--approved-on",
                     "2024-01-15", "--admin-unit", "Professional Standards Unit")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "1"
    env = {**settings_env, TOKEN_ENV: server.token}
    done = archiver(env, "capture", "--json")
    assert done.returncode == 0, done.stderr
    return env


def test_capture_json_and_search_json_follow_the_contract(
    ready: dict[str, str], server: GraphServer
) -> None:
    server.apply_second_state()
    done = archiver(ready, "capture", "--json")
    assert done.returncode == 0, done.stderr
    run = json.loads(done.stdout)["runs"][0]
    for key in ("account_id", "status", "new_items", "new_versions", "removed"):
        assert key in run
    assert run["removed"] == 1 and run["status"] == "succeeded"

    found = json.loads(archiver(ready, "search", "*", "--status", "removed", "--json").stdout)
    assert found["total"] == 1
    row = found["results"][0]
    for key in ("item_id", "account_id", "platform", "external_id", "kind", "status", "author",
                "created_at", "text", "url", "version_count", "parent_id"):
        assert key in row
    assert row["status"] == "removed" and row["version_count"] == 2

    shown = json.loads(archiver(ready, "items", "show", str(row["item_id"]), "--json").stdout)
    assert [v["seq"] for v in shown["versions"]] == [1, 2]
    for key in ("seq", "captured_at", "status", "text", "sha256"):
        assert key in shown["versions"][0]

    accounts = json.loads(archiver(ready, "accounts", "list", "--json").stdout)
    assert accounts[0]["token_env"] == TOKEN_ENV and accounts[0]["approved_by"] == "Chief"
    assert server.token not in json.dumps(accounts)

    verified = archiver(ready, "verify", "--json")
    assert verified.returncode == 0 and json.loads(verified.stdout)["ok"] is True


def test_rebuilt_index_finds_the_same(ready: dict[str, str]) -> None:
    before = json.loads(archiver(ready, "search", "road", "--json").stdout)
    assert archiver(ready, "index", "rebuild").returncode == 0
    after = json.loads(archiver(ready, "search", "road", "--json").stdout)
    assert before == after and before["total"] >= 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("items", "show", "99999"), "no item with id 99999"),
        (("capture", "--account", "42"), "no account with id 42"),
        (("search", "(unbalanced"), ""),
        (("search", "*", "--since", "yesterday"), "--since"),
        (("accounts", "add", "myspace", "1", "--handle", "x"), "unknown platform"),
        (("accounts", "add", "facebook", "1", "--handle", "x", "--token-env", "bad name"),
         "--token-env"),
    ],
)
def test_bad_input_is_one_line_and_non_zero(
    ready: dict[str, str], args: tuple[str, ...], needle: str
) -> None:
    assert_one_line_error(archiver(ready, *args), needle)


def test_duplicate_account_is_refused(ready: dict[str, str], server: GraphServer) -> None:
    done = archiver(ready, "accounts", "add", "facebook", server.dataset.page_id, "--handle", "x")
    assert_one_line_error(done, "already registered")


def test_capture_with_unset_token_names_variable_and_account(
    ready: dict[str, str], server: GraphServer
) -> None:
    env = {k: v for k, v in ready.items() if k != TOKEN_ENV}
    done = subprocess.run(
        [sys.executable, "-m", "archiver.cli", "capture"],
        env={k: v for k, v in {**os.environ, **env}.items() if k != TOKEN_ENV},
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 1
    assert TOKEN_ENV in done.stderr and "springfieldpd" in done.stderr


def test_uninitialised_database_is_a_clear_error(settings_env: dict[str, str]) -> None:
    assert_one_line_error(archiver(settings_env, "accounts", "list"), "archiver init")


def test_unreachable_postgresql_names_the_setting(settings_env: dict[str, str]) -> None:
    env = {**settings_env, "ARCHIVER_DB_URL": "postgresql://nobody@127.0.0.1:9/none"}
    assert_one_line_error(archiver(env, "init"), "ARCHIVER_DB_URL")


def test_accounts_add_help_says_what_external_id_is() -> None:
    done = archiver({}, "accounts", "add", "--help")
    assert done.returncode == 0, done.stderr
    rows = [line.split() for line in done.stdout.splitlines()]
    for platform in PLATFORMS:
        assert sum(1 for row in rows if row[:1] == [platform]) == 2, platform  # id, credential
    assert "api.php" in done.stdout and "channel id" in done.stdout.lower()


def test_public_feed_runs_without_credentials_and_reports_what_left_it(
    settings_env: dict[str, str]
) -> None:
    with FeedServer() as feed:
        start = feed.redirect("/old/news.rss", "/feeds/news.rss", 301)
        assert archiver(settings_env, "init").returncode == 0
        for args in (("feed", start, "--handle", "news"),
                     ("facebook", "1234", "--handle", "page", "--token-env", TOKEN_ENV)):
            added = archiver(settings_env, "accounts", "add", *args)
            assert added.returncode == 0, added.stderr
        env = {k: v for k, v in settings_env.items() if k != TOKEN_ENV}
        listed = archiver(env, "accounts", "list").stdout.splitlines()
        assert "credentials: none (public)" in listed[0]
        assert f"credentials: ${TOKEN_ENV} (not set)" in listed[1]
        rows = json.loads(archiver({**env, TOKEN_ENV: "t"}, "accounts", "list", "--json").stdout)
        assert [r["credentials"] for r in rows] == ["none (public)", f"${TOKEN_ENV}"]

        done = archiver(env, "capture", "--account", "1")
        assert done.returncode == 0, done.stderr
        assert {how for _, how in feed.requests} == {"none"}
        assert f"redirects to {feed.rss_url} (HTTP 301)" in done.stdout
        feed.apply_second_state()
        done = archiver(env, "capture", "--account", "1")
        assert done.returncode == 0, done.stderr
        assert "1 entry no longer in the feed (a feed cannot prove removal)" in done.stdout
        run = json.loads(archiver(env, "capture", "--account", "1", "--json").stdout)["runs"][0]
        assert run["no_longer_listed"] == 1 and run["removed"] == 0
        assert run["notes"] == [f"feed {start} redirects to {feed.rss_url} (HTTP 301): "
                                "consider registering the final address"]


def _run_with_stderr_on_a_terminal(env: dict[str, str], *args: str) -> tuple[int, str]:
    """Run the CLI with stderr on a pseudo-terminal (stdout a pipe); (exit status, stderr)."""
    master, slave = pty.openpty()
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    proc = subprocess.Popen([sys.executable, "-m", "archiver.cli", *args],
                            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    proc.communicate(timeout=120)
    reader.join(timeout=10)
    os.close(master)
    return proc.returncode, b"".join(chunks).decode(errors="replace")


def test_retries_are_said_on_a_terminal(settings_env: dict[str, str]) -> None:
    with FeedServer() as feed:
        assert archiver(settings_env, "init").returncode == 0
        assert archiver(settings_env, "accounts", "add", "feed", feed.rss_url,
                        "--handle", "news").returncode == 0
        feed.fail_status(500, times=2)
        status, stderr = _run_with_stderr_on_a_terminal(settings_env, "capture")
        assert status == 0, stderr
        said = [line.strip() for line in stderr.replace("\r", "\n").splitlines()
                if "attempt" in line]
        assert len(said) == 2, stderr
        for n, line in enumerate(said, 1):
            assert line.startswith(f"feed: GET /feeds/news.rss: HTTP 500; attempt {n} of 6, "
                                   "retrying in "), line
        # Not a terminal (cron, a pipe): quiet.
        feed.fail_status(500, times=1)
        piped = archiver(settings_env, "capture")
        assert piped.returncode == 0 and "attempt" not in piped.stderr
