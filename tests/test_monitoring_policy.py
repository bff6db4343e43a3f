"""``policy check``: every platform's sample account read through its connector, each
requirement of GO 80.11 III.A.1.b and III.A.1.d reported with the text found, the result stored
with its evidence and shown in ``accounts list``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from archiver.daemon.notices import check_pages
from archiver.monitoring.policy import sentence_around
from archiver.standins.feed_server import FeedServer
from archiver.standins.graph_server import GraphServer
from archiver.standins.instagram_server import InstagramServer
from archiver.standins.mediawiki_server import MediaWikiServer
from archiver.standins.wordpress_server import WordPressServer
from archiver.standins.x_server import XServer
from archiver.standins.youtube_server import YouTubeServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive
from archiver.store.models import AuditEvent
from archiver.store.monitoring import PolicyCheck
from tests.support.monitoring import rule_file
from tests.test_cli import archiver

REQUIREMENTS = ("maintained-by", "contact", "comments-monitored", "opinions-not-department",
                "public-disclosure")
# What each sample account's profile meets (in the order of REQUIREMENTS).
EXPECTED = {
    "facebook": (True, True, True, True, True),
    "instagram": (True, True, False, False, False),
    "x": (True, False, False, False, True),
    "youtube": (True, False, True, True, True),
    "wordpress": (True, True, False, False, False),
    "mediawiki": (True, True, False, False, True),
    "feed": (True, True, False, False, False),
}


@dataclass
class Platforms:
    env: dict[str, str]
    ids: dict[str, int]


def register_all(archive: Archive, graph: GraphServer, ig: InstagramServer, x: XServer,
                 yt: YouTubeServer, wp: WordPressServer, mw: MediaWikiServer,
                 feed: FeedServer) -> Platforms:
    """Every platform's sample account, each with its own token variable."""
    accounts = {
        "facebook": (graph.dataset.page_id, graph.base_url, graph.token),
        "instagram": (ig.ig.user_id, ig.base_url, ig.token),
        "x": (x.dataset.account.id, x.base_url, x.token),
        "youtube": (yt.channel.id, yt.base_url, yt.token),
        "wordpress": (wp.origin, wp.base_url, None),
        "mediawiki": (mw.base_url, mw.base_url, mw.token),
        "feed": (feed.rss_url, feed.rss_url, None),
    }
    env: dict[str, str] = {}
    ids: dict[str, int] = {}
    for platform, (external_id, base, token) in accounts.items():
        variable = f"ARCHIVER_TEST_POLICY_{platform.upper()}"
        account = add_account(archive, AccountSpec(platform=platform, external_id=external_id,
                                                   handle=f"spd-{platform}", api_base=base,
                                                   token_env=variable), actor="test")
        ids[platform] = account.id
        if token:
            env[variable] = token
    return Platforms(env, ids)


def test_every_platforms_sample_account_is_checked_per_requirement(
        archive: Archive, graph_server: GraphServer, instagram_server: InstagramServer,
        x_server: XServer, youtube_server: YouTubeServer, wordpress_server: WordPressServer,
        mediawiki_server: MediaWikiServer, feed_server: FeedServer,
        settings_env: dict[str, str]) -> None:
    platforms = register_all(archive, graph_server, instagram_server, x_server, youtube_server,
                             wordpress_server, mediawiki_server, feed_server)
    checks = {c["platform"]: c for c in check_pages(archive, platforms.env, actor="test")}
    assert set(checks) == set(EXPECTED)
    for platform, expected in EXPECTED.items():
        check = checks[platform]
        assert check["status"] == "checked", (platform, check["error"])
        results = {r["requirement"]: r for r in check["requirements"]}
        assert tuple(results) == REQUIREMENTS
        assert tuple(results[r]["passed"] for r in REQUIREMENTS) == expected, platform
        for r in results.values():
            assert bool(r["found"]) == r["passed"]  # a pass quotes what met it
            assert r["ground"].startswith("GO 80.11 III.A.1.")
        assert check["passed"] is all(expected)

    facebook = {r["requirement"]: r for r in checks["facebook"]["requirements"]}
    assert facebook["contact"]["found"] == [{"field": "phone", "text": "(555) 010-0100"}]
    assert facebook["comments-monitored"]["found"] == [
        {"field": "description", "text": "Comments on this page are monitored."},
        {"field": "description", "text": "The department may hide or remove obscenities, "
                                         "off-topic comments and personal attacks."}]
    wordpress = {r["requirement"]: r for r in checks["wordpress"]["requirements"]}
    assert wordpress["contact"]["found"] == [{"field": "page: Contact us", "text": "Contact us"}]

    # Stored with the profile as evidence, and audited.
    with archive.sessions() as s:
        stored = s.scalars(select(PolicyCheck).order_by(PolicyCheck.id)).all()
        assert len(stored) == 7
        audited = s.scalars(select(AuditEvent.target_id).where(
            AuditEvent.action == "policy.checked")).all()
        assert sorted(audited) == sorted(str(i) for i in platforms.ids.values())
    evidence = json.loads(archive.store.get(checks["x"]["evidence_sha256"]))
    assert evidence["url"] == "https://x.com/SpringfieldPD"
    assert {f["name"] for f in evidence["fields"]} == {"description", "location", "url"}
    assert x_server.token not in json.dumps(evidence)

    # accounts list shows the latest result of each.
    listed = {row["platform"]: row for row in json.loads(
        archiver(settings_env, "accounts", "list", "--json").stdout)}
    assert listed["facebook"]["policy"]["met"] == list(REQUIREMENTS)
    assert listed["x"]["policy"]["not_met"] == ["contact", "comments-monitored",
                                                 "opinions-not-department"]
    text = archiver(settings_env, "accounts", "list").stdout.splitlines()
    assert text[0].endswith(f"policy: 5/5 met ({checks['facebook']['checked_at'][:10]})")
    assert "policy: 2/5 met, missing comments-monitored, opinions-not-department, " \
           "public-disclosure" in text[platforms.ids["wordpress"] - 1]


