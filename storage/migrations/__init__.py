"""Alembic migrations for storage (a package so wheels ship env.py and versions)."""
