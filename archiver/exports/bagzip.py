"""A BagIt bag (RFC 8493) written straight into a ZIP, and checked there.

Payload files are hashed (SHA-256 and SHA-512) from the very bytes written into the ZIP, so a
package of any size is written in one pass with flat memory and without staging thousands of
small files on disk (on a busy disk the file-system operations of staging alone took longer than
the whole export may). The tag files are the ones ``bagit-python`` writes (``bagit.txt`` 0.97,
``bag-info.txt``, ``manifest-<alg>.txt``, ``tagmanifest-<alg>.txt``); the tests unzip packages
and validate them with ``bagit-python``. :func:`check_bag_zip` checks the finished ZIP itself:
structure, completeness against every manifest, Payload-Oxum and the tag manifests.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from archiver.errors import ArchiverError
from archiver.exports.zipout import HashingZip

BAGIT_TXT = "BagIt-Version: 0.97\nTag-File-Character-Encoding: UTF-8\n"
AGENT = "archiver (bagit-python compatible writer)"
CHECKSUMS = ("sha256", "sha512")


def _tag_value(value: str) -> str:
    # A tag value is one line: a newline in an agency-given value must not start a new tag.
    return " ".join(str(value).split())


class BagZip:
    """Write a bag's payload (paths under ``data/``) into ``zip_path`` below ``root``."""

    def __init__(self, zip_path: Path, root: str,
                 algorithms: tuple[str, ...] = CHECKSUMS) -> None:
        self.algorithms = algorithms
        self._zip = HashingZip(zip_path, root, algorithms)

    @property
    def files(self) -> int:
        return self._zip.count

    def add(self, path: str, data: bytes | str) -> None:
        """Add a payload file ``data/<path>``."""
        self._zip.write(f"data/{path}", data)

    def add_stream(self, path: str, src: IO[bytes]) -> None:
        """Add a payload file ``data/<path>`` from a stream, in chunks."""
        self._zip.write_stream(f"data/{path}", src)

    def finish(self, bag_info: Mapping[str, str]) -> str:
        """Write the tag files and close the ZIP; returns the Payload-Oxum."""
        oxum = f"{self._zip.total_bytes}.{self._zip.count}"
        info = {**bag_info, "Payload-Oxum": oxum}
        info.setdefault("Bag-Software-Agent", AGENT)
        tags = {"bagit.txt": self._zip.write("bagit.txt", BAGIT_TXT, listed=False)}
        text = "".join(f"{k}: {_tag_value(v)}\n" for k, v in sorted(info.items()))
        tags["bag-info.txt"] = self._zip.write("bag-info.txt", text, listed=False)
        for alg in self.algorithms:
            tags[f"manifest-{alg}.txt"] = self._zip.write_manifest(f"manifest-{alg}.txt", alg)
        for alg in self.algorithms:
            lines = "".join(f"{d[alg]}  {name}\n" for name, d in sorted(tags.items()))
            self._zip.write(f"tagmanifest-{alg}.txt", lines, listed=False)
        self._zip.close()
        return oxum

    def abort(self) -> None:
        """Give up (the caller deletes the partial file)."""
        self._zip.abort()


def _read_manifest(z: zipfile.ZipFile, name: str) -> dict[str, str]:
    entries: dict[str, str] = {}
    with z.open(name) as fh:
        for raw in fh:
            line = raw.decode("utf-8").rstrip("\n")
            if not line:
                continue
            digest, _, path = line.partition("  ")
            path = path.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")
            if not path or path in entries:
                raise ArchiverError(f"BagIt check: {name}: bad or repeated line {line[:80]!r}")
            entries[path] = digest
    return entries


def check_bag_zip(zip_path: Path, root: str) -> None:
    """Check the bag inside ``zip_path`` (below ``root``); raise ArchiverError on any problem.

    Payload hashes are not recomputed: they were computed from the bytes written (and the ZIP's
    CRC-32 guards those bytes); everything else a validator checks is.
    """
    prefix = f"{root}/"

    def fail(reason: str) -> ArchiverError:
        return ArchiverError(f"the BagIt package does not validate: {reason}")

    with zipfile.ZipFile(zip_path) as z:
        infos = {i.filename[len(prefix):]: i for i in z.infolist()
                 if i.filename.startswith(prefix) and not i.is_dir()}
        if len(infos) != len(z.infolist()):
            raise fail(f"entries outside the top folder {root}")
        if "bagit.txt" not in infos or z.read(f"{prefix}bagit.txt").decode() != BAGIT_TXT:
            raise fail("bagit.txt missing or wrong")
        info_lines = z.read(f"{prefix}bag-info.txt").decode("utf-8").splitlines()
        info = dict(line.split(": ", 1) for line in info_lines if ": " in line)
        payload = {n: i for n, i in infos.items() if n.startswith("data/")}
        oxum = f"{sum(i.file_size for i in payload.values())}.{len(payload)}"
        if info.get("Payload-Oxum") != oxum:
            raise fail(f"Payload-Oxum {info.get('Payload-Oxum')} but the payload is {oxum}")
        tag_files = sorted(n for n in infos if not n.startswith("data/")
                           and not n.startswith("tagmanifest-"))
        for alg in CHECKSUMS:
            manifest = _read_manifest(z, f"{prefix}manifest-{alg}.txt")
            if set(manifest) != set(payload):
                missing = sorted(set(payload) ^ set(manifest))[:3]
                raise fail(f"manifest-{alg}.txt does not list exactly the payload: {missing}")
            tagmanifest = _read_manifest(z, f"{prefix}tagmanifest-{alg}.txt")
            if set(tagmanifest) != set(tag_files):
                raise fail(f"tagmanifest-{alg}.txt does not list exactly the tag files")
            for name in tag_files:
                if hashlib.new(alg, z.read(prefix + name)).hexdigest() != tagmanifest[name]:
                    raise fail(f"{name}: {alg} differs from tagmanifest-{alg}.txt")


def validate_with_bagit(zip_path: Path, root: str, processes: int = 2) -> None:
    """Unpack the bag next to ``zip_path`` and run bagit-python's full validation on it.

    The reference implementation re-hashes every payload file in every algorithm: what a
    recipient's tool will do, done before the package leaves. Raises ArchiverError on failure.
    """
    import shutil
    import tempfile

    import bagit

    scratch = Path(tempfile.mkdtemp(prefix=".bag-check-", dir=zip_path.parent))
    try:
        with zipfile.ZipFile(zip_path) as z:
            z.extractall(scratch)
        try:
            bagit.Bag(str(scratch / root)).validate(processes=processes)
        except bagit.BagError as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ArchiverError(f"the BagIt package does not validate: {reason}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
