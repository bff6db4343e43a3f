"""Everything a PDF rendering prints stays on the page and in the file: a long URL and a very long
comment, captured from the loopback Graph server, read back with poppler's ``pdftotext``."""

from __future__ import annotations

import random
import re
import string
import zipfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from archiver.capture.account import capture_account
from archiver.exports.open_records import OpenRecordsOptions, export_open_records
from archiver.exports.production import ProductionOptions, export_production
from archiver.exports.selection import Scope
from archiver.pdf.writer import MARGIN, DocumentInfo, text_pdf
from archiver.standins.dataset import load_sample
from archiver.standins.graph_server import GraphServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive
from archiver.store.models import Item
from tests.support.graph import SleepRecorder
from tests.support.pdftext import pdf_text, pdf_words
from tests.test_export_open_records import register

TOKEN_ENV = "ARCHIVER_TOKEN_PDF_TEXT_TEST"
LETTER_WIDTH = 612.0
# A tracking link as people paste them: 295 characters, no space to break at.
LONG_URL = ("https://www.facebook.com/104882335720091/posts/2001?__cft__[0]=AZV"
            + "x7Qk9" * 40 + "&__tn__=%2CO%2CP-R&ref=share_x")


def long_comment(size: int) -> str:
    """``size`` characters of words, lines and unbreakable tokens (a pasted hash, a URL)."""
    rng = random.Random(17)
    parts: list[str] = []
    length = 0
    while length < size:
        roll = rng.random()
        if roll < 0.01:
            part = "".join(rng.choices(string.ascii_letters + string.digits, k=rng.randint(
                200, 3000)))
        elif roll < 0.05:
            part = "\n"
        else:
            part = "".join(rng.choices(string.ascii_lowercase, k=rng.randint(1, 12)))
        parts.append(part)
        length += len(part) + 1
    return " ".join(parts)[:size]


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def body_text(pdf: bytes, footer: str) -> str:
    """The PDF's text without the page footers (which sit between one page and the next)."""
    return "\n".join(line for line in pdf_text(pdf).splitlines()
                     if not line.startswith(f"{footer} · page "))


def capture_long_thread(archive: Archive, comment: str) -> tuple[int, int]:
    sample = load_sample()
    post = replace(sample.posts[0], permalink_url=LONG_URL)
    first = next(c for c in sample.comments if c.post_id == post.id and c.parent_id is None)
    comments = tuple(replace(c, message=comment) if c.id == first.id else c
                     for c in sample.comments)
    dataset = replace(sample, posts=(post, *sample.posts[1:]), comments=comments)
    with GraphServer(dataset, page_size=5) as server:
        account = add_account(archive, AccountSpec(
            platform="facebook", external_id=dataset.page_id, handle="springfieldpd",
            api_base=server.base_url, token_env=TOKEN_ENV), actor="test")
        result = capture_account(archive, account, {TOKEN_ENV: server.token},
                                 sleep=SleepRecorder())
        assert result.status == "succeeded", result.error
    with archive.sessions() as s:
        ids = {external: item for external, item in s.execute(
            select(Item.external_id, Item.id).where(Item.external_id.in_([post.id, first.id])))}
    return ids[post.id], ids[first.id]


def assert_on_page(pdf: bytes) -> None:
    right = LETTER_WIDTH - MARGIN + 1.0
    words = pdf_words(pdf)
    assert words
    wide = [(x_max, word[:40]) for x_max, word in words if x_max > right]
    assert not wide, f"{len(wide)} words run off the page, e.g. {wide[:3]}"


def test_long_url_and_long_comment_are_whole_in_every_pdf(archive: Archive,
                                                         tmp_path: Path) -> None:
    comment = long_comment(200_000)
    post_id, comment_id = capture_long_thread(archive, comment)
    register(archive)
    package = export_open_records(archive, Scope(item_ids=(comment_id,)), OpenRecordsOptions(
        request_id="KORA-2024-17", out=tmp_path / "or.zip", actor="clerk"))
    with zipfile.ZipFile(package.path) as zf:
        thread_pdf = zf.read(next(n for n in zf.namelist()
                                  if n.endswith(f"data/threads/{post_id}.pdf")))
    production = export_production(archive, Scope(item_ids=(comment_id,)), ProductionOptions(
        bates_prefix="SPD", out=tmp_path / "prod.zip", actor="counsel"))
    with zipfile.ZipFile(production.path) as zf:
        images = {n: zf.read(n) for n in zf.namelist() if "/IMAGES/" in n}
    post_pdf, comment_pdf = images[min(images)], images[sorted(images)[1]]

    for pdf, footer, has_url, has_comment in (
            (thread_pdf, "Open-records request KORA-2024-17", True, True),
            (post_pdf, "SPD-0000001", True, False), (comment_pdf, "SPD-0000002", False, True)):
        assert_on_page(pdf)
        text = squeeze(body_text(pdf, footer))
        assert (LONG_URL in text) is has_url
        assert (squeeze(comment) in text) is has_comment


def test_plain_documents_wrap_unbreakable_lines() -> None:
    """The shared writer (destruction certificates, reports) wraps and keeps every character."""
    token = "".join(random.Random(3).choices(string.ascii_letters, k=5000))
    about = DocumentInfo(agency="Agency", created=datetime(2030, 1, 1, tzinfo=UTC))
    pdf = text_pdf("Certificate", [LONG_URL, token, "short line"], about=about)
    assert_on_page(pdf)
    text = squeeze(body_text(pdf, "Certificate"))
    assert LONG_URL in text and token in text and "shortline" in text
