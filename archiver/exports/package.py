"""What every export does at the end: record it (Export row + audit event with the package's
sha256) and move the finished ZIP under its final name, in that transaction."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from archiver.exports.zipout import file_hashes, publish
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.store.models import Export
from archiver.store.vocabulary import ExportKind

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class ExportResult:
    """What was written: the file, its hash, and the counts."""

    export_id: int
    kind: ExportKind
    path: Path
    sha256: str
    size: int
    items: int
    threads: int
    redactions: int = 0
    pages: int = 0
    bates_first: str | None = None
    bates_last: str | None = None
    production: str | None = None

    def as_json(self) -> dict[str, Any]:
        data = dict(vars(self))
        data["path"] = str(self.path)
        return data


def finish_export(
    archive: Archive, *, temp: Path, out: Path, force: bool, kind: ExportKind, actor: str,
    details: dict[str, Any], row: dict[str, Any],
    extra: Callable[[Session, Export], None] | None = None,
) -> tuple[int, str, int]:
    """Record the export and its audit event, then publish ``temp`` as ``out``.

    Returns (export id, sha256, size). If publishing fails the records are rolled back.
    """
    sha = file_hashes(temp)["sha256"]
    size = temp.stat().st_size
    now = archive.clock()
    published = False
    try:
        with archive.transaction() as s:
            export = Export(kind=kind, actor=actor, created_at=now, file_name=out.name,
                            sha256=sha, size=size,
                            filters_json=json.dumps(row.pop("filters", {}), sort_keys=True),
                            **row)
            s.add(export)
            s.flush()
            if extra is not None:
                extra(s, export)
            record_event(s, action=f"export.{kind}", occurred_at=now, actor=actor,
                         target_type="export", target_id=export.id,
                         details={**details, "file": out.name, "sha256": sha, "size": size})
            export_id = export.id
            publish(temp, out, force)
            published = True
    except BaseException:
        if published:
            out.unlink(missing_ok=True)
        raise
    return export_id, sha, size
