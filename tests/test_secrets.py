"""Secrets never stored, exported or shown: the account's token in any encoding, and credential
parameters of any URL, are scrubbed from payloads, evidence and error text.

The end-to-end cases run the loopback Graph server with a token holding ``+/=`` (so every encoding
differs from the literal) and nested edges whose ``paging.next`` carries it, as the real API does.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from dataclasses import replace
from datetime import date
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
from sqlalchemy import String, Text, create_engine, select, update

from archiver.capture.account import capture_account
from archiver.config import Settings
from archiver.connectors.base import ConnectorConfig
from archiver.connectors.facebook import FacebookConnector
from archiver.connectors.secrets import SecretScrubber
from archiver.connectors.wordpress import WordPressConnector
from archiver.connectors.youtube import YouTubeConnector
from archiver.exports.business_days import HolidayCalendar
from archiver.exports.open_records import OpenRecordsOptions, export_open_records
from archiver.exports.production import ProductionOptions, export_production
from archiver.exports.redaction import Redactor, load_rules
from archiver.exports.requests import add_request
from archiver.exports.selection import Scope
from archiver.item_detail import item_detail
from archiver.standins.dataset import PageDataset, load_sample
from archiver.standins.graph_server import GraphServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive
from archiver.store.models import Base, Blob, CaptureRun, Item, ItemVersion
from archiver.verify import verify_archive
from tests.support.graph import SleepRecorder

TOKEN = "EAAGm0PX4ZCpsBAO7kqZC1ZBwZAhZCZB4yPq+Tz/Lk9Xw7rRb2vQ=="  # noqa: S105 - made up
TOKEN_ENV = "ARCHIVER_TOKEN_SECRETS_TEST"
# Credentials of other parties that a visitor pasted: scrubbed by parameter name.
OTHER_SECRETS = ("otherAppTok3nValue", "AbCsig123value", "xyzClientSecret789", "deadbeefproof42",
                 "AIzaSyPastedKey0042")
PASTED_LINK = (
    "https://cdn.example.org/f.jpg?oe=66&sig=AbCsig123value&client_secret=xyzClientSecret789"
    "&appsecret_proof=deadbeefproof42 and https://graph.example.com/x?access_token="
    "otherAppTok3nValue and https://www.googleapis.com/youtube/v3/videos?id=1&key="
    "AIzaSyPastedKey0042"
)


def _lower_hex(text: str) -> str:
    return re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), text)


def token_forms(token: str = TOKEN) -> set[str]:
    """Every spelling of ``token`` that must never be stored or shown."""
    quoted = {quote(token, safe=""), quote(token), quote_plus(token), quote_plus(token, safe="/"),
              quote(quote(token, safe=""), safe="")}
    json_escaped = json.dumps(token)[1:-1]
    return {token, *quoted, *(_lower_hex(q) for q in quoted), json_escaped.replace("/", "\\/"),
            "".join(f"\\u{ord(c):04x}" for c in token), "".join(f"\\u{ord(c):04X}" for c in token)}


def fragments(token: str = TOKEN, width: int = 16) -> set[str]:
    """Pieces of the literal and URL-encoded token: a message cut mid-token must not keep one."""
    out: set[str] = set()
    for form in (token, quote(token, safe=""), quote_plus(token)):
        out.update(form[i:i + width] for i in range(len(form) - width + 1))
    return out


def leaks(text: str, *, with_fragments: bool = False) -> list[str]:
    """What of the token (or of the other secrets) ``text`` still holds."""
    needles = token_forms() | set(OTHER_SECRETS) | (fragments() if with_fragments else set())
    return sorted(n for n in needles if n in text)


# -- the scrubber on its own ------------------------------------------------------------------

def connector(token: str = TOKEN) -> FacebookConnector:
    return FacebookConnector(ConnectorConfig(account_external_id="1", token=token))


@pytest.mark.parametrize("form", sorted(token_forms()))
def test_error_text_loses_every_encoding_of_the_token(form: str) -> None:
    with connector() as c:
        scrubbed = c.scrub(f"GET /feed: (#100) bad parameter: token={form}; path=/v19.0/{form}x")
    assert leaks(scrubbed) == [], scrubbed
    assert "(#100) bad parameter" in scrubbed


def test_credential_parameters_of_any_url_are_scrubbed_and_plain_text_is_not() -> None:
    with connector() as c:
        scrubbed = c.scrub(PASTED_LINK + " press key=enter; design=fine; sig=tag")
        encoded = c.scrub("next=" + quote(PASTED_LINK, safe=""))
        # "İ".lower() is two characters: positions must not shift.
        turkish = c.scrub("İİ ?access_token=otherAppTok3nValue&x=İ")
    assert leaks(scrubbed) == [] and leaks(encoded) == [], (scrubbed, encoded)
    assert turkish == "İİ ?access_token=***&x=İ"
    assert "access_token=***" in scrubbed and "oe=66" in scrubbed
    # ``key`` and ``sig`` are secrets only as query parameters: prose keeps them.
    assert "press key=enter; design=fine; sig=tag" in scrubbed


def test_credentials_a_connector_derives_from_its_token_are_secrets_too() -> None:
    api_key, password = "AIzaSyDerivedKey0001", "abcd EFGH ijkl MNOP qrst UVWX"
    with YouTubeConnector(ConnectorConfig(account_external_id="UC1", token=f"key:{api_key}")) as yt:
        said = yt.scrub(f"quota for {api_key} ({quote(api_key)}) exceeded")
    assert api_key not in said and said.count("***") == 2
    wp = WordPressConnector(ConnectorConfig(account_external_id="https://wp.example.org",
                                            token=f"editor:{password}"))
    with wp:
        said = wp.scrub(f"bad password {quote_plus(password)} / {password} for editor")
    assert said == "bad password *** / *** for editor"  # the user name names authors: kept


def test_json_payload_scrub_counts_and_keeps_shape() -> None:
    payload = {
        "id": "1_2", "message": f"pasted {TOKEN} here",
        "attachments": {"data": [{"url": "https://x.org/a"}], "paging": {
            "next": f"https://graph.facebook.com/v19.0/1_2/attachments?access_token="
                    f"{quote_plus(TOKEN)}&after=QVFI", "cursors": {"after": "QVFI"}}},
        "embedded": json.dumps({"next": f"https://h/x?t={TOKEN}"}).replace("/", "\\/"),
        "n": 3, "ok": True, "none": None,
    }
    scrubbed, count = SecretScrubber([TOKEN]).json(payload)
    assert count == 3
    assert leaks(json.dumps(scrubbed)) == [] and leaks(str(scrubbed)) == []
    assert scrubbed["attachments"]["paging"]["next"].endswith("access_token=***&after=QVFI")
    kept = (scrubbed["n"], scrubbed["ok"], scrubbed["none"], scrubbed["id"])
    assert kept == (3, True, None, "1_2")
    assert SecretScrubber([TOKEN]).json(scrubbed) == (scrubbed, 0)  # nothing left to count


# -- end to end: capture, store, export -------------------------------------------------------

def dataset_with_secrets() -> PageDataset:
    """The sample, with the token pasted into a post (literal, encoded, JSON-escaped) and other
    parties' credentials in a comment."""
    sample = load_sample()
    first, *rest = sample.posts
    json_escaped = TOKEN.replace("/", "\\/")
    pasted = (f"{first.message} Explorer: {TOKEN} | {quote(TOKEN, safe='')} | "
              f"{_lower_hex(quote_plus(TOKEN))} | {{\"t\":\"{json_escaped}\"}}")
    comments = list(sample.comments)
    comments[0] = replace(comments[0], message=f"{comments[0].message} {PASTED_LINK}")
    return replace(sample, posts=(replace(first, message=pasted), *rest),
                   comments=tuple(comments))


