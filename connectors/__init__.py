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

if TYPE_CHECKING:
    from archiver.connectors.base import Connector

# platform name -> (module, class). Adding a platform touches only this folder.
_REGISTRY: dict[str, tuple[str, str]] = {
    "facebook": ("archiver.connectors.facebook", "FacebookConnector"),
    "instagram": ("archiver.connectors.instagram", "InstagramConnector"),
    "x": ("archiver.connectors.x", "XConnector"),
    "youtube": ("archiver.connectors.youtube", "YouTubeConnector"),
    "wordpress": ("archiver.connectors.wordpress", "WordPressConnector"),
    "mediawiki": ("archiver.connectors.mediawiki", "MediaWikiConnector"),
    "feed": ("archiver.connectors.feeds", "FeedConnector"),
}
PLATFORMS: tuple[str, ...] = tuple(sorted(_REGISTRY))


class UnknownPlatform(ConnectorError, ValueError):
    """No connector exists for that platform name."""


def get_connector_class(platform: str) -> type[Connector]:
    """The connector class for ``platform`` (e.g. ``"facebook"``)."""
    try:
        module_name, class_name = _REGISTRY[platform]
    except KeyError:
        known = ", ".join(PLATFORMS)
        raise UnknownPlatform(f"unknown platform {platform!r}; known platforms: {known}") from None
    cls: type[Connector] = getattr(import_module(module_name), class_name)
    return cls


__all__ = ["PLATFORMS", "UnknownPlatform", "get_connector_class"]
