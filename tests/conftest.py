"""Fixtures shared by the whole suite live in tests/support/ and are registered here."""

pytest_plugins = [
    "tests.support.database",
    "tests.support.s3",
    "tests.support.graph",
    "tests.support.platforms_a",
    "tests.support.platforms_b",
    "tests.support.web",
    "tests.support.browser",
]
