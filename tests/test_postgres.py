"""The postgres store beyond the shared contract (tests/test_store_contract.py): migrations,
the embedding-model check, plain connection errors, a streaming replica serving reads (and
its outage), and the server going down in the middle of an ingest. Real servers on 127.0.0.1."""

from __future__ import annotations

import logging
import math
import shutil
import socket
import statistics
import time

import pytest

psycopg = pytest.importorskip("psycopg", reason="the postgres extra is not installed")

from articleqa import Config  # noqa: E402
from articleqa.index.contracts import StoreUnavailable  # noqa: E402
from articleqa.index.postgres import DatabaseUnavailable, SchemaMismatch, Store  # noqa: E402
from articleqa.index.postgres.schema import SCHEMA_VERSION, migrate  # noqa: E402
from articleqa.postgres_server import LocalPostgres  # noqa: E402

from .test_store_contract import FERRY, HARBOUR, MARKET, article, put  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def url(postgres) -> str:
    return postgres.new_database()


@pytest.fixture
def opened(url, embedder):
    stores: list[Store] = []

    def make(**kw) -> Store:
        s = Store(Config(database_url=url, **kw), embedder=embedder)
        stores.append(s)
        return s

    yield make
    for s in stores:
        s.close()


def sql(url: str, query: str, args: tuple = ()) -> list[tuple]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query, args)
        return cur.fetchall() if cur.description else []


def test_an_older_schema_is_upgraded_a_newer_or_foreign_one_refused(url, opened, embedder):
    assert Config(database_url=url).store == "postgres" and Config().store == "local"
    with psycopg.connect(url, autocommit=True) as conn:
        assert migrate(conn, "articles", embedder.name, embedder.dim, "db", upto=1) == 1
    assert sql(url, "SELECT indexname FROM pg_indexes WHERE indexname = 'chunks_source'") == []

    store = opened()
    put(store, article("harbour", HARBOUR, source="Ledger"))  # opening upgrades it
    assert sql(url, "SELECT v FROM articles.meta WHERE k = 'schema_version'") == [(str(SCHEMA_VERSION),)]
    assert sql(url, "SELECT indexname FROM pg_indexes WHERE indexname = 'chunks_source'") == [
        ("chunks_source",)
    ]
    assert store.count() == (1, 2)

    sql(url, "UPDATE articles.meta SET v = '99' WHERE k = 'schema_version'")
    with pytest.raises(
        SchemaMismatch, match=rf"newer articleqa \(schema 99\); this one knows up to {SCHEMA_VERSION}"
    ):
        opened().count()

    sql(url, "CREATE SCHEMA other; CREATE TABLE other.chunks (x int)")
    with pytest.raises(SchemaMismatch, match=r"tables articleqa didn't make \(chunks\)"):
        opened(collection="other").count()
    # Another collection in the same database is a schema of its own.
    fresh = opened(collection="second")
    assert fresh.count() == (0, 0) and store.count() == (1, 2)


def test_a_database_built_with_another_embedding_model_is_refused(url, opened):
    put(opened(), article("harbour", HARBOUR))
    sql(url, "UPDATE articles.meta SET v = 'text-embedding-3-small' WHERE k = 'embed_model'")
    with pytest.raises(SchemaMismatch, match="built with embeddings from 'text-embedding-3-small'"):
        opened().count()


def test_a_database_records_its_embedding_runtime_and_refuses_one_that_disagrees(url, opened, embedder):
    put(opened(), article("harbour", HARBOUR))
    assert sql(url, "SELECT v FROM articles.meta WHERE k = 'embed_runtime'") == [(embedder.runtime,)]
    sql(url, "UPDATE articles.meta SET v = 'fp32' WHERE k = 'embed_runtime'")
    assert opened().count() == (1, 2)  # fp32 and int8 vectors agree (measured): they may mix
    sql(url, "UPDATE articles.meta SET v = 'openvino-bf16' WHERE k = 'embed_runtime'")
    with pytest.raises(SchemaMismatch, match="built by the embedding runtime 'openvino-bf16'"):
        opened().count()


def test_a_new_process_reads_the_statistics_before_its_first_search(url, opened):
    put(opened(), article("harbour", HARBOUR), article("ferry", FERRY))
    other = opened()  # as a new serving process: no search yet
    assert other.idf("harbour") == pytest.approx(math.log(1 + 5 / 3.5))  # 4 chunks, "harbour" in 3
    assert other.document_frequencies()["ferri"] == 1 and "xylophon" not in other.document_frequencies()


