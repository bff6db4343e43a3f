"""Parent and child streams: "read the posts, then each post's comments" declared, walked once.

After meltano/sdk's parent-child streams (https://sdk.meltano.com/en/latest/parent_streams.html;
our own code): a :class:`TreeStream` is a :class:`~archiver.connectors.base.Stream` that also
names its ``parent_stream_type`` and says how an entry of the parent listing becomes its
*context* (:meth:`TreeStream.child_context`: a post's id becomes the comments URL). A
:class:`TreeConnector` lists its stream types, and its :meth:`~TreeConnector.read` walks the tree
through the shared request loop: each entry's records, then its children's listings, entry by
entry, page by page.

Completeness. A stream names the listing *scopes* it reads (``ROOT_SCOPE`` for the account's
top level, a post's id for its comments; like meltano's ``state_partitioning_keys``, the scope is
what a run can say something about). The walker emits :class:`ListingComplete` for a scope only
once every stream of that scope, and every descendant listing without a scope of its own (a
comment's further replies belong to the post's listing), was read to its end and judged
:attr:`Completeness.COMPLETE` by :meth:`TreeStream.completeness`. A listing that fails raises,
so nothing after it is declared complete; a listing whose parent vanished while we read it
(:class:`ObjectNotFound` within a scope whose streams name a ``gone_counter``) only leaves that
scope incomplete, is counted in ``stats.extra`` and the walk goes on.

A child stream is read either once per parent entry or, with ``fan_in`` (WordPress reads every
post's comments in one listing), once for the parent's whole listing after it is complete.
"""

from __future__ import annotations

import logging
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, ClassVar, Generic, TypeVar

from archiver.connectors.base import Connector, ObjectNotFound, Stream
from archiver.connectors.records import (
    ROOT_SCOPE,
    ListingComplete,
    ListingWindow,
    ReadEvent,
    Record,
)

log = logging.getLogger(__name__)

# What a child stream knows of its parent entry: ids, a time, a flag. Plain values only.
Context = Mapping[str, Any]
C = TypeVar("C", bound=Connector)


class Completeness(IntEnum):
    """What a listing read to its end lets capture conclude; the weakest of a scope's wins."""

    PARTIAL = 0  # nothing: the platform may show only part of it (a key's view, a search window)
    WINDOW = 1  # the latest entries only: what left it is counted, never looked up
    COMPLETE = 2  # every entry: what it lacks may be looked up as removed


@dataclass(frozen=True)
class Entry:
    """A listing entry that carries some of its children inline (a comment with its first
    replies). ``truncated`` says the platform has more: then the child listing is read instead
    and the inline ones are left for it, so nothing is yielded twice."""

    record: Record
    inline: tuple[Record, ...] = ()
    truncated: bool = False

    def records(self) -> tuple[Record, ...]:
        """The entry's record and, unless truncated, the children it carries."""
        return (self.record,) if self.truncated else (self.record, *self.inline)


