"""The storage contract (index/contracts.py), checked against every backend.

A backend is one entry of ``BACKENDS`` (and, for the crash test, of ``WRITE_STEPS``); the
tests themselves must pass unchanged for each. They go through `open_store` and the
contract's methods only.
"""

from __future__ import annotations

import hashlib
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from articleqa import Config
from articleqa.index import open_store
from articleqa.index.contracts import ArticleStore
from articleqa.text import terms
from articleqa.types import Article, Chunk, FeedState, Filters

from .conftest import ROOT

BACKENDS = ["local", "postgres"]

# The steps of a backend's `put_many` a crash may fall between: (class path, method) that is
# made to raise, each after part of the write has happened.
WRITE_STEPS = {
    "local": [
        ("articleqa.index.local.registry.Registry", "put_many"),  # new vectors in, registry not
        ("articleqa.index.local.vectors.VectorIndex", "delete_ids"),  # registry done, old vectors left
    ],
    "postgres": [
        ("articleqa.index.postgres.store.Store", "_insert_terms"),  # article and chunks in, terms not
        ("articleqa.index.postgres.store.Store", "_bump_generation"),  # all in, not committed
    ],
}

HARBOUR = [
    "The harbour of Port Ellis reopened on Thursday after three weeks of storm repairs.",
    "Fishing boats returned to the harbour at noon, and the zephyrine lighthouse was relit.",
]
HARBOUR_V2 = ["The harbour of Port Ellis stays closed until the quillfeather dredging is finished."]
FERRY = [
    "The ferry to Dunmore resumed on Friday after the storm had kept it in the harbour for a week.",
    "Tickets are half price until Sunday.",
]
MARKET = [
    "The Saltby fish market moved to the old harbour warehouse in April.",
    "Traders said the rent is lower there.",
]


def article(
    aid: str, paras: list[str], *, title: str = "", source: str = "", date: str = "", key: str = ""
) -> Article:
    text = "\n".join(paras)
    return Article(
        id=aid, text=text, title=title or aid.title(), source=source, published_at=date, key=key or f"id:{aid}",
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
    )  # fmt: skip


def chunks_of(art: Article) -> list[Chunk]:
    """One chunk per line, ids carrying the content hash (as ingest/chunking.py makes them)."""
    out, start = [], 0
    for n, line in enumerate(art.text.split("\n")):
        out.append(Chunk(f"{art.id}:{art.content_hash[:8]}:{n}", art.id, n, start, start + len(line), line))
        start += len(line) + 1
    return out


def embedded(store: ArticleStore, art: Article) -> tuple[Article, list[Chunk], np.ndarray]:
    cs = chunks_of(art)
    return art, cs, store.embed([c.text for c in cs])


def put(store: ArticleStore, *arts: Article) -> None:
    store.put_many([embedded(store, a) for a in arts])


def visible(store: ArticleStore, queries: list[str]) -> set[str]:
    """Chunk ids a reader can reach through either search, resolved as retrieval resolves them."""
    found: set[str] = set()
    for q in queries:
        found |= {i for i, _ in store.dense_search(store.embed([q])[0], 50)}
        found |= {i for i, _ in store.keyword_search(q, 50)}
    return {c.id for c in store.chunks(sorted(found))}


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def config(backend, tmp_path, request) -> Config:
    if backend == "postgres":  # a fresh database per test on the session's server
        return Config(store=backend, data_dir=tmp_path / "data", database_url=fresh_database(request))
    return Config(store=backend, data_dir=tmp_path / "data")


def fresh_database(request) -> str:
    """The URL of a new, empty database on the `postgres` fixture's server."""
    return request.getfixturevalue("postgres").new_database()


@pytest.fixture
def store(config, embedder) -> ArticleStore:
    s = open_store(config, embedder=embedder)
    assert isinstance(s, ArticleStore)
    yield s
    if close := getattr(s, "close", None):  # a server backend's connections
        close()


