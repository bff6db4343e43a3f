"""The command line as a user meets it: real subprocesses, the contract's JSON, one-line errors."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

import archiver as archiver_package
from archiver.capture.account import capture_account
from archiver.config import load_settings
from archiver.connectors import PLATFORMS
from archiver.exports.business_days import HolidayCalendar, calendar_from_env
from archiver.exports.requests import add_request, close_request, due_date
from archiver.initialise import initialise
from archiver.retention.holds import HoldSpec, create_hold, release_hold
from archiver.search.interface import SearchFilters
from archiver.search.items import search_items
from archiver.standins.dataset import Author, Comment, load_sample
from archiver.standins.feed_server import FeedServer
from archiver.standins.graph_server import GraphServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive, open_archive
from archiver.terminal import visible
from tests.support.cli import archiver, assert_one_line_error

TOKEN_ENV = "ARCHIVER_TOKEN_CLI_TEST"


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


# -- hostile text on a terminal ----------------------------------------------------------------

HOSTILE = ("zanzibar \x1b[2J\x1b]0;pwned\x07 \x9b31m \u202eevil\u202c \rnothing here\x7f\n"
           "second line")
# What a terminal acts on: C0 (tab and newline aside), DEL, C1, bidirectional controls.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                         "\u2066-\u2069]")


def run_raw(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Like :func:`archiver`, reading the bytes as written (no newline translation)."""
    done = subprocess.run([sys.executable, "-m", "archiver.cli", *args],
                          env={**os.environ, **env}, capture_output=True, timeout=120)
    return done.returncode, done.stdout.decode("utf-8"), done.stderr.decode("utf-8")


def assert_shown_visibly(out: str) -> None:
    assert not RAW_CONTROL.search(out), repr(out)
    for escape in ("\\x1b[2J", "\\x1b]0;pwned\\x07", "\\x9b31m", "\\u202eevil\\u202c",
                   "\\rnothing here\\x7f"):
        assert escape in out, (escape, out)


def test_stored_text_reaches_the_terminal_as_visible_escapes(tmp_path: Path) -> None:
    # Printing does not depend on the database: SQLite only, and the archive is filled through
    # the library, so that only the commands under test run as (slow) subprocesses.
    env = {"ARCHIVER_HOME": str(tmp_path / "home")}
    settings = load_settings(env)
    initialise(settings)
    sample = load_sample()
    post = sample.posts[0]
    hostile = Comment(id=f"{post.id.split('_')[-1]}_99999", post_id=post.id, message=HOSTILE,
                      created_time=post.created_time,
                      author=Author(id="777", name="Mallory \x1b[2J\x1b]0;pwned\x07"))
    archive = open_archive(settings)
    try:
        with GraphServer(replace(sample, comments=(*sample.comments, hostile))) as srv:
            account = add_account(archive, AccountSpec(
                platform="facebook", external_id=srv.dataset.page_id,
                handle="spd \x1b]0;pwned\x07", api_base=srv.base_url, token_env=TOKEN_ENV),
                actor="test")
            result = capture_account(archive, account, {TOKEN_ENV: srv.token},
                                     sleep=lambda _s: None)
            assert result.status == "succeeded", result.error
        create_hold(archive, HoldSpec(name="h1", matter=HOSTILE, query="zanzibar",
                                      created_by="\u202eR. Manager"))
        add_request(archive, "K-1", received_on=date(2024, 5, 6), calendar=HolidayCalendar(),
                    actor="test", requester=HOSTILE)
        found = search_items(archive, "zanzibar", SearchFilters())
    finally:
        archive.close()
    assert found.total == 1 and found.results[0]["text"] == HOSTILE
    item_id = str(found.results[0]["item_id"])

    code, out, _ = run_raw(env, "search", "zanzibar")
    assert code == 0
    assert_shown_visibly(out)
    assert "Mallory \\x1b[2J" in out and len(out.splitlines()) == 3  # count, header, one row

    code, out, _ = run_raw(env, "items", "show", item_id)
    assert code == 0
    assert_shown_visibly(out)
    assert "\nsecond line\n" in out  # a comment's own lines stay lines

    code, out, _ = run_raw(env, "accounts", "list")
    assert code == 0 and "spd \\x1b]0;pwned\\x07" in out and not RAW_CONTROL.search(out)

    for args in (("hold", "show", "h1"), ("hold", "list"), ("requests", "list")):
        code, out, _ = run_raw(env, *args)
        assert code == 0
        assert_shown_visibly(out)
        assert "second line" not in out.splitlines()  # a value's lines do not make rows

    # Errors that repeat what was typed: ours, and click's (here: a folder given for a file).
    taken = tmp_path / (HOSTILE.split("\n")[0] + ".zip")
    taken.write_bytes(b"")
    code, _, err = run_raw(env, "export", "open-records", "--request-id", "K-1", "--item",
                           item_id, "--out", str(taken), "--no-pdf")
    assert code == 1 and len(err.splitlines()) == 1 and "already exists" in err, err
    assert_shown_visibly(err)
    folder = tmp_path / HOSTILE.split("\n")[0]
    folder.mkdir()
    code, _, err = run_raw(env, "export", "open-records", "--request-id", "K-1", "--item",
                           item_id, "--out", str(folder))
    assert code == 2 and "is a directory" in err, err
    assert_shown_visibly(err)


