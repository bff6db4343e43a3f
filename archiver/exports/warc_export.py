"""``archiver warc export``: an account's raw captures since a date, as one WARC file for another
archive.

The records are copied from the stored WARC files as they are, gzip member for gzip member, so
their WARC-Record-IDs, dates and digests are the ones the archive recorded; a new ``warcinfo``
record heads the file. Records a purge removed are not in the stored files and so not exported;
records a purge rewrote are exported as the ``conversion`` records that replaced them. The file
is read back with warcio before it is published: every record parses, every digest checks, and
every record meant to be in it is.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from warcio.archiveiterator import ArchiveIterator

from archiver.errors import ArchiverError
from archiver.exports.zipout import check_output, file_hashes, fsync_file, pending_file, publish
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.store.models import Account, WarcFile, WarcRecord
from archiver.store.vocabulary import WarcStatus
from archiver.store.warcs import SOFTWARE, WarcOut


@dataclass(frozen=True)
class WarcExport:
    """What was written."""

    path: str
    account_id: int
    since: str
    files: int
    records: int
    size: int
    sha256: str

    def as_json(self) -> dict[str, Any]:
        return dict(vars(self))


def find_account(archive: Archive, account: str) -> Account:
    """The account named by its id or its handle, or a one-line error."""
    with archive.sessions() as s:
        wanted = [Account.handle == account]
        if account.isdigit():
            wanted.append(Account.id == int(account))
        found = s.scalars(select(Account).where(or_(*wanted))).all()
    if len(found) != 1:
        problem = "no account" if not found else "more than one account"
        raise ArchiverError(f"--account {account!r}: {problem} with that id or handle")
    return found[0]


def export_warc(archive: Archive, account: Account, since: datetime, out: Path, *,
                actor: str, force: bool = False) -> WarcExport:
    """Write every WARC record of ``account`` captured at or after ``since`` to ``out``."""
    check_output(out, force)
    with archive.sessions() as s:
        rows = s.execute(
            select(WarcFile.id, WarcFile.sha256, WarcRecord.record_id, WarcRecord.file_offset,
                   WarcRecord.length)
            .join(WarcRecord, WarcRecord.warc_file_id == WarcFile.id)
            .where(WarcFile.account_id == account.id, WarcFile.status == WarcStatus.STORED,
                   WarcRecord.file_offset.is_not(None), WarcRecord.record_type != "warcinfo",
                   WarcRecord.captured_at >= since)
            .order_by(WarcFile.id, WarcRecord.file_offset)).all()
    by_file: dict[str, list[tuple[str, int, int]]] = {}
    for _, sha, name, offset, length in rows:
        if sha is not None and offset is not None and length is not None:
            by_file.setdefault(sha, []).append((name, offset, length))
    now = archive.clock()
    with pending_file(out) as temp:
        with temp.open("wb") as fh:
            WarcOut(fh).warcinfo(out.name, {
                "software": SOFTWARE, "format": "WARC File Format 1.1",
                "isPartOf": f"{account.platform}:{account.handle} (account {account.id})",
                "description": f"raw captures since {since.isoformat()}, exported "
                               f"{now.isoformat()}"}, now)
            for sha, wanted in by_file.items():
                with archive.store.open(sha) as opened:
                    # An S3 body streams forward only: such a file is read whole.
                    stored = opened if opened.seekable() else io.BytesIO(opened.read())
                    for _, offset, length in wanted:
                        stored.seek(offset)
                        member = stored.read(length)
                        if len(member) != length:
                            raise ArchiverError(f"stored WARC file {sha} is shorter than "
                                                "recorded: run 'archiver verify'")
                        fh.write(member)
        fsync_file(temp)
        _validate(temp, [name for _, _, name, _, _ in rows])
        digest = file_hashes(temp)["sha256"]
        size = temp.stat().st_size
        publish(temp, out, force)
    result = WarcExport(path=str(out), account_id=account.id, since=since.isoformat(),
                        files=len(by_file), records=len(rows), size=size, sha256=digest)
    with archive.transaction() as s:
        record_event(s, action="warc.export", occurred_at=now, actor=actor,
                     target_type="account", target_id=account.id, details=result.as_json())
    return result


def _validate(path: Path, expected: list[str]) -> None:
    """Read the file back with warcio: it parses, every digest checks, every record is there."""
    seen: list[str] = []
    with path.open("rb") as fh:
        for rec in ArchiveIterator(fh, check_digests=True):
            rec.content_stream().read()
            if rec.digest_checker.passed is False:
                raise ArchiverError(f"the exported WARC file fails its own digest check: "
                                    f"{'; '.join(rec.digest_checker.problems)[:200]}")
            if rec.rec_type != "warcinfo":
                seen.append(rec.rec_headers.get_header("WARC-Record-ID"))
    if seen != expected:
        raise ArchiverError("the exported WARC file does not read back as written")