def test_add_replace_remove_leave_no_stale_chunk(store):
    v1 = article("harbour", HARBOUR, title="Harbour reopens", source="Ledger", date="2024-03-07")
    put(store, v1, article("ferry", FERRY, source="Wire", date="2024-03-08"))
    old_ids = [c.id for c in chunks_of(v1)]
    assert [c.id for c in store.chunks(old_ids)] == old_ids
    assert store.count() == (2, 4)
    assert store.keyword_search("zephyrine", 10)[0][0] == old_ids[1]

    v2 = article("harbour", HARBOUR_V2, title="Harbour stays shut", source="Ledger", date="2024-03-09")
    put(store, v2)
    new_ids = [c.id for c in chunks_of(v2)]
    assert store.count() == (2, 3)
    assert store.chunks(old_ids) == []
    assert store.keyword_search("zephyrine", 10) == []  # keyword side
    assert store.keyword_search("quillfeather", 10)[0][0] == new_ids[0]
    live = {c.id for c in store.chunks(new_ids + [c.id for c in chunks_of(article("ferry", FERRY))])}
    for para in HARBOUR:  # dense side: the old passages' own text finds no stale vector
        assert {i for i, _ in store.dense_search(store.embed([para])[0], 10)} <= live
    assert "zephyrin" not in store.document_frequencies()
    meta = store.article_meta(["harbour"])["harbour"]  # metadata side
    assert (meta["title"], meta["published_at"]) == ("Harbour stays shut", "2024-03-09")
    assert store.article("harbour").text == v2.text
    assert [r.id for r in store.article_stats()] == ["ferry", "harbour"]

    assert store.remove("harbour") and not store.remove("harbour")
    assert store.count() == (1, 2)
    assert store.chunks(new_ids) == [] and store.keyword_search("quillfeather", 10) == []
    assert store.article("harbour") is None and store.article_meta(["harbour"]) == {}
    assert store.outlets() == ["Wire"]
    hits = store.dense_search(store.embed([HARBOUR_V2[0]])[0], 10)
    assert {i for i, _ in hits} <= {c.id for c in chunks_of(article("ferry", FERRY))}


def test_an_id_held_by_another_key_is_refused(store):
    put(store, article("harbour", HARBOUR, key="a.txt"))
    with pytest.raises(ValueError):
        put(store, article("harbour", FERRY, key="b.txt"))
    assert store.article("harbour").key == "a.txt"
    assert store.unique_id("harbour", "b.txt") == "harbour-2"
    assert store.unique_id("harbour", "a.txt") == "harbour"


@pytest.fixture
def three(store) -> ArticleStore:
    put(
        store,
        article("harbour", HARBOUR, source="Ledger", date="2024-03-07"),
        article("ferry", FERRY, source="Wire", date="2024-04-10"),
        article("market", MARKET, source="Ledger", date="2024-04-20"),
    )
    return store


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        (Filters(sources=["Wire"]), {"ferry"}),
        (Filters(sources=["Ledger"]), {"harbour", "market"}),
        (Filters(since="2024-04-01"), {"ferry", "market"}),
        (Filters(until="2024-04-10"), {"harbour", "ferry"}),
        (Filters(since="2024-04-01", until="2024-04-15"), {"ferry"}),
        (Filters(article_ids=["market", "harbour"]), {"harbour", "market"}),
        (Filters(sources=["Ledger"], since="2024-04-01"), {"market"}),
        (Filters(), {"harbour", "ferry", "market"}),
    ],
)
def test_both_searches_honour_filters(three, filters, expected):
    store = three
    paras = {"harbour": HARBOUR, "ferry": FERRY, "market": MARKET}
    dense = store.dense_search(store.embed(["harbour"])[0], 50, filters)
    assert {c.article_id for c in store.chunks([i for i, _ in dense])} == expected
    assert len(dense) == sum(len(paras[a]) for a in expected)
    keyword = store.keyword_search("harbour", 50, filters)  # every article says "harbour"
    assert {c.article_id for c in store.chunks([i for i, _ in keyword])} == expected
    assert len(keyword) == sum("harbour" in p for a in expected for p in paras[a])


