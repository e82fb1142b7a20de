"""One data dir, many processes: a long-lived (serving) assistant while the CLI ingests and
removes, and two ingests at once. Real processes, real Chroma."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from articleqa import Assistant, Config
from articleqa.index.local import Store, StoreUnavailable

from .conftest import SAMPLES

HARBOUR = "Port Ellis harbour reopens\nThe harbour of Port Ellis reopened on Thursday after three weeks of storm repairs.\nFishing boats returned to the harbour at noon."
FERRY = "Dunmore ferry resumes\nThe ferry to Dunmore resumed on Friday after the storm had kept it in port for a week.\nTickets are half price until Sunday."
STORM_Q = "Which storm did Japan express sympathy about?"


def cli(*args: str, data_dir: Path) -> subprocess.Popen:
    env = dict(os.environ, ARTICLEQA_DATA_DIR=str(data_dir))
    return subprocess.Popen([sys.executable, "-m", "articleqa.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def run(*args: str, data_dir: Path) -> subprocess.CompletedProcess:
    p = cli(*args, data_dir=data_dir)
    out, err = p.communicate(timeout=300)
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def consistent(qa: Assistant) -> bool:
    return qa.store.vectors.ids() == qa.store.registry.chunk_ids()


@pytest.fixture
def served(tmp_path, embedder):
    """A long-lived assistant, as `articleqa serve` holds one, over the sample articles."""
    cfg = Config(data_dir=tmp_path / "data")
    qa = Assistant(cfg, store=Store(cfg, embedder=embedder))
    qa.ingest([SAMPLES])
    qa.warm_up()
    assert not qa.ask(STORM_Q).abstained
    return qa


def test_a_serving_assistant_follows_cli_ingest_and_remove(served, tmp_path):
    """Bug: after `articleqa ingest` from another process, every question of a running server
    failed with Chroma's "Error finding id" until restart."""
    (tmp_path / "harbour.txt").write_text(HARBOUR)
    r = run("ingest", str(tmp_path / "harbour.txt"), "-q", data_dir=served.config.data_dir)
    assert r.returncode == 0, r.stderr
    for _ in range(2):  # the first question after the change, and the next
        ans = served.ask("When did the harbour of Port Ellis reopen?")
        assert not ans.abstained and "Thursday" in ans.text
        assert not served.ask(STORM_Q).abstained
    assert served.stats().articles == 3 and consistent(served)

    r = run("remove", "harbour", data_dir=served.config.data_dir)
    assert r.returncode == 0, r.stderr
    assert served.ask("When did the harbour of Port Ellis reopen?").abstained
    assert "harbour" not in {a.id for a in served.articles()} and consistent(served)

    served.ingest(articles=[])  # this process writes too: it takes its turn and sees the others
    (tmp_path / "ferry.txt").write_text(FERRY)
    assert run("ingest", str(tmp_path / "ferry.txt"), "-q", data_dir=served.config.data_dir).returncode == 0
    assert "Friday" in served.ask("When did the ferry to Dunmore resume?").text and consistent(served)


def test_two_ingests_at_once_leave_a_consistent_store(tmp_path):
    data = tmp_path / "data"
    a, b = tmp_path / "a", tmp_path / "b"
    for d, texts in ((a, {"harbour.txt": HARBOUR}), (b, {"ferry.txt": FERRY})):
        d.mkdir()
        for name, text in texts.items():
            (d / name).write_text(text)
    procs = [
        cli("ingest", str(SAMPLES), str(a), "-q", data_dir=data),
        cli("ingest", str(SAMPLES), str(b), "-q", data_dir=data),
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    qa = Assistant(data_dir=data)
    ids = {x.id for x in qa.articles()}
    assert ids == {
        "harbour",
        "ferry",
        "vietnam-japan-leaders-talks",
        "vietnam-japan-parliamentary-agreement-vov",
    }
    assert consistent(qa) and qa.stats().passages == len(qa.store.registry.chunk_ids())
    assert not qa.ask("When did the ferry to Dunmore resume?").abstained


def test_a_store_that_keeps_failing_says_so_without_chroma_internals(served, monkeypatch):
    from chromadb.errors import InternalError

    calls = []

    def broken(*a, **k):
        calls.append(1)
        raise InternalError("Error executing plan: Internal error: Error finding id")

    monkeypatch.setattr(type(served.store.vectors), "search", broken)
    with pytest.raises(StoreUnavailable) as e:
        served.ask(STORM_Q)
    assert "could not be read" in str(e.value) and "finding id" not in str(e.value) and len(calls) == 2
