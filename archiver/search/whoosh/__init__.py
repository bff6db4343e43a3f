"""The Whoosh engine (the default): schema, index, search and on-disk storage."""
