"""The postgres store's tables, their versioned migrations, and the database's identity checks.

A collection is one PostgreSQL schema (``Config.collection``), so several collections share a
database without sharing a table. Its ``meta`` table records ``schema_version`` and the
embedding model (name, dimension) its vectors came from. Opening a store runs `migrate`: the
steps newer than the recorded version, in order, in one transaction (under an advisory lock,
so two processes opening at once don't both migrate). A newer version, a schema whose tables
articleqa didn't make, or another embedding model is refused with a plain message.
"""

from __future__ import annotations

from collections.abc import Callable

import psycopg
from psycopg import sql

from ..contracts import StoreMismatch
from ..embeddings import runtime_mismatch

# Transaction-level advisory lock keys (pg_advisory_xact_lock takes a bigint): migrations of
# every collection of a database take one key; writers of a collection take `writer_key`.
MIGRATE_LOCK = 0x61716D6967726174  # "aqmigrat"


class SchemaMismatch(StoreMismatch):
    """The database (or collection) isn't one this articleqa can use as it is."""


def _v1(cur: psycopg.Cursor, dim: int) -> None:
    """Articles, chunks with their vectors (HNSW, cosine) and BM25 statistics, story edges,
    feeds, the generation and chunk totals."""
    for stmt in [
        "CREATE TABLE meta (k text PRIMARY KEY, v text NOT NULL)",
        # One row: the generation (bumped by every write transaction) and what BM25 needs of
        # the corpus (chunk count, total chunk length in terms), kept with each write.
        """CREATE TABLE state (
            one boolean PRIMARY KEY DEFAULT true CHECK (one),
            generation bigint NOT NULL DEFAULT 0,
            n_chunks bigint NOT NULL DEFAULT 0,
            total_len bigint NOT NULL DEFAULT 0)""",
        "INSERT INTO state DEFAULT VALUES",
        f"""CREATE TABLE articles (
            id text COLLATE "C" PRIMARY KEY,
            key text NOT NULL UNIQUE,
            title text NOT NULL DEFAULT '',
            source text COLLATE "C" NOT NULL DEFAULT '',
            url text NOT NULL DEFAULT '',
            author text NOT NULL DEFAULT '',
            published_at text COLLATE "C" NOT NULL DEFAULT '',
            content_hash text NOT NULL,
            text text NOT NULL,
            group_id text,
            ingested_at timestamptz NOT NULL DEFAULT now(),
            origin text NOT NULL DEFAULT '',
            version integer NOT NULL DEFAULT 1,
            vec vector({dim}))""",
        # ``n``: a compact key for the term table. ``source`` and ``day`` (published_at[:10],
        # '' when undated) are the article's, copied so both searches filter without a join.
        f"""CREATE TABLE chunks (
            n bigserial UNIQUE,
            id text COLLATE "C" PRIMARY KEY,
            article_id text COLLATE "C" NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            ord integer NOT NULL,
            start integer NOT NULL,
            "end" integer NOT NULL,
            text text NOT NULL,
            len integer NOT NULL,
            source text COLLATE "C" NOT NULL,
            day text COLLATE "C" NOT NULL,
            embedding vector({dim}) NOT NULL)""",
        "CREATE INDEX chunks_article ON chunks (article_id, ord)",
        "CREATE INDEX chunks_embedding ON chunks USING hnsw (embedding vector_cosine_ops)",
        # BM25: each chunk's stemmed terms with their counts, and the chunk's length, outlet
        # and day, so a score (filtered or not) needs no other table; by term with all of it
        # included (a posting list is read and filtered from the index alone) and by chunk
        # (deletes, scoring a few articles' chunks).
        """CREATE TABLE chunk_terms (
            n bigint NOT NULL REFERENCES chunks(n) ON DELETE CASCADE,
            term text COLLATE "C" NOT NULL,
            tf integer NOT NULL,
            len integer NOT NULL,
            source text COLLATE "C" NOT NULL,
            day text COLLATE "C" NOT NULL,
            PRIMARY KEY (n, term))""",
        "CREATE INDEX chunk_terms_term ON chunk_terms (term) INCLUDE (n, tf, len, source, day)",
        'CREATE TABLE term_df (term text COLLATE "C" PRIMARY KEY, df integer NOT NULL)',
        """CREATE TABLE duplicates (
            a text COLLATE "C" NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            b text COLLATE "C" NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            score real NOT NULL,
            PRIMARY KEY (a, b))""",
        "CREATE INDEX duplicates_b ON duplicates (b)",
        """CREATE TABLE feeds (
            url text COLLATE "C" PRIMARY KEY, title text NOT NULL DEFAULT '', etag text NOT NULL DEFAULT '',
            last_modified text NOT NULL DEFAULT '', polled_at text NOT NULL DEFAULT '',
            status text NOT NULL DEFAULT '')""",
        """CREATE TABLE feed_entries (
            feed_url text NOT NULL, key text NOT NULL, fingerprint text NOT NULL,
            PRIMARY KEY (feed_url, key))""",
    ]:
        cur.execute(stmt)


