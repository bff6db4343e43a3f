"""Platform connectors, all on the one loop in :mod:`archiver.connectors.base`, most of them
declared as a tree of streams walked by :mod:`archiver.connectors.streams`; Meta's webhook
payloads are read in :mod:`archiver.connectors.graph_webhooks`.

:func:`get_connector_class` maps a platform name (as stored on an Account) to its connector.
Modules are imported on first use so a broken or heavy platform module never slows the others.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

from archiver.connectors.errors import ConnectorError
from archiver.connectors.records import Platform

if TYPE_CHECKING:
    from archiver.connectors.base import Connector

# platform name -> (module, class). Adding a platform touches only this folder.
_REGISTRY: dict[Platform, tuple[str, str]] = {
    Platform.FACEBOOK: ("archiver.connectors.facebook", "FacebookConnector"),
    Platform.INSTAGRAM: ("archiver.connectors.instagram", "InstagramConnector"),
    Platform.X: ("archiver.connectors.x", "XConnector"),
    Platform.YOUTUBE: ("archiver.connectors.youtube", "YouTubeConnector"),
    Platform.WORDPRESS: ("archiver.connectors.wordpress", "WordPressConnector"),
    Platform.MEDIAWIKI: ("archiver.connectors.mediawiki", "MediaWikiConnector"),
    Platform.FEED: ("archiver.connectors.feeds", "FeedConnector"),
    Platform.THREADS: ("archiver.connectors.threads", "ThreadsConnector"),
    Platform.BLUESKY: ("archiver.connectors.bluesky", "BlueskyConnector"),
    Platform.TIKTOK: ("archiver.connectors.tiktok", "TikTokConnector"),
    Platform.LINKEDIN: ("archiver.connectors.linkedin", "LinkedInConnector"),
    Platform.NEXTDOOR: ("archiver.connectors.nextdoor", "NextdoorConnector"),
}
# The platform names in alphabetical order, as lists and completions show them.
PLATFORMS: tuple[Platform, ...] = tuple(sorted(Platform))


class UnknownPlatform(ConnectorError, ValueError):
    """No connector exists for that platform name."""


def get_connector_class(platform: str) -> type[Connector]:
    """The connector class for ``platform`` (e.g. ``"facebook"``)."""
    try:
        module_name, class_name = _REGISTRY[Platform(platform)]
    except ValueError:
        known = ", ".join(PLATFORMS)
        raise UnknownPlatform(f"unknown platform {platform!r}; known platforms: {known}") from None
    cls: type[Connector] = getattr(import_module(module_name), class_name)
    return cls


__all__ = ["PLATFORMS", "Platform", "UnknownPlatform", "get_connector_class"]
