"""Errors a connector raises. Each message is one line, fit to print as is."""

from __future__ import annotations


class ConnectorError(Exception):
    """A listing or look-up could not be completed. Capture marks nothing removed."""


class AuthError(ConnectorError):
    """The platform refused the token (expired, revoked, wrong): not retried."""


class RateLimitExhausted(ConnectorError):
    """The platform kept answering 'slow down' past the back-off budget."""


class MalformedResponse(ConnectorError):
    """The platform answered something that is not the documented shape."""


class PagingLoop(ConnectorError):
    """A 'next page' pointer led back to a page already read."""


class TransientError(ConnectorError):
    """Server errors or timeouts persisted past the retry budget."""
