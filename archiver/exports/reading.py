"""What the reader of a package is told, the same in its HTML and its PDF pages.

Every page opens with a header: what the package answers (the request, or the production and its
matter), the scope searched, when and by whom it was made, and a legend of the marks. Threads and
items are titled by their account and the first words of their text. A removal's proof (the
platform's answer and when it was asked) is given in brief next to the removed item.

Everything here is plain text: visitor, platform and requester text included. The HTML templates
escape it and the PDF draws it as text, so nothing in it is ever markup.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from archiver.connectors.records import ItemKind
from archiver.dates import UNKNOWN_MOMENT, show_iso, show_moment
from archiver.exports.selection import ItemView, Scope, ThreadView, VersionView

TITLE_CHARS = 60
PROOF_CHARS = 1500
# Bidirectional controls would let a title reorder the text around it on screen.
_BIDI = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_FILTER_LABELS = {
    "account_id": "account", "platform": "platform", "kind": "kind", "status": "status",
    "author": "author", "since": "published since", "until": "published until",
    "captured_since": "captured since", "captured_until": "captured until",
}
VERSION_HASH = "sha256 of the version record (canonical JSON)"
FILE_HASH = "sha256 of the file"
PROOF_HASH = "sha256 of the proof record (canonical JSON)"


@dataclass(frozen=True)
class Fact:
    """One labelled line of a header or of the legend."""

    label: str
    value: str


LEGEND = (
    Fact("EDITED", "the text changed after it was first captured; every version is shown, "
                   "oldest first."),
    Fact("HIDDEN", "hidden by a moderator (or held for review or marked spam by the platform): "
                   "still on the platform but not shown to the public. \u201cHIDDEN earlier\u201d: "
                   "hidden at some capture, visible again since."),
    Fact("REMOVED", "no longer on the platform: a direct look-up found it gone while the page "
                    "itself still answered; the proof of removal (the platform's answer, and "
                    "when it was asked) is shown under the item."),
    Fact("sha256", f"\u201c{VERSION_HASH}\u201d is the hash of a version as the archive "
                   "stores it, the previous version's sha256 included, so a changed or missing "
                   "version breaks the chain ('archiver verify' recomputes it); "
                   f"\u201c{FILE_HASH}\u201d is the hash of a media file's bytes; "
                   f"\u201c{PROOF_HASH}\u201d the hash of a removal's proof as stored."),
)


@dataclass(frozen=True)
class PackageHeader:
    """What every page of a package opens with: a title, the facts, the legend."""

    title: str
    facts: tuple[Fact, ...]
    legend: tuple[Fact, ...] = LEGEND


@dataclass(frozen=True)
class Proof:
    """A removal's proof in brief: when the platform was asked and its answer (compact JSON)."""

    asked_at: str
    answer: str
    sha256: str


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def describe_scope(scope: Scope, tz: ZoneInfo) -> str:
    """The scope as a reader reads it: ``query “closure”; status removed``."""
    parts: list[str] = []
    if scope.hold is not None:
        parts.append(f"hold {scope.hold}")
    if scope.item_ids:
        parts.append(f"{'item' if len(scope.item_ids) == 1 else 'items'} "
                     + ", ".join(map(str, scope.item_ids)))
    if scope.query is not None:
        parts.append(f"query \u201c{scope.query}\u201d")
    for name, value in vars(scope.filters).items():
        if value is not None:
            shown = show_moment(value, tz) if isinstance(value, datetime) else str(value)
            parts.append(f"{_FILTER_LABELS.get(name, name)} {shown}")
    return "; ".join(parts) or "everything"


def _times(tz: ZoneInfo, exact: str) -> Fact:
    return Fact("Times", f"{tz.key}, to the minute; {exact} keep the exact time in UTC")


