"""What every command module shares: the --json flag, the actor, the archive, printing."""

from __future__ import annotations

import getpass
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from archiver.config import load_settings
from archiver.store.archive import Archive, open_archive
from archiver.terminal import visible

if TYPE_CHECKING:
    from tqdm import tqdm

    from archiver.capture.results import Phase
    from archiver.connectors.base import RetryNotice

JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


def actor() -> str:
    """Who is running the command, for the audit log (ARCHIVER_ACTOR or the OS user)."""
    if os.environ.get("ARCHIVER_ACTOR"):
        return os.environ["ARCHIVER_ACTOR"]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@contextmanager
def archive_from_env(require_schema: bool = True) -> Iterator[Archive]:
    archive = open_archive(load_settings(), require_schema=require_schema)
    try:
        yield archive
    finally:
        archive.close()


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def echo(text: str = "", *, err: bool = False) -> None:
    """Print text output: stored text (visitors' comments, names) cannot drive the terminal.

    Lines and tabs pass; a value that must stay on its row goes through
    :func:`archiver.terminal.visible` first.
    """
    click.echo(visible(text, multiline=True), err=err)


ProgressHooks = tuple[Callable[[int], None] | None, Callable[[], None]]


def progress_bar(enabled: bool, desc: str) -> ProgressHooks:
    """A tqdm bar on stderr when it is a terminal; else nothing (cron and --json stay quiet)."""
    if not enabled or not sys.stderr.isatty():
        return None, lambda: None
    from tqdm import tqdm

    bar = tqdm(desc=visible(desc), unit=" items", file=sys.stderr, dynamic_ncols=True)
    return bar.update, bar.close


class CaptureBar:
    """One account's capture on a tqdm bar whose label names the phase (``facebook:spd:
    indexing``). Each phase is drawn as it starts, so a step that sits still (an index commit)
    is named while it runs; it counts its own steps, out of its total when it knows one, and a
    phase that comes back (storing, between index commits) goes on from its count."""

    def __init__(self, desc: str) -> None:
        self._desc = visible(desc)
        self._bar: tqdm[None] | None = None
        self._counts: dict[str, int] = {}

    def _draw(self, label: str, total: int | None, unit: str) -> tqdm[None]:
        from tqdm import tqdm

        # A bar of its own per phase: its rate and time are the phase's. Not left on screen
        # when the next phase takes its place; the last one is.
        return tqdm(desc=label, total=total, initial=self._counts.get(label, 0),
                    unit=f" {unit}", file=sys.stderr, dynamic_ncols=True, leave=False)

    def phase(self, phase: Phase, total: int | None) -> None:
        if self._bar is not None:
            self._counts[self._bar.desc] = self._bar.n
            self._bar.close()
        self._bar = self._draw(f"{self._desc}: {phase}", total, phase.unit)

    def update(self, steps: int) -> None:
        if self._bar is None:
            self._bar = self._draw(self._desc, None, "items")
        self._bar.update(steps)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.leave = True
            self._bar.close()


def capture_bar(enabled: bool, desc: str) -> CaptureBar | None:
    """A :class:`CaptureBar` on stderr when it is a terminal; else None (cron and --json stay
    quiet)."""
    if not enabled or not sys.stderr.isatty():
        return None
    return CaptureBar(desc)


def say_retry(notice: RetryNotice) -> None:
    """Print one retry on stderr above any progress bar (module level: it travels to workers)."""
    from tqdm import tqdm

    tqdm.write(notice.line(), file=sys.stderr)


def retry_reporter() -> Callable[[RetryNotice], None] | None:
    """:func:`say_retry` when stderr is a terminal; else None (cron and pipes stay quiet)."""
    return say_retry if sys.stderr.isatty() else None


def wait_until_stopped() -> None:
    """Block until Ctrl-C or SIGTERM (systemd stops a unit with SIGTERM: it ends the same way)."""
    import signal
    import threading

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
