"""Long-running services: the scheduler (:mod:`.scheduler`) and the webhooks server
(:mod:`.webhooks`)."""
