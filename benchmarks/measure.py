"""Running a command and measuring it: wall time and the peak RSS of its process tree."""

from __future__ import annotations

import json
import os
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


def _status_kb(pid: int, field: str, name: str = "status") -> int:
    try:
        with open(f"/proc/{pid}/{name}") as fh:
            for line in fh:
                if line.startswith(field):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _descendants(root: int) -> list[int]:
    """``root`` and every process below it (a parallel capture's workers)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, ()))
    return tree


def _peak_rss_mb(pid: int, done: threading.Event, peak: list[float]) -> None:
    """Poll until the child exits: the larger of its own VmHWM (its high-water mark, reset at
    exec) and the summed proportional set size (PSS) of it and its descendants at any poll, so a
    command that works in several processes is measured as a whole. PSS, not RSS: a forked
    helper (bagit's validation pool) shares its parent's pages, and RSS would count them twice.

    ``ru_maxrss`` from wait4 is no good here: Linux folds the forking parent's memory into it at
    exec, so a child of a large benchmark process would report the parent's size.
    """
    while not done.is_set():
        own = _status_kb(pid, "VmHWM:")
        if not own:
            return
        tree = sum(_status_kb(p, "Pss:", "smaps_rollup") for p in _descendants(pid))
        peak[0] = max(peak[0], own / 1024.0, tree / 1024.0)
        done.wait(0.05)


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
