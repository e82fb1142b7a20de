"""Ingestion for real collections: incremental sync, near-duplicates, URLs, crashes, a Chroma server."""

from __future__ import annotations

import http.server
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from articleqa import Assistant, Filters

from .conftest import ROOT, SAMPLES, TALKS_ID, VOV_ID

SQUAD = ROOT / "eval" / "datasets" / "squad-v1.1-dev-subset.json"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def squad_jsonl(path: Path, n: int) -> Path:
    """n short articles (SQuAD paragraphs) as JSONL, with outlets and dates to filter on."""
    data = json.loads(SQUAD.read_text())["data"]
    paras = [(a["title"], p["context"]) for a in data for p in a["paragraphs"]]
    with path.open("w") as f:
        for i, (title, text) in enumerate(paras[:n]):
            f.write(json.dumps({"id": f"p{i}", "title": f"{title} {i}", "text": text,
                                "source": "Wire A" if i % 2 else "Wire B",
                                "published_at": f"2024-01-{1 + i % 28:02d}"}) + "\n")  # fmt: skip
    return path


def test_sample_articles_are_grouped_as_one_story(sample_qa):
    groups = {a.id: a.group_id for a in sample_qa.articles()}
    assert groups[VOV_ID] == groups[TALKS_ID] is not None


def test_grouped_story_names_every_outlet(sample_qa):
    ans = sample_qa.ask("Which country is Vietnam's largest ODA donor?")
    assert not ans.abstained
    assert {c.article_id for c in ans.citations} == {VOV_ID, TALKS_ID}
    assert "VOV [" in ans.text
    # Retrieval does not hand the answerer the same passage twice.
    hits = sample_qa.retrieve("Which country is Vietnam's largest ODA donor?", top_k=5)
    texts = [h.chunk.text for h in hits]
    assert len(texts) == len(set(texts))


def test_unrelated_articles_are_not_grouped(fresh_qa, tmp_path):
    fresh_qa.ingest([squad_jsonl(tmp_path / "a.jsonl", 6)])
    assert all(a.group_id is None for a in fresh_qa.articles())


def test_sync_removes_articles_whose_files_are_gone(fresh_qa, tmp_path):
    d = tmp_path / "feed"
    d.mkdir()
    for name in ("one", "two"):
        (d / f"{name}.txt").write_text(f"Story {name}\nThe {name} harbour reopened on Thursday.")
    fresh_qa.ingest([d])
    (d / "two.txt").unlink()
    report = fresh_qa.ingest([d], sync=True)
    assert report.removed == ["two"] and report.unchanged == ["one"]
    assert [a.id for a in fresh_qa.articles()] == ["one"]
    assert fresh_qa.store.vectors.ids() == fresh_qa.store.registry.chunk_ids()


def test_filters_by_outlet_and_date(fresh_qa, tmp_path):
    fresh_qa.ingest([squad_jsonl(tmp_path / "a.jsonl", 20)])
    f = Filters(sources=["Wire A"], since="2024-01-05", until="2024-01-10")
    hits = fresh_qa.retrieve("Super Bowl", top_k=10, filters=f)
    assert hits
    for h in hits:
        assert h.source == "Wire A" and "2024-01-05" <= h.published_at <= "2024-01-10"
    ans = fresh_qa.ask("Who won Super Bowl 50?", filters=Filters(sources=["Nobody"]))
    assert ans.abstained and ans.citations == []


