"""Writing a ZIP safely: to a temporary file beside the target, renamed only when complete.

A failure half-way leaves no partial ZIP under the final name, and an existing file is never
overwritten unless the caller says ``force``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

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
