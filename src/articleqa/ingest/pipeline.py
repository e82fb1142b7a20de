"""Ingestion: read → skip unchanged → chunk → embed (batched across articles) → store."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from ..index.contracts import ArticleStore
from ..types import Article, Chunk, FeedState, JSONForm
from .chunking import chunk_article
from .feeds import FeedOptions
from .readers import content_hash, is_url
from .sources import ReadResult, read_paths

# How many chunks to embed in one go: amortises batching across small articles
# without holding a large backlog in memory.
_EMBED_BACKLOG = 256

Progress = Callable[[int, int, int], None]  # (articles done, articles total, chunks done)


@dataclass
class IngestReport(JSONForm):
    """What one ingestion did; ``to_dict()`` is its JSON form (the fields; ``feeds`` as `FeedState`s)."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    chunks: int = 0
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    orphans_swept: int = 0
    seconds: float = 0.0
    not_modified: list[str] = field(default_factory=list)  # feeds that answered 304 (nothing to do)
    feeds: list[FeedState] = field(default_factory=list)  # each feed read, as recorded

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        n304 = f", {len(self.not_modified)} feeds not modified" if self.not_modified else ""
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.removed)} removed, {self.chunks} chunks embedded, {len(self.errors)} failed{n304} "
            f"in {self.seconds:.1f}s"
        )


def ingest(
    store: ArticleStore,
    paths: list[str | Path],
    sync: bool = False,
    progress: Progress | None = None,
    articles: list[Article] | None = None,
    conditional: bool = False,
    require_feed: bool = False,
) -> IngestReport:
    """Ingest files/folders/URLs (and/or ready-made ``articles``) into ``store``.

    A URL may be a feed (RSS, Atom): each entry is an article (ingest/feeds.py), and the
    feed's poll is recorded. ``conditional``: a GET with the feed's last ETag/Last-Modified;
    ``require_feed``: a URL that isn't a feed is an error (``watch``).

    Unchanged articles (same key, same content hash) cost nothing. An `Article` given without
    a ``key`` is identified by its id. With ``sync``, articles previously ingested from under
    a given folder whose file is gone are removed.
    """
    t0 = time.perf_counter()
    urls = [str(p) for p in paths if is_url(p)]
    known_feeds = {f.url: f for f in store.feed_states() if f.url in urls} if urls else {}
    web = FeedOptions.from_config(
        store.cfg,
        states=known_feeds if conditional else {},
        known=store.feed_fingerprints,
        require_feed=require_feed,
    )
    read = read_paths(paths, store.cfg.max_file_mb, web)  # reading needs no lock: done before taking it
    with store.writing():  # one writer at a time, across processes
        report = _store_all(store, paths, read, articles, sync, progress)
        _record_feeds(store, read, known_feeds, report)
    report.seconds = time.perf_counter() - t0
    return report


def poll_feeds(
    store: ArticleStore, urls: list[str], progress: Progress | None = None
) -> list[tuple[str, IngestReport]]:
    """One poll of each feed (``articleqa watch``): a conditional GET, new entries added, edited
    ones replaced in place (their version counted), entries gone from the feed kept."""
    return [(u, ingest(store, [u], progress=progress, conditional=True, require_feed=True)) for u in urls]


