"""The archiver's own errors. Every message is one line, printed as is by the CLI."""

from __future__ import annotations


class ArchiverError(Exception):
    """Base for every error the CLI reports as one line with a non-zero exit."""


class ConfigError(ArchiverError):
    """A setting is missing or wrong; the message names the setting."""


class StoreError(ArchiverError):
    """The blob store cannot be used (missing bucket, unwritable folder, ...)."""


class BlobNotFound(StoreError):
    """No blob with that hash is in the store."""


class BlobLocked(StoreError):
    """The store refuses to delete a blob yet (S3 Object Lock retention or legal hold)."""


class QueryError(ArchiverError):
    """A search query could not be parsed."""


class NotFound(ArchiverError):
    """An account, item, hold, ... named on the command line does not exist."""


class CaptureFailed(ArchiverError):
    """A capture run failed; it was recorded as failed and nothing was marked removed."""
