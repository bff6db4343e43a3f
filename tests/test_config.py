"""Settings: defaults, the TOML file, and one clear error line for every bad value."""

from __future__ import annotations

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
