"""What the sample department says about itself on each platform (``data/profiles.json``): the
text the stand-in servers answer a profile read with (a Page's about and description, an
Instagram biography, an X description, a channel description, a site's tagline, a wiki's main
page, a feed's channel description)."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

PROFILES_FILE = "profiles.json"


def sample_profile(platform: str) -> dict[str, Any]:
    """The sample department's profile fields on ``platform`` (a fresh copy)."""
    text = resources.files("archiver.standins").joinpath("data", PROFILES_FILE).read_text(
        encoding="utf-8")
    found: dict[str, Any] = json.loads(text)[platform]
    return found
