"""Commands for General Order 80.11 at work: ``review`` (the queue, decisions, the rule file),
``policy check`` (pages against their required statements), ``notices`` (what staff are sent)
and ``reports monthly``. :func:`register` adds them to the ``archiver`` group."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from archiver.cli import completion
from archiver.cli.support import JSON_OPTION, actor, archive_from_env, echo, print_json
from archiver.terminal import visible
from archiver.wording import author_or_unknown, counted

DECISIONS = ("keep", "hide", "remove")


@click.group()
def review() -> None:
    """The review queue: what the monitoring rules flagged, and the reviewers' decisions."""


@review.command("list")
@click.option("--all", "include_decided", is_flag=True, help="Decided flags too.")
@click.option("--account", "account_id", type=int, shell_complete=completion.account_ids,
              help="Only this account's flags.")
@click.option("--limit", type=click.IntRange(1, 100_000), help="At most this many.")
@JSON_OPTION
def review_list(include_decided: bool, account_id: int | None, limit: int | None,
                as_json: bool) -> None:
    """Open flags, oldest first (F-numbers for 'review decide'); comments shown in short."""
    from archiver.monitoring.review import review_queue

    with archive_from_env() as archive:
        rows = review_queue(archive, include_decided=include_decided, account_id=account_id,
                            limit=limit)
    if as_json:
        print_json({"total": len(rows), "flags": rows})
        return
    echo(f"{counted(len(rows), 'flag')}" + ("" if include_decided else " open"))
    for r in rows:
        state = "" if r["state"] == "open" else f" [{r['state']}]"
        echo(f"{r['flag_id']}{state}\titem {r['item_id']}\t{r['platform']}:"
             f"{visible(r['account'])}\t{r['kind']}\t{r['rule']} ({r['category']})\t"
             f"{visible(author_or_unknown(r['author']))}\t{visible(r['excerpt'])}")
        echo(f"\t{visible(r['ground'])}")


@review.command("decide")
@click.argument("target", metavar="ITEM_OR_FLAG_ID")
@click.option("--decision", required=True, type=click.Choice(DECISIONS),
              help="What was done on the platform.")
@click.option("--ground", required=True, help="The policy ground, e.g. 'GO 80.11 III.A.1.d(1)'.")
@click.option("--by", "decided_by", required=True, help="The reviewer's name.")
@JSON_OPTION
def review_decide(target: str, decision: str, ground: str, decided_by: str,
                  as_json: bool) -> None:
    """Record a reviewer's decision about an item (42) or the item of a flag (F12).

    The decision is an audit event and shows in 'archiver items show'; the archive keeps the
    record as captured whatever was decided.
    """
    from archiver.monitoring.review import decide

    with archive_from_env() as archive:
        row = decide(archive, target, decision, ground=ground, decided_by=decided_by,
                     actor=actor())
    if as_json:
        print_json(row)
        return
    closed = ", ".join(row["flags_closed"]) or "none open"
    echo(f"item {row['item_id']}: {row['decision']} by {visible(row['decided_by'])} on "
         f"{visible(row['ground'])} (decision {row['decision_id']}, audit event "
         f"{row['audit_event_id']}); flags closed: {closed}")


@review.command("flag")
@JSON_OPTION
def review_flag(as_json: bool) -> None:
    """Run the monitoring rules now on every item whose newest version they have not seen."""
    from archiver.monitoring.flags import flag_unchecked

    with archive_from_env() as archive:
        outcome = flag_unchecked(archive, origin="manual")
    if as_json:
        print_json({"checked": outcome.checked, "flagged": outcome.flagged,
                    "flag_ids": [f"F{i}" for i in outcome.flag_ids]})
        return
    echo(f"checked {counted(outcome.checked, 'item')}: {counted(outcome.flagged, 'new flag')}")


@review.group("rules")
def review_rules() -> None:
    """The monitoring rule file (the shipped GO 80.11 file runs until one is loaded)."""


@review_rules.command("validate")
@click.argument("path", type=click.Path(path_type=Path))
def review_rules_validate(path: Path) -> None:
    """Check a rule file; every problem as FILE:LINE: reason, non-zero exit if any."""
    from archiver.monitoring.rules import load_rules_file

    rules = load_rules_file(path)
    echo(f"{visible(str(path))}: valid: rules {visible(rules.name)}, "
         f"{counted(len(rules.rules), 'monitoring rule')}, "
         f"{counted(len(rules.requirements), 'page requirement')}")


@review_rules.command("load")
@click.argument("path", type=click.Path(path_type=Path))
def review_rules_load(path: Path) -> None:
    """Validate a rule file and make it the active one (audited)."""
    from archiver.monitoring.loading import load_rules

    with archive_from_env() as archive:
        change = load_rules(archive, path, actor=actor())
    echo(visible(change.describe()))


@review_rules.command("show")
@JSON_OPTION
def review_rules_show(as_json: bool) -> None:
    """The active rules: each rule's name, category, whose words and policy ground."""
    from archiver.monitoring.loading import active_rules

    with archive_from_env() as archive, archive.sessions() as s:
        rules = active_rules(s)
    data = {"rules": rules.name, "title": rules.title, "source": rules.source,
            "sha256": rules.sha256,
            "monitor": [{"name": r.name, "category": r.category, "applies_to": r.audience,
                         "matcher": r.matcher, "ground": r.ground} for r in rules.rules],
            "page_requirements": [{"id": q.id, "ground": q.ground, "title": q.title}
                                  for q in rules.requirements]}
    if as_json:
        print_json(data)
        return
    echo(f"rules {visible(rules.name)} from {visible(rules.source)} (sha256 "
         f"{rules.sha256[:12]})")
    for r in data["monitor"]:
        echo(f"  {r['name']}\t{r['category']}\t{r['applies_to']}\t{r['matcher']}\t"
             f"{visible(r['ground'])}")
    for q in data["page_requirements"]:
        echo(f"  page: {q['id']}\t{visible(q['ground'])}\t{visible(q['title'])}")


def print_review(review_data: dict[str, Any]) -> None:
    """The ``review`` section of ``items show``: flags and decisions, one line each."""
    for f in review_data["flags"]:
        echo(f"flagged {f['flagged_at']} ({f['flag_id']}, version {f['seq']}, {f['state']}): "
             f"{f['rule']} ({f['category']}) under {visible(f['ground'])}")
    for d in review_data["decisions"]:
        echo(f"decided {d['decided_at']}: {d['decision']} by {visible(d['decided_by'])} on "
             f"{visible(d['ground'])} (version {d['seq']}, audit event {d['audit_event_id']})")


def register(group: click.Group) -> None:
    """Add this module's commands to ``group`` (the ``archiver`` command)."""
    for command in (review,):
        group.add_command(command)


def exit_failed(message: str) -> None:
    """One line on stderr and exit status 1 (a check that found what it reports)."""
    echo(message, err=True)
    sys.exit(1)
