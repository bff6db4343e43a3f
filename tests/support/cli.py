"""Running the installed command line as a user does: a real subprocess, its exit and its lines."""

from __future__ import annotations

import os
import subprocess
import sys

__all__ = ["archiver", "assert_one_line_error"]


def archiver(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``archiver ARGS`` in a subprocess, with ``env`` over the current environment."""
    full = {**os.environ, **env}
    return subprocess.run([sys.executable, "-m", "archiver.cli", *args], env=full,
                          capture_output=True, text=True, timeout=120)


def assert_one_line_error(done: subprocess.CompletedProcess[str], needle: str) -> None:
    """The command failed with one ``error:`` line on stderr that contains ``needle``."""
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error:") and needle in lines[0], lines[0]
    assert "Traceback" not in done.stderr
