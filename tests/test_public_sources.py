"""Sources that anyone may read (a feed, a public wiki, a public WordPress site) are captured
without credentials; platforms that need a token still refuse to start without one."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from archiver.capture.account import capture_account
from archiver.capture.sources import connector_for, credentials_label
from archiver.errors import ConfigError
from archiver.standins.feed_server import FeedServer
from archiver.standins.loopback import LoopbackServer
from archiver.standins.mediawiki_server import MediaWikiServer
from archiver.standins.wordpress_server import WordPressServer
from archiver.store.accounts import AccountSpec, add_account
from archiver.store.archive import Archive
from archiver.store.models import Account
from tests.support.graph import SleepRecorder

UNSET = "ARCHIVER_TOKEN_PUBLIC_SOURCE_TEST"


@pytest.fixture(params=["feed", "mediawiki", "wordpress"])
def public_source(request: pytest.FixtureRequest) -> Iterator[tuple[str, LoopbackServer, str]]:
    """(platform, a started server that reads anonymously, the account's api base)."""
    platform: str = request.param
    server: LoopbackServer
    if platform == "feed":
        server = FeedServer()
    elif platform == "mediawiki":
        server = MediaWikiServer(token=None)
    else:
        server = WordPressServer()
    with server:
        base = server.rss_url if isinstance(server, FeedServer) else server.base_url
        yield platform, server, base


def _account(archive: Archive, platform: str, external_id: str, api_base: str | None) -> Account:
    return add_account(archive, AccountSpec(platform=platform, external_id=external_id,
                                            handle=f"public-{platform}", api_base=api_base,
                                            token_env=UNSET), actor="test")


@pytest.mark.parametrize("environ", [{}, {UNSET: ""}], ids=["unset", "empty"])
def test_public_source_is_captured_without_credentials(
    archive: Archive, public_source: tuple[str, LoopbackServer, str], environ: dict[str, str]
) -> None:
    platform, server, base = public_source
    account = _account(archive, platform, base, base)
    result = capture_account(archive, account, environ, sleep=SleepRecorder(), media=False)
    assert result.status == "succeeded", result.error
    assert result.new_items > 0
    # No Authorization header of any kind reached the site.
    assert server.requests and {how for _, how in server.requests} == {"none"}


def test_a_set_token_is_still_sent(archive: Archive) -> None:
    with FeedServer() as server:
        account = _account(archive, "feed", server.rss_url, None)
        result = capture_account(archive, account, {UNSET: "private-feed"},
                                 sleep=SleepRecorder(), media=False)
        assert result.status == "succeeded", result.error
        assert {how for _, how in server.requests} == {"header"}


@pytest.mark.parametrize("platform", ["facebook", "instagram", "x", "youtube"])
def test_platforms_that_need_a_token_still_fail_in_one_line(
    archive: Archive, platform: str
) -> None:
    account = _account(archive, platform, "1234", "http://127.0.0.1:9")
    result = capture_account(archive, account, {UNSET: ""}, media=False)
    assert result.status == "failed"
    assert result.error == (
        f"account {account.id} (public-{platform}): token variable {UNSET} is not set"
    )
    with pytest.raises(ConfigError, match=UNSET):
        connector_for(account, {})


def test_credentials_label(archive: Archive) -> None:
    feed = _account(archive, "feed", "https://pd.example.invalid/news.rss", None)
    page = _account(archive, "facebook", "1234", None)
    assert credentials_label(feed, {}) == "none (public)"
    assert credentials_label(feed, {UNSET: "t"}) == f"${UNSET}"
    assert credentials_label(page, {UNSET: "t"}) == f"${UNSET}"
    assert credentials_label(page, {}) == f"${UNSET} (not set)"


def test_connector_for_sets_up_every_account_alike(archive: Archive) -> None:
    page = _account(archive, "facebook", "1234", "http://127.0.0.1:9/v19.0")
    told: list[str] = []
    recorder = SleepRecorder()
    with connector_for(page, {UNSET: "page-token-77"}, sleep=recorder) as connector:
        assert connector.api_base == "http://127.0.0.1:9/v19.0"
        assert connector.sleep is recorder and connector.on_retry is None
        assert connector.scrub("the token page-token-77 leaked") == "the token *** leaked"
    # Unset ``sleep`` and ``on_retry`` leave the connector's own; a webhook builds without a token.
    with connector_for(page, {}, without_token=told.append, sleep=None) as connector:
        assert connector.config.token is None and connector.sleep is time.sleep
        assert told == [f"account {page.id} (public-facebook): token variable {UNSET} is not set"]