def stored_texts(archive: Archive) -> list[tuple[str, str]]:
    """(where, text) for every text column of every row and every blob in the store."""
    out: list[tuple[str, str]] = []
    with archive.sessions() as s:
        for table in Base.metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text)]
            for column in columns:
                for value in s.scalars(select(column).where(column.is_not(None))):
                    out.append((f"{table.name}.{column.name}", str(value)))
        shas = list(s.scalars(select(Blob.sha256)))
    for sha in shas:
        out.append((f"blob {sha}", archive.store.get(sha).decode("utf-8", "replace")))
    return out


def package_texts(path: Path) -> list[tuple[str, str]]:
    """(entry, text) for every file in a package ZIP; a PDF's text as pdftotext reads it."""
    out: list[tuple[str, str]] = []
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            data = zf.read(name)
            if name.endswith(".pdf"):
                done = subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True,
                                      check=True)
                text = done.stdout.decode("utf-8", "replace")
                out.append((name, text))
                out.append((name + " (joined)", "".join(text.split())))
            for encoding in ("utf-8", "utf-16"):
                out.append((f"{name} ({encoding})", data.decode(encoding, "replace")))
    return out


def test_token_in_payloads_never_reaches_store_db_or_packages(
    archive: Archive, tmp_path: Path
) -> None:
    with GraphServer(dataset_with_secrets(), page_size=5, token=TOKEN,
                     nested_paging=True) as server:
        account = add_account(archive, AccountSpec(
            platform="facebook", external_id=server.dataset.page_id, handle="springfieldpd",
            api_base=server.base_url, token_env=TOKEN_ENV), actor="test")
        env = {TOKEN_ENV: TOKEN}
        first = capture_account(archive, account, env, sleep=SleepRecorder())
        assert first.status == "succeeded", first.error
        # A deletion whose 100/33 answer (kept as evidence) echoes the token, URL-encoded.
        server.apply_second_state()
        server.graph_error(100, 33, path=r"/2001_3003$", times=None,
                           message=f"Unsupported get request (token {quote_plus(TOKEN)})")
        second = capture_account(archive, account, env, sleep=SleepRecorder())
        assert second.status == "succeeded", second.error
        assert second.removed == 1

    found = [(where, leaks(text)) for where, text in stored_texts(archive) if leaks(text)]
    assert found == [], found[:5]

    add_request(archive, "KORA-2024-99", received_on=date(2024, 6, 3),
                calendar=HolidayCalendar(), actor="clerk")
    packages = []
    for name, redactor in (("plain", Redactor()), ("redacted", Redactor(rules=load_rules()))):
        out = tmp_path / f"{name}.zip"
        export_open_records(archive, Scope(query="*"), OpenRecordsOptions(
            request_id="KORA-2024-99", out=out, actor="clerk", redactor=redactor))
        packages.append(out)
    production = tmp_path / "production.zip"
    export_production(archive, Scope(query="*"), ProductionOptions(
        bates_prefix="KPD", out=production, actor="clerk"))
    packages.append(production)
    for package in packages:
        found = [(where, leaks(text)) for where, text in package_texts(package) if leaks(text)]
        assert found == [], (package.name, found[:5])

    # The scrub is on record: per version (items show), per run and in the capture summary.
    assert first.secrets_scrubbed >= 6 and second.secrets_scrubbed >= 1
    with archive.sessions() as s:
        runs = s.scalars(select(CaptureRun).order_by(CaptureRun.id)).all()
        post_id = s.scalar(select(Item.id).where(Item.external_id == load_sample().posts[0].id))
        removed_id = s.scalar(select(Item.id).where(Item.external_id == "2001_3003"))
    assert [r.secrets_scrubbed for r in runs] == [first.secrets_scrubbed, second.secrets_scrubbed]
    assert first.as_json()["secrets_scrubbed"] == first.secrets_scrubbed
    assert post_id is not None and removed_id is not None
    shown = item_detail(archive, post_id)
    assert shown["versions"][0]["secrets_scrubbed"] >= 5  # 4 pasted forms + the paging link
    assert "***" in shown["text"] and "Explorer:" in shown["text"]
    removal = item_detail(archive, removed_id)["versions"][-1]
    assert removal["status"] == "removed" and removal["secrets_scrubbed"] == 1

    # The count is sealed into the version's hash: verify holds, and notices it altered.
    assert verify_archive(archive).ok
    with archive.transaction() as s:
        s.execute(update(ItemVersion).where(ItemVersion.item_id == post_id)
                  .values(secrets_scrubbed=0))
    assert any(p.kind == "version" and "hash mismatch" in p.reason
               for p in verify_archive(archive).problems)


