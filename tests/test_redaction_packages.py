"""Redacted open-records packages hold no personal data anywhere: natives (records as parsed at any
depth, keys included, removal evidence), media entries, HTML, PDF, index.csv, index.html and the
redaction log. Archives are built through the real capture paths (loopback servers, or
:meth:`Capture.apply` as a webhook delivery does) on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
import tempfile
import zipfile
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.connectors import PLATFORMS
from archiver.connectors.records import ROOT_SCOPE, MediaRef, Record
from archiver.exports.redaction import Redactor, load_rules
from archiver.exports.selection import Scope
from archiver.standins.feed_server import FeedServer, sample_entries
from archiver.standins.mediawiki_server import MediaWikiServer, Rev, sample_wiki
from archiver.standins.wordpress_server import WordPressServer, sample_site
from archiver.standins.youtube_server import CHANNEL_ID, YouTubeServer, sample_channel
from archiver.store.archive import Archive
from tests.support.platforms_b import register
from tests.support.redaction import (
    FILLER,
    JSON_TREES,
    PLATFORM_PAYLOADS,
    PLATFORM_SECRETS,
    Planted,
    around,
    export_redacted,
    leaks,
    personal_data,
    plant,
    store_records,
    zip_texts,
)

WHEN = datetime(2024, 5, 1, 12, tzinfo=UTC)


def package_leaks(archive: Archive, tmp_path: Path, secrets: tuple[str, ...],
                  scope: Scope | None = None) -> list[tuple[str, str]]:
    out = export_redacted(archive, tmp_path / "package.zip", scope or Scope(query="*"))
    return leaks(zip_texts(out, tmp_path), secrets)


def test_feed_summary_is_redacted_in_the_native(archive: Archive, tmp_path: Path) -> None:
    entries = [replace(e, enclosure=None) for e in sample_entries(3)]
    entries[0] = replace(entries[0], content="<p>Tips? Call 555-123-4567 or e-mail "
                                             "tips@pd.example.org.</p>")
    with FeedServer(tuple(entries)) as server:
        acct = register(archive, "feed", server.rss_url, server.rss_url, "feed-token")
        assert acct.capture().status == "succeeded"
    out = export_redacted(archive, tmp_path / "p.zip", Scope(query="*"))
    texts = zip_texts(out, tmp_path)
    record = next(json.loads(t) for n, t in texts.items()
                  if n.endswith("record.json") and "Tips?" in t)
    assert "[REDACTED: telephone number]" in record["versions"][0]["raw"]["summary"]
    assert leaks(texts, ("5551234567", "tips@pd.example.org")) == []


def _youtube(server_text: str) -> YouTubeServer:
    channel = sample_channel(videos=1, comments_per_video=2)
    comments = (replace(channel.comments[0], text=server_text), *channel.comments[1:])
    return YouTubeServer(replace(channel, comments=comments))


def _wordpress(server_text: str) -> WordPressServer:
    site = sample_site(posts=2, comments_per_post=1)
    posts = (replace(site.posts[0], content=f"<p>{server_text}</p>"), *site.posts[1:])
    return WordPressServer(replace(site, posts=posts))


def _mediawiki(server_text: str) -> MediaWikiServer:
    wiki = sample_wiki(pages=2)
    page = wiki.pages[0]
    rev: Rev = replace(page.revisions[0], comment=server_text, content=server_text)
    pages = (replace(page, revisions=(rev, *page.revisions[1:])), *wiki.pages[1:])
    return MediaWikiServer(replace(wiki, pages=pages))


LOOPBACK: dict[str, Any] = {
    "youtube": (_youtube, CHANNEL_ID, lambda s: s.token),
    "wordpress": (_wordpress, "https://pd.example.invalid", lambda s: s.app_password),
    "mediawiki": (_mediawiki, "wiki", lambda s: s.token),
}


@pytest.mark.parametrize("platform", sorted(LOOPBACK))
def test_platform_text_fields_are_redacted_everywhere(archive: Archive, tmp_path: Path,
                                                     platform: str) -> None:
    make, external_id, token = LOOPBACK[platform]
    with make("Reach me at 555\u2011123\u20114567 or jane@example.com, SSN 987 65 4321") \
            as server:
        acct = register(archive, platform, external_id, server.base_url, token(server))
        result = acct.capture()
        assert result.status == "succeeded", result.error
    # WordPress hands out commenters' e-mail addresses (author_email) to an authorized reader.
    secrets = ("5551234567", "jane@example.com", "987654321", "@example.invalid")
    assert package_leaks(archive, tmp_path, secrets) == []


@pytest.mark.parametrize("platform", sorted(PLATFORM_PAYLOADS))
def test_platform_payloads_are_redacted_everywhere(archive: Archive, tmp_path: Path,
                                                  platform: str) -> None:
    records = [Record(
        external_id="p1", kind="post", scope=ROOT_SCOPE, text="a post", status="active",
        platform_status=None, author_name="Jane jane@example.com", author_id="7",
        created_at=WHEN, updated_at=None, url="https://example.org/p1?c=555-123-4567",
        raw=PLATFORM_PAYLOADS[platform],
        media=(MediaRef("https://cdn.example.org/987-65-4321.jpg", "image/jpeg"),))]
    ids = store_records(archive, platform, records)
    assert package_leaks(archive, tmp_path, PLATFORM_SECRETS, Scope(item_ids=tuple(ids))) == []


def test_removal_evidence_is_redacted(archive: Archive, tmp_path: Path) -> None:
    from archiver.capture.account import capture_account
    from archiver.standins.dataset import load_sample
    from archiver.standins.graph_server import GraphServer
    from archiver.store.accounts import AccountSpec, add_account
    from tests.support.graph import SleepRecorder

    with GraphServer(load_sample(), page_size=5) as server:
        account = add_account(archive, AccountSpec(
            platform="facebook", external_id=server.dataset.page_id, handle="springfieldpd",
            api_base=server.base_url, token_env="ARCHIVER_TOKEN_EVIDENCE"), actor="test")
        env = {"ARCHIVER_TOKEN_EVIDENCE": server.token}
        assert capture_account(archive, account, env, sleep=SleepRecorder()).status == "succeeded"
        server.apply_second_state()
        assert capture_account(archive, account, env, sleep=SleepRecorder()).status == "succeeded"
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - {name: graph_error, pattern: 'Unsupported get request', "
                     "reason: platform message, exemption: test}\n")
    out = export_redacted(archive, tmp_path / "p.zip", Scope(query="*"),
                          Redactor(rules=load_rules(rules)))
    texts = zip_texts(out, tmp_path)
    evidence = [json.loads(t) for n, t in texts.items() if n.endswith("record.json")
                and '"evidence": {' in t]
    assert evidence
    assert all("Unsupported get request" not in text for text in texts.values())
    log = next(t for n, t in texts.items() if n.endswith("data/redactions.csv"))
    assert any(r["field"].startswith("evidence.") and r["rule"] == "graph_error"
               for r in csv.DictReader(io.StringIO(log)))


# -- the property: any payload shape, personal data in any string at any depth --------------
TARGETS = ("raw", "raw", "raw", "raw", "text", "author", "url", "media_url", "media_type",
           "platform_status", "external_id")


@st.composite
def threads(draw: st.DrawFn) -> tuple[str, list[Record], list[Planted]]:
    """A post and its comments with personal data planted in payloads and fields."""
    platform = draw(st.sampled_from(PLATFORMS))
    count = draw(st.integers(1, 3))
    fields: list[dict[str, Any]] = [
        {"raw": draw(st.dictionaries(FILLER, JSON_TREES, max_size=4)), "text": draw(FILLER),
         "author": draw(FILLER), "url": f"https://example.org/{n}", "external_id": f"e{n}",
         "media_url": f"https://cdn.example.org/{n}.jpg", "media_type": "image/jpeg",
         "platform_status": None}
        for n in range(count)]
    planted = draw(st.lists(personal_data(), min_size=1, max_size=4))
    for pii in planted:
        n = draw(st.integers(0, count - 1))
        f = fields[n]
        target = draw(st.sampled_from(TARGETS))
        if target == "raw":
            f["raw"] = plant(draw, f["raw"], pii)
        elif target == "platform_status":
            f[target] = pii.spelled  # alone: the column holds 64 characters
        elif target == "external_id":
            f[target] = f"e{n} {pii.spelled}"  # still unique in the thread
        else:
            f[target] = f"{f[target] or ''} {around(draw, pii)}"
    root = fields[0]["external_id"]
    records = [Record(
        external_id=f["external_id"], kind="post" if n == 0 else "comment",
        scope=ROOT_SCOPE if n == 0 else root, text=f["text"], status="active",
        platform_status=f["platform_status"], author_name=f["author"], author_id=str(n),
        created_at=WHEN, updated_at=None, url=f["url"], raw=f["raw"],
        parent_external_id=None if n == 0 else root,
        media=(MediaRef(f["media_url"], f["media_type"]),)) for n, f in enumerate(fields)]
    return platform, records, planted


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(thread=threads())
def test_no_personal_data_survives_anywhere_in_a_redacted_package(
        archive: Archive, thread: tuple[str, list[Record], list[Planted]]) -> None:
    platform, records, planted = thread
    ids = store_records(archive, platform, records)
    with tempfile.TemporaryDirectory() as folder:
        out = export_redacted(archive, Path(folder) / "p.zip", Scope(item_ids=tuple(ids)))
        texts = zip_texts(out, Path(folder))
        with zipfile.ZipFile(out) as zf:
            log = next(zf.read(n).decode() for n in zf.namelist()
                       if n.endswith("data/redactions.csv"))
    assert leaks(texts, [p.secret for p in planted]) == []
    rows = list(csv.DictReader(io.StringIO(log)))
    rules = {rule.name for rule in load_rules()}
    assert rows and all(r["rule"] in rules and r["exemption"] for r in rows)
