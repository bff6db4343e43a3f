"""The SQLite FTS5 engine: the index and the compiler from the shared query language."""
