"""Durable events: the transactional outbox, its deliveries and the workers
that make them (signed webhooks, e-mail)."""