class TreeStream(Stream, Generic[C]):
    """A listing in a connector's stream tree. ``context`` comes from the parent entry (or from
    a scope a caller asked for); the root streams get an empty one."""

    # The stream whose entries this one hangs off; None for the account's top level.
    parent_stream_type: ClassVar[type[TreeStream[Any]] | None] = None
    # Read once for the parent's whole listing instead of once per parent entry.
    fan_in: ClassVar[bool] = False
    # ``stats.extra`` key counting listings whose parent vanished mid-read; None: such a
    # failure fails the read.
    gone_counter: ClassVar[str | None] = None

    def __init__(self, connector: C, context: Context) -> None:
        self.connector = connector
        self.context = context

    @classmethod
    def open(cls, connector: C, context: Context) -> Sequence[TreeStream[C]]:
        """The listings to read for one context: usually one, several where the platform splits
        one listing (by moderation status, posts and pages), none where there is nothing to read.
        Every one is an instance of ``cls``."""
        return (cls(connector, context),)

    @classmethod
    def child_context(cls, parent: TreeStream[Any], entry: Any) -> Context | None:
        """How an entry of the parent listing becomes this stream's context; None: no listing
        for that entry. Per-entry child streams override it."""
        raise NotImplementedError(f"{cls.__name__} does not say how a parent entry becomes "
                                  "its context")

    @classmethod
    def fan_in_context(cls, entries: Sequence[Any]) -> Context | None:
        """For a ``fan_in`` stream: the context for all entries of the parent's listing."""
        raise NotImplementedError(f"{cls.__name__} is not a fan-in stream")

    @classmethod
    def scope_contexts(cls, scopes: Sequence[str]) -> list[Context]:
        """The contexts that re-read the listings of ``scopes`` (a scheduled partial run);
        streams directly under the top level override it."""
        raise NotImplementedError(f"{cls.__name__} cannot re-read a scope by itself")

    @property
    def scopes(self) -> tuple[str, ...]:
        """The scopes this listing completes; empty: it is part of its parent's listing. The
        top level completes ``ROOT_SCOPE``."""
        return (ROOT_SCOPE,) if self.parent_stream_type is None else ()

    def records(self, entry: Any) -> Iterable[Record]:
        """The records one entry yields (a record, or an :class:`Entry`'s; others none)."""
        if isinstance(entry, Record):
            return (entry,)
        if isinstance(entry, Entry):
            return entry.records()
        return ()

    def entries(self, pages: Iterator[list[Any]]) -> Iterator[list[Any]]:
        """The pages as batches of entries. A listing that can only be understood whole (X's
        conversations, a wiki page made of its revisions) reads them all and gives one batch."""
        return pages

    def completeness(self) -> Completeness:
        """What this listing, read to its end, proves (asked once its last page is read)."""
        return Completeness.COMPLETE


class RecordChildStream(TreeStream[C]):
    """The listing under one parent record, named by its id (a post's comments): the context
    is ``{"parent_id": <the record's id>}`` and the listing completes that id's scope."""

    @classmethod
    def child_context(cls, parent: TreeStream[Any], entry: Any) -> Context | None:
        record = entry.record if isinstance(entry, Entry) else entry
        return {"parent_id": record.external_id}

    @classmethod
    def scope_contexts(cls, scopes: Sequence[str]) -> list[Context]:
        return [{"parent_id": scope} for scope in scopes]

    @property
    def parent_id(self) -> str:
        """The parent record's id."""
        return str(self.context["parent_id"])

    @property
    def scopes(self) -> tuple[str, ...]:
        return (self.parent_id,)


class EntryRestStream(TreeStream[C]):
    """The rest of a truncated :class:`Entry`'s children (a comment's further replies), read
    only when the platform says there are more; part of the parent's listing. The context is
    ``{"entry_id": <the entry's record id>, "scope": <that record's scope>}``: the children
    belong to the scope of the record they hang under."""

    @classmethod
    def child_context(cls, parent: TreeStream[Any], entry: Any) -> Context | None:
        if not isinstance(entry, Entry) or not entry.truncated:
            return None
        return {"entry_id": entry.record.external_id, "scope": entry.record.scope}

    @property
    def entry_id(self) -> str:
        """The id of the record whose children these are."""
        return str(self.context["entry_id"])

    @property
    def scope(self) -> str:
        """The scope the children's records belong to."""
        return str(self.context["scope"])


class TreeConnector(Connector):
    """A connector whose read is the walk of its stream tree (:data:`streams`)."""

    # Every stream type of the tree; those without a parent are the account's top level.
    streams: ClassVar[tuple[type[TreeStream[Any]], ...]]

    def read(self, scopes: Sequence[str] | None = None) -> Iterator[ReadEvent]:
        """``scopes=None``: the whole tree. With scopes: ``ROOT_SCOPE`` reads the top level
        alone, any other scope re-reads that listing with its descendants."""
        return StreamWalk(self, self.streams).read(scopes)


