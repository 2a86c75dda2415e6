"""Durable delivery: the outbox, the planner that fills it, and the dispatcher that empties it.

Every message the bot sends on its own is an ``outbox`` row first (see docs/delivery.md):
planned idempotently from the database, claimed with a lease, rendered in the recipient's
language at send time, and recorded as sent, expired, cancelled or failed.
"""
