"""Running a command and measuring it: wall time and the child's own peak RSS."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_mb: float
    output: Any  # the command's --json output, parsed
    returncode: int


def _peak_rss_mb(pid: int, done: threading.Event, peak: list[float]) -> None:
    """Poll the child's VmHWM (its own high-water mark, reset at exec) until it exits.

    ``ru_maxrss`` from wait4 is no good here: Linux folds the forking parent's memory into it at
    exec, so a child of a large benchmark process would report the parent's size.
    """
    path = f"/proc/{pid}/status"
    while not done.is_set():
        try:
            with open(path) as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        peak[0] = max(peak[0], int(line.split()[1]) / 1024.0)
                        break
        except OSError:
            return
        done.wait(0.02)


def run_measured(args: list[str], env: dict[str, str]) -> Measured:
    """``archiver ARGS`` in a child process: wall time, its own peak RSS, its parsed ``--json``
    output. A failure raises with the end of its stderr."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err_fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "archiver.cli", *args], env=env,
            stdout=subprocess.PIPE, stderr=err_fh,
        )
        done = threading.Event()
        peak = [0.0]
        watcher = threading.Thread(target=_peak_rss_mb, args=(proc.pid, done, peak), daemon=True)
        watcher.start()
        out, _ = proc.communicate()
        done.set()
        watcher.join()
        seconds = time.perf_counter() - started
        err_fh.seek(0)
        err = err_fh.read()
    if proc.returncode != 0:
        raise RuntimeError(f"archiver {' '.join(args)} failed: {err.decode()[-2000:]}")
    try:
        parsed = json.loads(out) if out.strip() else None
    except json.JSONDecodeError:
        parsed = out.decode()
    return Measured(seconds, peak[0], parsed, proc.returncode)


def percentile(values: list[float], pct: float) -> float:
    """The ``pct`` percentile (nearest rank) of ``values``."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    rank = max(0, min(len(ordered) - 1, round(pct / 100.0 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def current_rss_mb() -> float:
    """This process's peak RSS so far."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
