"""The postgres store: one PostgreSQL database (with pgvector) holding a whole collection.

Articles, chunks, their vectors (HNSW, cosine), BM25 statistics (per-chunk term counts and
per-term document frequencies), story edges and groups, feeds and the generation are tables
of one schema (`schema`). Storing or replacing an article is one transaction, so nothing is
ever half-written and `reconcile` has nothing to sweep. Both searches run in the database:
dense top-k on the HNSW index and BM25 from the term tables, each filtered in SQL. Writers
coordinate through the database (an advisory lock per collection), so any number of
processes on any number of machines may write; reads may go to a replica
(``database_read_url``), falling back to the primary while it is down. docs/postgres.md.
"""

from __future__ import annotations

import logging
import math
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from functools import cached_property
from typing import TypeVar

import numpy as np
import psycopg
from psycopg import pq, sql
from psycopg.adapt import Dumper, Loader
from psycopg.conninfo import conninfo_to_dict
from psycopg.types import TypeInfo
from psycopg_pool import ConnectionPool, PoolTimeout

from ...config import Config
from ...text import terms
from ...types import Article, ArticleInfo, Chunk, FeedState, Filters
from .. import dedup
from ..contracts import StoreUnavailable
from ..embeddings import CachedEmbedder, Embedder, make_embedder
from .schema import SchemaMismatch, migrate, writer_key

log = logging.getLogger(__name__)
T = TypeVar("T")

K1, B = 1.5, 0.75  # bm25s's "lucene" BM25, as the local backend scores (index/local/keywords.py)
# HNSW candidates examined per query (pgvector's default is 40; a query returns at most this
# many), and with filters, iterative scans keep going until k allowed rows are found.
EF_SEARCH = 100
# After a failed replica read the primary serves reads this long; then one read waits up to
# REPLICA_WAIT_S for a replica connection again (its pool keeps reconnecting meanwhile).
REPLICA_RETRY_S = 30.0
REPLICA_WAIT_S = 1.0
CONNECT_TIMEOUT_S = 10
POOL_SIZE = 4

_ERRORS = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout)


class DatabaseUnavailable(StoreUnavailable, ValueError):
    """The database can't be reached or logged into: one line naming it (password masked).
    A ValueError too, so the CLI prints it as a plain message."""


def masked(url: str) -> str:
    """``postgresql://user:***@host:port/database``: what messages and logs show of a URL."""
    try:
        d = conninfo_to_dict(url)
    except psycopg.Error:
        return "postgresql://(an unreadable database URL)"
    pw = ":***" if d.get("password") else ""
    return f"postgresql://{d.get('user', '')}{pw}@{d.get('host', 'localhost')}:{d.get('port', 5432)}/{d.get('dbname', '')}"


def reason(e: BaseException) -> str:
    """psycopg's (multi-line) connection error as one short clause."""
    s = str(e)
    if "password authentication failed" in s:
        return "password authentication failed (wrong user name or password)"
    if "Connection refused" in s:
        return "connection refused (is the server running, and listening there?)"
    if "timeout" in s.lower():
        return "timed out"
    lines = [x.strip() for x in s.splitlines() if x.strip()]
    fatal = [x.split("FATAL:", 1)[1].strip() for x in lines if "FATAL:" in x]
    return (fatal or lines or [type(e).__name__])[0].rstrip(".")


# ---- pgvector values as numpy arrays, in binary ------------------------------------------------
class _VectorDumper(Dumper):
    format = pq.Format.BINARY

    def dump(self, obj: np.ndarray) -> bytes:
        a = np.asarray(obj, dtype=">f4").ravel()
        return struct.pack(">HH", a.shape[0], 0) + a.tobytes()


class _VectorLoader(Loader):
    format = pq.Format.BINARY

    def load(self, data) -> np.ndarray:
        return np.frombuffer(bytes(data), dtype=">f4", offset=4).astype(np.float32)


class _VectorTextLoader(Loader):
    def load(self, data) -> np.ndarray:
        return np.array(bytes(data).decode()[1:-1].split(","), dtype=np.float32)


def _connection_lost(e: BaseException) -> bool:
    """Whether ``e`` is a dead connection (worth one more try on a fresh one), not a query's fault."""
    return isinstance(e, psycopg.InterfaceError | PoolTimeout) or (
        isinstance(e, psycopg.OperationalError) and not isinstance(e, psycopg.errors.QueryCanceled)
    )