class StreamWalk:
    """One walk of a stream tree through ``connector``'s request loop."""

    def __init__(self, connector: Connector, streams: Sequence[type[TreeStream[Any]]]) -> None:
        self.connector = connector
        self.children: dict[type[TreeStream[Any]] | None, list[type[TreeStream[Any]]]] = {}
        for stream in streams:
            parent = stream.parent_stream_type
            if parent is not None and parent not in streams:
                raise TypeError(f"{stream.__name__}'s parent {parent.__name__} is not a stream "
                                "of this connector")
            self.children.setdefault(parent, []).append(stream)

    def read(self, scopes: Sequence[str] | None) -> Iterator[ReadEvent]:
        """Every event of the walk, in order."""
        roots = self.children.get(None, [])
        own: set[str] = set()  # scopes a top-level listing completes by itself (stories)
        for group in self._open(roots, {}):
            own.update(s for s in group[0].scopes if s != ROOT_SCOPE)
            if scopes is None or ROOT_SCOPE in scopes or set(group[0].scopes) & set(scopes):
                yield from self._listing(group, descend=scopes is None)
        if scopes is None:
            return
        wanted = [s for s in scopes if s != ROOT_SCOPE and s not in own]
        if not wanted:
            return
        for root in roots:
            for child in self.children.get(root, []):
                for context in child.scope_contexts(wanted):
                    for group in self._open([child], context):
                        yield from self._listing(group)

    def _open(
        self, types: Iterable[type[TreeStream[Any]]], context: Context
    ) -> list[list[TreeStream[Any]]]:
        """The streams of ``types`` for one context, grouped by the scopes they complete."""
        groups: dict[tuple[str, ...], list[TreeStream[Any]]] = {}
        for stream_type in types:
            for stream in stream_type.open(self.connector, context):
                groups.setdefault(stream.scopes, []).append(stream)
        return list(groups.values())

    def _listing(
        self, streams: Sequence[TreeStream[Any]], *, descend: bool = True
    ) -> Generator[ReadEvent, None, Completeness]:
        """Read streams that together make one listing, with their descendants; return what
        the listing means to its parent's (a listing with scopes of its own answers for itself)."""
        scopes = streams[0].scopes
        level = Completeness.COMPLETE
        gathered: list[Any] = []
        current = streams[0]
        try:
            for current in streams:
                fan_in = descend and any(c.fan_in for c in self.children.get(type(current), []))
                for batch in current.entries(self.connector.pages(current)):
                    for entry in batch:
                        yield from current.records(entry)
                        if descend:
                            level = min(level, (yield from self._children(current, entry)))
                        if fan_in:
                            gathered.append(entry)
                level = min(level, current.completeness())
        except ObjectNotFound as gone:
            if not scopes or current.gone_counter is None:
                raise
            stats = self.connector.stats.extra
            stats[current.gone_counter] = stats.get(current.gone_counter, 0) + 1
            log.warning("%s: listing %s not complete: %s", self.connector.platform,
                        ", ".join(scopes), gone)
            return Completeness.COMPLETE
        if scopes and level is Completeness.COMPLETE:
            yield from (ListingComplete(scope) for scope in scopes)
        elif scopes and level is Completeness.WINDOW:
            yield from (ListingWindow(scope) for scope in scopes)
        if gathered:
            yield from self._fan_in(streams, gathered)
        return level if not scopes else Completeness.COMPLETE

    def _children(
        self, parent: TreeStream[Any], entry: Any
    ) -> Generator[ReadEvent, None, Completeness]:
        """The per-entry child listings of one parent entry."""
        level = Completeness.COMPLETE
        groups: dict[tuple[str, ...], list[TreeStream[Any]]] = {}
        for child in self.children.get(type(parent), []):
            if child.fan_in:
                continue
            context = child.child_context(parent, entry)
            if context is None:
                continue
            for group in self._open([child], context):
                groups.setdefault(group[0].scopes, []).extend(group)
        for streams in groups.values():
            level = min(level, (yield from self._listing(streams)))
        return level

    def _fan_in(
        self, parents: Sequence[TreeStream[Any]], entries: Sequence[Any]
    ) -> Iterator[ReadEvent]:
        """The fan-in child listings of a parent listing read to its end (each names its own
        scopes: what they read is judged on its own)."""
        for parent_type in dict.fromkeys(type(p) for p in parents):
            for child in self.children.get(parent_type, []):
                context = child.fan_in_context(entries) if child.fan_in else None
                if context is None:
                    continue
                for group in self._open([child], context):
                    yield from self._listing(group)
