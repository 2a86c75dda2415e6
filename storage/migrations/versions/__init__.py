"""Migration scripts; Alembic loads them by path, ignoring this file."""