def test_visible_escapes_every_character_a_terminal_acts_on() -> None:
    text = "a\tb\nc\rd\x00\x1b[2J\x7f\x85\x9b\u200e\u202e\u2028\u2066\ud83d é 👍\u200d"
    shown = visible(text)
    assert shown == ("a\\tb\\nc\\rd\\x00\\x1b[2J\\x7f\\x85\\x9b\\u200e\\u202e\\u2028\\u2066"
                     "\\ud83d é 👍\u200d")  # letters, emoji and joiners are left alone
    assert visible(text, multiline=True).startswith("a\tb\nc\\rd")
    shown.encode("utf-8")  # a lone surrogate no longer fails the print


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


def _run_with_stderr_on_a_terminal(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal (stdout a pipe); (exit status, stderr,
    stdout)."""
    master, slave = pty.openpty()
    # A new pseudo-terminal is 0 columns wide, and a bar fits itself into none.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 160, 0, 0))
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
    stdout, _ = proc.communicate(timeout=120)
    reader.join(timeout=10)
    os.close(master)
    return proc.returncode, b"".join(chunks).decode(errors="replace"), stdout.decode()


def test_retries_are_said_on_a_terminal(settings_env: dict[str, str]) -> None:
    with FeedServer() as feed:
        assert archiver(settings_env, "init").returncode == 0
        assert archiver(settings_env, "accounts", "add", "feed", feed.rss_url,
                        "--handle", "news").returncode == 0
        feed.fail_status(500, times=2)
        status, stderr, _ = _run_with_stderr_on_a_terminal(settings_env, "capture")
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


# -- shell completion -----------------------------------------------------------------------------

def complete(env: dict[str, str], words: str) -> subprocess.CompletedProcess[str]:
    """What bash asks for when TAB is pressed after ``words`` (click 8's bash_complete
    protocol: COMP_WORDS is the line, COMP_CWORD the index of the word being completed)."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    return archiver({**env, "_ARCHIVER_COMPLETE": "bash_complete", "COMP_WORDS": words,
                     "COMP_CWORD": str(cword)})


def candidates(env: dict[str, str], words: str) -> list[str]:
    done = complete(env, words)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    return [line.split(",", 1)[1] for line in done.stdout.splitlines() if line]


def test_completion_offers_commands_options_and_choices(tmp_path: Path) -> None:
    env = {"ARCHIVER_HOME": str(tmp_path / "no-archive")}
    assert candidates(env, "archiver hold ") == ["create", "list", "release", "show"]
    assert candidates(env, "archiver re") == ["reports", "requests", "retention", "review"]
    assert candidates(env, "archiver search x --status ") == ["active", "hidden", "removed"]
    assert candidates(env, "archiver accounts add ") == list(PLATFORMS)
    assert candidates(env, "archiver accounts add y") == ["youtube"]
    assert "--request-id" in candidates(env, "archiver export open-records --")
    # Names that come from the archive: without one, nothing, without a word, and nothing made.
    assert candidates(env, "archiver hold show ") == []
    assert candidates(env, "archiver requests close ") == []
    assert not (tmp_path / "no-archive").exists()


