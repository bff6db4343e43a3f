"""``archiver jobs run|list``: the records desk's background jobs, outside the web process."""

from __future__ import annotations

import click

from archiver.cli.support import (
    JSON_OPTION,
    archive_from_env,
    echo,
    print_json,
    wait_until_stopped,
)
from archiver.terminal import visible


@click.group()
def jobs() -> None:
    """Background jobs the records desk started: packages, productions, purges."""


@jobs.command("run")
@click.option("--forever", is_flag=True,
              help="Keep running and wait for new jobs until stopped (Ctrl-C or SIGTERM).")
@click.option("--poll", default=5.0, show_default=True, type=click.FloatRange(0.1, 3600),
              help="With --forever: seconds between looks for new jobs.")
def jobs_run(forever: bool, poll: float) -> None:
    """Run the waiting jobs (and those a stopped process left) until none is left."""
    from archiver.jobs.runner import JobRunner

    with archive_from_env() as archive:
        runner = JobRunner(archive, poll=poll)
        if not forever:
            count = runner.run_pending()
            echo(f"ran {count} job(s)")
            return
        runner.start()
        echo("running jobs; Ctrl-C or SIGTERM stops after the job running now", err=True)
        try:
            wait_until_stopped()
        finally:
            runner.stop(timeout=None)


@jobs.command("list")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
@JSON_OPTION
def jobs_list(limit: int, as_json: bool) -> None:
    """The newest jobs with their state and progress."""
    from archiver.jobs.queue import list_jobs

    with archive_from_env() as archive:
        found = list_jobs(archive, limit=limit)
    if as_json:
        print_json([j.as_json() for j in found])
        return
    for job in found:
        progress = f"{job.done}/{job.total}" if job.total else str(job.done)
        line = (f"{job.job_id}\t{job.kind}\t{visible(job.subject or '')}\t{job.state}\t"
                f"{visible(job.phase)} {progress}\t{visible(job.requested_by)}")
        if job.error:
            line += f"\t{visible(job.error)}"
        echo(line)
