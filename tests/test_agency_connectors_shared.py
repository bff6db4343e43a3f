"""What the Nextdoor, TikTok and LinkedIn connectors share, each against its loopback server:
a refused token, garbage answers and server errors end as the shared loop promises."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from archiver.connectors.base import Connector
from archiver.connectors.errors import AuthError, MalformedResponse
from archiver.connectors.records import Record
from archiver.standins import linkedin_server, nextdoor_server, tiktok_server
from archiver.standins.loopback import LoopbackServer
from tests.support.platforms_b import make_connector


@dataclass
class Agency:
    """A started server and how its connector reaches it."""

    platform: str
    server: LoopbackServer
    token: str
    external_id: str
    refusal: str  # what the refused token's error names
    path: str  # what every request path starts with

    def connector(self, token: str | None = None) -> Connector:
        return make_connector(self.platform, self.external_id, self.server.base_url,
                              token or self.token)


@pytest.fixture(params=["nextdoor", "tiktok", "linkedin"])
def agency(request: pytest.FixtureRequest) -> Iterator[Agency]:
    platform: str = request.param
    if platform == "nextdoor":
        with nextdoor_server.NextdoorServer() as nd:
            yield Agency(platform, nd, nd.token, nextdoor_server.AGENCY_ID, "HTTP 401",
                         "/external/api/partner/v1/post/")
    elif platform == "tiktok":
        with tiktok_server.TikTokServer() as tt:
            yield Agency(platform, tt, tt.token, tiktok_server.BUSINESS_ID, "code 40105",
                         "/open_api/v1.3/business/")
    else:
        with linkedin_server.LinkedInServer() as li:
            yield Agency(platform, li, li.token, linkedin_server.ORG_ID,
                         "INVALID_ACCESS_TOKEN", "/rest/")


def records(connector: Connector) -> list[Record]:
    return [e for e in connector.read() if isinstance(e, Record)]


def test_refused_token_is_one_line_and_never_shown(
    agency: Agency, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(AuthError, match=agency.refusal) as info:
        records(agency.connector("wrong-token-value"))
    assert "\n" not in str(info.value) and "wrong-token-value" not in str(info.value)
    assert len(records(agency.connector())) == 42
    assert caplog.records and all(agency.token not in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("fault", ["malformed", "truncated"])
def test_garbage_answers_are_one_line_errors(agency: Agency, fault: str) -> None:
    getattr(agency.server, fault)(nth=2)
    with pytest.raises(MalformedResponse) as info:
        records(agency.connector())
    assert "\n" not in str(info.value) and agency.path in str(info.value)


def test_server_errors_are_retried(agency: Agency) -> None:
    connector = agency.connector()
    agency.server.fail_status(503, nth=2)
    assert len(records(connector)) == 42 and connector.stats.retries == 1
