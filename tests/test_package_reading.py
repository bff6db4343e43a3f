"""What a requester or an attorney reads in a package: every page opens with the request (or the
production), times are in the agency's zone with the zone named, a removal's proof stands next to
the removed item, threads are titled by their account and first words, and each sha256 says what
it is the hash of. Packages are built from real captures (loopback Graph and MediaWiki servers)
and read back as a reader gets them: the HTML as text, the PDF through ``pdftotext``."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import replace
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

from click.testing import CliRunner

from archiver.capture.account import capture_account
from archiver.cli import cli
from archiver.exports.business_days import HolidayCalendar
from archiver.exports.open_records import OpenRecordsOptions, export_open_records
from archiver.exports.production import ProductionOptions, export_production
from archiver.exports.redaction import Redactor, parse_item_redactions
from archiver.exports.requests import add_request
from archiver.exports.selection import Scope
from archiver.retention.holds import HoldSpec, create_hold
from archiver.search.interface import SearchFilters
from archiver.standins.mediawiki_server import MediaWikiServer, second_state
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive
from tests.support.graph import SleepRecorder
from tests.support.pdftext import pdf_text
from tests.test_export_open_records import (  # noqa: F401 - fixture
    DELETED_COMMENT,
    SCRIPT_COMMENT,
    captured,
    item_id,
    unzip,
)

REQUEST = "KORA-2024-17"
REQUESTER = "A. Reporter <press@example.org>"
DESCRIPTION = "Posts & comments about the parade and the missing person"
QUERY = "parade OR finch"
# Published 2024-04-02T14:02:45Z: Chicago is on daylight time then, Berlin on summer time.
DELETED_PUBLISHED_CHICAGO = "2024-04-02 09:02 CDT"
DELETED_PUBLISHED_BERLIN = "2024-04-02 16:02 CEST"
LOCAL_MOMENT = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d C[SD]T")
UTC_ISO = re.compile(r"\d\d:\d\d:\d\d(\.\d+)?\+00:00")
HOSTILE = "<script>alert('proof')</script>"
ASKED = r"Proof of removal: the platform was asked \d{4}-\d\d-\d\d \d\d:\d\d C[SD]T"


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(page: str) -> str:
    """What a browser shows of ``page`` (tags dropped, entities decoded), spaces collapsed."""
    parser = _Text()
    parser.feed(page)
    return squash(" ".join(parser.parts))


def squash(text: str) -> str:
    return " ".join(text.split())


def shows(text: str, label: str, value: str) -> bool:
    """``label`` then ``value`` in ``text`` (a PDF sets a colon after the label, HTML a cell)."""
    return re.search(f"{re.escape(label)}:? {re.escape(value)}", text) is not None


def register(archive: Archive) -> None:
    add_request(archive, REQUEST, received_on=date(2024, 5, 6), calendar=HolidayCalendar(),
                actor="clerk", requester=REQUESTER, description=DESCRIPTION)


def open_records(archive: Archive, tmp_path: Path, scope: Scope, name: str = "p") -> Path:
    out = tmp_path / f"{name}.zip"
    export_open_records(archive, scope, OpenRecordsOptions(request_id=REQUEST, out=out,
                                                           actor="clerk"))
    return unzip(out, tmp_path / name) / "data"


def readings(data: Path) -> dict[str, str]:
    """Every page of the package as its reader sees it: name -> text."""
    out = {"index.html": html_text((data / "index.html").read_text(encoding="utf-8"))}
    for page in sorted((data / "threads").iterdir()):
        if page.suffix == ".html":
            out[page.name] = html_text(page.read_text(encoding="utf-8"))
        else:
            out[page.name] = squash(pdf_text(page))
    return out


def test_every_page_opens_with_the_request_scope_and_legend(captured: Archive,  # noqa: F811
                                                           tmp_path: Path) -> None:
    register(captured)
    data = open_records(captured, tmp_path, Scope(query=QUERY,
                                                  filters=SearchFilters(platform="facebook")))
    pages = readings(data)
    assert {n.rsplit(".", 1)[1] for n in pages} == {"html", "pdf"} and len(pages) > 3
    for name, text in pages.items():
        for label, value in (("Request", REQUEST), ("Requester", REQUESTER),
                             ("Received", "2024-05-06"), ("Due", "2024-05-09"),
                             ("Description", DESCRIPTION),
                             ("Scope searched", f"query “{QUERY}”; platform facebook")):
            assert shows(text, label, value), (name, label, text[:600])
        for status, meaning in (("EDITED", "changed after it was first captured"),
                                ("HIDDEN", "hidden by a moderator"),
                                ("REMOVED", "proof of removal")):
            assert re.search(f"{status}[^A-Z]*{meaning}", text), (name, status)
        # The request comes first: before the first item of a thread, before the list of items.
        first = text.find("Item Kind" if name == "index.html" else "version 1")
        assert 0 <= text.find(DESCRIPTION) < first, name
    raw = [p.read_text(encoding="utf-8") for p in data.rglob("*.html")]
    assert all("<script" not in page and "&lt;press@example.org&gt;" in page for page in raw)
    script_thread = next(t for n, t in pages.items() if n.endswith(".pdf")
                         and "alert(1)" in t)
    assert "<script>alert(1)</script>" in script_thread  # visitor markup is text in the PDF


def test_times_are_in_the_agency_zone_and_natives_keep_utc(captured: Archive,  # noqa: F811
                                                          tmp_path: Path) -> None:
    register(captured)
    deleted = item_id(captured, DELETED_COMMENT)
    data = open_records(captured, tmp_path, Scope(item_ids=(deleted,)))
    pages = readings(data)
    for name, text in pages.items():
        assert not UTC_ISO.search(text), (name, UTC_ISO.search(text))
        assert LOCAL_MOMENT.search(text), name
        assert "America/Chicago" in text, name
    for name in (f"{n}.{ext}" for n in _thread_ids(data) for ext in ("html", "pdf")):
        assert DELETED_PUBLISHED_CHICAGO in pages[name], name
    assert DELETED_PUBLISHED_CHICAGO in pages["index.html"]
    record = json.loads((data / f"items/{deleted}/record.json").read_text(encoding="utf-8"))
    assert record["versions"][0]["created_at"] == "2024-04-02T14:02:45+00:00"
    assert UTC_ISO.search(record["first_captured_at"])
    rows = list(csv.DictReader((data / "index.csv").open(encoding="utf-8")))
    assert {r["published"] for r in rows if r["item_id"] == str(deleted)} == {
        "2024-04-02T14:02:45+00:00"}


def test_archiver_timezone_names_the_zone_of_every_time(captured: Archive,  # noqa: F811
                                                       settings_env: dict[str, str],
                                                       tmp_path: Path) -> None:
    register(captured)
    out = tmp_path / "berlin.zip"
    deleted = item_id(captured, DELETED_COMMENT)
    result = CliRunner().invoke(cli, ["export", "open-records", "--request-id", REQUEST,
                                      "--item", str(deleted), "--out", str(out)],
                                env={**settings_env, "ARCHIVER_TIMEZONE": "Europe/Berlin"})
    assert result.exit_code == 0, result.output
    pages = readings(unzip(out, tmp_path / "berlin") / "data")
    for name, text in pages.items():
        assert "Europe/Berlin" in text and not LOCAL_MOMENT.search(text), name
        assert re.search(r"\d\d:\d\d CES?T", text), name
    assert any(DELETED_PUBLISHED_BERLIN in text for name, text in pages.items()
               if name.endswith(".pdf"))


def test_removal_proof_stands_next_to_the_removed_item(captured: Archive,  # noqa: F811
                                                      tmp_path: Path) -> None:
    register(captured)
    deleted = item_id(captured, DELETED_COMMENT)
    data = open_records(captured, tmp_path, Scope(item_ids=(deleted,)))
    (thread,) = _thread_ids(data)
    page = (data / f"threads/{thread}.html").read_text(encoding="utf-8")
    start = page.index(f'id="item-{deleted}"')
    end = page.find('<div class="item ', start)
    text = html_text(page[start:end if end > 0 else None])
    assert re.search(ASKED, text), text
    assert "GET /v19.0/2001_3003?fields=id" in text and "does not exist" in text
    assert "sha256 of the proof record (canonical JSON)" in text
    pdf = squash(pdf_text(data / f"threads/{thread}.pdf"))
    start = pdf.index("Moe Szyslak")
    after = pdf[start:]
    assert re.search(ASKED, after)
    assert "GET /v19.0/2001_3003?fields=id" in after and "does not exist" in after
    # The proof is that item's: it comes before the next item of the thread.
    assert after.index("does not exist") < after.index("Marge Simpson")


def test_a_redacted_proof_reads_the_same_everywhere_and_is_logged_once(
        captured: Archive, tmp_path: Path) -> None:  # noqa: F811
    register(captured)
    deleted = item_id(captured, DELETED_COMMENT)
    out = tmp_path / "r.zip"
    redactor = Redactor(items=parse_item_redactions([f"{deleted}:K.S.A. 45-221(a)(30)"]))
    export_open_records(captured, Scope(item_ids=(deleted,)), OpenRecordsOptions(
        request_id=REQUEST, out=out, actor="clerk", redactor=redactor))
    data = unzip(out, tmp_path / "r") / "data"
    (thread,) = _thread_ids(data)
    record = json.loads((data / f"items/{deleted}/record.json").read_text(encoding="utf-8"))
    message = record["versions"][-1]["evidence"]["response"]["error"]["message"]
    assert message == "[REDACTED: K.S.A. 45-221(a)(30)]"
    pages = readings(data)
    for name in (f"{thread}.html", f"{thread}.pdf"):
        assert re.search(ASKED, pages[name]), name
        assert '"message": "[REDACTED: K.S.A. 45-221(a)(30)]"' in pages[name], name
        assert "does not exist" not in pages[name], name
    log = list(csv.DictReader((data / "redactions.csv").open(encoding="utf-8")))
    fields = [r["field"] for r in log if r["item_id"] == str(deleted)]
    assert fields.count("evidence.response.error.message") == 1


def test_threads_are_titled_by_account_and_first_words(captured: Archive,  # noqa: F811
                                                      tmp_path: Path) -> None:
    register(captured)
    deleted = item_id(captured, DELETED_COMMENT)
    data = open_records(captured, tmp_path, Scope(item_ids=(deleted,)))
    (thread,) = _thread_ids(data)
    raw = (data / f"threads/{thread}.html").read_text(encoding="utf-8")
    title = html_text(re.search(r"<title>(.*?)</title>", raw, re.S).group(1))  # type: ignore
    assert title.startswith("springfieldpd (facebook) post: “ROAD CLOSURE: Main St. between")
    assert title.endswith("…”") and len(title) < 120
    assert f"Thread {thread}" not in html_text(raw)
    pages = readings(data)
    for name in ("index.html", f"{thread}.html", f"{thread}.pdf"):
        assert "springfieldpd (facebook) post: “ROAD CLOSURE: Main St. between" in pages[name]
    # Each hash says what it is the hash of.
    for name in (f"{thread}.html", f"{thread}.pdf"):
        assert "sha256 of the version record (canonical JSON)" in pages[name], name
        assert "sha256 of the file" in pages[name], name  # the parade route image
    assert "version_record_sha256" in (data / "index.csv").read_text(encoding="utf-8")
    assert "sha256 of the version record (canonical JSON)" in pages["index.html"]


def test_a_wiki_deletion_proof_and_a_hostile_title_stay_text(archive: Archive,
                                                             tmp_path: Path) -> None:
    with MediaWikiServer(token=None) as server:
        pages = list(server.wiki.pages)
        pages[0] = replace(pages[0], title=f"{HOSTILE} Policy")
        server.wiki = replace(server.wiki, pages=tuple(pages))
        account = add_account(archive, AccountSpec(
            platform="mediawiki", external_id=server.base_url, handle="city-wiki",
            api_base=server.base_url, token_env="ARCHIVER_TOKEN_UNSET_WIKI"), actor="test")
        assert capture_account(archive, account, {}, sleep=SleepRecorder(),
                               media=False).status == "succeeded"
        changed = second_state(server.wiki)
        log = tuple(replace(e, comment=f"{HOSTILE} spam & worse") for e in changed.log)
        server.wiki = replace(changed, log=log)
        assert capture_account(archive, account, {}, sleep=SleepRecorder(),
                               media=False).status == "succeeded"
    register(archive)
    data = open_records(archive, tmp_path, Scope(query="*"))
    raw = [p.read_text(encoding="utf-8") for p in data.rglob("*.html")]
    assert all("<script" not in page for page in raw)
    joined = "".join(raw)
    assert "&lt;script&gt;alert(&#39;proof&#39;)&lt;/script&gt; spam &amp; worse" in joined
    readings_ = readings(data)
    removed = [t for n, t in readings_.items() if n.endswith(".pdf") and "Proof of removal" in t]
    assert removed and any(f"{HOSTILE} spam & worse" in t for t in removed)
    assert any("Proof of removal" in t and "delete" in t
               for n, t in readings_.items() if n.endswith(".html"))
    titled = [t for n, t in readings_.items() if f"city-wiki (mediawiki) post: “{HOSTILE}" in t]
    assert len(titled) >= 3  # the thread's HTML and PDF, and the index


def test_production_pages_open_with_the_matter(captured: Archive,  # noqa: F811
                                              tmp_path: Path) -> None:
    create_hold(captured, HoldSpec(name="smith-v-city", matter="Smith v. City <No. 24-1>",
                                   created_by="counsel", query="parade"))
    out = tmp_path / "prod.zip"
    result = export_production(captured, Scope(hold="smith-v-city"), ProductionOptions(
        bates_prefix="SPD", out=out, actor="counsel"))
    root = unzip(out, tmp_path / "prod")
    images = sorted((root / "IMAGES").rglob("*.pdf"))
    assert len(images) == result.items
    deleted = item_id(captured, DELETED_COMMENT)
    for image in images:
        text = squash(pdf_text(image))
        bates = image.stem
        for label, value in (("Production", "SPD-PROD001 (volume SPD-VOL001)"),
                             ("Bates", bates), ("Matter", "Smith v. City <No. 24-1>"),
                             ("Hold", "smith-v-city"), ("Scope searched", "hold smith-v-city")):
            assert shows(text, label, value), (image.name, label, text[:400])
        assert re.search(r"Produced:? \d{4}-\d\d-\d\d \d\d:\d\d C[SD]T by counsel", text)
        assert "hidden by a moderator" in text and not UTC_ISO.search(text)
        if f'"item_id": {deleted},' in (root / "NATIVES" / image.parent.name /
                                         f"{bates}.json").read_text(encoding="utf-8"):
            assert "Proof of removal" in text and "does not exist" in text


def _thread_ids(data: Path) -> list[str]:
    return sorted(p.stem for p in (data / "threads").glob("*.html"))
