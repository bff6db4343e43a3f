"""Checkpoints: the archive's state at one moment, in a file that can be kept outside it.

A checkpoint names the audit chain's head (event count, newest event id and hash) and every
item's chain head (its newest version's seq and hash), with a Merkle root over the item heads.
Its bytes are RFC 8785 (JCS) canonical JSON, so anyone recomputes its sha256; that hash is what
an RFC 3161 authority timestamps (:mod:`archiver.store.timestamps`), what every export's
``bag-info.txt`` and every certificate quote, and what ``verify --since`` starts from.

The Merkle tree is RFC 6962's (https://www.rfc-editor.org/rfc/rfc6962#section-2.1), over the item
heads sorted by item id: a leaf's hash is ``SHA-256(0x00 || JCS([item_id, seq, sha256]))``, an
inner node's ``SHA-256(0x01 || left || right)``, the tree of n > 1 leaves splits at the largest
power of two below n, and the root of no leaves is ``SHA-256("")``. The document carries the heads
themselves, so ``verify --since`` needs nothing but the file to know what the archive held.

Someone with write access to the database can still append to it: a checkpoint proves that
everything it names is still there, unchanged, not that later additions are genuine; the next
checkpoint, kept outside and timestamped, pins those.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from archiver.errors import ArchiverError
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.store.canonical import HashScheme, iso_utc, jcs_json, sha256_hex
from archiver.store.models import AuditHead, Checkpoint, Item
from archiver.store.timestamps import TimestampError, check_token, load_anchors, request_token

FORMAT = "archiver-checkpoint/1"
CHECKPOINT_ACTION = "archive.checkpoint"
TOKEN_SUFFIX = ".tsr"  # noqa: S105 (a file name ending, not a secret)
LEAF_RULE = ("RFC 6962 Merkle tree hash over the heads in order; leaf = SHA-256(0x00 || "
             "JCS([item_id, seq, sha256])), node = SHA-256(0x01 || left || right)")


class CheckpointError(ArchiverError):
    """A checkpoint file that cannot be read or does not hold together."""


def leaf_hash(item_id: int, seq: int, sha256: str) -> bytes:
    """The Merkle leaf hash of one item head."""
    return hashlib.sha256(b"\x00" + jcs_json([item_id, seq, sha256])).digest()


def merkle_root(leaves: Iterable[bytes]) -> str:
    """The RFC 6962 Merkle tree hash of the leaf hashes, in order (hex).

    Pairing level by level and carrying an odd last node up unchanged builds the same tree as
    RFC 6962's split at the largest power of two below n."""
    level = list(leaves)
    if not level:
        return hashlib.sha256(b"").hexdigest()
    while len(level) > 1:
        nxt = [hashlib.sha256(b"\x01" + level[i] + level[i + 1]).digest()
               for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0].hex()


@dataclass(frozen=True)
class CheckpointSummary:
    """What exports and certificates quote of a checkpoint."""

    sha256: str
    created_at: datetime
    merkle_root: str
    item_count: int
    audit_event_count: int
    audit_last_sha256: str | None
    timestamped: bool
    tsa_time: datetime | None = None

    def bag_info(self) -> dict[str, str]:
        """The ``bag-info.txt`` lines (BagIt allows any label; these are the archive's)."""
        return {
            "Archiver-Checkpoint-SHA256": self.sha256,
            "Archiver-Checkpoint-Time": iso_utc(self.created_at),
            "Archiver-Checkpoint-Merkle-Root": self.merkle_root,
            "Archiver-Checkpoint-Audit-Head": self.audit_last_sha256 or "(no events)",
            "Archiver-Checkpoint-Timestamped": (
                f"yes, RFC 3161 at {iso_utc(self.tsa_time)}" if self.timestamped and self.tsa_time
                else "no"),
        }

    def as_json(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "created_at": iso_utc(self.created_at),
                "merkle_root": self.merkle_root, "item_count": self.item_count,
                "audit_event_count": self.audit_event_count,
                "audit_last_sha256": self.audit_last_sha256, "timestamped": self.timestamped,
                "tsa_time": None if self.tsa_time is None else iso_utc(self.tsa_time)}



NO_CHECKPOINT = {"Archiver-Checkpoint": "none yet (run `archiver checkpoint`)"}


