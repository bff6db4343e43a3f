"""The litigation production: Bates-numbered natives, texts and images with DAT/OPT load files.

Layout (inside the ZIP's top folder, ``<PREFIX>-PROD<n>``)::

    <PREFIX>-PROD<n>.dat, .opt       Concordance DAT and Opticon OPT load files
    NATIVES/0001/<BATES>.json        the native record (every version, records as parsed)
    NATIVES/0001/<BATES>_media/<sha256>.<ext>   media files the archive holds (DAT MEDIAPATHS)
    TEXT/0001/<BATES>.txt            extracted text, UTF-8
    IMAGES/0001/<BATES>.pdf          a PDF per item
    CUSTODY/versions.csv, CUSTODY/events.csv   chain of custody
    MANIFEST-SHA256.txt              the hash of every file of the production

One Bates number per item, ``PREFIX-0000001`` onward. Productions of a prefix are numbered too,
``PREFIX-PROD001`` onward, each on its own volume ``PREFIX-VOL001`` onward, so productions
loaded side by side never share a folder, a load file or a volume name. Both counters live in
the database and are advanced in the same transaction that records the production, after
checking no other production of the prefix ran meanwhile: numbers are continuous and never
reused.
"""

from __future__ import annotations

import hashlib
import io
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archiver.errors import ArchiverError
from archiver.exports.authenticity import authenticity_certificate
from archiver.exports.custody import CustodyWriter
from archiver.exports.loadfiles import (
    MEDIA_PATH_SEPARATOR,
    DatWriter,
    OptWriter,
    load_path,
    open_text,
)
from archiver.exports.natives import extracted_text, iso, media_files, native_record
from archiver.exports.package import ExportResult, ProgressCallback, finish_export
from archiver.exports.reading import PackageHeader, production_header
from archiver.exports.redaction import NO_REDACTION
from archiver.exports.render_pdf import render_item_pdf
from archiver.exports.selection import Scope, iter_threads, resolve_item_ids, threads_of
from archiver.exports.zipout import HashingZip, check_output, pending_file
from archiver.pdf.writer import DocumentInfo, document_info
from archiver.store.archive import Archive
from archiver.store.models import BatesCounter, Hold
from archiver.store.vocabulary import ExportKind

PREFIX_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,31}$")
DIGITS = 7
PER_FOLDER = 1000
PRODUCTION_DIGITS = 3


@dataclass(frozen=True)
class ProductionOptions:
    """Where and how to write the production."""

    bates_prefix: str
    out: Path
    actor: str
    force: bool = False


def bates(prefix: str, number: int) -> str:
    """``PREFIX-0000001``."""
    return f"{prefix}-{number:0{DIGITS}d}"


def next_bates(session: Session, prefix: str) -> int:
    """The first number the next production of ``prefix`` would use."""
    counter = session.get(BatesCounter, prefix)
    return 1 if counter is None else counter.next_number


def next_production(session: Session, prefix: str) -> int:
    """The number the next production of ``prefix`` would have."""
    counter = session.get(BatesCounter, prefix)
    return 1 if counter is None else counter.next_production


def production_name(prefix: str, number: int) -> str:
    """``PREFIX-PROD001``: the production's top folder and load-file name."""
    return f"{prefix}-PROD{number:0{PRODUCTION_DIGITS}d}"


def volume_name(prefix: str, number: int) -> str:
    """``PREFIX-VOL001``: the volume of production ``number`` in its OPT load file."""
    return f"{prefix}-VOL{number:0{PRODUCTION_DIGITS}d}"


def _hashes(data: bytes) -> dict[str, str]:
    return {n: hashlib.new(n, data).hexdigest() for n in ("md5", "sha1", "sha256")}


