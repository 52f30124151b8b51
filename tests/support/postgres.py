"""A fresh schema of the local PostgreSQL for one test, deployment or
benchmark, dropped afterwards: the one helper every PostgreSQL run uses."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text


@contextmanager
def postgres_schema(admin_url: str, prefix: str = "t_") -> Iterator[str]:
    """The database URL of a new schema (``search_path`` set to it)."""
    schema = prefix + secrets.token_hex(6)
    admin = create_engine(admin_url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{admin_url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        admin.dispose()
