"""The registry: a SQLite database of articles and chunks, the store's source of truth.

Vectors live in Chroma, but an article exists only once its registry transaction has
committed; vectors whose chunk is not in the registry are orphans and are swept away
(`Store.reconcile`). A ``generation`` counter, bumped by every write, lets the keyword index
(and other processes) notice changes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ...types import Article, Chunk, FeedState

_SCHEMA = """
CREATE TABLE IF NOT EXISTS articles (
    id TEXT PRIMARY KEY,
    key TEXT UNIQUE NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    source TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL DEFAULT '',
    author TEXT NOT NULL DEFAULT '',
    published_at TEXT NOT NULL DEFAULT '',
    content_hash TEXT NOT NULL,
    text TEXT NOT NULL,
    group_id TEXT,
    ingested_at TEXT NOT NULL DEFAULT (datetime('now')),
    origin TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS chunks (
    id TEXT PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    ord INTEGER NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_article ON chunks(article_id);
CREATE TABLE IF NOT EXISTS article_vectors (
    article_id TEXT PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
    vec BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS duplicates (
    a TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    b TEXT NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
    score REAL NOT NULL,
    PRIMARY KEY (a, b)
);
-- Edges are looked up and deleted by either end: without this, "a = ? OR b = ?" scans every
-- edge once per ingested article (quadratic: 9 min at 100k chunks, ~200k edges).
CREATE INDEX IF NOT EXISTS duplicates_b ON duplicates(b);
-- Feeds polled (ingest/feeds.py): what a conditional GET needs, and what the UI shows.
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    title TEXT NOT NULL DEFAULT '',
    etag TEXT NOT NULL DEFAULT '',
    last_modified TEXT NOT NULL DEFAULT '',
    polled_at TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT ''
);
-- The fingerprint of each feed entry as last read: an entry unchanged in the feed isn't fetched again.
CREATE TABLE IF NOT EXISTS feed_entries (
    feed_url TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    PRIMARY KEY (feed_url, key)
);
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
INSERT OR IGNORE INTO meta VALUES ('generation', '0');
"""

_ARTICLE_COLS = "id, key, title, source, url, author, published_at, content_hash, text, origin"
# Columns added after the first release: (name, definition) for registries made before them.
# ``version``: 1 when first stored, +1 each time its content changes (an edited feed entry).
_ADDED_COLUMNS = [("origin", "TEXT NOT NULL DEFAULT ''"), ("version", "INTEGER NOT NULL DEFAULT 1")]


class Registry:
    """Articles and chunks in SQLite; every write is one transaction."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.RLock()
        # One connection shared by the threads of a server (Gradio); writes are serialised.
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        # With WAL, NORMAL stays crash-consistent; it only skips an fsync per commit.
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)
        have = {r[1] for r in self._db.execute("PRAGMA table_info(articles)")}
        for name, definition in _ADDED_COLUMNS:
            if name not in have:
                self._db.execute(f"ALTER TABLE articles ADD COLUMN {name} {definition}")
        self._db.commit()
        self._known, self._foreign = self.generation, False

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write, which bumps the generation (noting whether another process wrote since
        this one last looked: see `changed_elsewhere`)."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
                gen = int(self._db.execute("SELECT v FROM meta WHERE k = 'generation'").fetchone()[0])
                self._db.execute("UPDATE meta SET v = ? WHERE k = 'generation'", (str(gen + 1),))
                self._db.commit()
            except BaseException:
                self._db.rollback()
                raise
            self._foreign |= gen != self._known
            self._known = gen + 1

    def changed_elsewhere(self) -> bool:
        """Has another process (or another `Registry` on this file) written since `mark_synced`?"""
        return self._foreign or self.generation != self._known

    def mark_synced(self) -> None:
        """What is in memory now follows the registry as it is."""
        with self._lock:
            self._known, self._foreign = self.generation, False

    def _query(self, sql: str, args: Iterable = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, tuple(args)).fetchall()

    # ---- reads ---------------------------------------------------------------------
    @property
    def generation(self) -> int:
        return int(self._query("SELECT v FROM meta WHERE k = 'generation'")[0][0])

    def article(self, article_id: str) -> Article | None:
        rows = self._query(f"SELECT {_ARTICLE_COLS} FROM articles WHERE id = ?", (article_id,))
        return _article(rows[0]) if rows else None

    def article_by_key(self, key: str) -> Article | None:
        rows = self._query(f"SELECT {_ARTICLE_COLS} FROM articles WHERE key = ?", (key,))
        return _article(rows[0]) if rows else None

    def article_stats(self) -> list[dict]:
        """One row per article for listings: metadata, chunk count, group."""
        rows = self._query(
            "SELECT a.id, a.title, a.source, a.published_at, a.url, a.key, a.group_id, "
            "COUNT(c.id), LENGTH(a.text), a.origin, a.version FROM articles a LEFT JOIN chunks c ON c.article_id = a.id "
            "GROUP BY a.id ORDER BY a.id"
        )
        cols = (
            "id",
            "title",
            "source",
            "published_at",
            "url",
            "key",
            "group_id",
            "chunks",
            "chars",
            "origin",
            "version",
        )
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def sources(self) -> list[str]:
        """The distinct non-empty outlets (``Article.source``) of the stored articles."""
        return [
            r[0]
            for r in self._query("SELECT DISTINCT source FROM articles WHERE source != '' ORDER BY source")
        ]

    def newest_date(self) -> str:
        """The newest ``published_at`` of the stored articles ("" when none has one)."""
        rows = self._query("SELECT MAX(published_at) FROM articles WHERE published_at != ''")
        return (rows[0][0] if rows else "") or ""

    def article_meta(self, ids: Iterable[str]) -> dict[str, dict]:
        ids = sorted(set(ids))
        if not ids:
            return {}
        rows = self._query(
            f"SELECT id, title, source, published_at, url, group_id FROM articles WHERE id IN ({','.join('?' * len(ids))})",
            ids,
        )
        cols = ("id", "title", "source", "published_at", "url", "group_id")
        return {r[0]: dict(zip(cols, r, strict=True)) for r in rows}

    def chunks(self, ids: Iterable[str] | None = None) -> list[Chunk]:
        sql = 'SELECT id, article_id, ord, start, "end", text FROM chunks'
        if ids is None:
            return [Chunk(*r) for r in self._query(sql + " ORDER BY article_id, ord")]
        ids = list(ids)
        found: dict[str, Chunk] = {}
        for i in range(0, len(ids), 500):  # stay under SQLite's variable limit
            part = ids[i : i + 500]
            q = sql + f" WHERE id IN ({','.join('?' * len(part))})"
            found.update((r[0], Chunk(*r)) for r in self._query(q, part))
        return [found[i] for i in ids if i in found]

    def chunk_spans(self) -> list[tuple[str, str, int, int]]:
        """(id, article_id, start, end) of every chunk in (article_id, ord) order, no text
        (``chunks()`` would load ~65 MB of text at 100k chunks just to see what changed)."""
        return self._query('SELECT id, article_id, start, "end" FROM chunks ORDER BY article_id, ord')

    def chunk_ids_of(self, article_id: str) -> list[str]:
        return self.chunk_ids_of_many([article_id]).get(article_id, [])

    def chunk_ids_of_many(self, article_ids: list[str]) -> dict[str, list[str]]:
        """Chunk ids (in order) of each of ``article_ids`` that has chunks."""
        out: dict[str, list[str]] = {}
        for i in range(0, len(article_ids), 500):  # stay under SQLite's bound-parameter limit
            part = article_ids[i : i + 500]
            sql = f"SELECT article_id, id FROM chunks WHERE article_id IN ({','.join('?' * len(part))}) ORDER BY article_id, ord"
            for a, c in self._query(sql, tuple(part)):
                out.setdefault(a, []).append(c)
        return out

    def chunk_ids(self) -> set[str]:
        return {r[0] for r in self._query("SELECT id FROM chunks")}

    def origins(self) -> list[tuple[str, str, str]]:
        """(id, key, origin) of every article; origin is "" for articles handed in, and for
        file articles stored before origins were recorded (their key is their path)."""
        return self._query("SELECT id, key, origin FROM articles ORDER BY id")

    def set_origins(self, origins: dict[str, str]) -> None:
        """Record where unchanged articles were read from (article id → origin)."""
        with self.transaction() as db:
            db.executemany(
                "UPDATE articles SET origin = ? WHERE id = ?", [(o, a) for a, o in origins.items()]
            )

    def count(self) -> tuple[int, int]:
        a = self._query("SELECT COUNT(*) FROM articles")[0][0]
        c = self._query("SELECT COUNT(*) FROM chunks")[0][0]
        return a, c

    def unique_id(self, wanted: str, key: str, taken: set[str] = frozenset()) -> str:
        """``wanted`` unless another article (or ``taken``) holds it; then ``wanted-2``..."""
        candidate, n = wanted, 1
        while True:
            rows = self._query("SELECT key FROM articles WHERE id = ?", (candidate,))
            if candidate not in taken and (not rows or rows[0][0] == key):
                return candidate
            n += 1
            candidate = f"{wanted}-{n}"

    # ---- writes --------------------------------------------------------------------
    def put_many(self, batch: list[tuple[Article, list[Chunk], bytes | None]]) -> None:
        """Insert or replace several articles (with chunks and vectors) in one transaction."""
        with self.transaction() as db:
            for article, chunks, vec in batch:
                # A new version of a stored article (same key, other content) counts up.
                prev = db.execute("SELECT version FROM articles WHERE key = ?", (article.key,)).fetchone()
                # An id held by another article (another key) is never taken over: that would
                # delete the other one. Ingestion makes ids unique (`unique_id`) before this.
                other = db.execute(
                    "SELECT key FROM articles WHERE id = ? AND key != ?", (article.id, article.key)
                ).fetchone()
                if other:
                    raise ValueError(
                        f"article id '{article.id}' is taken by another article ({other[0]}); nothing was stored"
                    )
                db.execute("DELETE FROM articles WHERE key = ?", (article.key,))
                db.execute(
                    f"INSERT INTO articles ({_ARTICLE_COLS}, version) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        article.id, article.key, article.title, article.source, article.url, article.author,
                        article.published_at, article.content_hash, article.text, article.origin,
                        prev[0] + 1 if prev else 1,
                    ),
                )  # fmt: skip
                db.executemany(
                    'INSERT INTO chunks (id, article_id, ord, start, "end", text) VALUES (?,?,?,?,?,?)',
                    [(c.id, c.article_id, c.ord, c.start, c.end, c.text) for c in chunks],
                )
                if vec is not None:
                    db.execute("INSERT INTO article_vectors VALUES (?, ?)", (article.id, vec))

    def version(self, article_id: str) -> int:
        rows = self._query("SELECT version FROM articles WHERE id = ?", (article_id,))
        return rows[0][0] if rows else 0

    # ---- feeds ---------------------------------------------------------------------
    def feed_states(self) -> list[FeedState]:
        """Every feed polled so far, by URL."""
        rows = self._query(
            "SELECT url, title, etag, last_modified, polled_at, status FROM feeds ORDER BY url"
        )
        return [FeedState(*r) for r in rows]

    def feed_fingerprints(self, feed_url: str) -> dict[str, str]:
        """Entry key → fingerprint as last read, for the entries whose article is still stored."""
        rows = self._query(
            "SELECT e.key, e.fingerprint FROM feed_entries e JOIN articles a ON a.key = e.key WHERE e.feed_url = ?",
            (feed_url,),
        )
        return dict(rows)

    def record_feed(self, state: FeedState, fingerprints: dict[str, str] | None = None) -> None:
        """Save a feed's poll state and (when it was read) its stored entries' fingerprints."""
        with self.transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO feeds VALUES (?,?,?,?,?,?)",
                (state.url, state.title, state.etag, state.last_modified, state.polled_at, state.status),
            )
            if fingerprints:
                db.executemany(
                    "INSERT OR REPLACE INTO feed_entries VALUES (?,?,?)",
                    [(state.url, k, fp) for k, fp in fingerprints.items()],
                )

    def delete(self, article_id: str) -> bool:
        with self.transaction() as db:
            return db.execute("DELETE FROM articles WHERE id = ?", (article_id,)).rowcount > 0

    def article_vectors(self) -> tuple[list[str], list[bytes]]:
        rows = self._query("SELECT article_id, vec FROM article_vectors ORDER BY article_id")
        return [r[0] for r in rows], [r[1] for r in rows]

    def set_duplicates(self, edges: dict[str, list[tuple[str, float]]]) -> None:
        """Replace the duplicate edges of each article in ``edges`` (one transaction)."""
        with self.transaction() as db:
            # All deletes first: an edge one article of the batch found must survive another
            # article of the batch not listing it (each checks only its nearest candidates).
            for article_id in edges:
                db.execute("DELETE FROM duplicates WHERE a = ? OR b = ?", (article_id, article_id))
            for article_id, others in edges.items():
                db.executemany(
                    "INSERT OR REPLACE INTO duplicates VALUES (?, ?, ?)",
                    [(min(article_id, o), max(article_id, o), sc) for o, sc in others],
                )

    def duplicate_edges(self) -> list[tuple[str, str]]:
        return [(r[0], r[1]) for r in self._query("SELECT a, b FROM duplicates")]

    def article_ids(self) -> list[str]:
        return [r[0] for r in self._query("SELECT id FROM articles ORDER BY id")]

    def set_groups(self, groups: dict[str, str | None]) -> None:
        with self.transaction() as db:
            db.executemany(
                "UPDATE articles SET group_id = ? WHERE id = ?", [(g, a) for a, g in groups.items()]
            )


def _article(r: tuple) -> Article:
    return Article(
        id=r[0], key=r[1], title=r[2], source=r[3], url=r[4], author=r[5],
        published_at=r[6], content_hash=r[7], text=r[8], origin=r[9],
    )  # fmt: skip
