"""What ``pip install .`` installs: every module and data file the code needs, not just what an
editable checkout happens to have on disk."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import archiver

ROOT = Path(archiver.__file__).parents[1]
# Files the installed package needs besides the modules: templates, styles, scripts, data.
SHIPPED = {".py", ".html", ".css", ".js", ".yaml", ".json", ".mako", ".ttf", ".icc"}


def test_the_built_package_holds_every_module_template_and_asset(tmp_path: Path) -> None:
    built = tmp_path / "lib"
    done = subprocess.run(
        [sys.executable, "-c", "import setuptools; setuptools.setup()", "-q",
         "egg_info", "--egg-base", str(tmp_path), "build_py", "--build-lib", str(built)],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    tracked = subprocess.run(["git", "ls-files", "archiver", "connectors", "migrations",
                              "retention_schedules"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    wanted = {_installed_as(Path(f)) for f in tracked if Path(f).suffix in SHIPPED}
    have = {p.relative_to(built).as_posix() for p in built.rglob("*") if p.is_file()}
    missing = sorted(wanted - have)
    assert not missing, "not in the built package: " + " ".join(missing)


def _installed_as(path: Path) -> str:
    """Where a repository file lands in the package (three folders are mapped into it)."""
    top = path.parts[0]
    if top == "archiver":
        return path.as_posix()
    return Path("archiver", *path.parts).as_posix()
