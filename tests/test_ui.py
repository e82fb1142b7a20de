"""The web UI: a real server on a loopback port, driven by gradio_client and headless Chromium.

Browser tests need Debian's Chromium at /usr/bin/chromium (never a downloaded browser) and the
``playwright`` package; they are skipped, with the reason shown, when either is missing.
Screenshots go to ``test-artifacts/`` at the repo root.
"""

from __future__ import annotations

import socket
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from articleqa import Assistant, Config, StreamEvent
from articleqa.types import Answer, Chunk, Citation, Hit
from articleqa.ui import app as ui
from articleqa.ui import chat, library, render

from .conftest import ROOT, SAMPLES

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
ODA_Q = "On what terms did Man want Japan's new-generation ODA to be provided?"
XSS_TEXT = (
    "Breaking <script>alert(1)</script> news from Springfield\n"
    "The mayor of Springfield, <img src=x onerror=alert(1)>, announced a new bridge over the river on Monday.\n"
    "The bridge will cost ${alert(1)} {{constructor}} 40 million dollars.\n\nSpringfield Gazette\n"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory, embedder):
    """The app as `articleqa serve` runs it (sample articles ingested at start), in this process."""
    from articleqa.index.store import Store

    cfg = Config(data_dir=tmp_path_factory.mktemp("ui-data"))
    qa = Assistant(cfg, store=Store(cfg, embedder=embedder))  # share the session's loaded model
    demo = ui.launch(qa, port=_free_port(), sample=True, sample_dir=SAMPLES, block=False, quiet=True)
    yield demo.local_url, qa
    demo.close()


@pytest.fixture(scope="module")
def client(server):
    from gradio_client import Client

    return Client(server[0], verbose=False)


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.skip(
            f"browser tests need Chromium at {CHROMIUM}: install Debian's package, as root, with "
            "`apt-get install -y chromium` (never a downloaded browser)"
        )
    sync_api = pytest.importorskip("playwright.sync_api", reason="browser tests need the playwright package")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    """A fresh tab on the app; every alert/prompt it opens is recorded (and dismissed)."""
    pg = browser.new_page(viewport={"width": 1440, "height": 900})
    pg.alerts = []

    def on_dialog(d) -> None:
        if d.type == "confirm":  # the library's "Delete this article?"
            d.accept()
        else:
            pg.alerts.append(d.message)
            d.dismiss()

    pg.on("dialog", on_dialog)
    pg.set_default_timeout(20_000)
    pg.goto(server[0])
    pg.wait_for_selector("#aq-input textarea")
    yield pg
    pg.close()


def ask(pg, question: str) -> None:
    done = pg.locator(".aq-convo .turn .meta").count()
    pg.fill("#aq-input textarea", question)
    pg.keyboard.press("Enter")
    pg.wait_for_function(f"document.querySelectorAll('.aq-convo .turn .meta').length > {done}")


# ---- the API endpoint ------------------------------------------------------------------
def test_api_chat_returns_a_cited_answer(client, server):
    res = client.predict(ODA_Q, api_name="/chat")
    assert not res["abstained"] and "[1]" in res["answer"]
    assert "preferential terms" in res["answer"]
    c = res["citations"][0]
    assert server[1].article(c["article_id"]).text[c["start"] : c["end"]] == c["text"]
    assert {"n", "title", "source", "url", "published_at"} <= set(c)

    nothing = client.predict("What is the population of Hanoi?", api_name="/chat")
    assert nothing["abstained"] and nothing["citations"] == []


def test_api_chat_takes_history(client):
    history = [
        {"role": "user", "content": "Which storm did Japan express sympathy about?"},
        {"role": "assistant", "content": "Typhoon Yagi [1]"},
    ]
    res = client.predict("Where did it cause damage?", history, api_name="/chat")
    assert set(res) >= {"answer", "abstained", "citations", "standalone_question"}


def test_twenty_concurrent_chats_are_all_answered(client):
    questions = [ODA_Q, "Which storm did Japan express sympathy about?", "What is the population of Hanoi?"]
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(lambda i: client.predict(questions[i % 3], api_name="/chat"), range(20)))
    elapsed = time.perf_counter() - t0
    assert len(results) == 20
    for i, r in enumerate(results):
        assert r["question"] == questions[i % 3]
        assert r["abstained"] == (i % 3 == 2) and bool(r["citations"]) == (i % 3 != 2)
    assert elapsed < 60, f"20 concurrent chats took {elapsed:.1f}s"


