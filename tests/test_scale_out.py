"""Several processes on one PostgreSQL collection: ingest workers that lose and duplicate
nothing, `articleqa serve` processes that all see every write (real server on loopback)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from articleqa import Assistant, Config
from articleqa.index import open_store

from .conftest import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture
def database(postgres, tmp_path) -> str:
    """A fresh database on the session's server; its URL."""
    return postgres.new_database()


def _env(url: str) -> dict[str, str]:
    env = {**os.environ, "ARTICLEQA_DATABASE_URL": url, "ARTICLEQA_STORE": "postgres"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    return env


def _articles(path, prefix: str, n: int) -> None:
    rows = [
        {"id": f"{prefix}-{i}", "title": f"{prefix.title()} story {i}", "source": prefix.title(),
         "published_at": f"2026-11-{i % 28 + 1:02d}",
         "text": f"The {prefix} council met for the {i}th time and voted on harbour repair plan number {i}. "
                 f"Councillor {prefix.title()}son said plan {i} would cost {i * 3 + 7} million."}
        for i in range(n)
    ]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_two_ingest_workers_lose_and_duplicate_nothing(database, tmp_path, embedder):
    for prefix, n in (("kessel", 12), ("tarrow", 12), ("shared", 6)):
        _articles(tmp_path / f"{prefix}.jsonl", prefix, n)
    # Both workers are given the shared file: the same articles (same keys) at the same time.
    procs = [
        subprocess.Popen([sys.executable, "-m", "articleqa.cli", "ingest", f"{own}.jsonl", "shared.jsonl", "--quiet"],
                         cwd=tmp_path, env=_env(database), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for own in ("kessel", "tarrow")
    ]  # fmt: skip
    for p in procs:
        _, errs = p.communicate(timeout=300)
        assert p.returncode == 0, errs
    cfg = Config(store="postgres", database_url=database, data_dir=tmp_path / "d")
    store = open_store(cfg, embedder=embedder)
    infos = store.article_stats()
    want = {f"{p}-{i}" for p, n in (("kessel", 12), ("tarrow", 12), ("shared", 6)) for i in range(n)}
    assert sorted(r.id for r in infos) == sorted(want)  # nothing lost, nothing twice
    assert store.count() == (30, sum(r.chunks for r in infos))
    ans = Assistant(cfg, store=store).ask("How much would Tarrow plan 5 cost?")
    assert "22 million" in ans.text and ans.citations[0].article_id == "tarrow-5"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(url: str, port: int, cwd) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "articleqa.cli", "serve", "--no-sample", "--port", str(port)],
        cwd=cwd, env=_env(url), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip


def _wait_up(port: int, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise AssertionError(f"serve on {port} did not start")


def test_two_servers_on_one_database_see_every_write(database, tmp_path):
    ports = [_port(), _port()]
    procs = [_serve(database, p, tmp_path) for p in ports]
    try:
        for port, proc in zip(ports, procs, strict=True):
            _wait_up(port, proc)
        a, b = (f"http://127.0.0.1:{p}" for p in ports)
        body = {"text": "The Dunmore ferry strike ended on Friday after 11 days, the union said.",
                "title": "Ferry strike over", "source": "Ledger", "published_at": "2026-12-04", "id": "ferry-strike"}  # fmt: skip
        r = httpx.post(f"{a}/v1/articles", json=body, timeout=120)
        assert r.status_code == 201, r.text
        got = httpx.get(f"{b}/v1/articles/ferry-strike", timeout=30)
        assert got.status_code == 200 and got.json()["text"] == body["text"]
        ans = httpx.post(
            f"{b}/v1/ask", json={"question": "How long did the Dunmore ferry strike last?"}, timeout=120
        )
        assert "11 days" in ans.json()["answer"]
        assert httpx.delete(f"{b}/v1/articles/ferry-strike", timeout=30).status_code == 200
        assert httpx.get(f"{a}/v1/articles/ferry-strike", timeout=30).status_code == 404
        assert httpx.get(f"{a}/v1/articles", timeout=30).json()["total"] == 0
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_every_command_says_an_unreachable_database_in_one_line(tmp_path):
    url = "postgresql://articleqa:s3cret-pw@127.0.0.1:1/articleqa"  # nothing listens on port 1
    for args in (["ask", "Who met Ishiba?"], ["ingest", str(ROOT / "examples" / "articles")], ["list"]):
        r = subprocess.run([sys.executable, "-m", "articleqa.cli", *args], cwd=tmp_path, env=_env(url),
                           capture_output=True, text=True, timeout=120)  # fmt: skip
        out = r.stdout + r.stderr
        assert r.returncode == 2, out
        assert "can't open the PostgreSQL store at postgresql://articleqa:***@127.0.0.1:1/articleqa" in out
        assert "s3cret-pw" not in out and "Traceback" not in out and len(out.strip().splitlines()) == 1