def export_production(archive: Archive, scope: Scope, options: ProductionOptions,
                      progress: ProgressCallback | None = None) -> ExportResult:
    """Write the production of the whole families (threads) of ``scope``."""
    prefix = options.bates_prefix
    if not PREFIX_RE.match(prefix):
        raise ArchiverError(f"--bates-prefix: {prefix!r} must be a letter then up to 31 "
                            "letters, digits or underscores")
    out = options.out
    check_output(out, options.force)
    matched = resolve_item_ids(archive, scope)
    if not matched:
        raise ArchiverError("nothing matched: refusing to write an empty production")
    roots = threads_of(archive, matched)
    with archive.sessions() as s:
        first = next_bates(s, prefix)
        production_number = next_production(s, prefix)
        matter = _matter(s, scope.hold)
    name = production_name(prefix, production_number)
    volume = volume_name(prefix, production_number)
    now = archive.clock()

    def header(key: str, family: tuple[str, str]) -> PackageHeader:
        return production_header(production=name, volume=volume, bates=key, family=family,
                                 matter=matter, scope=scope, produced_at=now,
                                 actor=options.actor, tz=archive.settings.tz)

    about = document_info(archive, f"Production {name}: an image of one social media record",
                          at=now)
    number = first
    pages = 0
    families = 0
    produced: list[int] = []
    # Everything goes straight into the ZIP (hashed as written, for the manifest); only the
    # load files and custody reports, a handful of files, are spooled in a temporary folder.
    with tempfile.TemporaryDirectory(prefix=".archiver-production-", dir=out.parent) as work, \
            pending_file(out) as temp:
        spool = Path(work)
        sink = HashingZip(temp, name, ("sha256",))
        try:
            with open_text(spool / "dat") as dat_fh, open_text(spool / "opt") as opt_fh, \
                    open_text(spool / "versions") as cv_fh, open_text(spool / "events") as ce_fh:
                dat = DatWriter(dat_fh)
                opt = OptWriter(opt_fh, volume)
                custody = CustodyWriter(cv_fh, ce_fh)
                with archive.sessions() as s:
                    for thread in iter_threads(archive, roots, set(matched), NO_REDACTION):
                        family_first = number
                        family_last = number + len(thread.items) - 1
                        numbers = {item.item_id: family_first + i
                                   for i, item in enumerate(thread.items)}
                        family: list[tuple[str, Any]] = []
                        family_keys = (bates(prefix, family_first), bates(prefix, family_last))
                        for item in thread.items:
                            n = numbers[item.item_id]
                            key = bates(prefix, n)
                            folder = f"{(n - first) // PER_FOLDER + 1:04d}"
                            pages += _write_item(
                                archive, sink, item, key, folder, dat, opt, family_keys,
                                bates(prefix, numbers[item.parent_id])
                                if item.parent_id in numbers else "",
                                header(key, family_keys), about)
                            family.append((key, item))
                        custody.family(s, family)
                        produced.extend(item.item_id for _, item in family)
                        s.expunge_all()  # keep the session's identity map from growing
                        number = family_last + 1
                        families += 1
                        if progress:
                            progress(len(thread.items))
            for spooled, file_name in (("dat", f"{name}.dat"), ("opt", f"{name}.opt"),
                                       ("versions", "CUSTODY/versions.csv"),
                                       ("events", "CUSTODY/events.csv")):
                sink.write_file(file_name, spool / spooled)
            certificate = authenticity_certificate(
                archive, produced, package=f"production {name} (volume {volume})",
                actor=options.actor, now=now)
            for file_name, data in certificate.files():
                sink.write(f"CERTIFICATE/{file_name}", data)
            sink.write_manifest("MANIFEST-SHA256.txt", "sha256")
            sink.close()
        except BaseException:
            sink.abort()
            raise
        last = number - 1

        def advance(session: Session, export: Any) -> None:
            counter = session.get(BatesCounter, prefix, with_for_update=True)
            current = (1, 1) if counter is None else (counter.next_number,
                                                       counter.next_production)
            if current != (first, production_number):
                raise ArchiverError(f"another production with prefix {prefix} was made "
                                    "meanwhile: run this one again")
            if counter is None:
                session.add(BatesCounter(prefix=prefix, next_number=last + 1,
                                         next_production=production_number + 1))
            else:
                counter.next_number = last + 1
                counter.next_production = production_number + 1
            session.flush()

        try:
            export_id, sha, size = finish_export(
                archive, temp=temp, out=out, force=options.force, kind=ExportKind.PRODUCTION,
                actor=options.actor,
                details={"scope": scope.describe(), "bates_prefix": prefix,
                         "production": name, "volume": volume,
                         "bates_first": bates(prefix, first),
                         "bates_last": bates(prefix, last), "items": last - first + 1,
                         "families": families, "pages": pages},
                row={"query": scope.query, "filters": scope.describe(),
                     "hold_name": scope.hold, "item_count": last - first + 1,
                     "bates_prefix": prefix, "bates_first": first, "bates_last": last,
                     "production_number": production_number},
                extra=advance,
            )
        except IntegrityError:
            raise ArchiverError(f"another production with prefix {prefix} was made "
                                "meanwhile: run this one again") from None
    return ExportResult(export_id=export_id, kind=ExportKind.PRODUCTION, path=out, sha256=sha,
                        size=size, items=last - first + 1, threads=families, pages=pages,
                        bates_first=bates(prefix, first), bates_last=bates(prefix, last),
                        production=name)


