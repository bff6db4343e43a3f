"""Stories (Instagram's and a Facebook Page's): what they share, whichever connector reads them.

A story is shown for 24 hours, then leaves the platform's listing
(https://developers.facebook.com/docs/instagram-platform/instagram-graph-api/reference/ig-user/stories:
"only available for 24 hours"; https://developers.facebook.com/docs/page-stories-api: a Page's
story becomes ``ARCHIVED``, listed only while the Page's story archive is on). So:

* a story is its own kind (:attr:`ItemKind.STORY`) in its own listing scope
  (:data:`STORIES_SCOPE`), which the frequent sweep re-reads (``Connector.sweep_scopes``) well
  inside the 24 hours, its media downloaded by that same run;
* that listing shows only the stories of the last day: it is a window, never a complete listing,
  so a story that left it is never looked up, let alone recorded as removed. Expiry is not
  deletion: capture records an expired story as such (platform status :data:`EXPIRED`);
* a token without the permission the stories edge needs makes the listing report it (a note and
  ``stats.extra["<what>_not_permitted"]``) and the rest of the account is read as before.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from archiver.connectors.base import Classification, Verdict
from archiver.connectors.streams import Completeness, TreeStream

# The listing scope of an account's stories (no post id looks like it).
STORIES_SCOPE = "stories"
# How long a story is shown.
STORY_LIFETIME = timedelta(hours=24)
# The platform status capture records once a story's 24 hours are over and it left the listing.
EXPIRED = "expired"


class PermittedListing(TreeStream[Any]):
    """A listing the account's token may not be allowed to read (stories, messages).

    A subclass names ``what`` it lists and the permissions it ``needs``, and routes its answers
    through :meth:`permitted`. A refusal for a missing permission ends the listing without
    records: the run goes on, the listing is reported as not read (never as empty) and is never
    complete, so nothing in it is looked up or taken for gone.
    """

    what: ClassVar[str]
    needs: ClassVar[str]
    # What the listing proves when it was read: stories and messages show their latest only.
    listed: ClassVar[Completeness] = Completeness.WINDOW
    refused: str | None = None

    def permitted(self, answer: Classification, permission_refused: bool) -> Classification:
        """``answer`` unchanged, or the end of the listing when the token lacks a permission."""
        if permission_refused and answer.verdict is Verdict.AUTH:
            self.refused = answer.detail
            return Classification(Verdict.END, detail=answer.detail)
        return answer

    def completeness(self) -> Completeness:
        if self.refused is None:
            return self.listed
        stats = self.connector.stats
        key = f"{self.what.replace(' ', '_')}_not_permitted"
        if key not in stats.extra:
            stats.extra[key] = 1
            stats.notes.append(
                f"{self.connector.platform}: {self.what} not read: the token lacks a permission "
                f"(needs {self.needs}): {self.refused}")
        return Completeness.PARTIAL
