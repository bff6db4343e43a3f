"""Every kind of PDF the archive writes, read back with poppler's tools: it names its title, the
agency, the archiver and when it was made; every font is embedded (no base-14 Helvetica); it
carries XMP metadata claiming PDF/A-2b and an sRGB output intent; and a visitor's comment in
Arabic, Chinese or emoji is drawn legibly or marked as lacking a glyph, while ``pdftotext`` gives
back the characters themselves.

The four kinds: a thread PDF in an open-records package, a production's item PDF, the retention
report for the records manager, and the destruction certificate.
"""

from __future__ import annotations

import os
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

import archiver
from archiver import __version__
from archiver.capture.account import capture_account
from archiver.cli import cli
from archiver.config import Settings, load_settings
from archiver.exports.open_records import OpenRecordsOptions, export_open_records
from archiver.exports.production import ProductionOptions, export_production
from archiver.exports.selection import Scope
from archiver.initialise import initialise
from archiver.retention.holds import HoldSpec, create_hold
from archiver.retention.purge import purge
from archiver.standins.dataset import load_sample
from archiver.standins.graph_server import GraphServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive, open_archive
from archiver.store.models import Item
from tests.support.graph import SleepRecorder
from tests.support.pdftext import pdf_drawn_text, pdf_fonts, pdf_info, pdf_text, pdf_xmp
from tests.support.retention import set_today, use_schedule
from tests.test_export_open_records import register

TOKEN_ENV = "ARCHIVER_TOKEN_PDF_DOCUMENTS_TEST"
AGENCY = "Springfield Police Department"
# 11:12:13 UTC is 05:12:13 in the agency's zone (America/Chicago, CST in November).
EXPORTED_AT = datetime(2026, 11, 30, 11, 12, 13, tzinfo=UTC)
EXPORTED_LOCAL = "2026-11-30T05:12:13-06"

ARABIC = "شكرا للشرطة على المساعدة"
CHINESE = "谢谢警察的帮助"
EMOJI = "👍🏽🚓"
HEBREW = "תודה רבה"
COMMENT = f"Thank you, officers!\n{ARABIC}\n{CHINESE} {EMOJI}\n{HEBREW}"
# A thumbs-up with a skin tone is one mark; the Chinese run is one mark per character.
MARKS = ("[U+8C22]", "[U+5E2E][U+52A9]", "[U+1F44D U+1F3FD][U+1F693]")


def agency_settings(settings: Settings) -> Settings:
    """``settings`` with the agency named the way a user names it: in the environment."""
    return load_settings({"ARCHIVER_HOME": str(settings.home), "ARCHIVER_DB_URL": settings.db_url,
                          "ARCHIVER_STORE_URL": settings.store_url,
                          "ARCHIVER_INDEX_DIR": str(settings.index_dir),
                          "ARCHIVER_AGENCY_NAME": AGENCY})


@dataclass
class Captured:
    archive: Archive
    post_id: int
    comment_id: int


@pytest.fixture
def captured(settings: Settings, tmp_path: Path) -> Iterator[Captured]:
    """The sample page with one comment in four scripts, captured under a fixed clock."""
    named = agency_settings(settings)
    initialise(named)
    archive = open_archive(named, clock=lambda: EXPORTED_AT)
    sample = load_sample()
    post = sample.posts[0]
    first = next(c for c in sample.comments if c.post_id == post.id and c.parent_id is None)
    dataset = replace(sample, comments=tuple(replace(c, message=COMMENT) if c.id == first.id
                                             else c for c in sample.comments))
    try:
        use_schedule(archive, tmp_path / "schedules")
        with GraphServer(dataset, page_size=5) as server:
            account = add_account(archive, AccountSpec(
                platform="facebook", external_id=dataset.page_id, handle="springfieldpd",
                api_base=server.base_url, token_env=TOKEN_ENV), actor="test")
            result = capture_account(archive, account, {TOKEN_ENV: server.token},
                                     sleep=SleepRecorder())
            assert result.status == "succeeded", result.error
        with archive.sessions() as s:
            ids = dict(s.execute(select(Item.external_id, Item.id).where(
                Item.external_id.in_([post.id, first.id]))).all())
        yield Captured(archive, ids[post.id], ids[first.id])
    finally:
        archive.close()


def assert_describes_itself(pdf: bytes, title_part: str, created: str) -> None:
    """Title, agency, archiver and time in the Info dictionary and the XMP; fonts embedded."""
    info = pdf_info(pdf)
    assert title_part in info["Title"], info
    assert info["Author"] == AGENCY, info
    assert info["Creator"] == f"archiver {__version__}", info
    assert info["Producer"].startswith(f"archiver {__version__} (ReportLab "), info
    assert info["CreationDate"].startswith(created), info
    assert info["Tagged"] == "no"  # ReportLab writes no structure tree: said, not hidden
    assert info["PDF version"] == "1.7"  # ISO 32000-1, the base of PDF/A-2
    fonts = pdf_fonts(pdf)
    assert fonts, "no font at all"
    assert all(f["emb"] == "yes" for f in fonts), fonts
    assert not [f for f in fonts if "Helvetica" in f["name"]], fonts
    assert {f["name"].split("+", 1)[1] for f in fonts} <= {"DejaVuSans", "DejaVuSans-Bold"}
    xmp = pdf_xmp(pdf)
    assert "<pdfaid:part>2</pdfaid:part>" in xmp and "<pdfaid:conformance>B<" in xmp
    assert AGENCY in xmp and f"archiver {__version__}" in xmp
    assert f"<xmp:CreateDate>{created}" in xmp
    assert b"/OutputIntents" in pdf and b"/GTS_PDFA1" in pdf


