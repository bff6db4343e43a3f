"""Loading a schedule into the archive: the active schedule, and recomputing every item.

``archiver init`` loads the schedule named by ``ARCHIVER_RETENTION_SCHEDULE`` (its ``schedule:``
name; default :data:`DEFAULT_SCHEDULE`) from ``ARCHIVER_SCHEDULES_DIR`` (default: the
``retention_schedules/`` folder shipped with the project). Loading a schedule whose content
differs from the active one recomputes every item's series and disposition date in the same
transaction and records a ``retention.schedule.changed`` audit event.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update

from archiver.config import path_setting
from archiver.errors import ConfigError
from archiver.retention.assign import assign_items, iter_item_ids
from archiver.retention.schedule import Schedule, load_schedule
from archiver.store.archive import Archive
from archiver.store.audit import SYSTEM_ACTOR, record_event
from archiver.store.models import RetentionSchedule

SCHEDULES_DIR_ENV = "ARCHIVER_SCHEDULES_DIR"
SCHEDULE_ENV = "ARCHIVER_RETENTION_SCHEDULE"
DEFAULT_SCHEDULE = "kansas-municipal-template"


def shipped_schedules_dir() -> Path:
    """The ``retention_schedules`` folder shipped with the project (a package of YAML files)."""
    import archiver.retention_schedules

    return Path(archiver.retention_schedules.__file__).resolve().parent


@dataclass(frozen=True)
class ScheduleChange:
    name: str
    sha256: str
    changed: bool
    items_recomputed: int = 0
    items_changed: int = 0

    def describe(self) -> str:
        """One stable line (``archiver init`` prints the same line on every run)."""
        return f"schedule {self.name} active (sha256 {self.sha256[:12]})"


def find_schedule_file(environ: Mapping[str, str]) -> Path | None:
    """The schedule file to load, or None when the folder holds no schedule at all."""
    folder = path_setting(SCHEDULES_DIR_ENV, environ.get(SCHEDULES_DIR_ENV)
                          or str(shipped_schedules_dir()), resolve=False)
    if not folder.is_dir():
        raise ConfigError(f"{SCHEDULES_DIR_ENV}: {folder} is not a folder")
    files = sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")])
    if not files:
        return None
    wanted = environ.get(SCHEDULE_ENV) or DEFAULT_SCHEDULE
    by_name = {load_schedule(f).name: f for f in files}
    if wanted in by_name:
        return by_name[wanted]
    if environ.get(SCHEDULE_ENV) or len(files) > 1:
        raise ConfigError(f"{SCHEDULE_ENV}: no schedule named {wanted!r} in {folder} "
                          f"(found: {', '.join(sorted(by_name))})")
    return files[0]


def load_configured_schedule(archive: Archive, environ: Mapping[str, str],
                             actor: str = SYSTEM_ACTOR) -> str:
    """Load the configured schedule (see the module doc); one line saying what happened."""
    path = find_schedule_file(environ)
    if path is None:
        return "no schedule files found: items get no series"
    return apply_schedule(archive, load_schedule(path), str(path), actor=actor).describe()


def apply_schedule(archive: Archive, schedule: Schedule, source: str, *,
                   actor: str = SYSTEM_ACTOR) -> ScheduleChange:
    """Make ``schedule`` the active one and recompute every item (no-op if already active)."""
    now = archive.clock()
    with archive.transaction() as s:
        active = s.scalar(select(RetentionSchedule).where(RetentionSchedule.active.is_(True))
                          .with_for_update())
        if active is not None and active.sha256 == schedule.sha256 \
                and active.name == schedule.name:
            return ScheduleChange(schedule.name, schedule.sha256, changed=False)
        s.execute(update(RetentionSchedule).values(active=False))
        row = s.scalar(select(RetentionSchedule).where(RetentionSchedule.name == schedule.name))
        if row is None:
            row = RetentionSchedule(name=schedule.name)
            s.add(row)
        row.source, row.sha256, row.document_json = source, schedule.sha256, schedule.to_json()
        row.loaded_at, row.active = now, True
        s.flush()
        total = changed = 0
        for ids in iter_item_ids(s):
            total += len(ids)
            changed += assign_items(s, schedule, archive.settings.tz, ids)
        if active is None and total == 0:
            # Installing the first schedule into an empty archive changes no item; its row (name,
            # sha256, loaded_at) records it, and every later change is an audit event that names
            # the schedule it replaced.
            return ScheduleChange(schedule.name, schedule.sha256, True, 0, 0)
        record_event(
            s, action="retention.schedule.changed", occurred_at=now, actor=actor,
            target_type="retention_schedule", target_id=schedule.name,
            details={"name": schedule.name, "sha256": schedule.sha256, "source": source,
                     "previous": None if active is None else
                     {"name": active.name, "sha256": active.sha256},
                     "items_recomputed": total, "items_changed": changed},
        )
    return ScheduleChange(schedule.name, schedule.sha256, True, total, changed)