# ---- the browser -----------------------------------------------------------------------
def test_browser_answer_with_highlighted_clickable_source(page):
    ask(page, ODA_Q)
    answer = page.inner_text(".aq-convo .bubble.answer")
    assert "preferential terms" in answer
    mark = page.locator("#aq-sources .src blockquote mark").first
    assert "preferential terms" in mark.inner_text()
    card = page.locator("#src-0-1")
    assert "VOV" in card.inner_text()  # outlet shown with the title
    page.click(".aq-convo a.cite[data-target='src-0-1']")
    page.wait_for_function("document.getElementById('src-0-1').classList.contains('flash')")
    card.locator("details.full summary").click()
    assert card.locator(".fulltext mark").is_visible()
    page.screenshot(path=str(ARTIFACTS / "ui-chat.png"))

    page.wait_for_selector("#aq-send", state="visible")  # Ask is back in place of Stop
    assert page.locator("#aq-stop").is_hidden() and page.locator("#aq-examples").is_hidden()

    page.click("#aq-clear")  # a fresh conversation: no earlier turn to read the next question against
    page.wait_for_selector(".aq-welcome")
    page.wait_for_selector("#aq-examples", state="visible")
    page.get_by_role("button", name="What is the population of Hanoi?").click()
    page.wait_for_selector(".aq-convo .bubble.abstain")
    assert "Not in the articles" in page.text_content(".aq-convo .bubble.abstain")
    assert page.locator(".aq-convo .bubble.error").count() == 0
    assert "extractive" in page.inner_text(".aq-convo .turn:last-child .meta")  # the backend in use
    page.screenshot(path=str(ARTIFACTS / "ui-abstain.png"))
    assert page.alerts == []


def test_browser_xss_article_shows_as_text_and_runs_nothing(page, server, tmp_path):
    qa = server[1]
    evil = tmp_path / "springfield.txt"
    evil.write_text(XSS_TEXT, encoding="utf-8")
    bad = tmp_path / "notes.pdf"
    bad.write_bytes(b"%PDF-1.4")

    page.get_by_role("tab", name="Library").click()
    page.set_input_files("#aq-upload input[type=file]", [str(evil)])
    page.click("#aq-ingest")
    page.wait_for_selector("#aq-ingest-result .notice.ok")
    assert "1 added" in page.inner_text("#aq-ingest-result")
    assert "<script>alert(1)</script>" in page.inner_text("#aq-library")

    page.get_by_role("tab", name="Chat").click()
    ask(page, "What did the mayor of Springfield announce?")
    sources = page.inner_text("#aq-sources")
    assert "<img src=x onerror=alert(1)>" in sources and "<script>alert(1)</script>" in sources
    assert "<img src=x onerror=alert(1)>" in page.inner_text(".aq-convo")
    page.locator("#aq-sources details.full summary").first.click()
    assert "${alert(1)} {{constructor}}" in page.inner_text("#aq-sources .fulltext")
    assert page.locator("img[src='x']").count() == 0
    page.screenshot(path=str(ARTIFACTS / "ui-xss.png"))

    # Read it in the library, then delete it: gone from every listing and both indexes.
    page.get_by_role("tab", name="Library").click()
    page.get_by_label("Read or delete an article").click()
    page.keyboard.type("Breaking")
    page.locator("[role=option]", has_text="Breaking").click()
    page.wait_for_selector("#aq-viewer .aq-article")
    assert "<img src=x onerror=alert(1)>" in page.inner_text("#aq-viewer")
    page.screenshot(path=str(ARTIFACTS / "ui-library.png"))
    page.click("#aq-delete")  # its confirm() is accepted by the page fixture
    page.wait_for_selector("text=from every index.")
    assert "Springfield" not in page.inner_text("#aq-library")
    assert page.alerts == []
    gone = [a for a in qa.articles() if a["title"].startswith("Breaking")]
    assert gone == []
    assert all(h.chunk.article_id != "springfield" for h in qa.retrieve("mayor of Springfield bridge"))
    assert not (library.uploads_dir(qa) / "springfield.txt").exists()


def test_browser_evaluation_tab(page):
    page.get_by_role("tab", name="Evaluation").click()
    page.get_by_label("Questions (sampled)").fill("3")
    page.get_by_role("button", name="Run evaluation").click()
    page.wait_for_selector("text=Done. Full report", timeout=120_000)
    assert "Answer F1" in page.inner_text("body")
    page.wait_for_selector("#aq-plots img")
    page.screenshot(path=str(ARTIFACTS / "ui-evaluation.png"), full_page=True)


# ---- pieces without a server --------------------------------------------------------------
def test_render_escapes_everything_and_links_citations():
    html = render.answer_html("<b>x</b> & y [1] [2, 3] [9]", turn=4, known={1, 2, 3})
    assert "<b>" not in html and "&lt;b&gt;x&lt;/b&gt; &amp; y" in html
    assert 'href="#src-4-1"' in html and 'href="#src-4-3"' in html and "[9]" in html
    text = "Intro.\nThe <img src=x onerror=alert(1)> bridge opens. More.\nEnd."
    s, e = text.index("The"), text.index(" opens")
    out = render.highlighted(text, s, e, *render.paragraph_bounds(text, s, e))
    assert out == "<mark>The &lt;img src=x onerror=alert(1)&gt; bridge</mark> opens. More."
    assert (
        render.safe_url("javascript:alert(1)") == ""
        and render.safe_url("https://x.org/a") == "https://x.org/a"
    )


