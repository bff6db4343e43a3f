"""What a reader gets out of a PDF, through poppler's own tools (``pdftotext``, ``pdfimages``).

Poppler is a system package (Debian/Ubuntu ``poppler-utils``); a missing tool fails the test with
that hint rather than skipping it, so a PDF check is never silently dropped.
"""

from __future__ import annotations

import base64
import html
import re
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is needed (Debian/Ubuntu: apt-get install poppler-utils)")
    return found


def pdf_text(pdf: Path | bytes) -> str:
    """The text ``pdftotext`` extracts (pages separated by form feeds)."""
    if isinstance(pdf, Path):
        args, data = [_tool("pdftotext"), "-enc", "UTF-8", str(pdf), "-"], None
    else:
        args, data = [_tool("pdftotext"), "-enc", "UTF-8", "-", "-"], pdf
    return subprocess.run(args, input=data, check=True, capture_output=True,
                          timeout=600).stdout.decode("utf-8")


def pdf_image_count(pdf: Path) -> int:
    """How many images ``pdfimages -list`` finds drawn in the PDF."""
    listing = subprocess.run([_tool("pdfimages"), "-list", str(pdf)], check=True,
                             capture_output=True, text=True, timeout=600).stdout
    return sum(1 for line in listing.splitlines()[2:] if line.split()[2:3] == ["image"])


_WORD = re.compile(r'<word xMin="[-\d.]+" yMin="[-\d.]+" xMax="([-\d.]+)" yMax="[-\d.]+">'
                   r"(.*?)</word>")


def pdf_words(pdf: bytes) -> list[tuple[float, str]]:
    """Every word ``pdftotext -bbox`` finds, with the x of its right edge (in points)."""
    out = subprocess.run([_tool("pdftotext"), "-bbox", "-enc", "UTF-8", "-", "-"], input=pdf,
                         check=True, capture_output=True, timeout=600).stdout.decode("utf-8")
    return [(float(x_max), html.unescape(word)) for x_max, word in _WORD.findall(out)]


def _run(tool: str, *args: str, pdf: bytes) -> str:
    return subprocess.run([_tool(tool), *args, "-"], input=pdf, check=True, capture_output=True,
                          timeout=600).stdout.decode("utf-8")


def pdf_info(pdf: bytes) -> dict[str, str]:
    """What ``pdfinfo -isodates`` says: ``{"Title": ..., "CreationDate": "2026-...", ...}``."""
    lines = _run("pdfinfo", "-isodates", "-enc", "UTF-8", pdf=pdf).splitlines()
    return {key: value.strip() for key, _, value in (line.partition(":") for line in lines)}


def pdf_xmp(pdf: bytes) -> str:
    """The XMP metadata packet ``pdfinfo -meta`` prints (empty when there is none)."""
    return _run("pdfinfo", "-meta", pdf=pdf)


def pdf_fonts(pdf: bytes) -> list[dict[str, str]]:
    """The rows of ``pdffonts``, by column (``name``, ``type``, ``emb``, ...)."""
    head, rule, *rows = _run("pdffonts", pdf=pdf).splitlines()
    spans = [m.span() for m in re.finditer(r"-+", rule)]
    names = [head[a:b].strip() for a, b in spans]
    return [{name: row[a:b + 1].strip() for name, (a, b) in zip(names, spans, strict=True)}
            for row in rows if row.strip()]


def pdf_drawn_text(pdf: bytes) -> str:
    """The page content streams (ReportLab's ASCII85 and Flate undone), as Latin-1: the ASCII a
    page draws (a mark such as ``[U+4E2D]``) shows here even where the text layer (what
    ``pdftotext`` reads) says something else."""
    out = []
    for match in re.finditer(rb"/Filter \[ /ASCII85Decode /FlateDecode \][^>]*>>\s*stream\r?\n"
                             rb"(.*?)endstream", pdf, re.S):
        data = re.sub(rb"\s", b"", match.group(1)).removesuffix(b"~>")
        out.append(zlib.decompress(base64.a85decode(data)).decode("latin-1"))
    return "\n".join(out)
