"""Ingestion: read → skip unchanged → chunk → embed (batched across articles) → store."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..index.store import Store
from ..types import Article, Chunk
from .chunking import chunk_article
from .readers import ReadResult, content_hash, is_url, read_paths

# How many chunks to embed in one go: amortises batching across small articles
# without holding a large backlog in memory.
_EMBED_BACKLOG = 256

Progress = Callable[[int, int, int], None]  # (articles done, articles total, chunks done)


@dataclass
class IngestReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    chunks: int = 0
    warnings: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    orphans_swept: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
            f"{len(self.removed)} removed, {self.chunks} chunks embedded, {len(self.errors)} failed "
            f"in {self.seconds:.1f}s"
        )


def ingest(
    store: Store,
    paths: list[str | Path],
    sync: bool = False,
    progress: Progress | None = None,
    articles: list[Article] | None = None,
) -> IngestReport:
    """Ingest files/folders (and/or ready-made ``articles``) into ``store``.

    Unchanged articles (same key, same content hash) cost nothing. An `Article` given without
    a ``key`` is identified by its id. With ``sync``, articles previously ingested from under
    a given folder whose file is gone are removed.
    """
    t0 = time.perf_counter()
    read = read_paths(paths, store.cfg.max_file_mb)  # reading needs no lock: done before taking it
    with store.writing():  # one writer at a time, across processes
        report = _store_all(store, paths, read, articles, sync, progress)
    report.seconds = time.perf_counter() - t0
    return report


def _store_all(
    store: Store, paths: list[str | Path], read: ReadResult, articles: list[Article] | None, sync: bool,
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
        store.registry.set_origins(moved)
    if progress:
        progress(len(todo), len(todo), batch.n_chunks)
    if sync:
        failed = {str(Path(e.path).resolve()) for e in read.errors if not is_url(e.path)}
        _remove_gone(store, paths, todo, failed, report)
    if report.added or report.updated or report.removed:
        store.regroup()
        store.keywords.refresh()
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
    store: Store, art: Article, ids_taken: set[str], batch: _Batch, report: IngestReport, moved: dict[str, str]
) -> None:
    """Skip ``art`` if stored unchanged, else chunk it into the embedding batch."""
    reg = store.registry
    old = reg.article_by_key(art.key)
    art.id = old.id if old else reg.unique_id(art.id, art.key, ids_taken)
    ids_taken.add(art.id)
    if old and old.content_hash == art.content_hash:
        report.unchanged.append(art.id)
        if art.origin and art.origin != old.origin:
            moved[art.id] = art.origin
        return
    chunks = chunk_article(art, store.embedder.count_tokens, store.cfg.chunk_size, store.cfg.chunk_overlap)
    if not chunks:
        report.errors.append(f"{art.key}: no text to index")
        return
    batch.add(art, chunks, existed=old is not None)


class _Batch:
    """Articles waiting to be embedded together (batching across small articles) and stored."""

    def __init__(self, store: Store, report: IngestReport):
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
        vecs = store.embedder.embed([c.text for c in flat])
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
                store.registry.set_duplicates(store.find_duplicates([(a, vecs[a]) for a in part if a in vecs], known, texts))
                part, n = [], 0


def _remove_gone(
    store: Store, paths: list[str | Path], todo: list[Article], failed: set[str], report: IngestReport
) -> None:
    """``--sync``: remove the stored articles that came from a given file, or a file under a
    given folder, and are no longer there: the file is gone, or it no longer holds them (a
    JSONL line deleted), whatever their key. A file that couldn't be read this time keeps
    its articles: bad input loses nothing already stored."""
    live = {a.key for a in todo}
    read = {a.origin for a in todo if a.origin}
    given = [Path(p).resolve() for p in paths if not is_url(p)]
    for aid, key, origin in store.registry.origins():
        origin = origin or key.split("#", 1)[0]  # stored before origins: a file's key is its path
        if key in live or not Path(origin).is_absolute() or origin in failed:
            continue
        src = Path(origin)
        if not any(src == g or g in src.parents for g in given):
            continue
        if origin in read or not src.exists():
            store.remove(aid)
            report.removed.append(aid)