def test_upload_checks_have_clear_messages(tmp_path):
    ok = tmp_path / "a.txt"
    ok.write_text("Title\nBody text.")
    empty = tmp_path / "e.md"
    empty.write_text("")
    big = tmp_path / "big.html"
    big.write_bytes(b"x" * 3000)
    pdf = tmp_path / "p.pdf"
    pdf.write_bytes(b"%PDF")
    good, errors = library.check_uploads([str(p) for p in (ok, empty, big, pdf)], max_mb=0.002)
    assert good == [ok]
    assert any("e.md: the file is empty" in e for e in errors)
    assert any("big.html" in e and "over the 0.002 MB limit" in e for e in errors)
    assert any("p.pdf: '.pdf' files can't be ingested" in e for e in errors)
    assert library.safe_name("../../etc/pass wd?.txt") == "pass wd_.txt"


def test_auth_parsing_and_exposure_warning():
    assert ui.parse_auth("ann:s3:cret") == ("ann", "s3:cret")
    for bad in ("ann", ":pw", "ann:"):
        with pytest.raises(ValueError):
            ui.parse_auth(bad)
    assert ui.exposure_warning("127.0.0.1", None) is None and ui.exposure_warning("::1", None) is None
    assert ui.exposure_warning("localhost", None) is None
    assert ui.exposure_warning("0.0.0.0", ("a", "b")) is None
    assert "without --auth" in ui.exposure_warning("0.0.0.0", None)


def test_serve_rejects_malformed_auth():
    from typer.testing import CliRunner

    from articleqa.cli import app

    res = CliRunner().invoke(app, ["serve", "--auth", "no-colon"])
    assert res.exit_code == 2 and "USER:PASSWORD" in res.output


class _FollowUpAssistant:
    """Stands in for an assistant whose ask_stream understands follow-ups."""

    def __init__(self):
        self.seen = None

    def ask_stream(self, question, *, top_k=None, filters=None, history=None):
        self.seen = history
        chunk = Chunk("c1", "a1", 0, 0, 11, "Typhoon Yagi")
        cit = Citation(1, "a1", "Storms", "VOV", "Typhoon Yagi", 0, 11, chunk_id="c1")
        yield StreamEvent(
            "sources", hits=[Hit(chunk, title="Storms")], standalone_question="When did Yagi hit?"
        )
        yield StreamEvent("token", text="Typhoon Yagi [1]")
        yield StreamEvent("answer", answer=Answer(question, "Typhoon Yagi [1]", False, [cit], backend="fake"))


def test_follow_up_shows_the_standalone_question():
    fake = _FollowUpAssistant()
    history = [{"role": "user", "content": "Which storm?"}, {"role": "assistant", "content": "Yagi"}]
    kinds = [k for k, _ in chat.stream_turn(fake, "When did it hit?", history)]
    assert kinds == ["start", "sources", "token", "answer"] and fake.seen == history
    turn = list(chat.stream_turn(fake, "When did it hit?", history))[-1][1]
    html = render.conversation_html([turn])
    assert "Searched for: <q>When did Yagi hit?</q>" in html and 'href="#src-0-1"' in html


class _DraftThenAbstain:
    """An assistant whose streamed draft fails validation."""

    def ask_stream(self, question, *, top_k=None, filters=None, history=None):
        yield StreamEvent("sources", hits=[])
        yield StreamEvent("token", text="An <b>unsupported</b> claim [1]")
        yield StreamEvent("answer", answer=Answer(question, "The articles don't say.", True, backend="fake"))


class _Broken:
    def ask_stream(self, question, *, top_k=None, filters=None, history=None):
        raise RuntimeError("LLM server <unreachable>")
        yield


def test_withdrawn_drafts_and_failures_are_shown_as_such():
    history = [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "answer"}]
    turn = list(chat.stream_turn(_DraftThenAbstain(), "Q?", history))[-1][1]
    html = render.conversation_html([turn])
    assert "bubble abstain" in html and "was withdrawn" in html
    assert "An &lt;b&gt;unsupported&lt;/b&gt; claim" in html and "<b>unsupported" not in html

    kind, turn = list(chat.stream_turn(_Broken(), "Q?"))[-1]
    html = render.conversation_html([turn])
    assert kind == "error" and "bubble error" in html and "LLM server &lt;unreachable&gt;" in html
