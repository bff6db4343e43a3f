"""The README's example account for each 2026 platform (Nextdoor, TikTok, LinkedIn) is
registered exactly as written, then captured, searched and exported through the command line,
against the platform's loopback server."""

from __future__ import annotations

import json
import re
import shlex
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import pytest

from archiver.standins.linkedin_server import LinkedInServer
from archiver.standins.nextdoor_server import NextdoorServer
from archiver.standins.tiktok_server import TikTokServer
from tests.support.cli import archiver

README = Path(__file__).resolve().parent.parent / "README.md"


class TokenServer(Protocol):
    """A loopback server that knows the token it accepts."""

    token: str
    base_url: str

    def __enter__(self) -> TokenServer: ...

    def __exit__(self, *exc: object) -> None: ...


# platform -> (its server, a word its sample comments use)
SERVERS: dict[str, tuple[Callable[[], TokenServer], str]] = {
    "tiktok": (TikTokServer, "HYPERLINK"),
    "linkedin": (LinkedInServer, "onerror"),
    "nextdoor": (NextdoorServer, "javascript"),
}


def readme_example(platform: str) -> list[str]:
    """The README's ``archiver accounts add <platform> ...`` line, as arguments."""
    for line in README.read_text(encoding="utf-8").splitlines():
        if line.startswith("archiver accounts add ") and f" {platform} " in line:
            return shlex.split(line)[1:]
    raise AssertionError(f"the README has no 'archiver accounts add' example for {platform}")


@pytest.mark.parametrize("platform", sorted(SERVERS))
def test_readme_account_is_captured_searched_and_exported(
    settings_env: dict[str, str], platform: str, tmp_path: Path
) -> None:
    make, word = SERVERS[platform]
    args = readme_example(platform)
    token_env = args[args.index("--token-env") + 1]
    assert archiver(settings_env, "init").returncode == 0
    with make() as server:
        added = archiver(settings_env, *args[:2], "--api-base", server.base_url, *args[2:])
        assert added.returncode == 0, added.stderr
        env = {**settings_env, token_env: server.token}
        done = archiver(env, "capture", "--json")
        assert done.returncode == 0, done.stderr
        (run,) = json.loads(done.stdout)["runs"]
        assert run["status"] == "succeeded" and run["new_items"] > 0
    found = archiver(env, "search", word, "--json")
    assert found.returncode == 0, found.stderr
    results = json.loads(found.stdout)["results"]
    assert results and all(r["platform"] == platform for r in results)
    asked = archiver(env, "requests", "add", "KORA-2026-1", "--received", "2026-11-02",
                     "--requester", "A. Reporter", "--query", word)
    assert asked.returncode == 0, asked.stderr
    out = tmp_path / "package.zip"
    exported = archiver(env, "export", "open-records", "--request-id", "KORA-2026-1",
                        "--query", word, "--out", str(out))
    assert exported.returncode == 0, exported.stderr
    with zipfile.ZipFile(out) as package:
        index = next(n for n in package.namelist() if n.endswith("data/index.csv"))
        rows = package.read(index).decode().splitlines()
    assert len(rows) > 1 and all(re.search(platform, r) for r in rows[1:])
