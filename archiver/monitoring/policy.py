"""Page compliance: each account's public profile against what GO 80.11 asks a page to state.

III.A.1.b: the page says the department maintains it, with department contact information;
III.A.1.d: comments are monitored and obscenities, off-topic comments and personal attacks may
be removed, visitors' opinions are not the department's, and what is posted is subject to public
disclosure. Which phrases satisfy each requirement is in the active rule file
(``page_requirements``). A check reads the profile through the account's connector (the caller
hands in how: :data:`ProfileReader`), keeps what it read as an evidence blob, records a
``policy_checks`` row and a ``policy.checked`` audit event, and writes a notice when a
requirement the last check found met is no longer met.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archiver.connectors.errors import ConnectorError
from archiver.connectors.profiles import Profile
from archiver.errors import ArchiverError
from archiver.monitoring.loading import active_rules
from archiver.monitoring.notices import queue_notice
from archiver.monitoring.rules import Requirement
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.store.blob_records import store_blob
from archiver.store.canonical import canonical_json
from archiver.store.models import Account
from archiver.store.monitoring import PolicyCheck
from archiver.terminal import visible

ProfileReader = Callable[[Account], Profile]
# The most of a profile's text quoted as found for one requirement.
QUOTE_MAX = 240
_SENTENCE_END = re.compile(r"[.!?]\s|\n")


@dataclass(frozen=True)
class Found:
    """Where a requirement's phrase was found: the field and the sentence around it."""

    field: str
    text: str