def test_cli_check_prints_each_requirement_and_fails_on_a_missing_one(
        archive: Archive, graph_server: GraphServer, feed_server: FeedServer,
        settings_env: dict[str, str]) -> None:
    fb = add_account(archive, AccountSpec(platform="facebook",
                                          external_id=graph_server.dataset.page_id,
                                          handle="springfield-pd", api_base=graph_server.base_url,
                                          token_env="ARCHIVER_TEST_POLICY_FB"), actor="test")
    feed = add_account(archive, AccountSpec(platform="feed", external_id=feed_server.rss_url,
                                            handle="news", token_env="ARCHIVER_TEST_POLICY_FEED"),
                       actor="test")
    env = {**settings_env, "ARCHIVER_TEST_POLICY_FB": graph_server.token}
    done = archiver(env, "policy", "check", "--account", str(fb.id))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"account {fb.id} facebook:springfield-pd: 5 of 5 requirements met")
    assert "  PASS public-disclosure (GO 80.11 III.A.1.d(2)): whatever is posted is subject to " \
           "public disclosure" in lines
    assert '       found in about: "Official page of the Springfield Police Department, ' \
           'maintained by the Public Information Office."' in lines
    both = archiver(env, "policy", "check", "--json")
    assert both.returncode == 1  # the feed does not state everything
    data = json.loads(both.stdout)["accounts"]
    assert [c["account_id"] for c in data] == [fb.id, feed.id]
    # A profile that cannot be read is said, and stored as unreadable.
    graph_server.expire_token()
    unreadable = archiver(env, "policy", "check", "--account", str(fb.id))
    assert unreadable.returncode == 1
    assert "profile unreadable: facebook: GET /v19.0/104882335720091: access refused" \
        in unreadable.stdout
    assert graph_server.token not in unreadable.stdout


def test_the_phrases_are_the_rule_files(
        archive: Archive, graph_server: GraphServer, settings_env: dict[str, str],
        tmp_path: Path) -> None:
    strict = rule_file(tmp_path, "rules: strict\npage_requirements:\n"
                                 "  - id: hours\n    ground: GO 80.11 III.A.1.b\n"
                                 "    title: office hours are stated\n"
                                 "    phrases: [office hours]\n")
    assert archiver(settings_env, "review", "rules", "load", str(strict)).returncode == 0
    add_account(archive, AccountSpec(platform="facebook", external_id=graph_server.dataset.page_id,
                                     handle="springfield-pd", api_base=graph_server.base_url,
                                     token_env="ARCHIVER_TEST_POLICY_FB"), actor="test")
    [check] = check_pages(archive, {"ARCHIVER_TEST_POLICY_FB": graph_server.token}, actor="t")
    assert [(r["requirement"], r["passed"]) for r in check["requirements"]] == [("hours", False)]


def test_sentence_around_a_match() -> None:
    text = "First one. The second sentence is here! Third?"
    start = text.index("second")
    assert sentence_around(text, start, start + 6) == "The second sentence is here!"
    assert sentence_around("no end at all", 3, 6) == "no end at all"
