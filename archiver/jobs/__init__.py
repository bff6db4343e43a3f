"""Background jobs: long work the records desk starts (open-records packages, productions,
purges), kept in the archive's database so it survives a restart of the process running it.

:mod:`~archiver.jobs.queue` records jobs and their progress, :mod:`~archiver.jobs.work` runs one
job through the library (the exports and the purge, each resumable or idempotent), and
:class:`~archiver.jobs.runner.JobRunner` claims queued jobs one at a time in a worker thread:
inside the web process, under ``archiver jobs run``, or beside the scheduler.
"""