def test_completion_offers_names_from_the_archive(archive: Archive,
                                                  settings_env: dict[str, str]) -> None:
    account = add_account(archive, AccountSpec(platform="feed", external_id="https://x.test/f",
                                               handle="news"), actor="t")
    for name in ("smith-v-city", "old-matter"):
        create_hold(archive, HoldSpec(name=name, matter="m", created_by="t", everything=True))
    release_hold(archive, "old-matter", released_by="t", reason="settled")
    for request_id in ("KORA-7", "KORA-8"):
        add_request(archive, request_id, received_on=date(2024, 5, 6),
                    calendar=HolidayCalendar(), actor="t")
    close_request(archive, "KORA-8", actor="t")
    assert candidates(settings_env, "archiver hold show ") == ["old-matter", "smith-v-city"]
    assert candidates(settings_env, "archiver hold release ") == ["smith-v-city"]
    assert candidates(settings_env, "archiver requests close ") == ["KORA-7"]
    assert candidates(settings_env, "archiver capture --account ") == [str(account.id)]


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_for_each_shell(tmp_path: Path, shell: str) -> None:
    done = archiver({"ARCHIVER_HOME": str(tmp_path), "_ARCHIVER_COMPLETE": f"{shell}_source"})
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert "_ARCHIVER_COMPLETE" in done.stdout and f"{shell}_complete" in done.stdout


def _drawn(stderr: str) -> list[str]:
    """What a bar drew on the terminal, one line per redraw (ANSI controls left out)."""
    plain = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", stderr)
    return [line.strip() for line in plain.replace("\r", "\n").splitlines() if line.strip()]


def test_capture_bar_names_every_phase_with_its_total(tmp_path: Path) -> None:
    env = {"ARCHIVER_HOME": str(tmp_path / "home")}  # the display is the same on any database
    settings = load_settings(env)
    initialise(settings)
    with GraphServer(load_sample()) as srv:
        archive = open_archive(settings)
        try:
            add_account(archive, AccountSpec(platform="facebook", external_id=srv.dataset.page_id,
                                             handle="spd", api_base=srv.base_url,
                                             token_env=TOKEN_ENV), actor="test")
        finally:
            archive.close()
        run_env = {**env, TOKEN_ENV: srv.token}
        status, stderr, _ = _run_with_stderr_on_a_terminal(run_env, "capture")
        assert status == 0, stderr
        drawn = _drawn(stderr)
        labels = [line.removeprefix("facebook:spd: ").split(":")[0] for line in drawn
                  if line.startswith("facebook:spd: ")]
        # The first time each phase is drawn, in order; the index commit is named before it runs.
        assert list(dict.fromkeys(labels)) == ["storing", "indexing", "downloading media"], drawn
        assert any(re.match(r"facebook:spd: indexing: +0%.* 0/49 ", line) for line in drawn), \
            drawn
        media = [line for line in drawn if "downloading media" in line]
        assert re.search(r"100%.* (\d+)/\1 \[.* files/s\]", media[-1]), media

        srv.apply_second_state()  # a comment deleted: its removal is looked up
        status, stderr, _ = _run_with_stderr_on_a_terminal(run_env, "capture")
        assert status == 0, stderr
        checks = [line for line in _drawn(stderr) if "checking removals" in line]
        assert checks and re.search(r"100%.* (\d+)/\1 ", checks[-1]), _drawn(stderr)

        # --json on a terminal and any run into a pipe (cron): no bar, nothing but the result.
        status, stderr, stdout = _run_with_stderr_on_a_terminal(run_env, "capture", "--json")
        assert status == 0 and _drawn(stderr) == [], stderr
        assert json.loads(stdout)["runs"][0]["status"] == "succeeded"
        piped = archiver(run_env, "capture")
        assert piped.returncode == 0 and piped.stderr == "", piped.stderr


# -- reading the output ------------------------------------------------------------------------

def _received_for(left: int, today: date, calendar: HolidayCalendar) -> date:
    """A receipt date whose request has ``left`` business days left today (negative: overdue)."""
    for back in range(30):
        received = today - timedelta(days=back)
        if calendar.business_days_between(today, due_date(received, calendar)) == left:
            return received
    raise AssertionError(f"no receipt date leaves {left} business days")


