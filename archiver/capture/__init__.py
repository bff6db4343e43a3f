"""Capture: the capture rules for one account (:mod:`.run`), one account's whole run with its
lock and media (:mod:`.account`), what a run reports (:mod:`.results`), many accounts
(:mod:`.many`), the per-account lock, read-ahead, media downloads, real-time (webhook) capture,
and :mod:`.sources`, which sets up an account's connector."""