def _sql_filters(f: Filters | None, alias: str = "c") -> tuple[str, list]:
    """``AND ...`` conditions on chunk columns (alias ``c``, or the postings' ``t``, which
    carry source and day but not article_id) that `Filters.allows` applies."""
    if f is None or f.empty:
        return "", []
    conds, args = [], []
    if f.sources:
        conds.append(f"{alias}.source = ANY(%s)")
        args.append(list(f.sources))
    if f.article_ids:
        conds.append(f"{alias}.article_id = ANY(%s)")
        args.append(list(f.article_ids))
    if f.since:  # an undated article ('') is outside every date range
        conds.append(f"{alias}.day <> '' AND {alias}.day >= %s")
        args.append(f.since)
    if f.until:
        conds.append(f"{alias}.day <> '' AND {alias}.day <= %s")
        args.append(f.until)
    return "".join(f" AND {c}" for c in conds), args


class _DocFreq(Mapping):
    """term → chunks holding it, read from the database per term (and cached per generation)."""

    def __init__(self, store: Store):
        self._store = store

    def __getitem__(self, term: str) -> int:
        df = self._store._df([term])[term]
        if not df:
            raise KeyError(term)
        return df

    def __iter__(self) -> Iterator[str]:
        return iter(self._store._all_df())

    def __len__(self) -> int:
        return len(self._store._all_df())


class _Db:
    """The open database: the primary's pool and, when configured, the replica's."""

    def __init__(self, primary: ConnectionPool, replica: ConnectionPool | None):
        self.primary, self.replica = primary, replica

    def close(self) -> None:
        for p in (self.primary, self.replica):
            if p is not None:
                p.close()


