"""Whoosh's file storage with segment files mapped into memory, not copied into it.

Whoosh maps a segment's compound file and then hands each part of it (postings, terms) to a
``BufferFile``, which wraps the part in a ``BytesIO``: a copy. Every open searcher therefore
held the whole index in its own memory, 217 MB for a 100k-item index, and would hold about a
gigabyte at a million items. Opening the files without the map bounds the memory but made
searches 1.5 times slower (every block read is a seek and a read). Here the map stays and the
parts are views of it: the page cache holds the index once, for every process.
"""

from __future__ import annotations

import mmap
from typing import Any

from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import BufferFile

_SEGMENT_SUFFIX = ".seg"


class _ViewReader:
    """``read``/``readline``/``seek``/``tell`` over a memoryview (what pickle and Whoosh's
    struct reads need), returning copies of only the bytes asked for."""

    def __init__(self, view: memoryview) -> None:
        self._view = view
        self._pos = 0

    def read(self, size: int | None = -1) -> bytes:
        start = self._pos
        end = len(self._view) if size is None or size < 0 else start + size
        data = self._view[start:end].tobytes()  # empty past the end, like a file
        self._pos = start + len(data)
        return data

    def readline(self, size: int | None = -1) -> bytes:
        # Only pickle's text opcodes read lines; Whoosh pickles in binary, so this is rare.
        start = self._pos
        end = len(self._view) if size is None or size < 0 else start + size
        rest = self._view[start:end].tobytes()
        newline = rest.find(b"\n")
        line = rest if newline < 0 else rest[:newline + 1]
        self._pos = start + len(line)
        return line

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self._pos, 2: len(self._view)}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def flush(self) -> None:
        """Nothing is written through a view."""

    def close(self) -> None:
        """The map is released when the last view of it goes."""


class _MappedFile(BufferFile):
    """A ``BufferFile`` whose reads and subsets are views of one shared map."""

    def __init__(self, view: memoryview, name: str | None = None, onclose: Any = None) -> None:
        self._buf = view
        self._name = name
        self.file = _ViewReader(view)
        self.onclose = onclose
        self.is_real = False
        self.is_closed = False

    def subset(self, position: int, length: int, name: str | None = None) -> _MappedFile:
        return _MappedFile(self._buf[position:position + length], name=name or self._name)


class MappedFileStorage(FileStorage):
    """A folder of Whoosh files whose segment files are read through a shared map.

    With ``supports_mmap`` off, Whoosh's compound storage asks the opened file for ``subset``
    views instead of mapping (and copying) it again.
    """

    def __init__(self, path: str) -> None:
        super().__init__(path, supports_mmap=False)

    def open_file(self, name: str, **kwargs: Any) -> Any:
        if not name.endswith(_SEGMENT_SUFFIX):
            return super().open_file(name, **kwargs)
        with open(self._fpath(name), "rb") as fh:
            try:
                mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            except ValueError:  # an empty file cannot be mapped
                return super().open_file(name, **kwargs)
        return _MappedFile(memoryview(mapped), name=name, **kwargs)