@pytest.mark.parametrize(
    ("filters", "kept"),
    [
        (Filters(until="2024-04-10"), False),
        (Filters(since="2024-01-01"), False),
        (Filters(sources=["Ledger"]), True),
    ],
)
def test_an_undated_article_is_outside_every_date_range_on_both_searches(three, filters, kept):
    """A date bound asks for articles known to fall in it: an undated one never does, by
    meaning or by keywords (the dense side once kept it under ``until``: 0 <= any date)."""
    store = three
    put(store, article("notes", ["Harbour notes from the quay, undated."], source="Ledger", date=""))
    dense = store.dense_search(store.embed(["harbour"])[0], 50, filters)
    keyword = store.keyword_search("harbour", 50, filters)
    for hits in (dense, keyword):
        assert ("notes" in {c.article_id for c in store.chunks([i for i, _ in hits])}) is kept


def test_ranking_sanity(three):
    store = three
    # Keywords: the one passage holding a rare term ranks first, and only passages sharing a term come back.
    hits = store.keyword_search("When was the zephyrine lighthouse relit?", 10)
    assert hits[0][0] == "harbour:" + article("harbour", HARBOUR).content_hash[:8] + ":1"
    assert all(s > 0 for _, s in hits) and [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert store.keyword_search("xylophone", 10) == []
    # Dense: a passage's own text finds it first, at cosine ~1, best first.
    hits = store.dense_search(store.embed([MARKET[1]])[0], 5)
    assert hits[0][0] == "market:" + article("market", MARKET).content_hash[:8] + ":1"
    assert hits[0][1] == pytest.approx(1.0, abs=1e-3)
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    vecs = store.passage_vectors([hits[0][0], "no-such-chunk"])
    assert list(vecs) == [hits[0][0]] and float(vecs[hits[0][0]] @ store.embed([MARKET[1]])[0]) > 0.999


def test_idf_agrees_with_a_count(three):
    store = three
    texts = HARBOUR + FERRY + MARKET
    n = len(texts)
    assert store.count() == (3, n)
    store.sync_indexes()  # statistics follow the store as of the last search or sync
    df = store.document_frequencies()
    counted: dict[str, int] = {}
    for t in texts:
        for term in set(terms(t)):
            counted[term] = counted.get(term, 0) + 1
    assert dict(df) == counted
    for term in ("harbour", "ferri", "zephyrin", "never-said"):
        want = math.log(1 + (n + 1) / (counted.get(term, 0) + 0.5))
        assert store.idf(term) == pytest.approx(want)
    assert store.outlets() == ["Ledger", "Wire"] and store.newest_date() == "2024-04-20"


def test_feeds_origins_and_story_groups(three):
    store = three
    store.record_feed(
        FeedState("https://x.test/feed", "X", etag="e1", status="ok"), {"id:ferry": "fp1", "gone": "fp2"}
    )
    assert [(f.url, f.etag) for f in store.feed_states()] == [("https://x.test/feed", "e1")]
    assert store.feed_fingerprints("https://x.test/feed") == {"id:ferry": "fp1"}  # only stored entries

    store.set_origins({"ferry": "/tmp/ferry.txt"})
    assert ("ferry", "id:ferry", "/tmp/ferry.txt") in store.origins()
    assert store.article_by_key("id:ferry").origin == "/tmp/ferry.txt"

    store.set_duplicates({"harbour": [("market", 0.9)]})
    store.regroup()
    meta = store.article_meta(["harbour", "ferry", "market"])
    assert meta["harbour"]["group_id"] and meta["harbour"]["group_id"] == meta["market"]["group_id"]
    assert meta["ferry"]["group_id"] is None
    known = store.article_vectors()
    assert len(known) == 3
    vecs = store.chunk_vectors(["market"])
    assert vecs["market"].shape == (2, store.embedding_model().dim)


@pytest.mark.parametrize("step", range(2))
def test_a_crash_inside_a_write_leaves_no_half_visible_article(store, backend, monkeypatch, step):
    steps = WRITE_STEPS[backend]
    if step >= len(steps):
        pytest.skip("this backend's write has fewer steps")
    v1, v2 = article("harbour", HARBOUR, title="v1"), article("harbour", HARBOUR_V2, title="v2")
    put(store, v1)
    ids1, ids2 = {c.id for c in chunks_of(v1)}, {c.id for c in chunks_of(v2)}
    queries = HARBOUR + HARBOUR_V2

    module, _, cls = steps[step][0].rpartition(".")
    target = getattr(__import__(module, fromlist=[cls]), cls)

    def crash(*a, **k):
        raise RuntimeError("crash")

    monkeypatch.setattr(target, steps[step][1], crash)
    with pytest.raises(RuntimeError, match="crash"):
        put(store, v2)
    monkeypatch.undo()

    seen = visible(store, queries)
    assert seen in (ids1, ids2)
    title = "v1" if seen == ids1 else "v2"
    assert (
        store.article("harbour").title == title
        and store.article_meta(["harbour"])["harbour"]["title"] == title
    )
    assert store.count() == (1, len(seen))

    store.reconcile()  # sweeps what the crash left; then a write goes through
    put(store, v2)
    assert visible(store, queries) == ids2
    for q in queries:
        assert {i for i, _ in store.dense_search(store.embed([q])[0], 50)} <= ids2


CHILD = textwrap.dedent(
    """
    import sys
    from articleqa import Config
    from articleqa.index import open_store
    from tests.test_store_contract import article, put

    data_dir, backend, prefix, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    store = open_store(Config(store=backend, data_dir=data_dir))
    for i in range(n):
        put(store, article(f"{prefix}-{i}", [f"Report {i} from {prefix}: the {prefix} council met on day {i}.",
                                             f"Nothing else about {prefix} happened."]))
    """
)


def writer(config: Config, prefix: str, n: int) -> subprocess.Popen:
    args = [sys.executable, "-c", CHILD, str(config.data_dir), config.store, prefix, str(n)]
    env = dict(os.environ)
    if config.database_url:  # a server backend: the child opens the same database
        env["ARTICLEQA_DATABASE_URL"] = config.database_url
    return subprocess.Popen(args, cwd=ROOT, env=env, text=True, stderr=subprocess.PIPE)


def test_a_write_by_another_process_is_seen(store, config):
    put(store, article("harbour", HARBOUR))
    assert store.keyword_search("council", 5) == []
    store.dense_search(store.embed(["harbour"])[0], 5)  # what this process holds is open
    gen = store.generation

    p = writer(config, "kessel", 1)
    assert p.wait(timeout=300) == 0, p.stderr.read()

    assert store.generation != gen
    store.refresh()
    assert store.count() == (2, 4)
    got = store.reading(lambda: store.keyword_search("kessel council", 5))
    assert got and got[0][0].startswith("kessel-0:")
    dense = store.reading(lambda: store.dense_search(store.embed(["the kessel council met"])[0], 1))
    assert dense[0][0].startswith("kessel-0:")
    assert "kessel-0" in store.article_meta(["kessel-0"])
    assert store.idf("kessel") == pytest.approx(math.log(1 + 5 / 2.5))


def test_two_writing_processes_lose_nothing(store, config):
    procs = [writer(config, "kessel", 5), writer(config, "tarrow", 5)]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    store.refresh()
    ids = {f"{p}-{i}" for p in ("kessel", "tarrow") for i in range(5)}
    assert {r.id for r in store.article_stats()} == ids
    assert store.count() == (10, 20)
    for aid in ids:
        only = Filters(article_ids=[aid])
        assert len(store.keyword_search("council", 10, only)) == 1
        assert len(store.dense_search(store.embed(["council"])[0], 10, only)) == 2
