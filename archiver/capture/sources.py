"""An account's connector: its platform's class, its token from the account's variable.

Scheduled capture, the CLI and the webhook receiver all build connectors here, so an account is
read the same way whoever reads it. A platform that serves public data to anyone
(:attr:`Connector.anonymous_read`: feeds, MediaWiki, WordPress) is read anonymously when the
account's token variable is unset or empty, and then no ``Authorization`` header is sent; every
other platform needs its token and says so in one line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from archiver.connectors import get_connector_class
from archiver.connectors.base import Connector, ConnectorConfig, RetryCallback
from archiver.errors import ConfigError
from archiver.store.models import Account


def token_required(platform: str) -> bool:
    """Does ``platform`` refuse to be read without a token?"""
    return not get_connector_class(platform).anonymous_read


def token_for(account: Account, environ: Mapping[str, str]) -> str | None:
    """The account's token from its variable; None for a public platform without one.

    An empty value counts as unset. A platform that needs a token raises :class:`ConfigError`
    naming the account and the variable.
    """
    token = environ.get(account.token_env) or None
    if token is None and token_required(account.platform):
        raise ConfigError(
            f"account {account.id} ({account.handle}): token variable {account.token_env} "
            "is not set"
        )
    return token


def credentials_label(account: Account, environ: Mapping[str, str]) -> str:
    """How the account is read: ``none (public)``, ``$VAR`` or ``$VAR (not set)``."""
    if environ.get(account.token_env):
        return f"${account.token_env}"
    if token_required(account.platform):
        return f"${account.token_env} (not set)"
    return "none (public)"


def connector_for(
    account: Account,
    environ: Mapping[str, str],
    *,
    without_token: Callable[[str], None] | None = None,
    sleep: Callable[[float], None] | None = None,
    on_retry: RetryCallback | None = None,
    **options: Any,
) -> Connector:
    """The account's connector: its platform's class, its API base, its token from the
    account's variable (and so its secret scrubber). ``sleep`` and ``on_retry`` are used when
    given; other ``options`` go to the constructor as they are (``client``, ``now``, ...).

    A missing token a platform needs raises :class:`ConfigError`, unless ``without_token`` is
    given: it is told why, and the connector is built without a token (webhook records need no
    read, and look-ups then fail as Unknown, never as a removal).
    """
    try:
        token = token_for(account, environ)
    except ConfigError as exc:
        if without_token is None:
            raise
        without_token(str(exc))
        token = None
    if sleep is not None:
        options["sleep"] = sleep
    if on_retry is not None:
        options["on_retry"] = on_retry
    config = ConnectorConfig(
        account_external_id=account.external_id, api_base=account.api_base, token=token
    )
    return get_connector_class(account.platform)(config, **options)
