"""The active rule file: loading one into the archive (audited) and finding the one that runs.

Until an agency loads a file of its own (``archiver review rules load FILE``), the shipped
GO 80.11 file runs. A loaded file is kept whole in ``monitoring_rules`` and validated again each
time it is used, so what runs is always what was loaded. Loading changes no flag already made;
it applies to what is stored from then on.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from archiver.monitoring.rules import RuleSet, load_rules_file, parse_rules, shipped_rules
from archiver.store.archive import Archive
from archiver.store.audit import record_event
from archiver.store.monitoring import MonitoringRules


def active_rules(session: Session) -> RuleSet:
    """The rule set that runs: the loaded one, else the shipped GO 80.11 file."""
    row = session.scalar(select(MonitoringRules).where(MonitoringRules.active.is_(True)))
    if row is None:
        return shipped_rules()
    return parse_rules(row.document, row.source)


@dataclass(frozen=True)
class RulesChange:
    """What loading a rule file did."""

    name: str
    sha256: str
    changed: bool

    def describe(self) -> str:
        """One line for the terminal."""
        state = "now active" if self.changed else "already active, nothing changed"
        return f"monitoring rules {self.name} (sha256 {self.sha256[:12]}): {state}"


def load_rules(archive: Archive, path: Path, *, actor: str) -> RulesChange:
    """Validate ``path`` and make it the active rule file (audited; no-op if already active)."""
    rules = load_rules_file(path)
    now = archive.clock()
    with archive.transaction() as s:
        active = s.scalar(select(MonitoringRules).where(MonitoringRules.active.is_(True))
                          .with_for_update())
        if active is not None and active.sha256 == rules.sha256 and active.name == rules.name:
            return RulesChange(rules.name, rules.sha256, changed=False)
        s.execute(update(MonitoringRules).values(active=False))
        s.add(MonitoringRules(name=rules.name, source=str(path), sha256=rules.sha256,
                              document=rules.text, loaded_at=now, loaded_by=actor, active=True))
        record_event(s, action="review.rules_loaded", occurred_at=now, actor=actor,
                     target_type="monitoring_rules", target_id=rules.name,
                     details={"name": rules.name, "sha256": rules.sha256, "source": str(path),
                              "rules": len(rules.rules),
                              "requirements": len(rules.requirements),
                              "previous": None if active is None else
                              {"name": active.name, "sha256": active.sha256}})
    return RulesChange(rules.name, rules.sha256, changed=True)
