"""The command line: ``archiver`` (:func:`main`) and its click group :data:`cli`.

Commands are grouped by concern: :mod:`.main` (accounts, capture, search, items, verify, demo),
:mod:`.exports` (open-records packages and productions), :mod:`.retention` (schedules, holds,
purge), :mod:`.daemon` (scheduler and webhooks server), :mod:`.policy` (review queue, page
checks, notices, monthly reports); :mod:`.support` and :mod:`.completion`
hold the shared option handling and shell completion.
"""

from archiver.cli.main import cli, main

__all__ = ["cli", "main"]
