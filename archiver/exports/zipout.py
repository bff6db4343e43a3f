"""Writing a ZIP safely: to a temporary file beside the target, renamed only when complete.

A failure half-way leaves no partial ZIP under the final name, and an existing file is never
overwritten unless the caller says ``force``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from archiver.errors import ArchiverError

CHUNK = 1024 * 1024
# Already-compressed formats gain nothing from deflate.
STORED_SUFFIXES = frozenset({".pdf", ".jpg", ".jpeg", ".png", ".gif", ".mp4", ".webp", ".zip"})


def check_output(out: Path, force: bool) -> None:
    """Refuse an existing output without ``force``, and a folder that does not exist."""
    if out.exists() and not force:
        raise ArchiverError(f"{out} already exists: use --force to overwrite it")
    if out.exists() and out.is_dir():
        raise ArchiverError(f"{out} is a folder, not a file name")
    if not out.parent.is_dir():
        raise ArchiverError(f"folder {out.parent} does not exist")


@contextmanager
def pending_file(out: Path) -> Iterator[Path]:
    """A temporary path in ``out``'s folder, deleted if the block fails or never publishes."""
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    os.close(fd)
    temp = Path(name)
    try:
        yield temp
    finally:
        temp.unlink(missing_ok=True)


def publish(temp: Path, out: Path, force: bool) -> None:
    """Move the finished ``temp`` to ``out``; without ``force`` never replace an existing file."""
    os.chmod(temp, 0o644)
    if force:
        os.replace(temp, out)
        return
    try:
        os.link(temp, out)  # fails if ``out`` appeared meanwhile: no silent overwrite
    except FileExistsError:
        raise ArchiverError(f"{out} already exists: use --force to overwrite it") from None
    except OSError:
        if out.exists():
            raise ArchiverError(f"{out} already exists: use --force to overwrite it") from None
        os.replace(temp, out)
        return
    temp.unlink()


def zip_folder(folder: Path, zip_path: Path, root: str) -> None:
    """Write every file under ``folder`` into ``zip_path`` below the top folder ``root``."""
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6,
                         allowZip64=True) as archive:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            relative = path.relative_to(folder).as_posix()
            kind = zipfile.ZIP_STORED if path.suffix.lower() in STORED_SUFFIXES \
                else zipfile.ZIP_DEFLATED
            archive.write(path, f"{root}/{relative}", compress_type=kind)
    fsync_file(zip_path)


def fsync_file(path: Path) -> None:
    with path.open("rb") as fh:
        os.fsync(fh.fileno())


def file_hashes(path: Path, names: tuple[str, ...] = ("sha256",)) -> dict[str, str]:
    """Hex digests of a file, read in chunks."""
    hashers = {name: hashlib.new(name) for name in names}
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            for h in hashers.values():
                h.update(chunk)
    return {name: h.hexdigest() for name, h in hashers.items()}


def safe_name(text: str, fallback: str = "export") -> str:
    """A file-name-safe form of a custodian-given id (letters, digits, dot, dash, underscore)."""
    cleaned = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in text)
    cleaned = cleaned.strip("._")[:80]
    return cleaned or fallback


class HashingZip:
    """A ZIP written entry by entry, straight from memory or a stream, hashing each entry.

    Staging thousands of small files in a folder and zipping it afterwards costs two file-system
    operations per file on the way in and two on the way out; on a busy disk that alone exceeds
    the export's time budget. Entries go straight into the ZIP instead, and each entry's digests
    (``algorithms``) are computed from the very bytes written, so nothing is hashed twice.
    ``hash  path`` lines are spooled to temporary files, not kept in memory, so memory stays
    flat however many entries are written (only the ZIP's own directory grows, a few hundred
    bytes an entry).
    """

    def __init__(self, zip_path: Path, root: str,
                 algorithms: tuple[str, ...] = ("sha256",)) -> None:
        self.root = root
        self.algorithms = algorithms
        self.count = 0
        self.total_bytes = 0
        self._zip = zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED,
                                    compresslevel=6, allowZip64=True)
        self._path = zip_path
        # Closed by close()/abort(): they live as long as the ZIP being written.
        self._lines = {a: tempfile.TemporaryFile("w+b")  # noqa: SIM115
                       for a in algorithms}
        self._time = time.localtime()[:6]
        self._names: set[str] = set()

    def _info(self, name: str) -> zipfile.ZipInfo:
        if name in self._names:
            raise ArchiverError(f"internal error: {name} written twice into the ZIP")
        self._names.add(name)
        info = zipfile.ZipInfo(f"{self.root}/{name}", date_time=self._time)
        info.compress_type = zipfile.ZIP_STORED if Path(name).suffix.lower() in \
            STORED_SUFFIXES else zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        return info

    def write(self, name: str, data: bytes | str, *, listed: bool = True) -> dict[str, str]:
        """Add ``data`` as ``name`` (relative to the root); returns its digests.

        ``listed`` entries get a manifest line and count in :attr:`count`/:attr:`total_bytes`.
        """
        raw = data.encode("utf-8") if isinstance(data, str) else data
        hashers = {a: hashlib.new(a, raw) for a in self.algorithms}
        # writestr writes the entry's header once; a streamed entry needs a second seek+write.
        self._zip.writestr(self._info(name), raw)
        return self._done(name, hashers, len(raw), listed)

    def write_stream(self, name: str, src: IO[bytes], *, listed: bool = True) -> dict[str, str]:
        """Add what ``src`` yields as ``name``, in chunks; returns its digests."""
        hashers = {a: hashlib.new(a) for a in self.algorithms}
        size = 0
        with self._zip.open(self._info(name), "w", force_zip64=True) as dst:
            while chunk := src.read(CHUNK):
                for h in hashers.values():
                    h.update(chunk)
                dst.write(chunk)
                size += len(chunk)
        return self._done(name, hashers, size, listed)

    def write_file(self, name: str, path: Path, *, listed: bool = True) -> dict[str, str]:
        """Add the file at ``path`` as ``name``."""
        with path.open("rb") as src:
            return self.write_stream(name, src, listed=listed)

    def _done(self, name: str, hashers: dict[str, Any], size: int,
              listed: bool) -> dict[str, str]:
        digests = {a: h.hexdigest() for a, h in hashers.items()}
        if not listed:
            return digests
        line = manifest_path(name).encode("utf-8")
        for a, fh in self._lines.items():
            fh.write(digests[a].encode("ascii") + b"  " + line + b"\n")
        self.count += 1
        self.total_bytes += size
        return digests

    def write_manifest(self, name: str, algorithm: str) -> dict[str, str]:
        """Add the ``hash  path`` lines of every listed entry so far as ``name`` (not listed)."""
        fh = self._lines[algorithm]
        fh.flush()
        fh.seek(0)
        try:
            return self.write_stream(name, fh, listed=False)
        finally:
            fh.seek(0, os.SEEK_END)

    def close(self) -> None:
        """Finish the ZIP (central directory) and flush it to disk."""
        for fh in self._lines.values():
            fh.close()
        self._lines = {}
        self._zip.close()
        fsync_file(self._path)

    def abort(self) -> None:
        for fh in self._lines.values():
            fh.close()
        with contextlib.suppress(Exception):
            self._zip.close()


def manifest_path(name: str) -> str:
    """A path as a BagIt manifest line carries it (RFC 8493 2.1.3: CR, LF and % encoded)."""
    return name.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