# -- end to end: error text through the real command line -------------------------------------

def archiver_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "archiver.cli", *args],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=120)


def test_error_echoing_the_encoded_token_reaches_no_output_or_record(
    settings: Settings, settings_env: dict[str, str]
) -> None:
    # The token is cut where the platform's message is shortened for the one-line error: no
    # piece of it may survive that either.
    said = f"(#100) Invalid OAuth access token {quote(TOKEN, safe='')}, sent "
    # Graph errors are cut at 200 characters: the second copy straddles the cut.
    echo = said + "x" * (200 - len(said) - 30) + f" {quote_plus(TOKEN)} again"
    with GraphServer(load_sample(), token=TOKEN) as server:
        server.graph_error(100, status=400, times=None, message=echo)
        assert archiver_cli(settings_env, "init").returncode == 0
        added = archiver_cli(settings_env, "accounts", "add", "facebook", server.dataset.page_id,
                             "--handle", "springfieldpd", "--api-base", server.base_url,
                             "--token-env", TOKEN_ENV)
        assert added.returncode == 0, added.stderr
        env = {**settings_env, TOKEN_ENV: TOKEN}
        as_json = archiver_cli(env, "capture", "--json")
        plain = archiver_cli(env, "capture")

    assert as_json.returncode == 1 and plain.returncode == 1
    run = json.loads(as_json.stdout)["runs"][0]
    assert run["status"] == "failed" and "Graph error 100" in run["error"], run
    assert "Graph error 100" in plain.stderr
    for name, text in (("--json stdout", as_json.stdout), ("--json stderr", as_json.stderr),
                       ("stdout", plain.stdout), ("stderr", plain.stderr)):
        assert leaks(text, with_fragments=True) == [], (name, text)

    engine = create_engine(settings.db_url)
    try:
        with engine.connect() as conn:
            errors = conn.execute(select(CaptureRun.error)).scalars().all()
            events = conn.execute(select(Base.metadata.tables["audit_events"].c.details_json)
                                  ).scalars().all()
    finally:
        engine.dispose()
    assert len(errors) == 2 and all(e and "Graph error 100" in e for e in errors)
    failed_events = [e for e in events if "Graph error 100" in e]
    assert len(failed_events) == 2
    for text in [*errors, *events]:
        assert leaks(text, with_fragments=True) == [], text
    assert leaks(echo, with_fragments=True)  # the platform's answer did hold the token
