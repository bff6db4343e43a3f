"""Settings: defaults, the TOML file, and one clear error line for every bad value."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from archiver.config import load_settings
from archiver.errors import ConfigError


def test_defaults_live_under_home(tmp_path: Path) -> None:
    s = load_settings({"ARCHIVER_HOME": str(tmp_path)})
    assert s.db_url == f"sqlite:///{tmp_path / 'archive.sqlite3'}"
    assert s.store_url == (tmp_path / "blobs").as_uri()
    assert s.index_dir == tmp_path / "index"
    assert s.timezone == "America/Chicago"


def test_toml_file_and_environment_precedence(tmp_path: Path) -> None:
    cfg = tmp_path / "archiver.toml"
    cfg.write_text('[archiver]\nhome = "/srv/a"\ntimezone = "America/Denver"\n')
    s = load_settings({"ARCHIVER_CONFIG": str(cfg), "ARCHIVER_TIMEZONE": "UTC"})
    assert s.home == Path("/srv/a")
    assert s.timezone == "UTC"


@pytest.mark.parametrize(
    ("env", "needle"),
    [
        ({"ARCHIVER_DB_URL": "mysql://x/y"}, "ARCHIVER_DB_URL"),
        ({"ARCHIVER_STORE_URL": "ftp://x"}, "ARCHIVER_STORE_URL"),
        ({"ARCHIVER_STORE_URL": "s3:///nobucket"}, "bucket"),
        ({"ARCHIVER_TIMEZONE": "Mars/Olympus"}, "ARCHIVER_TIMEZONE"),
        ({"ARCHIVER_S3_OBJECT_LOCK_MODE": "GOVERNANCE"}, "go together"),
        ({"ARCHIVER_S3_OBJECT_LOCK_MODE": "SOMETIMES", "ARCHIVER_S3_OBJECT_LOCK_DAYS": "3"},
         "ARCHIVER_S3_OBJECT_LOCK_MODE"),
        ({"ARCHIVER_S3_OBJECT_LOCK_MODE": "GOVERNANCE", "ARCHIVER_S3_OBJECT_LOCK_DAYS": "3"},
         "s3://"),
        ({"ARCHIVER_CONFIG": "/nonexistent/archiver.toml"}, "file not found"),
    ],
)
def test_bad_values_name_the_setting(env: dict[str, str], needle: str, tmp_path: Path) -> None:
    env = {"ARCHIVER_HOME": str(tmp_path), **env}
    with pytest.raises(ConfigError) as err:
        load_settings(env)
    message = str(err.value)
    assert needle in message
    assert "\n" not in message


def test_unknown_toml_key_is_refused(tmp_path: Path) -> None:
    cfg = tmp_path / "a.toml"
    cfg.write_text('db_urll = "sqlite:///x"\n')
    with pytest.raises(ConfigError, match="unknown setting"):
        load_settings({"ARCHIVER_CONFIG": str(cfg)})


DEEP = "[" * 20_000 + "]" * 20_000


@pytest.mark.parametrize(
    ("toml", "line", "needle"),
    [
        ('[archiver]\nhome = ["a", "b"]\n', 2, "home must be a string"),
        ('timezone = "UTC"\nindex_dir = 7\n', 2, "index_dir must be a string"),
        ('db_url = true\n', 1, "db_url must be a string"),
        ('[archiver]\n\nstore_url = {bucket = "b"}\n', 3, "store_url must be a string"),
        ('s3_object_lock_mode = "GOVERNANCE"\ns3_object_lock_days = 1.5\n', 2,
         "s3_object_lock_days must be a whole number"),
        ('home = "/srv/a\\u0000b"\n', 1, "home contains a NUL character"),
        ('timezone = "UTC"\nhome = ' + DEEP + '\n', 2, "nested"),
        ('timezone = "UTC"\nhome = \n', 2, "not valid TOML"),
    ],
)
def test_toml_values_are_type_checked_at_their_line(tmp_path: Path, toml: str, line: int,
                                                    needle: str) -> None:
    cfg = tmp_path / "archiver.toml"
    cfg.write_text(toml)
    with pytest.raises(ConfigError) as err:
        load_settings({"ARCHIVER_CONFIG": str(cfg)})
    message = str(err.value)
    assert message.startswith(f"ARCHIVER_CONFIG: {cfg}:{line}: ") and needle in message, message
    assert "\n" not in message


def test_lock_days_may_be_a_toml_number(tmp_path: Path) -> None:
    cfg = tmp_path / "archiver.toml"
    cfg.write_text('store_url = "s3://b/p"\ns3_object_lock_mode = "governance"\n'
                   's3_object_lock_days = 30\n')
    assert load_settings({"ARCHIVER_CONFIG": str(cfg)}).s3_object_lock_days == 30


@pytest.mark.parametrize("name", ["ARCHIVER_HOME", "ARCHIVER_INDEX_DIR", "ARCHIVER_DB_URL",
                                  "ARCHIVER_CONFIG", "ARCHIVER_TIMEZONE"])
def test_nul_in_an_environment_value_is_refused(tmp_path: Path, name: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_settings({"ARCHIVER_HOME": str(tmp_path), name: f"{tmp_path}/a\0b"})
    assert str(err.value) == f"{name}: contains a NUL character"


@pytest.mark.parametrize("content", [b'home = "\xff"\n', None])
def test_unreadable_config_file_is_one_line(tmp_path: Path, content: bytes | None) -> None:
    cfg = tmp_path / "archiver.toml"
    if content is None:
        cfg.mkdir()  # a folder where the file should be
    else:
        cfg.write_bytes(content)
    with pytest.raises(ConfigError) as err:
        load_settings({"ARCHIVER_CONFIG": str(cfg)})
    assert str(err.value).startswith(f"ARCHIVER_CONFIG: {cfg}")


def test_bad_config_file_on_the_command_line(tmp_path: Path) -> None:
    cfg = tmp_path / "archiver.toml"
    cfg.write_text('[archiver]\nhome = ["a", "b"]\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")}
    done = subprocess.run([sys.executable, "-m", "archiver.cli", "init"], cwd=tmp_path,
                          env={**env, "ARCHIVER_CONFIG": str(cfg),
                               "PYTHONPATH": str(Path(__file__).resolve().parents[1])},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"error: ARCHIVER_CONFIG: {cfg}:2: home must be a string (a path), not an array"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["archiver.toml"]  # no folder made


def test_unknown_home_folder_user_is_one_line(tmp_path: Path) -> None:
    from archiver.exports.business_days import calendar_from_env
    from archiver.retention.loading import find_schedule_file

    missing = "~no-such-user-here/x"
    with pytest.raises(ConfigError, match="^ARCHIVER_HOME: cannot use"):
        load_settings({"ARCHIVER_HOME": missing})
    with pytest.raises(ConfigError, match="^ARCHIVER_HOLIDAYS: cannot use"):
        calendar_from_env({"ARCHIVER_HOLIDAYS": missing})
    with pytest.raises(ConfigError, match="^ARCHIVER_SCHEDULES_DIR: cannot use"):
        find_schedule_file({"ARCHIVER_SCHEDULES_DIR": missing})
