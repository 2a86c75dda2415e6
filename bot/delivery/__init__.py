"""Sending the outbox through Telegram: the dispatcher's loop, its sender and its scheduler.

What to send and when is the course's rule and lives in ``dialogs.delivery``; this package only
claims due rows, hands them to Telegram at the pace Telegram allows, and records the outcome.
"""