class _Pages(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def page_server(tmp_path):
    (tmp_path / "story.html").write_text(
        "<html><head><title>Port reopens | Coast Times</title>"
        '<meta property="og:site_name" content="Coast Times">'
        '<meta property="article:published_time" content="2024-03-02"></head><body>'
        "<article><h1>Port reopens</h1><p>The port reopened on Monday after a week of repairs to the "
        "main pier, the harbour master said.</p><p>Container ships were expected back by Friday.</p>"
        "</article></body></html>"
    )
    (tmp_path / "data.bin").write_bytes(b"\x00\x01" * 100)
    handler = lambda *a: _Pages(*a, directory=str(tmp_path))  # noqa: E731
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def test_ingest_url_from_local_server(fresh_qa, page_server):
    fresh_qa.config.fetch_allow = ["127.0.0.1"]  # the page server is local (refused by default)
    report = fresh_qa.ingest(
        [f"{page_server}/story.html", f"{page_server}/missing.html", f"{page_server}/data.bin"]
    )
    assert len(report.added) == 1
    assert any("HTTP 404" in e for e in report.errors)
    assert any("unsupported content type" in e for e in report.errors)
    (row,) = fresh_qa.articles()
    assert row.source == "Coast Times" and row.published_at == "2024-03-02"
    assert row.url == f"{page_server}/story.html"
    ans = fresh_qa.ask("When did the port reopen?")
    assert "Monday" in ans.text and ans.citations[0].url.endswith("/story.html")


def _cli(*args: str, env: dict, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "articleqa.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)  # fmt: skip


def test_sigkill_midway_then_rerun_leaves_a_consistent_store(tmp_path):
    feed = squad_jsonl(tmp_path / "feed.jsonl", 400)
    data = tmp_path / "data"
    env = dict(os.environ, ARTICLEQA_DATA_DIR=str(data))
    proc = _cli("ingest", str(feed), "--quiet", env=env)
    db = data / "registry.sqlite3"
    deadline = time.time() + 240
    n = 0
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            with sqlite3.connect(db) as c:
                try:
                    n = c.execute("SELECT COUNT(*) FROM articles").fetchone()[0]
                except sqlite3.OperationalError:
                    n = 0
            if n >= 20:
                break
        time.sleep(0.05)
    assert proc.poll() is None, "ingestion finished before it could be killed: use a larger feed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 0 < n < 400

    rerun = _cli("ingest", str(feed), "--quiet", env=env)
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    qa = Assistant(data_dir=data)
    reg_ids = qa.store.registry.chunk_ids()
    assert qa.store.registry.count()[0] == 400
    assert qa.store.vectors.ids() == reg_ids  # no orphaned or missing vectors
    assert qa.store.vectors.count() == len(reg_ids)  # no duplicates
    assert len({(c.article_id, c.ord) for c in qa.store.registry.chunks()}) == len(reg_ids)


def test_chroma_server_backend(tmp_path):
    port = free_port()
    chroma = Path(sys.executable).parent / "chroma"
    srv = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / "srv"), "--host", "127.0.0.1",
                            "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        import httpx

        for _ in range(150):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("chroma server did not start")
        qa = Assistant(data_dir=tmp_path / "data", chroma_host="127.0.0.1", chroma_port=port)
        assert qa.ingest([SAMPLES]).ok
        assert not (tmp_path / "data" / "chroma").exists()  # vectors live in the server
        assert qa.store.vectors.count() == qa.store.registry.count()[1]
        ans = qa.ask("What did the two sides want the committees to share more of?")
        assert "expertise" in ans.text
        assert qa.remove(VOV_ID)
        assert qa.store.vectors.count() == qa.store.registry.count()[1]
    finally:
        srv.terminate()
        srv.wait(10)


def test_duplicate_edges_are_found_by_either_end_without_a_scan(tmp_path):
    """Ingestion replaces each new article's edges: a scan of all edges per article made
    ingestion quadratic (minutes at 100k chunks, docs/performance.md)."""
    from articleqa.index.local.registry import Registry

    reg = Registry(tmp_path / "registry.sqlite3")
    plan = reg._db.execute(
        "EXPLAIN QUERY PLAN DELETE FROM duplicates WHERE a = ? OR b = ?", ("x", "x")
    ).fetchall()
    details = " ".join(str(row[-1]) for row in plan)
    assert "SCAN" not in details and "(b=?)" in details, details


def test_story_with_more_copies_than_are_checked_forms_one_group(fresh_qa, tmp_path, monkeypatch):
    """Each new article is chunk-checked against its nearest NEAREST_CHECKED stored articles
    only (checking every copy made ingestion quadratic); a story with more copies than that
    still forms one group, across ingest runs."""
    from articleqa.index import dedup

    para = json.loads(SQUAD.read_text())["data"][0]["paragraphs"][0]["context"]
    n = 2 * dedup.NEAREST_CHECKED + 2
    checks = []
    alignment = dedup.alignment
    monkeypatch.setattr(dedup, "alignment", lambda a, b: checks.append(1) or alignment(a, b))

    def copies(path: Path, idx: range) -> Path:
        with path.open("w") as f:
            for i in idx:
                f.write(
                    json.dumps({"id": f"copy{i}", "title": f"Copy {i}", "text": f"{para} Edition {i}."})
                    + "\n"
                )
        return path

    fresh_qa.ingest([copies(tmp_path / "first.jsonl", range(n // 2))])
    fresh_qa.ingest([copies(tmp_path / "second.jsonl", range(n // 2, n))])
    groups = {a.id: a.group_id for a in fresh_qa.articles()}
    assert len(groups) == n and None not in groups.values() and len(set(groups.values())) == 1, groups
    assert 0 < len(checks) <= n * dedup.NEAREST_CHECKED  # every pair: (n/2)(n/2 - 1) + (n/2)(n - 1)


def test_article_vectors_grow_and_return_the_nearest_others_first():
    import numpy as np

    from articleqa.index import dedup

    rng = np.random.default_rng(0)
    base = rng.normal(size=8).astype(np.float32)
    vecs = np.stack([base + 0.05 * i * rng.normal(size=8).astype(np.float32) for i in range(100)])
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    known = dedup.ArticleVectors([], np.zeros((0, 8), np.float32))
    ids = [f"a{i}" for i in range(100)]
    known.upsert(ids[:30], vecs[:30])
    known.upsert(ids[30:], vecs[30:])  # past the initial 64 rows
    known.upsert(["a0"], vecs[:1])  # replacing keeps one row
    assert len(known) == 100
    (near,) = known.nearest(["a0"], vecs[:1], k=5)
    sims = vecs[1:] @ vecs[0]
    expected = [f"a{i + 1}" for i in np.argsort(-sims)[:5] if sims[i] >= dedup.ARTICLE_COS]
    assert [o for o, _ in near] == expected and "a0" not in dict(near)
    assert [c for _, c in near] == sorted((c for _, c in near), reverse=True)


def test_an_edge_survives_the_other_end_not_listing_it(tmp_path):
    from articleqa.index.local.registry import Registry
    from articleqa.types import Article

    reg = Registry(tmp_path / "registry.sqlite3")
    reg.put_many([(Article(id=i, text="x", key=i), [], None) for i in ("a", "b")])
    reg.set_duplicates({"a": [("b", 0.9)], "b": []})
    assert reg.duplicate_edges() == [("a", "b")]


def test_articles_given_without_a_key_are_told_apart_by_id(fresh_qa):
    """Bug: `Article`s handed to ingest without a ``key`` all had the key "", so every one
    after the first was dropped as "given twice in this batch" (and, with no content hash,
    a changed one counted as unchanged)."""
    from articleqa import Article

    first = "The Riverside bridge reopened on Monday after repairs that took eight months."
    second = "The city council approved a new budget for libraries on Tuesday evening."
    rep = fresh_qa.ingest(articles=[Article(id="a1", text=first), Article(id="a2", text=second)])
    assert sorted(rep.added) == ["a1", "a2"] and rep.warnings == [], rep.warnings
    assert {a.id for a in fresh_qa.articles()} == {"a1", "a2"}
    again = fresh_qa.ingest(
        articles=[Article(id="a1", text=first), Article(id="a2", text=second + " It passed 7-2.")]
    )
    assert again.unchanged == ["a1"] and again.updated == ["a2"]
    assert "7-2" in fresh_qa.article("a2").text


def _jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


STORIES = [
    {"title": "Harbour reopens", "published_at": "2026-03-02", "text": "The harbour of Port Ellis reopened on Thursday after storm repairs."},
    {"url": "https://example.org/bridge", "text": "The Riverside bridge reopened on Monday after eight months of work."},
    {"text": "Librarians in Dunmore voted to extend opening hours on weekends."},
]  # fmt: skip


def test_jsonl_records_without_id_keep_their_identity_when_a_line_is_inserted(fresh_qa, tmp_path):
    """Bug: records without ``id`` were keyed by line number, so a line inserted at the top
    reported "1 added, 2 updated" and shifted every following article's identity."""
    f = _jsonl(tmp_path / "feed.jsonl", STORIES)
    fresh_qa.ingest([f])
    before = {a.title: a.id for a in fresh_qa.articles()}
    new = {"title": "Ferry resumes", "text": "The ferry to Dunmore resumed on Friday after the storm."}
    report = fresh_qa.ingest([_jsonl(f, [new, *STORIES])])
    assert (len(report.added), len(report.updated), len(report.unchanged)) == (1, 0, 3), report.summary()
    after = {a.title: a.id for a in fresh_qa.articles()}
    assert {t: after[t] for t in before} == before


def test_sync_removes_jsonl_records_that_are_gone_whatever_their_key(fresh_qa, tmp_path):
    """Bug: ``--sync`` never removed records that had an ``id`` (their key doesn't name the
    file): a deleted line, or the whole deleted file, stayed answerable."""
    d = tmp_path / "feeds"
    d.mkdir()
    with_ids = [{"id": f"s{i}", **s} for i, s in enumerate(STORIES)]
    f = _jsonl(d / "wire.jsonl", with_ids)
    other = _jsonl(
        d / "other.jsonl", [{"id": "keep", "text": "A council meeting was held in Hue on Tuesday."}]
    )
    fresh_qa.ingest([d], sync=True)
    assert {a.id for a in fresh_qa.articles()} == {"s0", "s1", "s2", "keep"}
    report = fresh_qa.ingest([d], sync=True)  # nothing changed: nothing removed
    assert report.removed == []
    _jsonl(f, with_ids[:2])  # a line deleted
    report = fresh_qa.ingest([d], sync=True)
    assert report.removed == ["s2"] and {a.id for a in fresh_qa.articles()} == {"s0", "s1", "keep"}
    f.unlink()  # the whole file deleted
    report = fresh_qa.ingest([d], sync=True)
    assert sorted(report.removed) == ["s0", "s1"] and [a.id for a in fresh_qa.articles()] == ["keep"]
    assert all(h.chunk.article_id == "keep" for h in fresh_qa.retrieve("Riverside bridge reopened"))
    other.write_text("{not json\n")  # unreadable now: its article is kept
    report = fresh_qa.ingest([d], sync=True)
    assert report.removed == [] and not report.ok and [a.id for a in fresh_qa.articles()] == ["keep"]


FILLER = [
    "About Wire: Wire is an independent news agency serving publishers in more than 40 countries since 1998. Our reporters and editors follow the stories that matter to readers, from city halls to trading floors, and our photographers cover every major event.",
    "Subscribe to the Wire newsletter for the morning briefing, delivered every weekday at 6 a.m. to your inbox. Follow us on social media for live updates, podcasts and video explainers, and download the Wire app for breaking news alerts on your phone.",
    "Copyright Wire. All rights reserved. This material may not be published, broadcast, rewritten or redistributed in any form without prior written permission. Wire is not responsible for the content of external sites linked from this page.",
    "Corrections: Wire is committed to accuracy. If you spot an error in this story, write to our standards desk, which reviews every request within one business day and publishes corrections at the foot of the article concerned.",
    "Editor's note: this article is part of our continuing coverage. Readers can find earlier reports in the archive section of our website, searchable by date, topic and region, with summaries written by the desk editors.",
    "Advertising: Wire offers sponsored content and display advertising across its network of partner sites. For rates and audience data, contact the sales team, which answers enquiries from agencies and brands within two working days.",
    "Privacy: we use cookies to measure readership and to personalise the stories you see. You can change your settings at any time in the privacy centre, and we never sell personal data to third parties.",
    "Jobs at Wire: we are hiring reporters, data journalists and video producers in several bureaus. Internships for students open every spring, with mentoring from senior correspondents and a paid stipend.",
]  # fmt: skip
EARNINGS = (
    "{c} shares jump after record quarter\n"
    "Shares of {c} rose {p}% to ${x} on Tuesday after the company reported quarterly revenue of ${r} billion, "
    "beating analyst forecasts. Chief executive {n} said demand in {reg} remained strong and the company would "
    "raise its full-year guidance. {c} employs about {e} people and is based in {city}, where it opened a new "
    "research centre in {y}."
)
COMPANIES = [
    ("Acme", "Ana Lopez", "Columbus"), ("Globex", "Ben Okafor", "Austin"), ("Initech", "Chen Wei", "Osaka"),
    ("Umbrella", "Dara Singh", "Lyon"), ("Hooli", "Eva Novak", "Pune"), ("Vandelay", "Femi Adeyemi", "Leeds"),
    ("Starkwood", "Gita Rao", "Turin"), ("Wayneford", "Hugo Blanc", "Quebec"), ("Tyrell", "Ines Costa", "Perth"),
    ("Cyberdyne", "Jon Berg", "Malmo"),
]  # fmt: skip


def templated_wire_copy() -> list:
    """22 different stories from one outlet, all ending in the same eight filler paragraphs:
    the first paragraph of each SQuAD page, and one earnings template told of ten companies."""
    from articleqa import Article

    footer = "\n" + "\n".join(FILLER)
    pages = json.loads(SQUAD.read_text())["data"]
    arts = [Article(id=f"page-{i}", title=d["title"], source="Wire", text=f"{d['title']}\n{d['paragraphs'][0]['context']}{footer}")
            for i, d in enumerate(pages)]  # fmt: skip
    for i, (c, n, city) in enumerate(COMPANIES):
        text = EARNINGS.format(c=c, p=2 + i, x=40 + 3 * i, r=3 + i, n=n, reg=COMPANIES[(i + 3) % 10][2], e=1000 * (i + 1),
                               city=city, y=2001 + i)  # fmt: skip
        arts.append(
            Article(
                id=f"earn-{i}",
                title=f"{c} shares jump after record quarter",
                source="Wire",
                text=text + footer,
            )
        )
    return arts


def test_different_stories_sharing_boilerplate_are_not_one_story(fresh_qa):
    """Bug: different stories sharing templated copy and filler were grouped (by chaining, too),
    and answers then listed "Wire [1], Wire [2], ... and Wire [10]" as other outlets. Before the
    fix 21 of these 22 stories formed one group."""
    fresh_qa.ingest([SAMPLES], articles=templated_wire_copy())
    groups = {a.id: a.group_id for a in fresh_qa.articles()}
    assert groups[VOV_ID] is not None and groups[VOV_ID] == groups[TALKS_ID]  # the real rewrite still groups
    wire = {k: g for k, g in groups.items() if k.startswith(("page-", "earn-"))}
    assert len(wire) == 22 and set(wire.values()) == {None}, {k: g for k, g in wire.items() if g}
    ans = fresh_qa.ask("How much quarterly revenue did Hooli report?")
    assert "$7 billion" in ans.text and "Reported" not in ans.text and "Wire [" not in ans.text


def test_groups_do_not_grow_by_chaining():
    from articleqa.index.dedup import stories

    chain = stories(["a", "b", "c", "d"], [("a", "b"), ("b", "c"), ("c", "d")])
    assert len({g for g in chain.values() if g}) >= 2 or None in chain.values()
    assert not (chain["a"] and chain["a"] == chain["c"])  # a≈b and b≈c don't make a≈c
    triangle = stories(["a", "b", "c"], [("a", "b"), ("b", "c"), ("a", "c")])
    assert set(triangle.values()) == {"a"}


def test_another_copy_from_the_same_outlet_is_not_another_outlet(fresh_qa, tmp_path):
    vov = (SAMPLES / f"{VOV_ID}.txt").read_text()
    (tmp_path / "vov-updated.txt").write_text(vov.replace("Typhoon Yagi", "Typhoon Yagi (Storm No. 3)"))
    fresh_qa.ingest([SAMPLES, tmp_path / "vov-updated.txt"])
    groups = {a.id: a.group_id for a in fresh_qa.articles()}
    assert groups["vov-updated"] == groups[VOV_ID] is not None
    ans = fresh_qa.ask("Which storm did Japan express sympathy about?")
    assert ans.text.count("VOV [") <= 1, ans.text
    assert {int(n) for n in re.findall(r"\[(\d+)\]", ans.text)} == {c.n for c in ans.citations}


OSTRICH = "<html><head><title>Ostrich farm</title></head><body><article><h1>Ostrich farm</h1><p>An ostrich farm near Oudtshoorn doubled its flock this spring, the farmer said on Monday.</p></article></body></html>"
LIGHTHOUSE = "<html><head><title>Lighthouse</title></head><body><article><h1>Lighthouse</h1><p>The old lighthouse at Cape Sorell was relit on Friday after forty years of darkness.</p></article></body></html>"


def test_files_of_one_name_in_two_folders_are_two_articles(fresh_qa, tmp_path):
    """Issue 21: `articleqa ingest a/ b/` with an index.html (and an x.txt) in each folder keeps
    four articles: keys are paths, ids are made unique with a suffix, nothing is overwritten,
    and each keeps its id when re-ingested, edited, synced or ingested alone."""
    a, b = tmp_path / "a", tmp_path / "b"
    for d, html, txt in ((a, OSTRICH, "Ostrich prices\nOstrich meat prices rose by a third."),
                         (b, LIGHTHOUSE, "Keeper retires\nThe last lighthouse keeper retired on Sunday.")):  # fmt: skip
        d.mkdir()
        (d / "index.html").write_text(html, encoding="utf-8")
        (d / "x.txt").write_text(txt, encoding="utf-8")
    report = fresh_qa.ingest([a, b])
    assert report.ok and sorted(report.added) == ["index", "index-2", "x", "x-2"], report.summary()
    titles = {r.id: r.title for r in fresh_qa.articles()}
    assert titles == {
        "index": "Ostrich farm",
        "index-2": "Lighthouse",
        "x": "Ostrich prices",
        "x-2": "Keeper retires",
    }
    assert "ostrich" in fresh_qa.article("index").text and "lighthouse" in fresh_qa.article("index-2").text
    assert fresh_qa.store.vectors.ids() == fresh_qa.store.registry.chunk_ids()

    again = fresh_qa.ingest([b, a])  # another order: the same ids, nothing changed
    assert sorted(again.unchanged) == ["index", "index-2", "x", "x-2"] and not again.added + again.updated
    (b / "index.html").write_text(LIGHTHOUSE.replace("Friday", "Saturday"), encoding="utf-8")
    edited = fresh_qa.ingest([b], sync=True)
    assert edited.updated == ["index-2"] and edited.removed == [] and sorted(edited.unchanged) == ["x-2"]
    assert "Saturday" in fresh_qa.article("index-2").text and "ostrich" in fresh_qa.article("index").text
    hits = fresh_qa.retrieve("Which farm doubled its ostrich flock?", top_k=2)
    assert hits[0].chunk.article_id == "index"

    c = tmp_path / "c"  # a third one later, alone: a new id again
    c.mkdir()
    (c / "index.html").write_text(OSTRICH.replace("Oudtshoorn", "Calitzdorp"), encoding="utf-8")
    assert fresh_qa.ingest([c]).added == ["index-3"]
    assert len(fresh_qa.articles()) == 5


def test_the_registry_never_stores_an_article_over_another_with_its_id(tmp_path):
    """An article whose id another article (another key) holds used to delete that one
    silently (``DELETE ... WHERE key = ? OR id = ?``); now the write is refused, whole."""
    from articleqa import Article
    from articleqa.index.local.registry import Registry

    reg = Registry(tmp_path / "registry.sqlite3")
    reg.put_many([(Article(id="index", key="/a/index.html", text="ostrich"), [], None)])
    with pytest.raises(ValueError, match="'index' is taken by another article"):
        reg.put_many([(Article(id="x", key="/x.txt", text="x"), [], None),
                      (Article(id="index", key="/b/index.html", text="lighthouse"), [], None)])  # fmt: skip
    assert reg.article("index").text == "ostrich" and reg.article("x") is None
    assert reg.unique_id("index", "/b/index.html") == "index-2"
    reg.put_many(
        [(Article(id="index", key="/a/index.html", text="ostrich farm"), [], None)]
    )  # same key: replaced
    assert reg.article("index").text == "ostrich farm" and reg.version("index") == 2
