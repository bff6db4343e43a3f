"""The command line's options as declared: every command that selects items by the search filters
takes the same options with the same choices, the choices are the archive's own words, and a
value that is not one of them is one line and a non-zero exit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest

from archiver.cli.main import cli
from archiver.connectors.records import ItemKind, ItemStatus, Platform
from tests.support.cli import archiver, assert_one_line_error

# The search filters, option -> the parameter it gives the command: the CLI contract's --account,
# --status, --since and --until, and those it was extended with.
FILTERS = {"--account": "account_id", "--platform": "platform", "--kind": "kind",
           "--status": "status", "--author": "author", "--since": "since", "--until": "until",
           "--captured-since": "captured_since", "--captured-until": "captured_until"}
# Commands that select items by a search take every filter; the scope of a hold or a request
# takes those a hold keeps.
SEARCHING = ("search", "export open-records", "export production")
SCOPING = ("hold create", "requests add", "requests scope")
SCOPE_FILTERS = ("--account", "--since", "--until")
# Options named like a filter that mean something else: capture's --account picks what to read,
# a user's --account what they may read; the review queue, page checks, notices and monthly
# reports select flags, pages, notices and reports, not items; verify's --since names a checkpoint
# file; warc export takes an account by id or handle and a capture date.
NOT_FILTERS = {("capture", "--account"), ("users add", "--account"), ("review list", "--account"),
               ("policy check", "--account"), ("notices list", "--since"),
               ("reports monthly", "--account"), ("verify", "--since"),
               ("warc export", "--account"), ("warc export", "--since")}


def commands(group: click.Group, prefix: str = "") -> Iterator[tuple[str, click.Command]]:
    """Every command under ``group`` with its path (``export production``)."""
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", command


def filters_of(path: str, command: click.Command) -> dict[str, tuple[Any, ...]]:
    """The command's search filter options, each as a user meets it: its names, the parameter
    it fills, its type and choices, its help and default."""
    found: dict[str, tuple[Any, ...]] = {}
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        for option in param.opts:
            if option in FILTERS and (path, option) not in NOT_FILTERS:
                choices = tuple(getattr(param.type, "choices", ()))
                found[option] = (tuple(param.opts), param.name, param.type.name, choices,
                                 param.help, param.default, param.multiple, param.is_flag,
                                 getattr(param.type, "case_sensitive", None))
    return found


def test_every_command_takes_the_search_filters_as_declared_once() -> None:
    every = dict(commands(cli))
    reference = filters_of("search", every["search"])
    assert {option: d[1] for option, d in reference.items()} == FILTERS
    # The choices are the vocabularies' words, in their order (the contract names the statuses).
    assert reference["--status"][3] == ("active", "hidden", "removed") == tuple(ItemStatus)
    assert reference["--kind"][3] == tuple(ItemKind)
    assert reference["--platform"][3] == tuple(Platform)
    # As the library compares them: in any case (``--platform YouTube``).
    assert [reference[o][8] for o in ("--status", "--kind", "--platform")] == [False] * 3
    assert all(d[4] for d in reference.values()), "every filter says what it does in --help"

    taking: dict[str, list[str]] = {}
    for path, command in every.items():
        found = filters_of(path, command)
        if found:
            taking[path] = list(found)
        for option, described in found.items():
            assert described == reference[option], (path, option)
    assert taking == {**{path: list(FILTERS) for path in SEARCHING},
                      **{path: list(SCOPE_FILTERS) for path in SCOPING}}


@pytest.mark.parametrize(
    ("args", "word"),
    [
        (("search", "*", "--status", "deleted"), "'deleted'"),
        (("search", "*", "--kind", "video"), "'video'"),
        (("export", "production", "--query", "*", "--platform", "myspace", "--bates-prefix", "P",
          "--out", "p.zip"), "'myspace'"),
        (("hold", "create", "h", "--matter", "m", "--account", "three"), "'three'"),
    ],
)
def test_a_value_not_offered_is_one_line_and_non_zero(
    tmp_path: Path, args: tuple[str, ...], word: str
) -> None:
    home = tmp_path / "home"
    done = archiver({"ARCHIVER_HOME": str(home)}, *args)
    assert_one_line_error(done, word)
    assert done.returncode == 2  # click's exit status for a usage error
    command = " ".join(args[:2] if args[0] in ("export", "hold") else args[:1])
    assert f"(see 'archiver {command} --help')" in done.stderr
    assert not home.exists()  # refused before anything was opened
