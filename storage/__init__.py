"""Persistence for mestring: SQLAlchemy 2 models, engine/session factories, Alembic
migrations and query helpers. Knows nothing of Telegram."""