@pytest.mark.parametrize("fault", ["password", "port"])
def test_a_bad_url_is_one_plain_line_naming_the_host_without_the_password(postgres, embedder, fault):
    good = postgres.url()
    bad = (
        good.replace(postgres.password, "not-the-password")
        if fault == "password"
        else good.replace(f":{postgres.port}/", f":{free_port()}/")
    )
    port = postgres.port if fault == "password" else int(bad.rsplit(":", 1)[1].split("/")[0])
    store = Store(Config(database_url=bad), embedder=embedder)
    with pytest.raises(DatabaseUnavailable) as e:
        store.count()
    msg = str(e.value)
    print(msg)
    assert f"postgresql://articleqa:***@127.0.0.1:{port}/articleqa" in msg
    assert postgres.password not in msg and "not-the-password" not in msg
    assert "\n" not in msg and "Traceback" not in msg and "psycopg" not in msg
    assert ("password authentication failed" if fault == "password" else "connection refused") in msg
    assert isinstance(e.value, ValueError) and isinstance(e.value, StoreUnavailable)  # the CLI prints it
    assert e.value.__cause__ is None and e.value.__suppress_context__


def test_a_replica_serves_reads_and_its_outage_falls_back_to_the_primary(postgres, url, opened, caplog):
    root = LocalPostgres.scratch_dir("articleqa-pg-test-")
    replica = postgres.replica(root / "replica", free_port()).start()
    try:
        writer = opened()
        put(writer, article("harbour", HARBOUR, source="Ledger", date="2024-03-07"))
        reader = opened(database_read_url=url.replace(f":{postgres.port}/", f":{replica.port}/"))
        assert reader._read(lambda c: c.execute("SELECT pg_is_in_recovery()").fetchone()[0]) is True

        lags = []
        for i in range(10):  # how stale can a replica read be? committed on the primary → seen there
            put(writer, article(f"ferry-{i}", FERRY, source="Wire", date="2024-04-10"))
            t0 = time.perf_counter()
            while f"ferry-{i}" not in reader.article_meta([f"ferry-{i}"]):
                assert time.perf_counter() - t0 < 10, "the replica never caught up"
                time.sleep(0.001)
            lags.append((time.perf_counter() - t0) * 1000)
        print(f"replica lag ms: median {statistics.median(lags):.1f}, max {max(lags):.1f}")
        hits = reader.keyword_search("zephyrine lighthouse", 5)
        assert hits and hits[0][0].startswith("harbour:")
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):  # the replica refuses writes
            reader._read(lambda c: c.execute("DELETE FROM articles"))

        replica.stop()
        put(writer, article("market", MARKET, source="Ledger", date="2024-04-20"))
        with caplog.at_level(logging.WARNING, logger="articleqa.index.postgres.store"):
            got = reader.reading(lambda: reader.keyword_search("Saltby fish market", 5))
            reader.reading(lambda: reader.keyword_search("Saltby fish market", 5))
        assert got and got[0][0].startswith("market:")  # the primary answered
        warned = [
            r
            for r in caplog.records
            if r.name == "articleqa.index.postgres.store" and "replica" in r.getMessage()
        ]
        assert len(warned) == 1 and "reading from the primary" in warned[0].getMessage()
        assert reader.count() == (12, 24)
    finally:
        replica.stop()
        shutil.rmtree(root, ignore_errors=True)


def test_the_server_stopping_mid_ingest_leaves_nothing_half_written(embedder, monkeypatch):
    root = LocalPostgres.scratch_dir("articleqa-pg-test-")
    server = LocalPostgres(root / "db", port=free_port()).init().start()
    store = Store(Config(database_url=server.url()), embedder=embedder)
    try:
        arts = [article("harbour", HARBOUR), article("ferry", FERRY), article("market", MARKET)]
        original = Store._insert_terms
        calls = []

        def stop_on_the_second(self, *a, **k):
            calls.append(1)
            if len(calls) == 2:
                server.stop()  # the article's rows are written, not committed
            return original(self, *a, **k)

        monkeypatch.setattr(Store, "_insert_terms", stop_on_the_second)
        with pytest.raises(StoreUnavailable) as e:
            put(store, *arts)
        assert "\n" not in str(e.value) and "***@127.0.0.1" in str(e.value)
        monkeypatch.undo()

        server.start()
        url = server.url()
        assert store.count() == (1, 2)  # the first article, whole; nothing of the second
        assert sql(url, "SELECT count(*) FROM articles.chunks c WHERE NOT EXISTS "
                   "(SELECT 1 FROM articles.articles a WHERE a.id = c.article_id)") == [(0,)]  # fmt: skip
        assert sql(url, "SELECT n_chunks FROM articles.state") == sql(
            url, "SELECT count(*) FROM articles.chunks"
        )
        assert store.reconcile() == 0

        put(store, *arts)  # the re-run completes, on the same store (its dead connections replaced)
        assert store.count() == (3, 6)
        assert sql(url, "SELECT term, df FROM articles.term_df ORDER BY term") == sql(
            url, "SELECT term, count(*)::int FROM articles.chunk_terms GROUP BY term ORDER BY term"
        )
        assert store.keyword_search("Saltby market", 3)[0][0].startswith("market:")
    finally:
        store.close()
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