def _v2(cur: psycopg.Cursor, dim: int) -> None:
    """Filter columns indexed: a filtered search narrows by outlet or date before ranking
    when that is selective (one outlet of many, a week of a decade)."""
    cur.execute("CREATE INDEX chunks_source ON chunks (source)")
    cur.execute("CREATE INDEX chunks_day ON chunks (day)")


# Step i (1-based) brings schema i-1 to schema i. Append only: a released step never changes.
MIGRATIONS: list[Callable[[psycopg.Cursor, int], None]] = [_v1, _v2]
SCHEMA_VERSION = len(MIGRATIONS)
TABLES = {
    "meta",
    "state",
    "articles",
    "chunks",
    "chunk_terms",
    "term_df",
    "duplicates",
    "feeds",
    "feed_entries",
}


def writer_key(schema: str) -> sql.Composed:
    """The SQL of the advisory lock key of ``schema``'s writers (hashtext: stable across processes)."""
    return sql.SQL("hashtextextended({}, 0)").format(sql.Literal(f"articleqa:write:{schema}"))


def migrate(
    conn: psycopg.Connection,
    schema: str,
    model: str,
    dim: int,
    where: str,
    upto: int = SCHEMA_VERSION,
    runtime: str = "",
) -> int:
    """Create or upgrade ``schema`` to version ``upto`` (one transaction), then check the
    embedding model and runtime; the version it is at. ``where`` names the database in messages."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
        cur.execute("CREATE EXTENSION IF NOT EXISTS vector SCHEMA public")
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        cur.execute(sql.SQL("SET LOCAL search_path TO {}, public").format(sql.Identifier(schema)))
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))
        have = {r[0] for r in cur.fetchall()}
        version = 0
        if "meta" in have:
            cur.execute("SELECT k, v FROM meta")
            meta = dict(cur.fetchall())
            if "schema_version" not in meta:
                have = have - {"meta"} | {"meta (not articleqa's)"}
            else:
                version = int(meta["schema_version"])
        if version == 0 and have:
            raise SchemaMismatch(
                f"the schema '{schema}' of {where} holds tables articleqa didn't make "
                f"({', '.join(sorted(have))}): use another collection (--collection) or database"
            )
        if version > SCHEMA_VERSION:
            raise SchemaMismatch(
                f"the collection '{schema}' in {where} was written by a newer articleqa (schema {version}); "
                f"this one knows up to {SCHEMA_VERSION}: upgrade articleqa"
            )
        if version == 0:
            _check_model({}, schema, model, dim, where, runtime)
        else:
            _check_model(meta, schema, model, dim, where, runtime)
        for step in range(version, upto):
            MIGRATIONS[step](cur, dim)
            version = step + 1
        if version:
            cur.executemany(
                "INSERT INTO meta VALUES (%s, %s) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v",
                [("schema_version", str(version)), ("embed_model", model), ("embed_dim", str(dim))]
                + ([("embed_runtime", runtime)] if runtime else [])
                if "meta" not in have
                else [("schema_version", str(version))],
            )
        return version


def _check_model(meta: dict[str, str], schema: str, model: str, dim: int, where: str, runtime: str) -> None:
    built_by = meta.get("embed_model")
    if built_by and (built_by != model or int(meta.get("embed_dim", dim)) != dim):
        raise SchemaMismatch(
            f"collection '{schema}' in {where} was built with embeddings from '{built_by}', "
            f"not '{model}': use another database/collection or the same model"
        )
    if built_by and (why := runtime_mismatch(meta.get("embed_runtime", ""), runtime)):
        raise SchemaMismatch(f"collection '{schema}' in {where} {why}")