class Store:
    """`contracts.ArticleStore` on PostgreSQL + pgvector (``Config.store = "postgres"``)."""

    def __init__(self, cfg: Config, embedder: Embedder | None = None):
        if not cfg.database_url:
            raise ValueError(
                "the postgres store needs a database: set database_url (ARTICLEQA_DATABASE_URL, "
                "postgresql://user:password@host:port/database)"
            )
        self.cfg = cfg
        self.schema = cfg.collection
        self.where = masked(cfg.database_url)
        self._embedder = embedder
        self._open_lock = threading.Lock()
        self._tl = threading.local()  # this thread's writer connection while it is `writing`
        self._known_gen = -1  # the generation what is cached below was read at
        self._df_cache: dict[str, int] = {}
        self._df_all: dict[str, int] | None = None
        self._n_chunks, self._avg_len = 0, 1.0
        self._cache_lock = threading.Lock()
        self._replica_down_until = 0.0
        self._replica_warned = False

    # ---- opening -------------------------------------------------------------------------
    @cached_property
    def embedder(self) -> Embedder:
        return self._embedder or make_embedder(self.cfg)

    @cached_property
    def sentence_embedder(self) -> CachedEmbedder:
        return CachedEmbedder(self.embedder)

    @property
    def _db(self) -> _Db:
        db = self.__dict__.get("_opened")
        if db is None:
            with self._open_lock:
                db = self.__dict__.get("_opened")
                if db is None:
                    db = self._opened = self._open()
        return db

    def _connect(self, url: str) -> psycopg.Connection:
        try:
            return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        except psycopg.Error as e:
            log.debug("connecting to %s failed: %s", masked(url), e)
            raise DatabaseUnavailable(
                f"can't open the PostgreSQL store at {masked(url)}: {reason(e)}"
            ) from None

    def _open(self) -> _Db:
        """Connect (one plain error if that fails), migrate, check the model, start the pools."""
        url = self.cfg.database_url or ""
        with self._connect(url) as conn:
            try:
                migrate(
                    conn, self.schema, self.embedder.name, self.embedder.dim, self.where,
                    runtime=getattr(self.embedder, "runtime", ""),
                )  # fmt: skip
            except _ERRORS as e:
                raise DatabaseUnavailable(
                    f"can't open the PostgreSQL store at {self.where}: {reason(e)}"
                ) from None
        primary = self._pool(url, "primary")
        replica = None
        if self.cfg.database_read_url:
            replica = self._pool(self.cfg.database_read_url, "replica")
        return _Db(primary, replica)

    def _pool(self, url: str, name: str) -> ConnectionPool:
        schema = self.schema

        def configure(conn: psycopg.Connection) -> None:
            conn.execute(sql.SQL("SET search_path TO {}, public").format(sql.Identifier(schema)))
            info = TypeInfo.fetch(conn, "vector")
            if info is None:
                raise psycopg.OperationalError("the vector extension is not installed")
            conn.adapters.register_dumper(
                np.ndarray, type("VectorDumper", (_VectorDumper,), {"oid": info.oid})
            )
            conn.adapters.register_loader(info.oid, _VectorLoader)
            conn.adapters.register_loader(info.oid, _VectorTextLoader)

        pool = ConnectionPool(
            url,
            min_size=1,
            max_size=POOL_SIZE,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S},
            configure=configure,
            name=f"articleqa-{name}",
            timeout=CONNECT_TIMEOUT_S,
            open=False,
        )
        pool.open(wait=False)
        return pool

    def close(self) -> None:
        """Close the connection pools (a later call opens them again)."""
        db = self.__dict__.pop("_opened", None)
        if db is not None:
            db.close()

    def warm_up(self) -> None:
        """Load the model and open the database (connecting, migrating) now."""
        self.embedder.embed(["warm-up"])
        self.refresh()

    # ---- connections ---------------------------------------------------------------------
    def _read(self, fn: Callable[[psycopg.Connection], T], primary: bool = False) -> T:
        """``fn(conn)`` on the replica (when there is one and it answers) or the primary;
        connection failures become `StoreUnavailable`. Inside `writing`, on the writer's connection."""
        conn = getattr(self._tl, "conn", None)
        if conn is not None:
            try:
                return fn(conn)
            except _ERRORS as e:
                raise self._unavailable(e) from None
        db = self._db
        if db.replica is not None and not primary and time.monotonic() >= self._replica_down_until:
            try:
                with db.replica.connection(timeout=REPLICA_WAIT_S) as c:
                    got = fn(c)
                if self._replica_warned:
                    log.warning(
                        "the read replica at %s answers again", masked(self.cfg.database_read_url or "")
                    )
                    self._replica_warned = False
                return got
            except _ERRORS as e:
                self._replica_down_until = time.monotonic() + REPLICA_RETRY_S
                if not self._replica_warned:
                    self._replica_warned = True
                    log.warning(
                        "the read replica at %s is unavailable (%s); reading from the primary",
                        masked(self.cfg.database_read_url or ""), reason(e),
                    )  # fmt: skip
        for attempt in range(2):
            try:
                with db.primary.connection() as c:
                    return fn(c)
            except _ERRORS as e:
                if attempt or not _connection_lost(e):
                    raise self._unavailable(e) from None
                db.primary.check()  # a restarted server: drop the dead connections, read again
        raise AssertionError("unreachable")

    def _unavailable(self, e: BaseException) -> StoreUnavailable:
        log.warning("the PostgreSQL store at %s failed: %s", self.where, e)
        return StoreUnavailable(
            f"the PostgreSQL store at {self.where} is unavailable ({reason(e)}); try again"
        )

    def _rows(
        self, query: str, args: tuple | list = (), primary: bool = False, binary: bool = False
    ) -> list[tuple]:
        def run(conn: psycopg.Connection) -> list[tuple]:
            with conn.cursor(binary=binary) as cur:
                cur.execute(query, args)  # type: ignore[arg-type]
                return cur.fetchall()

        return self._read(run, primary)

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the collection's write lock (a session advisory lock on this thread's own
        connection, which every write of the block then uses), with caches brought up to date."""
        tl = self._tl
        if getattr(tl, "conn", None) is not None:
            yield
            return
        pool = self._db.primary
        conn = None
        for attempt in range(2):
            try:
                conn = pool.getconn()
                conn.execute(sql.SQL("SELECT pg_advisory_lock({})").format(writer_key(self.schema)))
                break
            except _ERRORS as e:
                if conn is not None:
                    pool.putconn(conn)
                    conn = None
                if attempt:
                    raise self._unavailable(e) from None
                pool.check()  # a restarted server: drop the dead connections, then try again
        assert conn is not None
        tl.conn = conn
        try:
            self.refresh()
            yield
        finally:
            tl.conn = None
            with suppress(psycopg.Error):  # a dead connection took its session lock with it
                conn.execute(sql.SQL("SELECT pg_advisory_unlock({})").format(writer_key(self.schema)))
            pool.putconn(conn)

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Cursor]:
        """One write transaction: under the collection's (transaction) advisory lock, bumping
        the generation as its last statement."""
        with self.writing():
            try:
                yield from self._in_transaction(self._tl.conn)
            except _ERRORS as e:
                raise self._unavailable(e) from None

    def _in_transaction(self, conn: psycopg.Connection) -> Iterator[psycopg.Cursor]:
        # Pipelined: statements whose results aren't read go out without waiting for a reply
        # (a write is ~12 statements: ~5 ms of round trips per article without it).
        with conn.pipeline(), conn.transaction(), conn.cursor() as cur:
            cur.execute(sql.SQL("SELECT pg_advisory_xact_lock({})").format(writer_key(self.schema)))
            yield cur
            self._bump_generation(cur)

    def _bump_generation(self, cur: psycopg.Cursor) -> None:
        cur.execute("UPDATE state SET generation = generation + 1")

    # ---- the embedding model (contracts.Embedding) -------------------------------------------
    def embed(self, texts: list[str]) -> np.ndarray:
        return self.embedder.embed(texts)

    def count_tokens(self, texts: list[str]) -> list[int]:
        return self.embedder.count_tokens(texts)

    def embedding_model(self) -> Embedder:
        return self.embedder

    # ---- generation and what is cached per generation -----------------------------------------
    @property
    def generation(self) -> int:
        return int(self._rows("SELECT generation FROM state")[0][0])

    def refresh(self) -> bool:
        """Drop what is cached (document frequencies, outlets, the newest date) when the
        generation has moved; True when it had."""
        gen, n, total = self._rows("SELECT generation, n_chunks, total_len FROM state")[0]
        with self._cache_lock:
            if gen == self._known_gen:
                return False
            moved = self._known_gen >= 0
            self._known_gen, self._n_chunks, self._avg_len = gen, int(n), int(total) / max(int(n), 1)
            self._df_cache, self._df_all = {}, None
            self.__dict__.pop("_outlets", None)
            self.__dict__.pop("_newest", None)
            return moved

    def reading(self, what: Callable[[], T]) -> T:
        """``what()`` against the current state; once more after dropping dead connections
        (a restarted server) if the database fails; then `StoreUnavailable`."""
        try:
            self.refresh()
            return what()
        except StoreUnavailable as first:
            if isinstance(first, DatabaseUnavailable):
                raise
            log.warning("reading the store failed (%s); reconnecting", first)
            db = self._db
            for p in (db.primary, db.replica):
                if p is not None:
                    p.check()
            try:
                self.refresh()
                return what()
            except StoreUnavailable as e:
                log.error("reading the store failed again: %s", e)
                raise StoreUnavailable(
                    f"the PostgreSQL store at {self.where} could not be read; try again in a moment"
                ) from None

    def sync_indexes(self) -> None:
        """Nothing to build (the database keeps its indexes with each write); statistics
        cached in this process follow the store again."""
        self.refresh()

    # ---- corpus statistics (contracts.CorpusStats) -------------------------------------------
    def _df(self, wanted: list[str]) -> dict[str, int]:
        """Document frequencies of ``wanted`` (0 for unknown terms), cached per generation."""
        if self._known_gen < 0:
            self.refresh()
        cache = self._df_cache
        missing = sorted({t for t in wanted if t not in cache})
        if missing:
            got = dict(self._rows("SELECT term, df FROM term_df WHERE term = ANY(%s)", (missing,)))
            for t in missing:
                cache[t] = int(got.get(t, 0))
        return {t: cache[t] for t in wanted}

    def _all_df(self) -> dict[str, int]:
        if self._known_gen < 0:
            self.refresh()
        if self._df_all is None:
            self._df_all = {t: int(d) for t, d in self._rows("SELECT term, df FROM term_df WHERE df > 0")}
        return self._df_all

    def idf(self, term: str) -> float:
        df = self._df([term])[term]  # first: it refreshes the statistics of a new store
        return math.log(1 + (self._n_chunks + 1) / (df + 0.5))

    def document_frequencies(self) -> Mapping[str, int]:
        return _DocFreq(self)

    def outlets(self) -> list[str]:
        got = self.__dict__.get("_outlets")
        if got is None or got[0] != self._known_gen:
            rows = self._rows("SELECT DISTINCT source FROM articles WHERE source <> '' ORDER BY source")
            got = self._outlets = (self._known_gen, [r[0] for r in rows])
        return got[1]

    def newest_date(self) -> str:
        got = self.__dict__.get("_newest")
        if got is None or got[0] != self._known_gen:
            rows = self._rows("SELECT MAX(published_at) FROM articles WHERE published_at <> ''")
            got = self._newest = (self._known_gen, (rows[0][0] if rows else "") or "")
        return got[1]

    def article(self, article_id: str) -> Article | None:
        rows = self._rows(f"SELECT {_ARTICLE_COLS} FROM articles WHERE id = %s", (article_id,))
        return _article(rows[0]) if rows else None

    def article_meta(self, article_ids: list[str]) -> dict[str, dict]:
        if not article_ids:
            return {}
        rows = self._rows(
            "SELECT id, title, source, published_at, url, group_id FROM articles WHERE id = ANY(%s)",
            (sorted(set(article_ids)),),
        )
        cols = ("id", "title", "source", "published_at", "url", "group_id")
        return {r[0]: dict(zip(cols, r, strict=True)) for r in rows}

    def article_stats(self) -> list[ArticleInfo]:
        rows = self._rows(
            "SELECT a.id, a.title, a.source, a.published_at, a.url, a.key, a.group_id, "
            "(SELECT count(*) FROM chunks c WHERE c.article_id = a.id), length(a.text), a.origin, a.version "
            "FROM articles a ORDER BY a.id"
        )
        return [ArticleInfo(*r) for r in rows]  # the columns in ArticleInfo's field order

    def count(self) -> tuple[int, int]:
        a, c = self._rows("SELECT (SELECT count(*) FROM articles), n_chunks FROM state")[0]
        return int(a), int(c)

    # ---- retrieval (contracts.PassageSearch) ----------------------------------------------
    def dense_search(
        self, qvec: np.ndarray, k: int, filters: Filters | None = None
    ) -> list[tuple[str, float]]:
        """HNSW cosine top-k; with filters, pgvector's iterative scan goes on until ``k``
        allowed chunks are found (relaxed order: re-sorted here)."""
        where, args = _sql_filters(filters)
        q = np.asarray(qvec, dtype=np.float32)

        def run(conn: psycopg.Connection) -> list[tuple[str, float]]:
            with conn.transaction(), conn.cursor() as cur:
                cur.execute(sql.SQL("SET LOCAL hnsw.ef_search = {}").format(sql.Literal(max(EF_SEARCH, k))))
                if where:
                    cur.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
                cur.execute(
                    f"SELECT c.id, c.embedding <=> %b AS d FROM chunks c WHERE true{where} ORDER BY d LIMIT %s",
                    [q, *args, k],
                )
                rows = cur.fetchall()
            return [(i, 1.0 - float(d)) for i, d in sorted(rows, key=lambda r: r[1])]

        return self._read(run)

    def keyword_search(self, query: str, k: int, filters: Filters | None = None) -> list[tuple[str, float]]:
        """BM25 (k1=1.5, b=0.75, lucene idf) from the term tables, as the local backend scores:
        the query terms' posting lists summed per chunk, exactly (no pruning: docs/postgres.md)."""
        self.refresh()
        qterms = terms(query)
        n = self._n_chunks
        if not qterms or not n:
            return []
        df = self._df(qterms)
        cnt = Counter(t for t in qterms if df[t])  # a repeated term counts again, as locally
        if not cnt:
            return []
        # idf as bm25s computes it; the statistics are this process's as of `refresh` above.
        weight = {t: c * math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t, c in cnt.items()}
        where, fargs = _sql_filters(filters)
        # K1 * ((1 - B) + B * len / avg) = a + c * len
        a, c = K1 * (1 - B), K1 * B / self._avg_len
        ts, ws = list(weight), list(weight.values())
        if filters is not None and filters.article_ids:
            # A few articles: their chunks first, then each one's terms by primary key, not
            # whole posting lists filtered afterwards. The OFFSET 0 fences keep the planner
            # (which misjudges posting list sizes) from flattening this into a join it
            # reorders: it once re-read the articles' chunks per posting, up to 1.3 s at 100k.
            source = (
                f"(SELECT c.n FROM chunks c WHERE true{where} OFFSET 0) AS cand CROSS JOIN LATERAL "
                "(SELECT t.n, t.term, t.tf, t.len FROM chunk_terms t WHERE t.n = cand.n AND t.term = ANY(%s) OFFSET 0) AS t "
                "JOIN unnest(%s::text[], %s::float8[]) AS q(term, w) ON q.term = t.term"
            )
            sargs: list = [*fargs, ts, ts, ws]
            where, fargs = "", []
        else:  # outlet and day filters read from the postings themselves
            source = "unnest(%s::text[], %s::float8[]) AS q(term, w) JOIN chunk_terms t ON t.term = q.term"
            where, fargs = _sql_filters(filters, "t")
            sargs = [ts, ws]
        query = (
            f"SELECT c.id, r.s FROM (SELECT t.n, sum(q.w * t.tf / (t.tf + %s + %s * t.len)) AS s FROM {source} "
            f"WHERE true{where} GROUP BY t.n ORDER BY s DESC LIMIT %s) AS r JOIN chunks c ON c.n = r.n "
            "ORDER BY r.s DESC, c.id"
        )
        rows = self._rows(query, [a, c, *sargs, *fargs, k])
        return [(i, float(s)) for i, s in rows if s > 0]

    def chunks(self, ids: list[str]) -> list[Chunk]:
        if not ids:
            return []
        rows = self._rows(
            'SELECT id, article_id, ord, start, "end", text FROM chunks WHERE id = ANY(%s)', (list(ids),)
        )
        found = {r[0]: Chunk(*r) for r in rows}
        self._prefetch_df([i for i in found])
        return [found[i] for i in ids if i in found]

    def article_chunks(self, article_id: str) -> list[Chunk]:
        rows = self._rows(
            'SELECT id, article_id, ord, start, "end", text FROM chunks WHERE article_id = %s ORDER BY ord',
            (article_id,),
        )
        return [Chunk(*r) for r in rows]

    def _prefetch_df(self, chunk_ids: list[str]) -> None:
        """Cache the document frequencies of every term of these chunks in one query: answering
        asks the idf of the terms of the passages it read (~90 one-term queries a question)."""
        if self._known_gen < 0 or not chunk_ids:
            return
        rows = self._rows(
            "SELECT DISTINCT d.term, d.df FROM chunks c JOIN chunk_terms t ON t.n = c.n "
            "JOIN term_df d ON d.term = t.term WHERE c.id = ANY(%s)",
            (chunk_ids,),
        )
        cache = self._df_cache
        for t, df in rows:
            cache.setdefault(t, int(df))

    def passage_vectors(self, chunk_ids: list[str]) -> dict[str, np.ndarray]:
        if not chunk_ids:
            return {}
        rows = self._rows(
            "SELECT id, embedding FROM chunks WHERE id = ANY(%s)", (list(chunk_ids),), binary=True
        )
        return dict(rows)

    # ---- what ingestion reads (contracts.ArticleWriter), from the primary --------------------
    def article_by_key(self, key: str) -> Article | None:
        rows = self._rows(f"SELECT {_ARTICLE_COLS} FROM articles WHERE key = %s", (key,), primary=True)
        return _article(rows[0]) if rows else None

    def unique_id(self, wanted: str, key: str, taken: set[str] = frozenset()) -> str:
        rows = self._rows(
            "SELECT id, key FROM articles WHERE id = %s OR id LIKE %s", (wanted, _like_prefix(wanted) + "-%"),
            primary=True,
        )  # fmt: skip
        held = dict(rows)
        candidate, n = wanted, 1
        while candidate in taken or (candidate in held and held[candidate] != key):
            n += 1
            candidate = f"{wanted}-{n}"
        return candidate

    def origins(self) -> list[tuple[str, str, str]]:
        return [
            tuple(r) for r in self._rows("SELECT id, key, origin FROM articles ORDER BY id", primary=True)
        ]

    def feed_states(self) -> list[FeedState]:
        rows = self._rows(
            "SELECT url, title, etag, last_modified, polled_at, status FROM feeds ORDER BY url", primary=True
        )
        return [FeedState(*r) for r in rows]

    def feed_fingerprints(self, feed_url: str) -> dict[str, str]:
        rows = self._rows(
            "SELECT e.key, e.fingerprint FROM feed_entries e JOIN articles a ON a.key = e.key WHERE e.feed_url = %s",
            (feed_url,),
            primary=True,
        )
        return dict(rows)

    def article_vectors(self) -> dedup.ArticleVectors:
        rows = self._rows(
            "SELECT id, vec FROM articles WHERE vec IS NOT NULL ORDER BY id", primary=True, binary=True
        )
        dim = self.embedder.dim
        mat = np.stack([r[1] for r in rows]) if rows else np.zeros((0, dim), np.float32)
        return dedup.ArticleVectors([r[0] for r in rows], mat)

    def chunk_vectors(self, article_ids: list[str]) -> dict[str, np.ndarray]:
        if not article_ids:
            return {}
        rows = self._rows(
            "SELECT article_id, embedding FROM chunks WHERE article_id = ANY(%s) ORDER BY article_id, ord",
            (list(article_ids),),
            primary=True,
            binary=True,
        )
        got: dict[str, list[np.ndarray]] = {}
        for a, v in rows:
            got.setdefault(a, []).append(v)
        return {a: np.stack(got[a]) for a in article_ids if a in got}

    def story_texts(self) -> dedup.StoryTexts:
        return dedup.StoryTexts(lambda aid: a.text if (a := self.article(aid)) else "")

    def find_duplicates(
        self,
        batch: list[tuple[str, np.ndarray]],
        known: dedup.ArticleVectors,
        texts: dedup.StoryTexts | None = None,
    ) -> dict[str, list[tuple[str, float]]]:
        """`dedup.find_duplicates`, reading candidates' chunk vectors from the primary."""
        return dedup.find_duplicates(batch, known, texts or self.story_texts(), self.chunk_vectors)

    # ---- writes (contracts.ArticleWriter) ------------------------------------------------
    def put_many(self, batch: list[tuple[Article, list[Chunk], np.ndarray]]) -> None:
        """Each article (with its chunks, vectors and term counts) in one transaction of its
        own; an id held by another key is refused before anything is written."""
        if not batch:
            return
        with self.writing():
            pairs = {a.id: a.key for a, _, _ in batch}
            held = self._rows("SELECT id, key FROM articles WHERE id = ANY(%s)", (sorted(pairs),))
            for aid, key in held:
                if pairs[aid] != key:
                    raise ValueError(
                        f"article id '{aid}' is taken by another article ({key}); nothing was stored"
                    )
            for article, chunks, vecs in batch:
                self._put(article, chunks, np.asarray(vecs, dtype=np.float32))

    def _put(self, article: Article, chunks: list[Chunk], vecs: np.ndarray) -> None:
        counts = [Counter(terms(c.text)) for c in chunks]
        day = article.published_at[:10]
        with self._transaction() as cur:
            prev = self._forget(cur, "key", article.key)
            cur.execute(
                f"INSERT INTO articles ({_ARTICLE_COLS}, version, vec) VALUES ({', '.join(['%s'] * 11)}"
                + (", %b)" if len(chunks) else ", NULL)"),
                [
                    article.id, article.key, article.title, article.source, article.url, article.author,
                    article.published_at, article.content_hash, article.text, article.origin,
                    prev + 1 if prev else 1,
                    *([dedup.article_vector(vecs).astype(np.float32)] if len(chunks) else []),
                ],
            )  # fmt: skip
            cur.executemany(
                'INSERT INTO chunks (id, article_id, ord, start, "end", text, len, source, day, embedding) '
                "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %b)",
                [
                    (c.id, article.id, c.ord, c.start, c.end, c.text, sum(n.values()), article.source, day, v)
                    for c, n, v in zip(chunks, counts, vecs, strict=True)
                ],
            )
            self._insert_terms(cur, chunks, counts)

    def _insert_terms(self, cur: psycopg.Cursor, chunks: list[Chunk], counts: list[Counter]) -> None:
        """The new chunks' term counts, document frequencies and the corpus totals."""
        ids, ts, tfs = [], [], []
        for c, n in zip(chunks, counts, strict=True):
            for t, tf in n.items():
                ids.append(c.id)
                ts.append(t)
                tfs.append(tf)
        cur.execute(
            "INSERT INTO chunk_terms (n, term, tf, len, source, day) SELECT c.n, x.term, x.tf, c.len, c.source, c.day "
            "FROM unnest(%s::text[], %s::text[], %s::int[]) AS x(id, term, tf) JOIN chunks c ON c.id = x.id",
            (ids, ts, tfs),
        )
        df = Counter(t for n in counts for t in n)
        cur.execute(
            "INSERT INTO term_df (term, df) SELECT * FROM unnest(%s::text[], %s::int[]) "
            "ON CONFLICT (term) DO UPDATE SET df = term_df.df + EXCLUDED.df",
            (list(df), list(df.values())),
        )
        cur.execute(
            "UPDATE state SET n_chunks = n_chunks + %s, total_len = total_len + %s",
            (len(chunks), sum(sum(n.values()) for n in counts)),
        )

    def _forget(self, cur: psycopg.Cursor, column: str, value: str) -> int | None:
        """Delete the article whose ``column`` is ``value`` with its chunks (their document
        frequencies and the totals counted down); its version, or None when there is none."""
        col = sql.Identifier(column)
        cur.execute(
            sql.SQL("SELECT id, version FROM articles WHERE {} = %s FOR UPDATE").format(col), (value,)
        )
        row = cur.fetchone()
        if row is None:
            return None
        aid = row[0]
        cur.execute(
            "WITH gone AS (SELECT t.term, count(*) AS c FROM chunk_terms t JOIN chunks c ON c.n = t.n "
            "WHERE c.article_id = %s GROUP BY t.term) "
            "UPDATE term_df d SET df = d.df - gone.c FROM gone WHERE d.term = gone.term AND d.df - gone.c > 0",
            (aid,),
        )
        cur.execute(
            "DELETE FROM term_df d USING (SELECT t.term, count(*) AS c FROM chunk_terms t JOIN chunks c ON c.n = t.n "
            "WHERE c.article_id = %s GROUP BY t.term) gone WHERE d.term = gone.term AND d.df <= gone.c",
            (aid,),
        )
        cur.execute(
            "UPDATE state SET n_chunks = n_chunks - x.n, total_len = total_len - x.len "
            "FROM (SELECT count(*) AS n, coalesce(sum(len), 0) AS len FROM chunks WHERE article_id = %s) x",
            (aid,),
        )
        cur.execute("DELETE FROM articles WHERE id = %s", (aid,))  # cascades: chunks, terms, edges
        return int(row[1])

    def remove(self, article_id: str) -> bool:
        with self.writing():
            with self._transaction() as cur:
                gone = self._forget(cur, "id", article_id) is not None
            if gone:
                self.regroup()
            return gone

    def reconcile(self) -> int:
        """Nothing to sweep: every write is one transaction, and a chunk can't outlive its
        article (a foreign key). Returns how many chunks lack their article: 0."""
        rows = self._rows(
            "SELECT count(*) FROM chunks c WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.id = c.article_id)",
            primary=True,
        )
        return int(rows[0][0])

    def set_origins(self, origins: dict[str, str]) -> None:
        with self._transaction() as cur:
            cur.executemany(
                "UPDATE articles SET origin = %s WHERE id = %s", [(o, a) for a, o in origins.items()]
            )

    def record_feed(self, state: FeedState, fingerprints: dict[str, str] | None = None) -> None:
        with self._transaction() as cur:
            cur.execute(
                "INSERT INTO feeds VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (url) DO UPDATE SET "
                "title = EXCLUDED.title, etag = EXCLUDED.etag, last_modified = EXCLUDED.last_modified, "
                "polled_at = EXCLUDED.polled_at, status = EXCLUDED.status",
                (state.url, state.title, state.etag, state.last_modified, state.polled_at, state.status),
            )
            if fingerprints:
                cur.executemany(
                    "INSERT INTO feed_entries VALUES (%s, %s, %s) ON CONFLICT (feed_url, key) "
                    "DO UPDATE SET fingerprint = EXCLUDED.fingerprint",
                    [(state.url, k, fp) for k, fp in fingerprints.items()],
                )

    def set_duplicates(self, edges: dict[str, list[tuple[str, float]]]) -> None:
        with self._transaction() as cur:
            # All deletes first, as the local backend: an edge one article of the batch found
            # survives another article of the batch not listing it.
            ids = list(edges)
            cur.execute("DELETE FROM duplicates WHERE a = ANY(%s) OR b = ANY(%s)", (ids, ids))
            rows = {(min(a, o), max(a, o)): sc for a, others in edges.items() for o, sc in others}
            cur.executemany(
                "INSERT INTO duplicates VALUES (%s, %s, %s) ON CONFLICT (a, b) DO UPDATE SET score = EXCLUDED.score",
                [(a, b, sc) for (a, b), sc in rows.items()],
            )

    def regroup(self) -> None:
        """Recompute story groups (`dedup.stories`) for every article."""
        with self.writing():
            edges = [(a, b) for a, b in self._rows("SELECT a, b FROM duplicates", primary=True)]
            ids = [r[0] for r in self._rows("SELECT id FROM articles ORDER BY id", primary=True)]
            groups = dedup.stories(ids, edges, self.article_vectors() if edges else None)
            with self._transaction() as cur:
                cur.execute(
                    "UPDATE articles a SET group_id = g.gid FROM unnest(%s::text[], %s::text[]) AS g(id, gid) "
                    "WHERE a.id = g.id AND a.group_id IS DISTINCT FROM g.gid",
                    (list(groups), list(groups.values())),
                )


_ARTICLE_COLS = "id, key, title, source, url, author, published_at, content_hash, text, origin"


def _article(r: tuple) -> Article:
    return Article(
        id=r[0], key=r[1], title=r[2], source=r[3], url=r[4], author=r[5],
        published_at=r[6], content_hash=r[7], text=r[8], origin=r[9],
    )  # fmt: skip


def _like_prefix(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


__all__ = ["DatabaseUnavailable", "SchemaMismatch", "Store", "masked"]
