"""The record store: tables (:mod:`.models`), engine and migrations (:mod:`.db`), the archive
handle (:mod:`.archive`), items and their versions, the audit hash chain and canonical JSON."""