def request_header(request: Mapping[str, Any], scope: Scope, *, matched: int,
                   exported_at: datetime, actor: str, tz: ZoneInfo,
                   redacted: bool) -> PackageHeader:
    """The header of an open-records package (``request``: the request as in request.json)."""
    facts = [
        Fact("Request", request["request_id"]),
        Fact("Requester", request["requester"] or "(not recorded)"),
        Fact("Received", request["received_on"]),
        Fact("Due", request["due_on"]),
        Fact("Description", request["description"] or "(none given)"),
        Fact("Scope searched", f"{describe_scope(scope, tz)} \u2014 {_count(matched, 'item')} "
                               "matched, each shown in its whole thread"),
        Fact("Exported", f"{show_moment(exported_at, tz)} by {actor}"),
        _times(tz, "request.json, index.csv and the JSON records"),
    ]
    if redacted:
        facts.append(Fact("Redactions", "withheld text is marked [REDACTED: reason]; "
                                        "redactions.csv names the exemption of each"))
    return PackageHeader(title=f"Open-records request {request['request_id']}",
                         facts=tuple(facts))


def production_header(*, production: str, volume: str, bates: str, family: tuple[str, str],
                      matter: str | None, scope: Scope, produced_at: datetime, actor: str,
                      tz: ZoneInfo) -> PackageHeader:
    """The header of one produced item's image (``family``: its first and last Bates)."""
    first, last = family
    facts = [Fact("Production", f"{production} (volume {volume})"),
             Fact("Bates", bates if first == last else f"{bates} (family {first} to {last})")]
    if scope.hold is not None:
        facts += [Fact("Matter", matter or "(not recorded)"), Fact("Hold", scope.hold)]
    facts += [
        Fact("Scope searched", f"{describe_scope(scope, tz)}, each item with its whole thread"),
        Fact("Produced", f"{show_moment(produced_at, tz)} by {actor}"),
        _times(tz, "the DAT, TEXT and NATIVES files"),
    ]
    return PackageHeader(title=f"Production {production}", facts=tuple(facts))


def first_words(text: str | None, limit: int = TITLE_CHARS) -> str:
    """The first words of ``text`` on one line, at most ``limit`` characters, with an ellipsis
    when cut; control and bidirectional characters become spaces."""
    cleaned = "".join(" " if c in _BIDI or unicodedata.category(c) == "Cc" else c
                      for c in text or "")
    words = cleaned.split()
    out = ""
    for word in words:
        joined = f"{out} {word}" if out else word
        if len(joined) > limit:
            return (out or word[:limit]) + "\u2026"
        out = joined
    return out


def item_title(item: ItemView) -> str:
    """``springfieldpd (facebook) post: “Road closure on Main St…”`` for a post; a comment or
    reply names its author too, so it is never taken for the account's own words."""
    words = first_words(item.current.text)
    said = f": \u201c{words}\u201d" if words else " (no text)"
    where = f"{item.account} ({item.platform})"
    if item.kind == ItemKind.POST and item.parent_id is None:
        return f"{where} {item.kind}{said}"
    return f"{item.kind} by {item.current.author or '(unknown)'} on {where}{said}"


def thread_title(thread: ThreadView) -> str:
    """A thread is titled by its first item: the post, or the orphan comment it starts with."""
    return item_title(thread.items[0]) if thread.items else f"thread of item {thread.root_id}"


def removal_proof(version: VersionView, tz: ZoneInfo) -> Proof | None:
    """The version's proof of removal in brief, or None when it carries none."""
    if version.evidence_sha256 is None:
        return None
    evidence = version.evidence
    asked = evidence.get("checked_at") if isinstance(evidence, dict) else None
    rest = ({k: v for k, v in evidence.items() if k != "checked_at"}
            if isinstance(evidence, dict) else evidence)
    answer = json.dumps(rest, sort_keys=True, ensure_ascii=False, separators=(", ", ": "))
    if len(answer) > PROOF_CHARS:
        answer = answer[:PROOF_CHARS] + "\u2026 (cut short here; the native record has it whole)"
    shown = show_iso(asked, tz)
    if shown in (asked, UNKNOWN_MOMENT):
        # Not a time (withheld with the rest of a withheld item's proof): the look-up ran in
        # the capture that stored this version.
        shown = show_moment(version.captured_at, tz)
    return Proof(asked_at=shown, answer=answer, sha256=version.evidence_sha256)