def checkpoint_lines(checkpoint: dict[str, Any] | None) -> list[str]:
    """A certificate's lines on the latest checkpoint (``CheckpointSummary.as_json()``, or None
    when the archive has none yet)."""
    if checkpoint is None:
        return ["Latest checkpoint: none yet (run `archiver checkpoint`)."]
    stamp = (f"timestamped (RFC 3161) at {checkpoint['tsa_time']}" if checkpoint["timestamped"]
             else "not timestamped")
    return [f"Latest checkpoint: sha256 {checkpoint['sha256']}, taken {checkpoint['created_at']}, "
            f"{stamp}",
            f"  Merkle root over {checkpoint['item_count']} item chain heads: "
            f"{checkpoint['merkle_root']}",
            f"  Audit chain head ({checkpoint['audit_event_count']} events): "
            f"{checkpoint['audit_last_sha256'] or '(none)'}"]


def checkpoint_bag_info(summary: CheckpointSummary | None) -> dict[str, str]:
    """The ``bag-info.txt`` lines for the latest checkpoint, or a line saying there is none."""
    return dict(NO_CHECKPOINT) if summary is None else summary.bag_info()


def _summary(row: Checkpoint) -> CheckpointSummary:
    return CheckpointSummary(
        sha256=row.sha256, created_at=row.created_at, merkle_root=row.merkle_root,
        item_count=row.item_count, audit_event_count=row.audit_event_count,
        audit_last_sha256=row.audit_last_sha256, timestamped=row.tsa_token is not None,
        tsa_time=row.tsa_time)


def latest_checkpoint(session: Session) -> CheckpointSummary | None:
    """The newest checkpoint, or None before the first."""
    row = session.scalar(select(Checkpoint).order_by(Checkpoint.id.desc()).limit(1))
    return None if row is None else _summary(row)


def _heads(session: Session) -> Iterator[tuple[int, int, str]]:
    rows = session.connection().execute(
        select(Item.id, Item.current_seq, Item.current_sha256).order_by(Item.id)
        .execution_options(yield_per=5000))
    for item_id, seq, sha in rows:
        yield int(item_id), int(seq), str(sha)


def build_document(session: Session, now: datetime) -> dict[str, Any]:
    """The checkpoint document for the archive as ``session`` sees it."""
    head = session.scalar(select(AuditHead).where(AuditHead.id == 1))
    heads = list(_heads(session))
    return {
        "format": FORMAT,
        "hash_scheme": HashScheme.JCS.value,
        "created_at": iso_utc(now),
        "audit": {"event_count": 0 if head is None else head.event_count,
                  "last_event_id": None if head is None else head.last_event_id,
                  "last_sha256": None if head is None else head.last_sha256},
        "items": {"count": len(heads), "merkle_root": merkle_root(leaf_hash(*h) for h in heads),
                  "leaf_rule": LEAF_RULE, "heads": [list(h) for h in heads]},
    }


@dataclass(frozen=True)
class CheckpointResult:
    """A checkpoint just made: its summary, where it was written, and why it has no token."""

    summary: CheckpointSummary
    path: Path | None
    token_path: Path | None
    tsa_error: str | None

    def as_json(self) -> dict[str, Any]:
        return {**self.summary.as_json(), "path": None if self.path is None else str(self.path),
                "token_path": None if self.token_path is None else str(self.token_path),
                "tsa_error": self.tsa_error}


def _snapshot(archive: Archive) -> tuple[dict[str, Any], bytes]:
    with archive.sessions() as s:
        if s.get_bind().dialect.name == "postgresql":
            # One snapshot for the audit head and every item head.
            s.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        document = build_document(s, archive.clock())
    return document, jcs_json(document)


def make_checkpoint(archive: Archive, *, actor: str, out: Path | None = None) -> CheckpointResult:
    """Take a checkpoint, have it timestamped when ``ARCHIVER_TSA_URL`` is set, keep it in the
    archive (and its making in the audit log), and write it to ``out`` (its token beside it,
    ``out`` + ``.tsr``). A failing authority leaves the checkpoint kept, without a token, and says
    why in ``tsa_error``."""
    document, data = _snapshot(archive)
    sha = sha256_hex(data)
    token: bytes | None = None
    tsa_time: datetime | None = None
    tsa_error: str | None = None
    url = archive.settings.tsa_url
    if url:
        try:
            token = request_token(url, sha)
            tsa_time = check_token(token, sha, tsa_anchors(archive)).gen_time
        except TimestampError as exc:
            token, tsa_error = None, str(exc)
    audit, items = document["audit"], document["items"]
    row = Checkpoint(
        created_at=datetime.fromisoformat(document["created_at"]), sha256=sha,
        hash_scheme=document["hash_scheme"], merkle_root=items["merkle_root"],
        item_count=items["count"], audit_event_count=audit["event_count"],
        audit_last_event_id=audit["last_event_id"], audit_last_sha256=audit["last_sha256"],
        document=data.decode("utf-8"), tsa_url=url, tsa_token=token, tsa_time=tsa_time,
        tsa_error=tsa_error)
    with archive.transaction() as s:
        s.add(row)
        s.flush()
        record_event(s, action=CHECKPOINT_ACTION, occurred_at=archive.clock(), actor=actor,
                     target_type="checkpoint", target_id=row.id,
                     details={"sha256": sha, "merkle_root": row.merkle_root,
                              "items": row.item_count, "audit_events": row.audit_event_count,
                              "timestamped": token is not None, "tsa_error": tsa_error})
        summary = _summary(row)
    path = token_path = None
    if out is not None:
        path, token_path = write_checkpoint(out, data, token)
    return CheckpointResult(summary, path, token_path, tsa_error)


