"""A Facebook Page as plain data: the bundled sample, a "second state", and generated big pages.

The sample (``data/springfield_pd.json``) is a small police department page used by
``archiver demo`` and the tests; ``data/springfield_pd_second_state.json`` lists what changed
between two captures (an edit, a hide, a deletion, a new comment). :func:`synthetic_dataset`
builds pages of any size for benchmarks in linear time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

SAMPLE_FILE = "springfield_pd.json"
SECOND_STATE_FILE = "springfield_pd_second_state.json"
GRAPH_TIME = "%Y-%m-%dT%H:%M:%S+0000"


@dataclass(frozen=True)
class Author:
    """Who wrote a post or comment (Graph ``from``)."""

    id: str
    name: str


@dataclass(frozen=True)
class Attachment:
    """A post's or comment's attachment. ``src`` is the media file, ``url`` the link shown."""

    media_type: str
    url: str
    src: str | None = None
    target_id: str | None = None


@dataclass(frozen=True)
class Post:
    """One post on the page feed. Times are Graph strings ("2024-05-01T14:03:22+0000")."""

    id: str
    message: str | None
    created_time: str
    author: Author
    permalink_url: str
    updated_time: str | None = None
    status_type: str = "mobile_status_update"
    is_hidden: bool = False
    is_published: bool = True
    attachments: tuple[Attachment, ...] = ()


@dataclass(frozen=True)
class Comment:
    """A comment (``parent_id`` None) or a reply (``parent_id`` = the comment replied to)."""

    id: str
    post_id: str
    message: str | None
    created_time: str
    author: Author | None
    parent_id: str | None = None
    is_hidden: bool = False
    permalink_url: str | None = None
    like_count: int = 0
    attachment: Attachment | None = None


@dataclass(frozen=True)
class PageDataset:
    """A whole page: posts and comments in any order (the server sorts them)."""

    page_id: str
    page_name: str
    posts: tuple[Post, ...]
    comments: tuple[Comment, ...]

    def with_changes(self, changes: StateChanges) -> PageDataset:
        """A new dataset with ``changes`` applied. Deleting a comment deletes its replies."""
        deleted = set(changes.delete)
        # Replies go with their comment, as on Facebook; one pass suffices since replies are
        # one level deep there.
        for c in self.comments:
            if c.parent_id in deleted:
                deleted.add(c.id)
        hide, unhide = set(changes.hide), set(changes.unhide)
        edits = {e.id: e for e in changes.edits}

        def touch_post(p: Post) -> Post:
            e = edits.get(p.id)
            if e is not None:
                p = replace(p, message=e.message, updated_time=e.updated_time or p.updated_time)
            if p.id in hide:
                p = replace(p, is_hidden=True)
            if p.id in unhide:
                p = replace(p, is_hidden=False)
            return p

        def touch_comment(c: Comment) -> Comment:
            e = edits.get(c.id)
            if e is not None:
                c = replace(c, message=e.message)
            if c.id in hide:
                c = replace(c, is_hidden=True)
            if c.id in unhide:
                c = replace(c, is_hidden=False)
            return c

        posts = tuple(touch_post(p) for p in self.posts if p.id not in deleted)
        live_posts = {p.id for p in posts}
        comments = tuple(
            touch_comment(c)
            for c in self.comments
            if c.id not in deleted and c.post_id in live_posts
        )
        # Adding what is already there is a no-op, so applying the same changes twice is safe.
        known = live_posts | {c.id for c in comments}
        return PageDataset(
            page_id=self.page_id,
            page_name=self.page_name,
            posts=posts + tuple(p for p in changes.add_posts if p.id not in known),
            comments=comments + tuple(c for c in changes.add_comments if c.id not in known),
        )


@dataclass(frozen=True)
class Edit:
    """New text for a post or comment (``updated_time`` only matters for posts)."""

    id: str
    message: str
    updated_time: str | None = None


@dataclass(frozen=True)
class StateChanges:
    """What happened on the page between two captures."""

    edits: tuple[Edit, ...] = ()
    hide: tuple[str, ...] = ()
    unhide: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()
    add_posts: tuple[Post, ...] = ()
    add_comments: tuple[Comment, ...] = field(default_factory=tuple)


# --- JSON loading ------------------------------------------------------------------------------


def _author(data: Mapping[str, Any] | None) -> Author | None:
    return None if data is None else Author(id=str(data["id"]), name=str(data["name"]))


def _attachment(data: Mapping[str, Any] | None) -> Attachment | None:
    if data is None:
        return None
    return Attachment(
        media_type=data["media_type"],
        url=data["url"],
        src=data.get("src"),
        target_id=data.get("target_id"),
    )


def post_from_json(data: Mapping[str, Any]) -> Post:
    """A :class:`Post` from the data files' shape (``from`` holds the author)."""
    author = _author(data["from"])
    if author is None:
        raise ValueError(f"post {data['id']}: a post needs an author")
    return Post(
        id=data["id"],
        message=data.get("message"),
        created_time=data["created_time"],
        updated_time=data.get("updated_time"),
        author=author,
        permalink_url=data["permalink_url"],
        status_type=data.get("status_type", "mobile_status_update"),
        is_hidden=bool(data.get("is_hidden", False)),
        is_published=bool(data.get("is_published", True)),
        attachments=tuple(
            a for a in (_attachment(x) for x in data.get("attachments", [])) if a is not None
        ),
    )