@dataclass(frozen=True)
class RequirementResult:
    """One requirement on one page: met or not, with the text that met it."""

    requirement: str
    ground: str
    title: str
    passed: bool
    found: tuple[Found, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def sentence_around(text: str, start: int, end: int) -> str:
    """The sentence of ``text`` holding ``start:end``, on one line, at most
    :data:`QUOTE_MAX` characters."""
    before = [m.end() for m in _SENTENCE_END.finditer(text, 0, start)]
    first = before[-1] if before else 0
    after = _SENTENCE_END.search(text, end)
    last = after.start() + 1 if after else len(text)
    sentence = " ".join(text[first:last].split())
    return sentence if len(sentence) <= QUOTE_MAX else sentence[:QUOTE_MAX - 1] + "…"


def evaluate(profile: Profile, requirements: Sequence[Requirement]) -> list[RequirementResult]:
    """Each requirement met or not by ``profile``'s fields, with the sentences that met it."""
    results = []
    for requirement in requirements:
        found: list[Found] = []
        met = True
        for group in requirement.groups:
            hit = next(((f, m) for f in profile.fields for p in group
                        if (m := p.search(f.text)) is not None), None)
            if hit is None:
                met = False
                continue
            quoted = Found(hit[0].name, sentence_around(hit[0].text, *hit[1].span()))
            if quoted not in found:
                found.append(quoted)
        results.append(RequirementResult(requirement.id, requirement.ground, requirement.title,
                                         met, tuple(found) if met else ()))
    return results


def check_policy(archive: Archive, accounts: Sequence[Account], read_profile: ProfileReader,
                 *, actor: str) -> list[dict[str, Any]]:
    """Check each account's profile; a stored, audited result per account (see the module)."""
    with archive.sessions() as s:
        rules = active_rules(s)
    out = []
    for account in accounts:
        try:
            profile: Profile | None = read_profile(account)
            error = None
        except (ConnectorError, ArchiverError) as exc:
            profile, error = None, " ".join(str(exc).split())
        results = evaluate(profile, rules.requirements) if profile is not None else []
        out.append(_record(archive, account, profile, results, error, rules.sha256, actor))
    return out


def _record(archive: Archive, account: Account, profile: Profile | None,
            results: list[RequirementResult], error: str | None, rules_sha: str,
            actor: str) -> dict[str, Any]:
    now = archive.clock()
    with archive.transaction() as s:
        previous = _latest(s, account.id)
        evidence = None
        if profile is not None:
            evidence = store_blob(s, archive.store, canonical_json({
                "platform": profile.platform, "account": profile.account, "url": profile.url,
                "read_at": now, "requests": list(profile.requests),
                "fields": [{"name": f.name, "text": f.text} for f in profile.fields],
                "raw": profile.raw}), "application/json", now)
        check = PolicyCheck(account_id=account.id, checked_at=now,
                            status="unreadable" if profile is None else "checked", error=error,
                            passed=None if profile is None else all(r.passed for r in results),
                            results_json=json.dumps([r.as_json() for r in results],
                                                    ensure_ascii=False),
                            evidence_sha256=evidence, rules_sha256=rules_sha)
        s.add(check)
        s.flush()
        record_event(s, action="policy.checked", occurred_at=now, actor=actor,
                     target_type="account", target_id=account.id,
                     details={"check_id": check.id, "status": check.status, "error": error,
                              "passed": check.passed, "evidence_sha256": evidence,
                              "rules_sha256": rules_sha,
                              "requirements": {r.requirement: r.passed for r in results}})
        lost = _lost(previous, results)
        if lost:
            _queue_lost(s, archive, account, check.id, lost, previous)
        return {**check_json(check), "account": account.handle, "platform": account.platform,
                "url": profile.url if profile is not None else None,
                "no_longer_met": [r.requirement for r in lost]}


def _latest(s: Session, account_id: int) -> PolicyCheck | None:
    return s.scalar(select(PolicyCheck).where(PolicyCheck.account_id == account_id,
                                              PolicyCheck.status == "checked")
                    .order_by(PolicyCheck.id.desc()).limit(1))


def _lost(previous: PolicyCheck | None,
          results: list[RequirementResult]) -> list[RequirementResult]:
    if previous is None:
        return []
    met_before = {r["requirement"] for r in json.loads(previous.results_json) if r["passed"]}
    return [r for r in results if not r.passed and r.requirement in met_before]


def _queue_lost(s: Session, archive: Archive, account: Account, check_id: int,
                lost: list[RequirementResult], previous: PolicyCheck | None) -> None:
    before = {r["requirement"]: r for r in json.loads(previous.results_json)} if previous else {}
    where = f"{account.platform}:{account.handle}"
    subject = (f"Page statements: {where} no longer meets "
               f"{', '.join(r.requirement for r in lost)} (GO 80.11)")
    lines = [f"The public profile of account {account.id} ({visible(where)}) no longer states "
             "what GO 80.11 asks:", ""]
    for r in lost:
        lines.append(f"- {r.requirement} ({visible(r.ground)}): {visible(r.title)}")
        for f in before.get(r.requirement, {}).get("found", []):
            lines.append(f"    last found in {visible(f['field'])}: {visible(f['text'])}")
    lines += ["", f"See: archiver policy check --account {account.id}"]
    queue_notice(s, archive, kind="policy", key=f"policy:{account.id}:{check_id}",
                 subject=visible(subject), lines=lines, account_id=account.id,
                 data={"account_id": account.id, "check_id": check_id,
                       "no_longer_met": [r.as_json() for r in lost]})


def check_json(check: PolicyCheck) -> dict[str, Any]:
    """A stored check as ``policy check --json`` prints it."""
    return {"check_id": check.id, "account_id": check.account_id,
            "checked_at": check.checked_at.isoformat(), "status": check.status,
            "error": check.error, "passed": check.passed,
            "requirements": json.loads(check.results_json),
            "evidence_sha256": check.evidence_sha256, "rules_sha256": check.rules_sha256}


def latest_checks(archive: Archive) -> dict[int, dict[str, Any]]:
    """Each account's latest check, in short (for ``accounts list``)."""
    with archive.sessions() as s:
        newest = (select(PolicyCheck.account_id, func.max(PolicyCheck.id).label("id"))
                  .group_by(PolicyCheck.account_id).subquery())
        checks = s.scalars(select(PolicyCheck).join(newest, newest.c.id == PolicyCheck.id))
        out = {}
        for c in checks:
            results = json.loads(c.results_json)
            out[c.account_id] = {
                "check_id": c.id, "checked_at": c.checked_at.isoformat(), "status": c.status,
                "passed": c.passed, "met": [r["requirement"] for r in results if r["passed"]],
                "not_met": [r["requirement"] for r in results if not r["passed"]]}
    return out


def policy_label(summary: object) -> str:
    """``accounts list``'s words for an account's latest check (a :func:`latest_checks` value;
    anything else: not checked)."""
    if not isinstance(summary, dict):
        return "policy: not checked"
    if summary["status"] != "checked":
        return f"policy: profile unreadable ({summary['checked_at'][:10]})"
    total = len(summary["met"]) + len(summary["not_met"])
    missing = f", missing {', '.join(summary['not_met'])}" if summary["not_met"] else ""
    return f"policy: {len(summary['met'])}/{total} met{missing} ({summary['checked_at'][:10]})"