def tsa_anchors(archive: Archive) -> list[x509.Certificate] | None:
    """The trusted time-stamping roots (``ARCHIVER_TSA_CA_FILE``), or None when none are set."""
    ca = archive.settings.tsa_ca_file
    if ca is None:
        return None
    try:
        return load_anchors(ca.read_bytes())
    except OSError as exc:
        raise TimestampError(f"ARCHIVER_TSA_CA_FILE: {ca}: {exc.strerror or exc}") from None


def _write_atomic(path: Path, data: bytes) -> None:
    temp = path.with_name(path.name + ".part")
    temp.write_bytes(data)
    os.replace(temp, path)


def write_checkpoint(out: Path, data: bytes, token: bytes | None) -> tuple[Path, Path | None]:
    """Write the checkpoint's bytes to ``out`` and its token beside it."""
    try:
        _write_atomic(out, data)
        token_path = None
        if token is not None:
            token_path = out.with_name(out.name + TOKEN_SUFFIX)
            _write_atomic(token_path, token)
    except OSError as exc:
        raise CheckpointError(f"cannot write checkpoint {out}: {exc.strerror or exc}") from None
    return out, token_path


def export_checkpoint(archive: Archive, sha256: str | None, out: Path) -> CheckpointSummary:
    """Write a kept checkpoint (the latest when ``sha256`` is None) to ``out`` with its token."""
    with archive.sessions() as s:
        query = select(Checkpoint).order_by(Checkpoint.id.desc()).limit(1)
        if sha256 is not None:
            query = select(Checkpoint).where(Checkpoint.sha256 == sha256)
        row = s.scalar(query)
        if row is None:
            raise CheckpointError("no such checkpoint" if sha256 else "no checkpoint yet")
        write_checkpoint(out, row.document.encode("utf-8"), row.tsa_token)
        return _summary(row)


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A checkpoint file as read back: its hash, what it names, and its token if beside it."""

    sha256: str
    document: dict[str, Any]
    token: bytes | None

    @property
    def heads(self) -> list[tuple[int, int, str]]:
        return [(int(i), int(q), str(h)) for i, q, h in self.document["items"]["heads"]]

    @property
    def audit(self) -> dict[str, Any]:
        audit: dict[str, Any] = self.document["audit"]
        return audit


def read_checkpoint(path: Path) -> LoadedCheckpoint:
    """Read a checkpoint file and check that it holds together: canonical bytes, a known
    format, item heads in order whose Merkle root is the one it states."""
    try:
        data = path.read_bytes()
        token_file = path.with_name(path.name + TOKEN_SUFFIX)
        token = token_file.read_bytes() if token_file.is_file() else None
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from None
    try:
        document = json.loads(data)
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise CheckpointError(f"{path}: not an archiver checkpoint ({FORMAT})")
        canonical = jcs_json(document)
        heads = document["items"]["heads"]
        ids = [int(h[0]) for h in heads]
        root = merkle_root(leaf_hash(int(i), int(q), str(h)) for i, q, h in heads)
        stated_root = document["items"]["merkle_root"]
        audit = document["audit"]
        audit["last_event_id"], audit["last_sha256"], audit["event_count"]  # noqa: B018
    except CheckpointError:
        raise
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise CheckpointError(f"{path}: not an archiver checkpoint ({type(exc).__name__}: "
                              f"{exc})") from None
    if canonical != data:
        raise CheckpointError(f"{path}: not the checkpoint's canonical bytes (edited?)")
    if ids != sorted(set(ids)):
        raise CheckpointError(f"{path}: item heads are not in item id order")
    if root != stated_root:
        raise CheckpointError(f"{path}: the item heads do not give the stated Merkle root")
    return LoadedCheckpoint(sha256_hex(data), document, token)
