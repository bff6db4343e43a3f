"""Helpers for redaction tests: personal data spelled every way, planted anywhere in a payload,
records stored through the real capture path, and a whole-package leak check.

The leak check is deliberately independent of the redactor: it looks for the planted digits with
any separator between them, and for the planted e-mail after Unicode compatibility folding, in the
text of every member of the ZIP (PDFs through ``pdftotext``).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
import uuid
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from sqlalchemy import select

from archiver.capture.run import Capture
from archiver.connectors import get_connector_class
from archiver.connectors.base import ConnectorConfig
from archiver.connectors.records import Record
from archiver.exports.business_days import HolidayCalendar
from archiver.exports.open_records import OpenRecordsOptions, export_open_records
from archiver.exports.redaction import Redactor, load_rules
from archiver.exports.requests import add_request
from archiver.exports.selection import Scope
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive
from archiver.store.models import Item

TOKEN_ENV = "ARCHIVER_TOKEN_REDACTION_TEST"
# Nothing listens here: records are applied as a webhook applies them, no read is made.
NO_API = "http://127.0.0.1:9"

# Platform payloads shaped as their APIs return them: personal data under many keys, any depth.
PLATFORM_PAYLOADS: dict[str, dict[str, Any]] = {
    "facebook": {"id": "1_2", "message": "ok", "attachments": {"data": [
        {"description": "jane@example.com", "title": "t",
         "target": {"url": "https://example.org/?phone=555-123-4567"}}]},
        "from": {"name": "Jane 987-65-4321", "id": "3"}},
    "youtube": {"kind": "youtube#comment", "id": "UgxKREWxIgDrw", "snippet": {
        "textOriginal": "Call 555-123-4567", "textDisplay": "Call 555-123-4567<br>",
        "authorDisplayName": "@jane", "authorChannelUrl": "http://youtube.com/@jane",
        "likeCount": 0}},
    "wordpress": {"id": 301, "content": {"rendered": "<p>me: jane@example.com</p>"},
                  "author_email": "jane@example.com", "excerpt": {"rendered": "987-65-4321"}},
    "feed": {"id": "tag:pd.example,2024:1", "summary": "... Call 555-123-4567 ...",
             "content": [{"type": "text/html", "value": "<p>SSN 987-65-4321</p>"}],
             "author_detail": {"email": "pio@pd.example.org", "name": "PIO"}},
    "x": {"data": {"id": "1790", "text": "ok", "note_tweet": {"text": "DM 555.123.4567"},
                   "entities": {"mentions": [{"username": "x", "start": 0}]}},
          "includes": {"users": [{"id": "9", "description": "jane@example.com"}]}},
    "instagram": {"id": "17895", "caption": "jane@example.com", "comments": {"data": [
        {"id": "1", "text": "555 123 4567", "username": "j"}]}},
    "mediawiki": {"revid": 7, "comment": "rv 555-123-4567", "slots": {"main": {
        "contentmodel": "wikitext", "*": "Contact: jane@example.com"}}},
}
PLATFORM_SECRETS = ("5551234567", "987654321", "jane@example.com", "pio@pd.example.org")


# -- personal data, spelled every way --------------------------------------------------------
SEPARATORS = ("-", " ", ".", "\u00a0", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014",
              "\u2212", "\ufe63", "\uff0d")
INVISIBLE = ("", "", "", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad")


@dataclass(frozen=True)
class Planted:
    """Personal data as written into a payload, and what must not be readable afterwards."""

    spelled: str
    secret: str  # the digits of a phone number or SSN, or an e-mail address (lower case)


def _wide(ch: str) -> str:
    """The fullwidth form of an ASCII letter, digit or sign."""
    return chr(ord(ch) + 0xFEE0) if "!" <= ch <= "~" else ch


@st.composite
def _spell(draw: st.DrawFn, text: str) -> str:
    """``text`` with each character maybe fullwidth and maybe followed by an invisible one."""
    out = []
    for ch in text:
        out.append(_wide(ch) if draw(st.booleans()) else ch)
        out.append(draw(st.sampled_from(INVISIBLE)))
    return "".join(out)


@st.composite
def _number(draw: st.DrawFn, groups: Sequence[int]) -> Planted:
    parts = [draw(st.text("0123456789", min_size=n, max_size=n)) for n in groups]
    spelled = [draw(_spell(part)) for part in parts]
    if len(parts) == 3 and len(parts[1]) == 3 and draw(st.booleans()):
        # (217) 555-0147, maybe with +1 in front
        prefix = draw(st.sampled_from(["", "+1 ", "1-"]))
        head = f"{prefix}{draw(_spell('('))}{spelled[0]}{draw(_spell(')'))} "
        text = head + spelled[1] + draw(st.sampled_from(SEPARATORS)) + spelled[2]
    else:
        text = spelled[0]
        for part in spelled[1:]:
            text += draw(st.sampled_from(SEPARATORS)) + part
    return Planted(text, "".join(parts))


@st.composite
def _email(draw: st.DrawFn) -> Planted:
    word = st.text("abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=8)
    local = draw(word) + draw(st.sampled_from(["", "."])) + draw(word)
    address = f"{local}@{draw(word)}.{draw(st.sampled_from(['com', 'org', 'gov', 'info']))}"
    return Planted(draw(_spell(address)), address)


def personal_data() -> st.SearchStrategy[Planted]:
    """A telephone number, an SSN or an e-mail address, in any of their spellings."""
    return st.one_of(_number((3, 3, 4)), _number((3, 2, 4)), _email())


# Filler holds no digits, so the leak check cannot mistake it for planted data.
FILLER = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Nd", "No", "Nl")),
                 max_size=10)
JSON_TREES = st.recursive(
    st.none() | st.booleans() | st.integers() | FILLER,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(FILLER, inner, max_size=3),
    max_leaves=8,
)


def around(draw: st.DrawFn, planted: Planted) -> str:
    """The planted text inside filler (spaces keep it a word of its own)."""
    return f"{draw(FILLER)} {planted.spelled} {draw(FILLER)}"


def plant(draw: st.DrawFn, node: Any, planted: Planted) -> Any:
    """``node`` with ``planted`` in a string somewhere inside it: a value or a key, any depth."""
    if isinstance(node, dict):
        keys = list(node)
        pick = draw(st.integers(-2, len(keys) - 1))
        if pick == -2:
            node[f"{draw(FILLER)} {planted.spelled}"] = draw(JSON_TREES)
        elif pick == -1:
            node[draw(FILLER)] = around(draw, planted)
        else:
            node[keys[pick]] = plant(draw, node[keys[pick]], planted)
        return node
    if isinstance(node, list):
        pick = draw(st.integers(-1, len(node) - 1))
        if pick == -1:
            node.append(around(draw, planted))
        else:
            node[pick] = plant(draw, node[pick], planted)
        return node
    if isinstance(node, str):
        return f"{node} {planted.spelled} {draw(FILLER)}"
    return around(draw, planted)


# -- the real capture and export paths --------------------------------------------------------
def new_account(archive: Archive, platform: str) -> Any:
    """A fresh account of ``platform`` (unique external id, so examples never collide)."""
    key = uuid.uuid4().hex[:12]
    return add_account(archive, AccountSpec(
        platform=platform, external_id=f"acct-{key}", handle=f"pd-{platform}-{key}",
        api_base=NO_API, token_env=TOKEN_ENV), actor="test")


def store_records(archive: Archive, platform: str, records: Sequence[Record]) -> list[int]:
    """Store ``records`` through :meth:`Capture.apply` for a new account; the item ids."""
    account = new_account(archive, platform)
    config = ConnectorConfig(account_external_id=account.external_id, api_base=NO_API)
    with get_connector_class(platform)(config) as connector:
        result = Capture(archive, account, connector, trigger="webhook").apply(records)
    assert result.status == "succeeded", result.error
    with archive.sessions() as s:
        return sorted(s.scalars(select(Item.id).where(Item.account_id == account.id)))


def export_redacted(archive: Archive, out: Path, scope: Scope,
                    redactor: Redactor | None = None) -> Path:
    """An open-records package of ``scope`` with the default rules (PDF included, validated)."""
    request_id = f"R-{uuid.uuid4().hex[:10]}"
    add_request(archive, request_id, received_on=date(2024, 5, 6), calendar=HolidayCalendar(),
                actor="clerk")
    export_open_records(archive, scope, OpenRecordsOptions(
        request_id=request_id, out=out, actor="clerk",
        redactor=redactor or Redactor(rules=load_rules())))
    return out


# -- reading every member and looking for what was planted -----------------------------------
def pdf_text(data: bytes, folder: Path) -> str:
    """The text of a PDF as ``pdftotext`` (poppler-utils) extracts it."""
    tool = shutil.which("pdftotext")
    assert tool, "pdftotext is needed to read the PDFs: apt-get install poppler-utils"
    path = folder / "member.pdf"
    path.write_bytes(data)
    done = subprocess.run([tool, "-enc", "UTF-8", str(path), "-"], capture_output=True,
                          check=True)
    return done.stdout.decode("utf-8")


def zip_texts(package: Path, folder: Path) -> dict[str, str]:
    """Every member of the ZIP as text: PDFs extracted, everything else decoded."""
    out: dict[str, str] = {}
    with zipfile.ZipFile(package) as zf:
        for name in zf.namelist():
            data = zf.read(name)
            if name.endswith(".pdf"):
                out[name] = pdf_text(data, folder)
            else:
                out[name] = data.decode("utf-8", errors="replace")
            out[f"(name) {name}"] = name
    return out


def _visible(text: str) -> str:
    folded = unicodedata.normalize("NFKC", text)
    return "".join(c for c in folded if unicodedata.category(c) != "Cf").lower()


def _finder(secret: str) -> re.Pattern[str]:
    if secret.isdigit():
        # Any separators (or markup) between the digits still spell the number.
        return re.compile("[^0-9a-z]{0,6}".join(secret))
    return re.compile(re.escape(secret))


def leaks(texts: dict[str, str], secrets: Iterable[str]) -> list[tuple[str, str]]:
    """(member, secret) for each planted secret still readable in a member."""
    finders = {s: _finder(s.lower()) for s in secrets}
    found = []
    for name, text in texts.items():
        visible = _visible(text)
        found += [(name, s) for s, f in finders.items() if f.search(visible)]
    return found