def _record_feeds(
    store: ArticleStore, read: ReadResult, known: dict[str, FeedState], report: IngestReport
) -> None:
    """Remember each feed's poll (ETag, Last-Modified, time, status) and its entries as read;
    a known feed that failed this time keeps its ETag, with the error as its status (it is
    listed, and polled again: it may be down for a while). A URL that fails the first time
    it is given (an HTML page, a 404, malformed XML) is refused, not kept as a feed."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for fr in read.feeds:
        old = known.get(fr.url)
        ids = [a.id for k in fr.skipped if (a := store.article_by_key(k))]
        report.unchanged += [i for i in ids if i not in report.unchanged]
        if fr.not_modified:
            report.not_modified.append(fr.url)
        state = FeedState(fr.url, fr.title or (old.title if old else ""), fr.etag or (old.etag if old else ""),
                          fr.last_modified or (old.last_modified if old else ""), now, fr.status)  # fmt: skip
        if fr.not_modified and old:
            state.etag, state.last_modified = old.etag, old.last_modified
        store.record_feed(state, {k: fp for k, fp in fr.fingerprints.items() if store.article_by_key(k)})
        report.feeds.append(state)
    read_urls = {fr.url for fr in read.feeds}
    for e in read.errors:
        old = known.get(e.path)
        if old and e.path not in read_urls:
            state = FeedState(old.url, old.title, old.etag, old.last_modified, now, f"error: {e.reason}")
            store.record_feed(state)
            report.feeds.append(state)


def _store_all(
    store: ArticleStore,
    paths: list[str | Path],
    read: ReadResult,
    articles: list[Article] | None,
    sync: bool,
    progress: Progress | None,
) -> IngestReport:
    report = IngestReport()
    report.warnings += read.warnings
    report.errors += [str(e) for e in read.errors]
    todo = [_identified(a) for a in articles or []] + read.articles
    moved: dict[str, str] = {}  # unchanged articles now read from another origin: id → origin
    # Sweep what an interrupted earlier run may have left in the vector store.
    report.orphans_swept = store.reconcile()
    batch = _Batch(store, report)
    seen: set[str] = set()
    ids_taken: set[str] = set()
    for done, art in enumerate(todo, 1):
        if art.key in seen:
            report.warnings.append(f"{art.key}: given twice in this batch; the first copy was kept")
        else:
            seen.add(art.key)
            _take(store, art, ids_taken, batch, report, moved)
        if progress:
            progress(done, len(todo), batch.n_chunks)
    batch.flush()
    batch.link_duplicates()
    if moved:
        store.set_origins(moved)
    if progress:
        progress(len(todo), len(todo), batch.n_chunks)
    if sync:
        failed = {str(Path(e.path).resolve()) for e in read.errors if not is_url(e.path)}
        _remove_gone(store, paths, todo, failed, report)
    if report.added or report.updated or report.removed:
        store.regroup()
        store.sync_indexes()
    report.chunks = batch.n_chunks
    return report


def _identified(art: Article) -> Article:
    """A ready-made article with a key (its id, when it has none) and a content hash."""
    if not art.key:
        art.key = f"id:{art.id}"
    if not art.content_hash:
        art.content_hash = content_hash(art)
    return art


def _take(
    store: ArticleStore,
    art: Article,
    ids_taken: set[str],
    batch: _Batch,
    report: IngestReport,
    moved: dict[str, str],
) -> None:
    """Skip ``art`` if stored unchanged, else chunk it into the embedding batch. A new or
    changed article over ``max_article_chars`` is refused before any chunking or embedding,
    whatever it was read from (a stored version of it stays as it was)."""
    old = store.article_by_key(art.key)
    art.id = old.id if old else store.unique_id(art.id, art.key, ids_taken)
    ids_taken.add(art.id)
    if old and old.content_hash == art.content_hash:
        report.unchanged.append(art.id)
        if art.origin and art.origin != old.origin:
            moved[art.id] = art.origin
        return
    if too_long := oversized(art, store.cfg.max_article_chars):
        report.errors.append(too_long + ("; the stored version is kept" if old else ""))
        return
    chunks = chunk_article(art, store.count_tokens, store.cfg.chunk_size, store.cfg.chunk_overlap)
    if not chunks:
        report.errors.append(f"{art.key}: no text to index")
        return
    batch.add(art, chunks, existed=old is not None)


def oversized(art: Article, limit: int) -> str:
    """The error for an article whose text is over ``limit`` characters ("" when it isn't):
    which article (its key, the file or URL it came from, its title), how long, the limit."""
    if len(art.text) <= limit:
        return ""
    where = art.key or art.id
    if art.origin and art.origin not in where:
        where += f" (in {art.origin})"
    title = f" '{art.title[:60]}'" if art.title else ""
    return (
        f"{where}:{title} article is {len(art.text):,} characters, over the {limit:,} limit "
        "(max_article_chars, ARTICLEQA_MAX_ARTICLE_CHARS); not ingested"
    )


class _Batch:
    """Articles waiting to be embedded together (batching across small articles) and stored."""

    def __init__(self, store: ArticleStore, report: IngestReport):
        self.store, self.report = store, report
        self.pending: list[tuple[Article, list[Chunk], bool]] = []
        self.n_chunks = 0
        self.stored: list[tuple[str, int]] = []  # (article id, chunks) stored by this run

    def add(self, art: Article, chunks: list[Chunk], existed: bool) -> None:
        self.pending.append((art, chunks, existed))
        if sum(len(cs) for _, cs, _ in self.pending) >= _EMBED_BACKLOG:
            self.flush()

    def flush(self) -> None:
        if not self.pending:
            return
        store = self.store
        flat = [c for _, cs, _ in self.pending for c in cs]
        vecs = store.embed([c.text for c in flat])
        batch, i = [], 0
        for art, cs, existed in self.pending:
            batch.append((art, cs, vecs[i : i + len(cs)]))
            i += len(cs)
            (self.report.updated if existed else self.report.added).append(art.id)
        store.put_many(batch)
        self.stored += [(a.id, len(cs)) for a, cs, _ in batch]
        self.n_chunks += len(flat)
        self.pending.clear()

    def link_duplicates(self) -> None:
        """Find each stored article's copies once the whole run is stored, so every article is
        judged against all the others (boilerplate shows as such only among many of them),
        reading the run's vectors back a backlog at a time."""
        if not self.stored:
            return
        store = self.store
        known, texts = store.article_vectors(), store.story_texts()
        part: list[str] = []
        n = 0
        for i, (aid, n_chunks) in enumerate(self.stored):
            part.append(aid)
            n += n_chunks
            if n >= _EMBED_BACKLOG or i == len(self.stored) - 1:
                vecs = store.chunk_vectors(part)
                store.set_duplicates(
                    store.find_duplicates([(a, vecs[a]) for a in part if a in vecs], known, texts)
                )
                part, n = [], 0


def _remove_gone(
    store: ArticleStore, paths: list[str | Path], todo: list[Article], failed: set[str], report: IngestReport
) -> None:
    """``--sync``: remove the stored articles that came from a given file, or a file under a
    given folder, and are no longer there: the file is gone, or it no longer holds them (a
    JSONL line deleted), whatever their key. A file that couldn't be read this time keeps
    its articles: bad input loses nothing already stored."""
    live = {a.key for a in todo}
    read = {a.origin for a in todo if a.origin}
    given = [Path(p).resolve() for p in paths if not is_url(p)]
    for aid, key, origin in store.origins():
        origin = origin or key.split("#", 1)[0]  # stored before origins: a file's key is its path
        if key in live or not Path(origin).is_absolute() or origin in failed:
            continue
        src = Path(origin)
        if not any(src == g or g in src.parents for g in given):
            continue
        if origin in read or not src.exists():
            store.remove(aid)
            report.removed.append(aid)