def assert_every_script_recovered(pdf: bytes) -> None:
    """``pdftotext`` gives the comment's characters back; the page shows the Arabic shaped
    (presentation forms) and a code-point mark where DejaVu Sans has no glyph."""
    text = pdf_text(pdf)
    assert CHINESE in text and EMOJI in text  # exactly the characters, no normalisation
    assert all(_plain(part) in _plain(text) for part in (CHINESE + EMOJI, HEBREW, ARABIC))
    assert any("\ufe70" <= c <= "\ufefc" for c in text), "Arabic not shaped"
    drawn = pdf_drawn_text(pdf)
    for mark in MARKS:
        assert mark in drawn, mark
    assert "a character the font of this PDF cannot draw" in drawn


def _plain(text: str) -> str:
    """Text without white space (lines break where they must) or the bidi marks poppler adds,
    Arabic presentation forms as the letters they show (NFKC)."""
    return re.sub(r"[\s\u202a-\u202e]", "", unicodedata.normalize("NFKC", text))


def test_thread_pdf_in_an_open_records_package(captured: Captured, tmp_path: Path) -> None:
    register(captured.archive)
    package = export_open_records(captured.archive, Scope(item_ids=(captured.comment_id,)),
                                  OpenRecordsOptions(request_id="KORA-2024-17",
                                                     out=tmp_path / "or.zip", actor="clerk"))
    with zipfile.ZipFile(package.path) as zf:
        pdf = zf.read(next(n for n in zf.namelist()
                           if n.endswith(f"data/threads/{captured.post_id}.pdf")))
    assert_describes_itself(pdf, "KORA-2024-17", EXPORTED_LOCAL)
    assert_every_script_recovered(pdf)


def test_production_item_pdf(captured: Captured, tmp_path: Path) -> None:
    production = export_production(captured.archive, Scope(item_ids=(captured.comment_id,)),
                                   ProductionOptions(bates_prefix="SPD", out=tmp_path / "p.zip",
                                                     actor="counsel"))
    with zipfile.ZipFile(production.path) as zf:
        images = sorted(n for n in zf.namelist() if "/IMAGES/" in n)
        post_pdf, comment_pdf = zf.read(images[0]), zf.read(images[1])
    assert_describes_itself(post_pdf, "SPD-0000001", EXPORTED_LOCAL)
    assert_describes_itself(comment_pdf, "SPD-0000002", EXPORTED_LOCAL)
    assert_every_script_recovered(comment_pdf)


def test_retention_report_pdf_from_the_command_line(captured: Captured,
                                                    tmp_path: Path) -> None:
    """The command reads the agency from the environment; its clock is the real one."""
    archive = captured.archive
    matter = f"{ARABIC} / {CHINESE} {EMOJI}"
    create_hold(archive, HoldSpec(name="thanks", matter=matter, created_by="counsel",
                                  query="officers"))
    env = {"ARCHIVER_HOME": str(archive.settings.home), "ARCHIVER_DB_URL":
           archive.settings.db_url, "ARCHIVER_STORE_URL": archive.settings.store_url,
           "ARCHIVER_INDEX_DIR": str(archive.settings.index_dir), "ARCHIVER_AGENCY_NAME": AGENCY,
           "ARCHIVER_TIMEZONE": "UTC"}
    before = datetime.now(UTC).replace(microsecond=0)
    out = CliRunner(env=env).invoke(cli, ["retention", "report", "--as-of", "2030-01-01",
                                          "--pdf", str(tmp_path / "r.pdf")])
    after = datetime.now(UTC)
    assert out.exit_code == 0, out.output
    pdf = (tmp_path / "r.pdf").read_bytes()
    created = datetime.fromisoformat(pdf_info(pdf)["CreationDate"])
    assert before <= created <= after
    assert_describes_itself(pdf, "Records disposition report", created.isoformat()[:19])
    text = _plain(pdf_text(pdf))
    assert all(_plain(part) in text for part in (CHINESE + EMOJI, ARABIC))


def test_destruction_certificate_pdf(captured: Captured, tmp_path: Path) -> None:
    archive = captured.archive
    set_today(archive, date(2030, 1, 1))  # noon UTC: 06:00 in the agency's zone
    approver = f"{HEBREW} {CHINESE} {EMOJI}"
    result = purge(archive, date(2030, 1, 1), approved_by=approver, out_dir=tmp_path / "out")
    pdf = Path(result.certificate_pdf_path or "").read_bytes()
    assert_describes_itself(pdf, "Certificate of records destruction", "2030-01-01T06:00:00-06")
    text = _plain(pdf_text(pdf))
    assert all(_plain(part) in text for part in (CHINESE + EMOJI, HEBREW))


