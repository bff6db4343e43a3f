"""Capture: the capture rules for one account (:mod:`.run`), many accounts (:mod:`.many`), the
per-account lock, read-ahead, media downloads, real-time (webhook) capture, and
:mod:`.sources`, which sets up an account's connector."""
