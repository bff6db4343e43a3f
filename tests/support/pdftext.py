"""What a reader gets out of a PDF, through poppler's own tools (``pdftotext``, ``pdfimages``).

Poppler is a system package (Debian/Ubuntu ``poppler-utils``); a missing tool fails the test with
that hint rather than skipping it, so a PDF check is never silently dropped.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
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
