"""What registering an account asks for, per platform: shown by ``archiver accounts add --help``.

Plain data, no connector imports, so the command line's help stays fast. The README's platform
table says the same at more length (API bases, permissions, what "removed" means).
"""

from __future__ import annotations

from dataclasses import dataclass

from archiver.connectors.records import Platform


@dataclass(frozen=True)
class PlatformGuide:
    """One platform: what EXTERNAL_ID is, and the credential it reads with."""

    external_id: str
    credential: str


GUIDE: dict[Platform, PlatformGuide] = {
    Platform.FACEBOOK: PlatformGuide(
        "the Page's numeric id",
        "a Page access token (pages_read_engagement, pages_read_user_content)",
    ),
    Platform.INSTAGRAM: PlatformGuide(
        "the professional account's numeric Instagram user id (not the @name)",
        "an access token with instagram_basic and instagram_manage_comments",
    ),
    Platform.X: PlatformGuide(
        "the account's numeric user id (not the @handle)",
        "an OAuth 2.0 bearer token",
    ),
    Platform.YOUTUBE: PlatformGuide(
        "the channel id (UC...)",
        "key:<API key> for public data, or the owner's OAuth token",
    ),
    Platform.WORDPRESS: PlatformGuide(
        "the site's address, https://... (the API is <address>/wp-json)",
        "none for a public site; user:application-password for every status",
    ),
    Platform.MEDIAWIKI: PlatformGuide(
        "the wiki's api.php address, or a name with --api-base pointing at api.php",
        "none for a public wiki; an OAuth 2 owner-only token for a private one",
    ),
    Platform.FEED: PlatformGuide(
        "the RSS or Atom feed's address (or a name with --api-base the feed's address)",
        "none; a bearer token only if the feed asks for one",
    ),
    Platform.THREADS: PlatformGuide(
        "the account's numeric Threads user id (not the @name)",
        "a Threads user access token (threads_basic, threads_read_replies, "
        "threads_manage_replies)",
    ),
    Platform.BLUESKY: PlatformGuide(
        "the account's DID (did:plc:...) or its handle",
        "an app password of the account (signs in with com.atproto.server.createSession)",
    ),
    Platform.TIKTOK: PlatformGuide(
        "the business account's business_id (TikTok API for Business)",
        "the account's access token (video.list, comment.list); it lasts 24 hours",
    ),
    Platform.LINKEDIN: PlatformGuide(
        "the organization's numeric id (from urn:li:organization:<id>)",
        "a page admin's OAuth token with r_organization_social",
    ),
    Platform.NEXTDOOR: PlatformGuide(
        "the agency's Nextdoor id; one account per staff poster (the token reads its user's posts)",
        "a staff poster's partner API OAuth token (post:read)",
    ),
}


def accounts_add_epilog() -> str:
    """The platform list for ``accounts add --help`` (``\\b`` keeps click from rewrapping)."""
    width = max(len(name) for name in GUIDE)
    lines = ["\b", "PLATFORM and what EXTERNAL_ID is:"]
    lines += [f"  {name:<{width}}  {g.external_id}" for name, g in GUIDE.items()]
    lines += ["", "\b", "Credentials: the token is read from the variable --token-env names",
              "(default ARCHIVER_TOKEN_<PLATFORM>_<EXTERNAL_ID>, see 'accounts list'):"]
    lines += [f"  {name:<{width}}  {g.credential}" for name, g in GUIDE.items()]
    lines += ["", "wordpress, mediawiki and feed accounts whose variable is not set are read "
              "anonymously. The README's platform table has the API bases and permissions."]
    return "\n".join(lines)