def test_the_same_document_at_the_same_time_is_the_same_bytes() -> None:
    """A fixed clock gives byte-identical PDFs (what tests and re-runs compare); another time
    gives another creation date."""
    from archiver.pdf.writer import DocumentInfo, text_pdf

    at = DocumentInfo(agency=AGENCY, created=EXPORTED_AT, subject="test")
    lines = [COMMENT, "plain"]
    first = text_pdf("Same", lines, about=at)
    assert text_pdf("Same", lines, about=at) == first
    later = text_pdf("Same", lines, about=replace(at, created=EXPORTED_AT.replace(year=2027)))
    assert later != first
    assert pdf_info(later)["CreationDate"].startswith("2027-11-30T11:12:13")


def test_pdfs_need_no_matplotlib(tmp_path: Path) -> None:
    """The fonts ship with the package: a PDF renders where matplotlib cannot be imported."""
    import subprocess
    import sys

    blocker = tmp_path / "blocker"
    blocker.mkdir()
    # A name set to None in sys.modules makes ``import matplotlib`` raise ImportError.
    (blocker / "sitecustomize.py").write_text("import sys\nsys.modules['matplotlib'] = None\n")
    script = ("from datetime import UTC, datetime\n"
              "from archiver.pdf.writer import DocumentInfo, text_pdf\n"
              "import sys\n"
              "pdf = text_pdf('T', ['hello'], about=DocumentInfo('A', datetime.now(UTC), 's'))\n"
              "sys.stdout.buffer.write(pdf)\n")
    checkout = str(Path(archiver.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), checkout])}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr.decode()[-500:]
    assert "hello" in pdf_text(done.stdout)


def test_right_to_left_lines_read_right_to_left_with_brackets_mirrored() -> None:
    from archiver.pdf.text import Segment, layout
    from archiver.pdf.writer import REGULAR, register_fonts

    register_fonts()
    (line,) = layout("עברית (שלום) 42", REGULAR, 9.5, 500)
    # Drawn left to right: the number, then the words from the last to the first, each
    # spelled right to left, and each bracket turned to face its word.
    assert line.segments == (Segment("42 (םולש) תירבע"),)


def test_directional_controls_are_shown_not_obeyed() -> None:
    """A visitor's RIGHT-TO-LEFT OVERRIDE would reverse what follows it on the line (ours too):
    it is drawn as a mark, its neighbours stay as they are, and the text layer keeps it."""
    from archiver.pdf.text import Segment, layout
    from archiver.pdf.writer import REGULAR, register_fonts

    register_fonts()
    (line,) = layout("by abc\u202edef\u202c · page 1", REGULAR, 9.5, 500)
    assert line.segments == (Segment("by abc"), Segment("[U+202E]", "\u202e"), Segment("def"),
                             Segment("[U+202C]", "\u202c"), Segment(" · page 1"))


def test_the_package_ships_its_fonts_and_profile_and_needs_no_matplotlib() -> None:
    import tomllib

    from archiver.pdf.meta import ASSETS

    root = Path(archiver.__file__).parents[1]
    project = tomllib.loads((root / "pyproject.toml").read_text())
    assert not [d for d in project["project"]["dependencies"] if d.startswith("matplotlib")]
    assert project["project"]["optional-dependencies"]["bench"] == ["matplotlib>=3.8"]
    assert "assets/*" in project["tool"]["setuptools"]["package-data"]["archiver.pdf"]
    shipped = {p.name for p in ASSETS.iterdir()}
    assert {"DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "LICENSE-DejaVu.txt", "sRGB.icc",
            "LICENSE-sRGB-icc.txt"} <= shipped


def test_metadata_of_hostile_text_is_well_formed() -> None:
    """A title or agency holding markup, control characters or a lone surrogate still gives
    well-formed XMP and the same text in the information dictionary."""
    from xml.etree import ElementTree

    from archiver.pdf.writer import DocumentInfo, text_pdf

    title = "Thread <b>&amp;</b>\x1b[2J \ud800 ]]> <?xpacket end='w'?> 谢谢"
    pdf = text_pdf(title, ["x"], about=DocumentInfo(agency="A & B <C>\x00", created=EXPORTED_AT))
    root = ElementTree.fromstring(pdf_xmp(pdf))  # noqa: S314 - our own output, under test
    ns = {"rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
          "dc": "http://purl.org/dc/elements/1.1/"}
    shown = root.find(".//dc:title/rdf:Alt/rdf:li", ns)
    assert shown is not None and shown.text == pdf_info(pdf)["Title"]
    assert shown.text == "Thread <b>&amp;</b> [2J   ]]> <?xpacket end='w'?> 谢谢"
    assert pdf_info(pdf)["Author"] == "A & B <C>"
