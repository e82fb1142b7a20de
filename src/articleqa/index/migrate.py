"""Copy a collection from one store to another (``articleqa migrate --to postgresql://…``).

Everything goes through the storage contracts, so any backend can be the source or the
target: each article with its chunks and their stored vectors (nothing is embedded again),
origins, feed states with their entries' fingerprints, then the story groups, found again
from the copied vectors the way ingestion finds them. An article already in the target
with the same key and content is skipped, so a migration that stopped can be run again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..types import JSONForm
from .contracts import ArticleStore, Embedded

# Articles per target write: large enough that a transaction's overhead is spread, small
# enough that a failure loses little (the same backlog ingestion embeds at once).
BATCH = 64


@dataclass
class MigrateReport(JSONForm):
    """What a migration copied (article ids), skipped (already there, unchanged) or could not copy."""

    copied: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    chunks: int = 0
    feeds: int = 0
    groups: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"{len(self.copied)} articles copied ({self.chunks} chunks, vectors as stored), "
            f"{len(self.skipped)} already there, {self.feeds} feeds, {self.groups} story groups, "
            f"{len(self.errors)} failed in {self.seconds:.1f}s"
        )


def migrate(
    source: ArticleStore, target: ArticleStore, progress: Callable[[int, int], None] | None = None
) -> MigrateReport:
    """Copy every article, feed and story group of ``source`` into ``target``."""
    t0 = time.perf_counter()
    report = MigrateReport()
    source.refresh()
    ids = [r.id for r in source.article_stats()]
    with target.writing():
        batch: list[Embedded] = []
        for i, aid in enumerate(ids, 1):
            _take(source, target, aid, batch, report)
            if len(batch) >= BATCH or i == len(ids):
                _flush(target, batch, report)
            if progress:
                progress(i, len(ids))
        _flush(target, batch, report)
        for state in source.feed_states():
            target.record_feed(state, source.feed_fingerprints(state.url))
            report.feeds += 1
        _link(target, report.copied)
        target.sync_indexes()
    report.groups = len({m["group_id"] for m in target.article_meta(ids).values() if m.get("group_id")})
    report.seconds = time.perf_counter() - t0
    return report


def _take(
    source: ArticleStore, target: ArticleStore, aid: str, batch: list[Embedded], report: MigrateReport
) -> None:
    art = source.article(aid)
    if art is None:  # removed while we copied
        return
    old = target.article_by_key(art.key)
    if old is not None and old.content_hash == art.content_hash:
        report.skipped.append(aid)
        return
    chunks = source.article_chunks(aid)
    vecs = source.chunk_vectors([aid]).get(aid)
    if not chunks or vecs is None or len(vecs) != len(chunks):
        report.errors.append(f"{aid}: its chunks and vectors don't match in the source; re-ingest it")
        return
    batch.append((art, chunks, vecs))


def _flush(target: ArticleStore, batch: list[Embedded], report: MigrateReport) -> None:
    if not batch:
        return
    try:
        target.put_many(batch)
    except ValueError as e:  # an id held by another key in the target
        report.errors.append(str(e))
    else:
        report.copied += [a.id for a, _, _ in batch]
        report.chunks += sum(len(cs) for _, cs, _ in batch)
        target.set_origins({a.id: a.origin for a, _, _ in batch if a.origin})
    batch.clear()


def _link(target: ArticleStore, ids: list[str]) -> None:
    """Story groups in the target, from the copied vectors (as ingestion links duplicates)."""
    if not ids:
        return
    known, texts = target.article_vectors(), target.story_texts()
    for i in range(0, len(ids), BATCH):
        part = ids[i : i + BATCH]
        vecs = target.chunk_vectors(part)
        target.set_duplicates(target.find_duplicates([(a, vecs[a]) for a in part if a in vecs], known, texts))
    target.regroup()
