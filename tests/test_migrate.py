"""`articleqa migrate`: a local collection copied into another store without embedding again."""

from __future__ import annotations

import numpy as np
import pytest

from articleqa import Assistant, Config
from articleqa.index import open_store
from articleqa.index.migrate import migrate
from articleqa.types import FeedState

from .conftest import SAMPLES

TARGETS = ["local", "postgres"]


@pytest.fixture(params=TARGETS)
def target_config(request, tmp_path) -> Config:
    if request.param == "local":
        return Config(store="local", data_dir=tmp_path / "target")
    url = request.getfixturevalue("postgres").new_database()
    return Config(store="postgres", data_dir=tmp_path / "target", database_url=url)


class _Counting:
    """Counts what the embedding model is asked to embed (a migration must embed nothing)."""

    def __init__(self, inner):
        self.inner, self.texts = inner, 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def embed(self, texts):
        self.texts += len(texts)
        return self.inner.embed(texts)


def test_a_collection_is_copied_with_its_vectors_feeds_and_groups(tmp_path, embedder, target_config):
    src_cfg = Config(data_dir=tmp_path / "source")
    qa = Assistant(src_cfg, store=open_store(src_cfg, embedder=embedder))
    assert qa.ingest([SAMPLES]).ok
    feed = FeedState(url="https://news.example/feed.xml", title="Example", etag='"v1"', status="ok")
    entry = qa.store.article_stats()[0].key  # a feed entry whose article is stored
    with qa.store.writing():
        qa.store.record_feed(feed, {entry: "fp1"})
    source = qa.store
    counting = _Counting(embedder)
    target = open_store(target_config, embedder=counting)
    report = migrate(source, target)
    assert report.errors == [] and sorted(report.copied) == sorted(r.id for r in source.article_stats())
    assert counting.texts == 0  # the stored vectors were copied, not made again
    assert target.count() == source.count() and report.chunks == source.count()[1]
    for info in source.article_stats():
        a, b = source.article(info.id), target.article(info.id)
        assert (a.text, a.key, a.title, a.content_hash) == (b.text, b.key, b.title, b.content_hash)
        ca, cb = source.article_chunks(info.id), target.article_chunks(info.id)
        assert ca == cb
        va, vb = source.passage_vectors([c.id for c in ca]), target.passage_vectors([c.id for c in cb])
        for cid in va:
            assert np.allclose(va[cid], vb[cid], atol=1e-6)
    meta_a = source.article_meta([r.id for r in source.article_stats()])
    meta_b = target.article_meta(list(meta_a))
    assert {k: v["group_id"] for k, v in meta_a.items()} == {k: v["group_id"] for k, v in meta_b.items()}
    assert report.groups == 1  # the two sample articles are one story
    assert [f.url for f in target.feed_states()] == [feed.url]
    assert target.feed_fingerprints(feed.url) == source.feed_fingerprints(feed.url) == {entry: "fp1"}
    # Answers from the copy are the answers from the original.
    copy = Assistant(target_config, store=target)
    q = "Which storm did Japan express sympathy about?"
    assert copy.ask(q).text == qa.ask(q).text
    again = migrate(source, target)
    assert again.copied == [] and len(again.skipped) == len(report.copied)


def test_migrate_and_postgres_commands(tmp_path, postgres):
    import shutil

    import psycopg
    from typer.testing import CliRunner

    from articleqa.cli import app
    from articleqa.postgres_server import LocalPostgres

    run = CliRunner()
    data = str(tmp_path / "local")
    assert run.invoke(app, ["ingest", str(SAMPLES), "--data-dir", data, "--quiet"]).exit_code == 0
    postgres.new_database("migrate_cli")
    r = run.invoke(app, ["migrate", "--to", postgres.url("migrate_cli"), "--data-dir", data])
    assert r.exit_code == 0, r.output
    assert "2 articles copied" in r.output and "1 story groups" in r.output
    r = run.invoke(app, ["migrate", "--to", postgres.url("migrate_cli"), "--data-dir", data])
    assert "0 articles copied" in r.output and "2 already there" in r.output
    bad = postgres.url("migrate_cli").replace(postgres.password, "wrong-password")
    r = run.invoke(app, ["migrate", "--to", bad, "--data-dir", data])
    assert r.exit_code != 0 and "wrong-password" not in r.output and "Traceback" not in r.output
    # A server of one's own, in one command.
    root = LocalPostgres.scratch_dir("articleqa-pgcli-")
    try:
        port = str(postgres.port + 1)
        r = run.invoke(app, ["postgres", "start", "--dir", str(root / "pg"), "--port", port])
        assert r.exit_code == 0, r.output
        url = run.invoke(app, ["postgres", "url", "--dir", str(root / "pg")]).stdout.strip()
        assert url.startswith("postgresql://articleqa:") and url.endswith(f"@127.0.0.1:{port}/articleqa")
        with psycopg.connect(url) as c:
            assert c.execute("SELECT 1").fetchone() == (1,)
        assert run.invoke(app, ["postgres", "stop", "--dir", str(root / "pg")]).exit_code == 0
        assert run.invoke(app, ["postgres", "url", "--dir", str(root / "pg")]).exit_code == 2
    finally:
        shutil.rmtree(root, ignore_errors=True)
