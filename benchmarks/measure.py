"""Running a command and measuring it: wall time and the child's own peak RSS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Measured:
    seconds: float
    peak_rss_mb: float
    output: Any  # the command's --json output, parsed
    returncode: int


def run_measured(args: list[str], env: dict[str, str]) -> Measured:
    """``archiver ARGS`` in a child process: wall time, its own peak RSS (from wait4), its
    parsed ``--json`` output. A failure raises with the end of its stderr."""
    started = time.perf_counter()
    out_r, out_w = os.pipe()
    err_path = f"/tmp/archiver-bench-{os.getpid()}.err"
    with open(err_path, "wb") as err_fh:
        proc = subprocess.Popen(
            [sys.executable, "-m", "archiver.cli", *args], env=env, stdout=out_w, stderr=err_fh,
        )
    os.close(out_w)
    chunks = []
    with os.fdopen(out_r, "rb") as reader:
        while chunk := reader.read(1 << 16):
            chunks.append(chunk)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    with open(err_path, "rb") as fh:
        err = fh.read()
    os.unlink(err_path)
    if proc.returncode != 0:
        raise RuntimeError(f"archiver {' '.join(args)} failed: {err.decode()[-2000:]}")
    out = b"".join(chunks)
    try:
        parsed = json.loads(out) if out.strip() else None
    except json.JSONDecodeError:
        parsed = out.decode()
    return Measured(seconds, usage.ru_maxrss / 1024.0, parsed, proc.returncode)


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
