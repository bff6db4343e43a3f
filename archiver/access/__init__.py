"""People and permissions: users of the records desk, their roles, account limits, passwords,
lock-out and API tokens. The web desk and ``archiver users`` call it; it stands on the store."""