def comment_from_json(data: Mapping[str, Any]) -> Comment:
    """A :class:`Comment` from the data files' shape."""
    return Comment(
        id=data["id"],
        post_id=data["post_id"],
        parent_id=data.get("parent_id"),
        message=data.get("message"),
        created_time=data["created_time"],
        author=_author(data.get("from")),
        is_hidden=bool(data.get("is_hidden", False)),
        permalink_url=data.get("permalink_url"),
        like_count=int(data.get("like_count", 0)),
        attachment=_attachment(data.get("attachment")),
    )


def dataset_from_json(data: Mapping[str, Any]) -> PageDataset:
    """A :class:`PageDataset` from a parsed data file."""
    return PageDataset(
        page_id=data["page"]["id"],
        page_name=data["page"]["name"],
        posts=tuple(post_from_json(p) for p in data["posts"]),
        comments=tuple(comment_from_json(c) for c in data["comments"]),
    )


def changes_from_json(data: Mapping[str, Any]) -> StateChanges:
    """A :class:`StateChanges` from a parsed second-state file."""
    return StateChanges(
        edits=tuple(
            Edit(id=e["id"], message=e["message"], updated_time=e.get("updated_time"))
            for e in data.get("edit", [])
        ),
        hide=tuple(data.get("hide", [])),
        unhide=tuple(data.get("unhide", [])),
        delete=tuple(data.get("delete", [])),
        add_posts=tuple(post_from_json(p) for p in data.get("add_posts", [])),
        add_comments=tuple(comment_from_json(c) for c in data.get("add_comments", [])),
    )


def _read_data(name: str) -> Any:
    text = resources.files("archiver.standins").joinpath("data", name).read_text(encoding="utf-8")
    return json.loads(text)


def load_dataset(path: Path) -> PageDataset:
    """Load a page dataset from a JSON file on disk."""
    return dataset_from_json(json.loads(path.read_text(encoding="utf-8")))


def load_sample() -> PageDataset:
    """The bundled Springfield Police Department page (first state)."""
    return dataset_from_json(_read_data(SAMPLE_FILE))


def load_second_state_changes() -> StateChanges:
    """What changed on the bundled page before the second capture."""
    return changes_from_json(_read_data(SECOND_STATE_FILE))


def load_sample_second_state() -> PageDataset:
    """The bundled page after the second-state changes."""
    return load_sample().with_changes(load_second_state_changes())


# --- generated pages for benchmarks ------------------------------------------------------------


def synthetic_dataset(
    posts: int,
    comments_per_post: int,
    replies_per_comment: int = 0,
    *,
    page_id: str = "900000000000001",
    page_name: str = "Synthetic Police Department",
    start: datetime | None = None,
) -> PageDataset:
    """A page of ``posts`` posts, each with comments and replies; linear in the item count."""
    t0 = start or datetime(2024, 1, 1, tzinfo=UTC)
    page_author = Author(id=page_id, name=page_name)
    # A fixed pool of visitors: realistic (people comment often) and cheap at a million items.
    visitors = [Author(id=f"5{n:09d}", name=f"Visitor {n}") for n in range(1, 1001)]
    post_list: list[Post] = []
    comment_list: list[Comment] = []
    for i in range(posts):
        local = f"{i + 1}"
        pid = f"{page_id}_{local}"
        created = t0 + timedelta(minutes=i * 10)
        stamp = _graph_time(created)
        post_list.append(
            Post(
                id=pid,
                message=f"Synthetic post {i + 1}: community update.",
                created_time=stamp,
                updated_time=stamp,
                author=page_author,
                permalink_url=f"https://www.facebook.com/{page_id}/posts/{local}",
            )
        )
        link = f"https://www.facebook.com/{page_id}/posts/{local}?comment_id="
        seq = 0
        for j in range(comments_per_post):
            seq += 1
            cid = f"{local}_{seq}"
            comment_list.append(
                Comment(
                    id=cid,
                    post_id=pid,
                    message=f"Comment {j + 1} on post {i + 1}",
                    created_time=_graph_time(created + timedelta(seconds=seq)),
                    author=visitors[(i + seq) % len(visitors)],
                    permalink_url=link + cid,
                )
            )
            for k in range(replies_per_comment):
                seq += 1
                rid = f"{local}_{seq}"
                comment_list.append(
                    Comment(
                        id=rid,
                        post_id=pid,
                        parent_id=cid,
                        message=f"Reply {k + 1} to {cid}",
                        created_time=_graph_time(created + timedelta(seconds=seq)),
                        author=visitors[(i + seq) % len(visitors)],
                        permalink_url=link + rid,
                    )
                )
    return PageDataset(page_id, page_name, tuple(post_list), tuple(comment_list))


def _graph_time(when: datetime) -> str:
    # isoformat is several times faster than strftime; Graph writes the offset as +0000.
    return when.astimezone(UTC).isoformat(timespec="seconds")[:19] + "+0000"


def all_ids(dataset: PageDataset) -> Iterable[str]:
    """Every post and comment id of ``dataset``."""
    yield from (p.id for p in dataset.posts)
    yield from (c.id for c in dataset.comments)
