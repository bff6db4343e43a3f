"""benchmarks/report.py: matplotlib is an optional extra (``.[bench]``), needed only to plot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_plot_without_matplotlib_is_one_line_and_the_table_is_still_made(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    # A name set to None in sys.modules makes ``import matplotlib`` raise ImportError, as on an
    # installation without the bench extra.
    (blocker / "sitecustomize.py").write_text("import sys\nsys.modules['matplotlib'] = None\n")
    results = tmp_path / "bench-300.json"
    results.write_text(json.dumps({"items": 300, "capture_items_per_s": 1234.5}))
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "report.py"), str(results),
         "--markdown", str(tmp_path / "table.md"), "--plot", str(tmp_path / "plot.png")],
        env={"PYTHONPATH": str(blocker), "PATH": "/usr/bin:/bin"}, capture_output=True,
        text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert done.stderr == "error: --plot needs matplotlib: pip install -e '.[bench]'\n"
    assert "1,234" in (tmp_path / "table.md").read_text()
    assert not (tmp_path / "plot.png").exists()