def _matter(session: Session, hold: str | None) -> str | None:
    """The matter of the hold a production covers (None without a hold)."""
    if hold is None:
        return None
    return session.scalar(select(Hold.matter).where(Hold.name == hold))


def _write_item(archive: Archive, sink: HashingZip, item: Any, key: str, folder: str,
                dat: DatWriter, opt: OptWriter, family: tuple[str, str], parent: str,
                header: PackageHeader, about: DocumentInfo) -> int:
    beg_attach, end_attach = family
    native = native_record(item, archive.store, NO_REDACTION, [])
    sink.write(f"NATIVES/{folder}/{key}.json", native)
    media_paths: list[str] = []
    for media in media_files(item, archive.store):
        with archive.store.open(media.sha256) as src:
            sink.write_stream(f"NATIVES/{folder}/{key}_media/{media.name}", src)
        media_paths.append(load_path("NATIVES", folder, f"{key}_media", media.name))
    sink.write(f"TEXT/{folder}/{key}.txt", extracted_text(item))
    image = io.BytesIO()
    pages = render_item_pdf(image, item, header, key, archive.settings.tz, archive.store,
                            about=about)
    sink.write(f"IMAGES/{folder}/{key}.pdf", image.getvalue())
    hashes = _hashes(native)
    current = item.current
    dat.row({
        "BEGBATES": key, "ENDBATES": key, "BEGATTACH": beg_attach, "ENDATTACH": end_attach,
        "CUSTODIAN": item.account, "PLATFORM": item.platform, "KIND": item.kind,
        "AUTHOR": current.author, "DATECREATED": iso(current.created_at),
        "DATECAPTURED": iso(item.first_captured_at), "STATUS": item.status,
        "PARENTBATES": parent, "URL": current.url, "MD5HASH": hashes["md5"],
        "SHA1HASH": hashes["sha1"], "SHA256HASH": hashes["sha256"],
        "NATIVEPATH": load_path("NATIVES", folder, f"{key}.json"),
        "TEXTPATH": load_path("TEXT", folder, f"{key}.txt"),
        "MEDIAPATHS": MEDIA_PATH_SEPARATOR.join(media_paths),
    })
    opt.document(key, load_path("IMAGES", folder, f"{key}.pdf"), pages)
    return pages


def produced_numbers(session: Session, prefix: str) -> int:
    """How many Bates numbers of ``prefix`` have been used so far."""
    counter = session.scalar(select(BatesCounter).where(BatesCounter.prefix == prefix))
    return 0 if counter is None else counter.next_number - 1
