"""Hostile bodies for a connector's page parser: whatever arrives, records or one error line."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from archiver.connectors.errors import ConnectorError
from archiver.connectors.records import Record

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def hostile_bodies(valid: bytes, keys: Sequence[str]) -> st.SearchStrategy[bytes]:
    """Random bytes, every truncation of a valid page, and JSON built from the API's own keys."""
    return st.one_of(
        st.binary(max_size=200),
        st.integers(0, len(valid)).map(lambda n: valid[:n]),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=12),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.sampled_from(list(keys)), inner, max_size=5)
            ),
            max_leaves=25,
        ).map(lambda v: json.dumps(v).encode()),
    )


def assert_records_or_one_error(parse: Callable[[bytes], list[Record]], body: bytes) -> None:
    """``parse`` returns records (never a removal: only a look-up decides that) or raises one
    ConnectorError whose message is a single line."""
    try:
        out = parse(body)
    except ConnectorError as exc:
        assert "\n" not in str(exc)
    else:
        assert all(isinstance(r, Record) and r.status != "removed" for r in out)
