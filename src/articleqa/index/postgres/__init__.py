"""The postgres backend: a whole collection in one PostgreSQL database with pgvector
(``schema``: tables and migrations; ``store``: `Store`). Needs the postgres extra (psycopg)."""

from .store import DatabaseUnavailable, SchemaMismatch, Store

__all__ = ["DatabaseUnavailable", "SchemaMismatch", "Store"]