def test_text_output_has_headers_unknown_authors_and_counts_in_number(tmp_path: Path) -> None:
    # Printing does not depend on the database: SQLite only, filled through the library.
    env = {"ARCHIVER_HOME": str(tmp_path / "home")}
    settings = load_settings(env)
    initialise(settings)
    sample = load_sample()
    post = sample.posts[0]
    anonymous = Comment(id=f"{post.id.split('_')[-1]}_88888", post_id=post.id,
                        message="a quokka sighting on Elm St", created_time=post.created_time,
                        author=None)  # Graph leaves out "from" without the permission to see it
    calendar = calendar_from_env({})
    today = datetime.now(settings.tz).date()
    archive = open_archive(settings)
    try:
        with GraphServer(replace(sample, comments=(*sample.comments, anonymous))) as srv:
            account = add_account(archive, AccountSpec(
                platform="facebook", external_id=srv.dataset.page_id, handle="spd",
                api_base=srv.base_url, token_env=TOKEN_ENV), actor="test")
            first = capture_account(archive, account, {TOKEN_ENV: srv.token},
                                    sleep=lambda _s: None)
            assert first.status == "succeeded", first.error
            srv.apply_second_state()  # one new comment, one deleted
            captured = archiver({**env, TOKEN_ENV: srv.token}, "capture")
        for request_id, left in (("K-1", 1), ("K-2", -1)):
            add_request(archive, request_id, calendar=calendar, actor="test",
                        received_on=_received_for(left, today, calendar))
    finally:
        archive.close()
    assert captured.returncode == 0, captured.stderr
    assert ", 1 new item, " in captured.stdout and ", 1 removed" in captured.stdout, \
        captured.stdout

    done = archiver(env, "search", "quokka")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "1 item in 1 thread", lines
    assert lines[1].split("\t") == ["item_id", "status", "kind", "created_at", "author", "text"]
    assert len(lines) == 3 and lines[2].split("\t")[4] == "(unknown)", lines
    assert json.loads(archiver(env, "search", "quokka", "--json").stdout)[
        "results"][0]["author"] is None  # the JSON keeps null

    held = archiver(env, "hold", "create", "h1", "--matter", "M", "--query", "quokka")
    assert held.returncode == 0 and held.stdout.startswith("hold h1 created: 1 item held "), \
        held.stdout + held.stderr
    assert "\t1 item\t" in archiver(env, "hold", "list").stdout
    listed = archiver(env, "requests", "list").stdout
    assert "\tOVERDUE by 1 business day, " in listed and "\t1 business day left, " in listed, \
        listed


def test_demo_ends_with_a_command_that_runs_as_shown(tmp_path: Path) -> None:
    # The README's way: a virtualenv's console script run by its path, the virtualenv not on
    # the PATH. The script is what pip writes for a console_scripts entry point.
    bin_dir = tmp_path / "venv bin"
    bin_dir.mkdir()
    script = bin_dir / "archiver"
    script.write_text(f"#!{sys.executable}\nimport sys\nfrom archiver.cli import main\n"
                      "sys.exit(main())\n")
    script.chmod(0o755)
    source = str(Path(archiver_package.__file__).parents[1])
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    user = {**clean, "PATH": "/usr/bin:/bin", "PYTHONPATH": source}
    home = tmp_path / "it's a home"  # a space and a quote: the line must quote it
    done = subprocess.run([str(script), "demo"], cwd=tmp_path,
                          env={**user, "ARCHIVER_HOME": str(home)}, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    last = done.stdout.splitlines()[-1]
    assert last.startswith("try: "), last
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    ran = subprocess.run(["/bin/sh", "-c", last.removeprefix("try: ")], cwd=elsewhere, env=user,
                         capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, (last, ran.stderr)
    assert ran.stdout.startswith("1 item in 1 thread\n") and "\tremoved\t" in ran.stdout, \
        ran.stdout


def test_search_in_an_unknown_account_is_one_line_error(settings_env: dict[str, str]) -> None:
    assert archiver(settings_env, "init").returncode == 0
    assert_one_line_error(archiver(settings_env, "search", "*", "--account", "999"),
                          "no account with id 999")
