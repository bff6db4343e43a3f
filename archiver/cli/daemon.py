"""`archiver schedule run|show` and `archiver webhooks serve`: thin commands over the library."""

from __future__ import annotations

import logging
import os

import click

from archiver.cli.support import JSON_OPTION, archive_from_env, print_json, wait_until_stopped


def _log_to_stderr() -> None:
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@click.group()
def schedule() -> None:
    """The long-running capture scheduler and its jobs."""


@schedule.command("run")
@click.option("--jobs", "run_jobs", is_flag=True,
              help="Also run the records desk's background jobs (packages, productions, "
                   "purges) in this process.")
def schedule_run(run_jobs: bool) -> None:
    """Run the scheduler until stopped (nightly capture, comment sweeps, daily reports)."""
    from archiver.daemon.scheduler import ScheduleConfig, build_scheduler, start
    from archiver.jobs.runner import JobRunner

    _log_to_stderr()
    config = ScheduleConfig.from_env(os.environ)
    with archive_from_env() as archive:
        scheduler = build_scheduler(archive)
        start(scheduler, archive, config)
        runner = JobRunner(archive).start() if run_jobs else None
        click.echo("scheduler running; Ctrl-C or SIGTERM stops it", err=True)
        try:
            wait_until_stopped()
        finally:
            # Let a running capture finish its batch; its lock is released on the way out.
            scheduler.shutdown(wait=True)
            if runner is not None:
                runner.stop(timeout=None)


@schedule.command("show")
@JSON_OPTION
def schedule_show(as_json: bool) -> None:
    """List the scheduler's jobs with their next run (in the agency's time zone)."""
    from archiver.daemon.scheduler import ScheduleConfig, show_jobs

    config = ScheduleConfig.from_env(os.environ)
    with archive_from_env() as archive:
        jobs = show_jobs(archive, config)
        tz = archive.settings.tz
    if as_json:
        print_json({"jobs": [j.as_json() for j in jobs]})
        return
    for job in jobs:
        when = job.next_run.astimezone(tz).isoformat() if job.next_run else "paused"
        click.echo(f"{job.id:<16} next {when}  {job.trigger}  ({job.description})")


@click.group()
def webhooks() -> None:
    """Real-time capture from Facebook and Instagram webhooks."""


@webhooks.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
def webhooks_serve(host: str, port: int) -> None:
    """Serve /webhooks/facebook and /webhooks/instagram until stopped."""
    from archiver.daemon.webhooks import ServerLimits, WebhookApp, WebhookSecrets, serve

    _log_to_stderr()
    secrets = WebhookSecrets.from_env(os.environ)
    limits = ServerLimits.from_env(os.environ)
    with archive_from_env() as archive:
        serve(WebhookApp(archive, secrets, dict(os.environ)), host, port, limits)
