"""Each connector's ``profile()`` against its loopback stand-in (the sample department's text),
and Graph's ``debug_token`` for the token's expiry."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from archiver.connectors.errors import ConnectorError
from archiver.connectors.facebook import FacebookConnector
from archiver.connectors.profiles import Profile, plain_text
from archiver.standins.feed_server import FeedServer
from archiver.standins.graph_server import GraphServer
from archiver.standins.instagram_server import InstagramServer
from archiver.standins.mediawiki_server import MediaWikiServer
from archiver.standins.wordpress_server import WordPressServer
from archiver.standins.x_server import XServer
from archiver.standins.youtube_server import YouTubeServer
from tests.support.graph import make_facebook_connector
from tests.support.platforms_a import FakeClock, make_instagram_connector, make_x_connector
from tests.support.platforms_b import make_connector


def fields(profile: Profile) -> dict[str, str]:
    return {f.name: f.text for f in profile.fields}


def test_facebook_page_fields(facebook_connector: FacebookConnector) -> None:
    profile = facebook_connector.profile()
    found = fields(profile)
    assert set(found) == {"about", "description", "website", "phone", "emails"}
    assert found["about"].startswith("Official page of the Springfield Police Department")
    assert found["phone"] == "(555) 010-0100"
    assert profile.url == "https://www.facebook.com/104882335720091"
    assert profile.requests[0].startswith("GET /v19.0/104882335720091?fields=name,link,about")
    assert "sample-page-token" not in repr(profile)


def test_instagram_biography(instagram_server: InstagramServer) -> None:
    with make_instagram_connector(instagram_server) as connector:
        profile = connector.profile()
    assert fields(profile)["biography"].startswith("Official account of the Springfield")
    assert profile.url == "https://www.instagram.com/springfieldpd/"


def test_x_description_with_its_web_address(x_server: XServer, fake_clock: FakeClock) -> None:
    with make_x_connector(x_server, fake_clock) as connector:
        profile = connector.profile()
    found = fields(profile)
    assert found["url"] == "https://www.springfield-pd.example.invalid"  # not the t.co link
    assert "subject to public disclosure" in found["description"]
    assert profile.url == "https://x.com/SpringfieldPD"


def test_youtube_channel_description(youtube_server: YouTubeServer) -> None:
    with make_connector("youtube", youtube_server.channel.id, youtube_server.base_url,
                        youtube_server.token) as connector:
        profile = connector.profile()
    assert list(fields(profile)) == ["title", "description"]  # the branding copy is the same
    assert profile.url == "https://www.youtube.com/@springfieldpd"


def test_wordpress_tagline_and_pages(wordpress_server: WordPressServer) -> None:
    with make_connector("wordpress", wordpress_server.origin, wordpress_server.base_url,
                        None) as connector:
        profile = connector.profile()
    found = fields(profile)
    assert found["description"] == "The official website of the Springfield Police Department"
    assert found["page: Contact us"] == "Contact us\nCall 555-0100."
    assert profile.url == wordpress_server.origin


def test_mediawiki_main_page(mediawiki_server: MediaWikiServer) -> None:
    with make_connector("mediawiki", mediawiki_server.base_url, mediawiki_server.base_url,
                        mediawiki_server.token) as connector:
        profile = connector.profile()
    assert fields(profile)["page: Main Page"].startswith("Welcome to the policy wiki")
    assert profile.url is not None and profile.url.endswith("/wiki/Main_Page")


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_feed_channel_description(feed_server: FeedServer, kind: str) -> None:
    url = feed_server.rss_url if kind == "rss" else feed_server.atom_url
    with make_connector("feed", url, url, None) as connector:
        profile = connector.profile()
    assert fields(profile)["subtitle"].startswith("News releases of the Springfield Police")


def test_debug_token_tells_expiry_and_refusal(graph_server: GraphServer) -> None:
    graph_server.token_expires_at = int(datetime(2024, 6, 5, tzinfo=UTC).timestamp())
    with make_facebook_connector(graph_server) as connector:
        status = connector.token_status()
    assert status.valid and status.expires_at == datetime(2024, 6, 5, tzinfo=UTC)
    assert "pages_read_user_content" in status.scopes
    graph_server.token_expired = True
    with make_facebook_connector(graph_server) as connector:
        refused = connector.token_status()
    assert not refused.valid and refused.problem is not None and "190" in refused.problem
    assert graph_server.token not in refused.problem


def test_a_profile_that_cannot_be_read_is_one_error(graph_server: GraphServer) -> None:
    graph_server.graph_error(100, 33, path="104882335720091$", times=None)
    with make_facebook_connector(graph_server) as connector, pytest.raises(ConnectorError) as e:
        connector.profile()
    assert "sample-page-token" not in str(e.value) and len(str(e.value).splitlines()) == 1


def test_plain_text_of_a_page() -> None:
    assert plain_text("<h2>Comment policy</h2><p>We &amp; you.<br/>Be kind.</p>") == (
        "Comment policy\nWe & you.\nBe kind.")
