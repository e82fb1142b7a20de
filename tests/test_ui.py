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

from articleqa import Assistant, Config, StreamEvent, service
from articleqa.types import Answer, Chunk, Citation, Hit
from articleqa.ui import chat, library, render, style

from .conftest import ROOT, SAMPLES
from .test_feeds import site  # noqa: F401  (the local feed site fixture)

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
    from articleqa.index.local import Store

    # The feed tests' site runs on 127.0.0.1: allowed here, refused by default (test_fetch_policy).
    cfg = Config(data_dir=tmp_path_factory.mktemp("ui-data"), fetch_allow=["127.0.0.1"])
    qa = Assistant(cfg, store=Store(cfg, embedder=embedder))  # share the session's loaded model
    demo = service.launch(qa, port=_free_port(), sample=True, sample_dir=SAMPLES, block=False, quiet=True)
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
def test_browser_shows_the_short_answer_inside_its_cited_sentence(page):
    ask(page, "Which typhoon recently caused damage in Vietnam?")
    bubble = page.locator(".aq-convo .turn").last.locator(".bubble.answer strong.short-answer")
    assert bubble.inner_text() == "Yagi"
    # In its source card, the short answer is marked inside the highlighted sentence.
    marks = page.locator("#aq-sources .src blockquote.ctx mark", has=page.locator("strong.short-answer"))
    texts = [
        (marks.nth(k).inner_text(), marks.nth(k).locator("strong").inner_text()) for k in range(marks.count())
    ]
    assert any("sympathy" in sentence and short == "Yagi" for sentence, short in texts), texts


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
    gone = [a for a in qa.articles() if a.title.startswith("Breaking")]
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
def test_meta_lines_have_one_separator_between_parts():
    """Issue 21: a source card read "Harbor Herald · 2026-03-10 ·  · original ↗"."""
    from articleqa.types import Article

    def meta(html: str) -> str:
        return html.split('class="src-meta">', 1)[1].split("</div>", 1)[0]

    c = {"n": 1, "article_id": "a1", "title": "Pier", "source": "Harbor Herald", "published_at": "2026-03-10",
         "url": "https://example.org/pier", "text": "pier", "start": 0, "end": 4}  # fmt: skip
    line = meta(render.source_card(0, c, None))
    assert line.startswith("Harbor Herald · 2026-03-10 · <a href=") and line.endswith("original ↗</a>")
    assert line.count("·") == 2
    assert meta(render.source_card(0, {**c, "url": ""}, None)) == "Harbor Herald · 2026-03-10"
    undated = meta(render.source_card(0, {**c, "source": "", "published_at": ""}, None))
    assert undated.count("·") == 2 and "outlet unknown" in undated and "undated" in undated

    art = Article(id="a1", text="The pier reopened.", title="Pier", source="Harbor Herald",
                  url="https://example.org/pier", author="Ann Lee", published_at="2026-03-10")  # fmt: skip
    line = meta(render.article_html(art))
    assert line.startswith("Harbor Herald · 2026-03-10 · by Ann Lee · <a href=") and line.count("·") == 4
    plain = meta(
        render.article_html(Article(id="a1", text="x", title="T", source="S", published_at="2026-03-10"))
    )
    assert plain.startswith("S · 2026-03-10<span") and plain.count("·") == 2  # then the id


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
    assert service.app.parse_auth("ann:s3:cret") == ("ann", "s3:cret")
    for bad in ("ann", ":pw", "ann:"):
        with pytest.raises(ValueError):
            service.app.parse_auth(bad)
    assert (
        service.app.exposure_warning("127.0.0.1", None) is None
        and service.app.exposure_warning("::1", None) is None
    )
    assert service.app.exposure_warning("localhost", None) is None
    assert service.app.exposure_warning("0.0.0.0", ("a", "b")) is None
    assert "without --auth" in service.app.exposure_warning("0.0.0.0", None)


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


def test_claims_the_citation_check_removed_are_listed_with_the_reason():
    """Issue 15: what validation dropped from a model's answer is shown, escaped, not hidden."""
    from articleqa.types import ClaimCheck

    class _Trimmed:
        def ask_stream(self, question, *, top_k=None, filters=None, history=None):
            yield StreamEvent("sources", hits=[])
            ans = Answer(question, "Kept claim [1].", False, backend="fake", checks=[
                ClaimCheck("The <treaty> of Osaka was signed", "dropped", "no passage supports it (best 0.12)"),
                ClaimCheck("Kept claim", "fixed", "removed markers of passages that don't support it"),
            ])  # fmt: skip
            yield StreamEvent("answer", answer=ans)

    turn = list(chat.stream_turn(_Trimmed(), "Q?"))[-1][1]
    html = render.conversation_html([turn])
    assert "1 unsupported claim removed" in html
    assert "The &lt;treaty&gt; of Osaka was signed" in html and "no passage supports it" in html
    assert "removed markers" not in html  # a marker fix is no removed claim


# ---- timeline answers -------------------------------------------------------------------------
def _dated(n: int, published_at: str, source: str, text: str) -> Citation:
    return Citation(n, f"a{n}", f"Report {n}", source, text, 0, len(text), published_at=published_at)


# Out of date order on purpose: [1] is the second report, [2] the first, [3] the last.
_TIMELINE_CITES = [
    _dated(1, "2026-03-11", "Vellmark Wire", "The opening was postponed to May 9."),
    _dated(2, "2026-02-02", "Orrin <b>Ledger</b>", "Line 4 will open on April 18."),
    _dated(3, "2026-05-23", "Vellmark Wire", "Line 4 opened on Saturday."),
]
_TIMELINE_TEXT = (
    "- 11 March 2026, Vellmark Wire: “The opening was postponed to May 9.” [1]\n"
    "- 2 February 2026, Orrin <b>Ledger</b>: “Line 4 <img src=x onerror=alert(1)> opens April 18.” [2]\n"
    "- 23 May 2026, Vellmark Wire: “Line 4 opened on Saturday.” [3]"
)


class _Timeline:
    """An assistant answering with a dated timeline (``form``: what the answerer says it is)."""

    def __init__(self, form: str = "timeline", cites: list[Citation] = _TIMELINE_CITES):
        self.form, self.cites = form, cites

    def ask_stream(self, question, *, top_k=None, filters=None, history=None):
        yield StreamEvent("sources", hits=[])
        yield StreamEvent("token", text=_TIMELINE_TEXT)
        ans = Answer(question, _TIMELINE_TEXT, False, self.cites, backend="fake", form=self.form)
        yield StreamEvent("answer", answer=ans)


def _timeline_turn(**kw) -> dict:
    return list(chat.stream_turn(_Timeline(**kw), "What happened with Line 4?"))[-1][1]


def test_a_timeline_answer_is_drawn_as_dated_entries_oldest_first_other_answers_as_before():
    turn = _timeline_turn()
    assert turn["form"] == "timeline"
    html = render.conversation_html([turn])
    assert 'class="bubble answer timeline"' in html and '<ol class="tl">' in html
    entries = html.split('<li class="tl-entry')[1:]
    assert len(entries) == 3
    when = [e.split('<span class="tl-date">', 1)[1].split("</span>", 1)[0] for e in entries]
    assert when == [
        '<time datetime="2026-02-02">2 Feb 2026</time>',
        '<time datetime="2026-03-11">11 Mar 2026</time>',
        '<time datetime="2026-05-23">23 May 2026</time>',
    ]
    for e, n in zip(entries, (2, 1, 3), strict=True):
        assert e.count('class="cite"') == 1 and f'href="#src-0-{n}" data-target="src-0-{n}"' in e
    first = entries[0]
    assert '<span class="tl-outlet">Orrin &lt;b&gt;Ledger&lt;/b&gt;</span>' in first
    # The line's own words, escaped, without the date and outlet the entry already shows.
    assert '<div class="tl-text">“Line 4 &lt;img src=x onerror=alert(1)&gt; opens April 18.” <a' in first
    assert "<img" not in html and "<b>" not in html and "February 2026" not in html
    for cls in (".bubble.timeline", "ol.tl", "ol.tl::before", ".tl-entry::before", ".tl-date", ".tl-text"):
        assert f".aq-convo {cls} {{" in style.CSS, cls  # styled (drawn: the browser test below)

    # Any other form, or a single dated source, or an answer still streaming: plain text as before.
    for turn in (_timeline_turn(form=""), _timeline_turn(cites=[_TIMELINE_CITES[0]])):
        plain = render.answer_html(turn["text"], 0, {c["n"] for c in turn["citations"]})
        html = render.conversation_html([turn])
        assert f'<div class="bubble answer">{plain}</div>' in html and "tl-entry" not in html
    assert "tl-entry" not in render.conversation_html([{**_timeline_turn(), "status": "streaming"}])


def test_a_timeline_of_sentences_goes_under_the_sources_they_cite_undated_last():
    cites = [
        _dated(1, "", "Feyhaven Times", "A fix is weeks away."),
        _dated(2, "2026-05-23", "Vellmark Wire", "It opened."),
        _dated(3, "2026-02-02", "", "It will open in April."),
    ]
    text = "In February, an April opening was set [3, 2]. Mr. Hale said a fix was weeks away [1]. It opened on May 23 [2]. Crowds came."
    entries = render.timeline_entries(text, [c.to_dict() for c in cites])
    assert [(c["n"], pieces) for c, pieces in entries] == [
        (3, ["In February, an April opening was set [3, 2]."]),
        (2, ["It opened on May 23 [2]. Crowds came."]),
        (1, ["Mr. Hale said a fix was weeks away [1]."]),
    ]
    html = render.timeline_html(text, 5, [c.to_dict() for c in cites])
    assert html.count('class="tl-entry undated"') == 1 and "outlet unknown" in html
    assert 'href="#src-5-3"' in html and 'href="#src-5-2"' in html


def _inject(pg, turn: dict) -> None:
    """Show ``turn`` in the running app's conversation and sources, as an answer would be."""
    convo, sources = render.conversation_html([turn]), render.sources_html([turn], lambda _: None)
    pg.evaluate(
        "([c, s]) => { document.querySelector('#aq-convo .aq-convo').outerHTML = c;"
        " document.querySelector('#aq-sources .aq-sources').outerHTML = s; }",
        [convo, sources],
    )


_LINE = """() => {
  const ol = document.querySelector('#aq-convo ol.tl'), line = getComputedStyle(ol, '::before');
  const items = [...ol.querySelectorAll('.tl-entry')];
  return {width: line.width, height: parseFloat(line.height), color: line.backgroundColor,
          span: items.at(-1).getBoundingClientRect().top - items[0].getBoundingClientRect().top,
          tops: items.map(li => li.getBoundingClientRect().top), marker: getComputedStyle(items[0]).listStyleType,
          dot: getComputedStyle(items[0], '::before').backgroundColor,
          accent: getComputedStyle(document.querySelector('#aq-convo a.cite')).color,
          text: getComputedStyle(items[0].querySelector('.tl-text')).color,
          bg: getComputedStyle(ol.closest('.bubble')).backgroundColor};
}"""


def _luminance(rgb: str) -> float:
    r, g, b = (int(x) for x in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3])
    return (0.299 * r + 0.587 * g + 0.114 * b) / 255


def test_browser_timeline_is_a_vertical_line_of_dated_entries_in_both_themes(page, server):
    """The sample articles are undated, so no question gets a timeline from them: the rendered
    timeline is put into the running app to check Gradio's page draws it as one."""
    looks = {}
    for theme in ("light", "dark"):
        page.goto(f"{server[0]}?__theme={theme}")
        page.wait_for_selector("#aq-convo .aq-convo")
        _inject(page, _timeline_turn())
        looks[theme] = s = page.evaluate(_LINE)
        assert s["width"] == "2px" and s["height"] >= s["span"] > 0 and s["marker"] == "none"
        assert s["tops"] == sorted(s["tops"]) and s["dot"] == s["accent"]
        assert s["color"] not in ("rgba(0, 0, 0, 0)", s["bg"])
        assert abs(_luminance(s["text"]) - _luminance(s["bg"])) > 0.5, s  # readable on its bubble
        dates = page.locator("#aq-convo .tl-date").all_inner_texts()
        assert dates == ["2 Feb 2026", "11 Mar 2026", "23 May 2026"]
        page.screenshot(path=str(ARTIFACTS / f"ui-timeline-{theme}.png"))
    assert _luminance(looks["dark"]["bg"]) < 0.5 < _luminance(looks["light"]["bg"])
    page.click("#aq-convo .tl-entry:first-child a.cite")  # the first report is source 2
    page.wait_for_function("document.getElementById('src-0-2').classList.contains('flash')")
    assert page.alerts == []


# ---- issue 13: deletion, long questions, empty picks, plots, login ----------------------------
def test_browser_deleted_upload_is_not_served(page, server, tmp_path):
    """Gradio's copy of an upload is gone once ingested: after the article is deleted, the file
    URL Gradio gave for it is not served, and our own copy in data_dir/uploads is gone too."""
    import httpx

    qa = server[1]
    doc = tmp_path / "kestrel bay.txt"
    doc.write_text(
        "Kestrel Bay harbour reopens\nThe harbour of Kestrel Bay reopened on Tuesday after "
        "repairs to the sea wall, the port authority said.\n\nKestrel Courier\n",
        encoding="utf-8",
    )
    page.get_by_role("tab", name="Library").click()
    page.set_input_files("#aq-upload input[type=file]", [str(doc)])
    link = page.locator("#aq-upload a[href*='file=']").first
    link.wait_for()
    url = link.evaluate("a => a.href")
    assert httpx.get(url).status_code == 200  # what anyone with the link could fetch until now
    page.click("#aq-ingest")
    page.wait_for_selector("#aq-ingest-result .notice.ok")
    assert (library.uploads_dir(qa) / "kestrel bay.txt").is_file()  # ours stays while the article does

    page.get_by_label("Read or delete an article").click()
    page.keyboard.type("Kestrel")
    page.locator("[role=option]", has_text="Kestrel").click()
    page.wait_for_selector("#aq-viewer .aq-article")
    page.click("#aq-delete")
    page.wait_for_selector("text=from every index.")
    assert not [a for a in qa.articles() if a.title.startswith("Kestrel")]
    assert not (library.uploads_dir(qa) / "kestrel bay.txt").exists()
    assert httpx.get(url).status_code != 200


def test_browser_bad_files_in_a_selection_are_refused_by_name_the_rest_ingested(page, server, tmp_path):
    """Issue 21 (3a): one unsupported or oversized file in a selection made Gradio's browser
    side drop the whole selection ("Choose one or more files first"). Now the valid file is
    ingested, each bad one is refused by name, and nothing of them is stored. Then the new
    article is replaced, deliberately, with an edited file from the library view."""
    qa = server[1]
    good = tmp_path / "heron survey.txt"
    good.write_text("Heron numbers rise\nA survey of the Lough Neagh shore counted 212 grey herons this "
                    "spring, the most since 1990.\n\nHeron Watch\n", encoding="utf-8")  # fmt: skip
    pdf = tmp_path / "brochure.pdf"
    pdf.write_bytes(b"%PDF-1.4 a brochure")
    big = tmp_path / "archive.txt"
    big.write_bytes(b"heron " * int(qa.config.max_file_mb * 2**20 / 6 + 1000))  # just over the limit
    page.get_by_role("tab", name="Library").click()
    page.set_input_files("#aq-upload input[type=file]", [str(good), str(pdf), str(big)])
    page.wait_for_function("document.querySelectorAll('#aq-upload a[href*=\"file=\"]').length === 3")
    page.click("#aq-ingest")
    page.wait_for_selector("#aq-ingest-result .notice.warn")
    result = page.inner_text("#aq-ingest-result")
    assert "1 added" in result and "2 failed" in result, result
    assert "brochure.pdf: '.pdf' files can't be ingested" in result
    assert (
        f"archive.txt: {big.stat().st_size / 2**20:.1f} MB is over the {qa.config.max_file_mb:g} MB limit"
        in result
    )
    heron = [a.id for a in qa.articles() if a.title == "Heron numbers rise"]
    assert heron and "Heron numbers rise" in page.inner_text("#aq-library")
    stored = sorted(p.name for p in library.uploads_dir(qa).iterdir())
    assert "heron survey.txt" in stored and "archive.txt" not in stored and "brochure.pdf" not in stored

    # Replace it with a corrected file: picked, chosen, confirmed; same id, version 2.
    fixed = tmp_path / "heron survey (corrected).txt"
    fixed.write_text(good.read_text(encoding="utf-8").replace("212", "221"), encoding="utf-8")
    page.get_by_label("Read or delete an article").click()
    page.keyboard.type("Heron")
    page.locator("[role=option]", has_text="Heron").click()
    page.wait_for_selector("#aq-viewer .aq-article")
    page.set_input_files("#aq-upload input[type=file]", [str(fixed)])
    page.wait_for_function("document.querySelectorAll('#aq-upload a[href*=\"file=\"]').length === 1")
    page.click("#aq-replace")
    page.wait_for_selector("text=0 added, 1 updated")
    assert "221 grey herons" in page.inner_text("#aq-viewer") and "v2" in page.inner_text("#aq-library")
    assert [a.id for a in qa.articles() if a.title == "Heron numbers rise"] == heron
    assert "221" in qa.article(heron[0]).text and page.alerts == []
    page.screenshot(path=str(ARTIFACTS / "ui-upload-partial.png"))
    assert library.delete_article(qa, heron[0])


def test_upload_report_counts_every_failure_and_keeps_no_rejected_copies(fresh_qa, tmp_path):
    good = tmp_path / "harbour.txt"
    good.write_text("Harbour news\nThe harbour reopened on Tuesday after repairs.\n", encoding="utf-8")
    pdf = tmp_path / "notes.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    blank = tmp_path / "blank?page.html"  # stored as blank_page.html; messages use the user's name
    blank.write_text("<html><body><script>x()</script></body></html>", encoding="utf-8")
    broken = tmp_path / "broken.jsonl"
    broken.write_text("this is not json\n", encoding="utf-8")
    report, errors = library.ingest_uploads(fresh_qa, [str(p) for p in (good, pdf, blank, broken)])
    assert len(report.added) == 1 and len(errors) == 3
    assert "3 failed" in report.summary()
    assert any(e.startswith("notes.pdf: ") for e in errors)
    assert any(e.startswith("blank?page.html: ") for e in errors)
    assert any(e.startswith("broken.jsonl: ") for e in errors)
    up = library.uploads_dir(fresh_qa)
    assert not any(str(up.resolve()) in m or str(up) in m for m in errors + report.warnings)
    assert sorted(p.name for p in up.iterdir()) == ["harbour.txt"]  # rejected copies removed

    # A new version that can't be ingested leaves the stored article with the file it came from.
    newer = tmp_path / "v2" / "harbour.txt"
    newer.parent.mkdir()
    newer.write_text("  \n\n ", encoding="utf-8")
    report, errors = library.ingest_uploads(fresh_qa, [str(newer)])
    assert errors and errors[0].startswith("harbour.txt: ") and "1 failed" in report.summary()
    assert (up / "harbour.txt").read_text(encoding="utf-8") == good.read_text(encoding="utf-8")
    assert sorted(p.name for p in up.iterdir()) == ["harbour.txt"]


_OSTRICH = "<html><head><title>Ostrich farm</title></head><body><article><h1>Ostrich farm</h1><p>An ostrich farm near Oudtshoorn doubled its flock this spring, the farmer said on Monday.</p></article></body></html>"
_LIGHTHOUSE = "<html><head><title>Lighthouse</title></head><body><article><h1>Lighthouse</h1><p>The old lighthouse at Cape Sorell was relit on Friday after forty years of darkness.</p></article></body></html>"


def _file(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_an_upload_is_its_name_and_bytes_and_replacing_an_article_is_deliberate(fresh_qa, tmp_path):
    """Issue 21 (2): a second, different index.html replaced the first article ("0 added, 1
    updated": the ostrich story was gone). Two files of one name are two articles; the same
    file again is unchanged; replacing an article with a file is `replace_upload`."""
    qa, up = fresh_qa, library.uploads_dir(fresh_qa)
    ostrich = _file(tmp_path / "a" / "index.html", _OSTRICH)
    lighthouse = _file(tmp_path / "b" / "index.html", _LIGHTHOUSE)
    first, errors = library.ingest_uploads(qa, [ostrich])
    assert errors == [] and first.added == ["index"]
    second, errors = library.ingest_uploads(qa, [lighthouse])
    assert errors == [] and second.added == ["index-2"] and second.updated == [], second.summary()
    assert any(w.startswith("index.html: a different file of this name") for w in second.warnings)
    assert {r.id: r.title for r in qa.articles()} == {"index": "Ostrich farm", "index-2": "Lighthouse"}
    assert sorted(p.name for p in up.iterdir()) == ["index-2.html", "index.html"]

    for again, aid in ((ostrich, "index"), (lighthouse, "index-2")):  # byte-identical: nothing changes
        report, errors = library.ingest_uploads(qa, [again])
        assert errors == [] and report.unchanged == [aid] and not report.added + report.updated
    report, errors = library.ingest_uploads(qa, [ostrich, _file(tmp_path / "c" / "index.html", _OSTRICH)])
    assert (
        errors == [] and report.unchanged == ["index"] and "given twice in this upload" in report.warnings[0]
    )
    assert sorted(p.name for p in up.iterdir()) == ["index-2.html", "index.html"] and len(qa.articles()) == 2

    # Replacing is deliberate: the picked article keeps its id, its text is the new file's.
    edited = _file(tmp_path / "ostrich-v2.html", _OSTRICH.replace("doubled", "tripled"))
    report, errors = library.replace_upload(qa, "index", edited)
    assert errors == [] and report.updated == ["index"] and not report.added, report.summary()
    assert "tripled" in qa.article("index").text and qa.store.registry.version("index") == 2
    assert "lighthouse" in qa.article("index-2").text.lower()
    assert sorted(p.name for p in up.iterdir()) == ["index-2.html", "index.html"]
    assert (up / "index.html").read_text(encoding="utf-8") == Path(edited).read_text(encoding="utf-8")
    as_index = _file(tmp_path / "d" / "index.html", Path(edited).read_text(encoding="utf-8"))
    assert library.ingest_uploads(qa, [as_index])[0].unchanged == ["index"]  # index.html is that file now

    # A replacement that can't be ingested, or of another kind, changes nothing.
    blank = _file(tmp_path / "blank.html", "<html><body><script>x()</script></body></html>")
    report, errors = library.replace_upload(qa, "index", blank)
    assert errors and errors[0].startswith("blank.html: ") and "tripled" in qa.article("index").text
    assert (up / "index.html").read_text(encoding="utf-8") == Path(edited).read_text(encoding="utf-8")
    assert sorted(p.name for p in up.iterdir()) == ["index-2.html", "index.html"]
    _, errors = library.replace_upload(qa, "index", _file(tmp_path / "note.txt", "Note\nA note."))
    assert errors == ["note.txt: 'Ostrich farm' was read from a .html file; replace it with one"]
    _, errors = library.replace_upload(qa, "index", str(tmp_path / "x.pdf"))
    assert errors and errors[0].startswith("x.pdf: '.pdf' files can't be ingested")
    qa.ingest([_file(tmp_path / "cli" / "notes.txt", "Pier notes\nThe pier was painted.")])
    _, errors = library.replace_upload(
        qa, "notes", _file(tmp_path / "n2.txt", "Pier notes\nThe pier was rebuilt.")
    )
    assert (
        errors
        and "did not come from a file uploaded here" in errors[0]
        and "delete it, then add" in errors[0]
    )
    assert "painted" in qa.article("notes").text

    assert library.delete_article(qa, "index-2") and sorted(p.name for p in up.iterdir()) == ["index.html"]


def test_temp_uploads_are_discarded_only_inside_gradios_folder(tmp_path):
    from gradio.utils import get_upload_folder

    mine = tmp_path / "keep.txt"
    mine.write_text("mine")
    folder = Path(get_upload_folder()) / f"articleqa-test-{time.time_ns()}"
    folder.mkdir(parents=True)
    theirs = folder / "upload.txt"
    theirs.write_text("gradio's copy")
    library.discard_temp_uploads([str(mine), str(theirs)])
    assert mine.exists() and not theirs.exists() and not folder.exists()


def test_gradio_sweeps_its_cache(server):
    from articleqa.ui.app import DELETE_CACHE, build_app

    assert build_app(server[1]).delete_cache == DELETE_CACHE


_REPORT_FILES = {"by_type.png", "latency.png", "report.md", "report.json", "results.jsonl"}


def test_browser_sigterm_removes_the_evaluation_report_copies(browser, tmp_path):
    """Issue 21: `articleqa serve` stopped with SIGTERM (kill, systemd, docker stop) left the
    evaluation report copies behind, ours in the temp dir and Gradio's in its cache: Python's
    default for SIGTERM skips both the server's shutdown and atexit."""
    import os
    import signal
    import subprocess
    import sys

    import httpx

    gradio_tmp, tmp = tmp_path / "gradio", tmp_path / "tmp"
    gradio_tmp.mkdir()
    tmp.mkdir()
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "articleqa.cli", "serve", "--port", str(port), "--no-sample",
         "--data-dir", str(tmp_path / "data")],
        env=dict(os.environ, GRADIO_TEMP_DIR=str(gradio_tmp), TMPDIR=str(tmp)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip

    def copies() -> list[str]:
        found = [*tmp.glob("articleqa-report-*/*"), *gradio_tmp.rglob("*")]
        return sorted(p.name for p in found if p.is_file() and p.name in _REPORT_FILES)

    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(url, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.5)
        pg = browser.new_page(viewport={"width": 1440, "height": 900})
        try:
            pg.set_default_timeout(20_000)
            pg.goto(url)
            pg.get_by_role("tab", name="Evaluation").click()
            pg.get_by_label("Questions (sampled)").fill("1")
            pg.get_by_role("button", name="Run evaluation").click()
            pg.wait_for_selector("text=Done. Full report", timeout=180_000)
            pg.wait_for_selector("text=report.md")  # listed for download
        finally:
            pg.close()
        made = copies()
        assert made.count("report.md") == 2, made  # ours, and Gradio's copy of it
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert copies() == [] and list(tmp.glob("articleqa-report-*")) == []
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_long_questions_are_cut_at_a_word_boundary_and_said_so():
    q = ("harbour " * 700).strip()  # 5,599 characters
    short, clipped = chat.clip_question(q)
    assert clipped and len(short) <= chat.MAX_QUESTION_CHARS
    assert short.split()[-1] == "harbour" and q.startswith(short)
    assert chat.clip_question("  short question  ") == ("short question", False)
    blob, clipped = chat.clip_question("x" * 5000)  # no boundary at all: a plain cut
    assert clipped and blob == "x" * chat.MAX_QUESTION_CHARS

    turn = {**chat.new_turn(short), "clipped": len(q), "status": "done"}
    convo = render.conversation_html([turn])
    assert f"only the first {len(short):,} were used" in convo and f"{len(q):,} characters" in convo
    sources = render.sources_html([turn], lambda _: None)
    header = sources.split('class="turn-q"', 1)[1].split("</span>", 1)[0]
    shown = header.split(">", 1)[1]
    assert len(shown) <= render.HEADER_CHARS + 1 and shown.endswith("…")
    assert f'title="{short}"' in header  # the whole question on hover

    evil = {**chat.new_turn("<b>x</b> " * 60), "status": "done"}
    html = render.sources_html([evil], lambda _: None)
    assert "<b>" not in html and 'title="&lt;b&gt;x&lt;/b&gt;' in html


def test_browser_long_question_is_shortened_with_a_notice(page):
    q = ("Which storm did Japan express sympathy about " * 120).strip()  # ~5,400 characters
    ask(page, q)  # a fresh page: no New chat click, whose cancel could race the question
    note = page.inner_text(".aq-convo .turn:last-child .clipped")
    assert f"{len(q):,} characters" in note and "were used" in note
    asked = page.inner_text(".aq-convo .turn:last-child .msg.user .bubble")
    assert len(asked) <= chat.MAX_QUESTION_CHARS and q.startswith(asked) and q[len(asked)] == " "
    header = page.locator("#aq-sources .turn-src .turn-q").first
    assert len(header.inner_text()) <= render.HEADER_CHARS + 1
    assert header.get_attribute("title") == asked
    page.wait_for_selector(f"text=the limit is {chat.MAX_QUESTION_CHARS:,}")  # and so does a toast
    page.screenshot(path=str(ARTIFACTS / "ui-long-question.png"))


def test_browser_delete_with_nothing_picked_says_so(page):
    page.get_by_role("tab", name="Library").click()
    page.click("#aq-delete")
    page.wait_for_selector("text=Pick an article to delete first.", timeout=5_000)
    assert page.alerts == []


def test_browser_evaluation_plots_are_readable(page):
    """20 questions cover the sample set's 6 question types: the by-type plot is then ~1,500 px
    wide, and a column beside the metrics showed it at half size (issue 21: ~5 px labels)."""
    page.get_by_role("tab", name="Evaluation").click()
    page.get_by_label("Questions (sampled)").fill("20")
    page.get_by_role("button", name="Run evaluation").click()
    page.wait_for_selector("text=Done. Full report", timeout=180_000)
    page.wait_for_selector("#aq-plots img")
    page.wait_for_function(
        "[...document.querySelectorAll('#aq-plots img')].every(i => i.complete && i.naturalWidth > 0)"
    )
    sizes = page.eval_on_selector_all(
        "#aq-plots img",
        "imgs => imgs.map(i => { const r = i.getBoundingClientRect();"
        " return [i.alt, r.width, r.height, i.naturalWidth, i.naturalHeight]; })",
    )
    panel = page.evaluate("document.querySelector('#aq-plots .aq-plots').getBoundingClientRect().width")
    page_width = page.evaluate(
        "document.querySelector('.gradio-container .tabs').getBoundingClientRect().width"
    )
    page.screenshot(path=str(ARTIFACTS / "ui-evaluation-plots.png"), full_page=True)
    assert {alt for alt, *_ in sizes} >= {"by type", "latency"}
    assert panel >= 0.95 * page_width  # the plots have the page's width, not a column's
    for alt, w, h, nw, nh in sizes:
        # At the PNG's own size, or as wide as the page where the PNG is wider: its smallest
        # text (the legend, 8 pt at 110 dpi: 12 px in the file) stays at 9 px or more.
        scale = min(w / nw, h / nh)
        assert w >= min(nw, panel) - 4 and scale >= 0.75 and w >= 600, (alt, w, h, nw, nh, panel)
    by_type = next(s for s in sizes if s[0] == "by type")
    assert by_type[3] > panel  # the case in point: a plot wider than the page


_WIDTHS = """() => [document.querySelector('.gradio-container').getBoundingClientRect().width,
  document.querySelector('.gradio-container .tabs').getBoundingClientRect().width]"""

# Where the dataset's name visibly ends, and where the dropdown's arrow begins.
_DATASET_TEXT = """() => {
  const i = document.querySelector('#aq-eval-dataset input'), cs = getComputedStyle(i);
  const ctx = document.createElement('canvas').getContext('2d');
  ctx.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
  const r = i.getBoundingClientRect(), left = r.left + parseFloat(cs.paddingLeft);
  const end = Math.min(left + ctx.measureText(i.value).width, r.right - parseFloat(cs.paddingRight));
  const arrow = i.closest('.wrap').querySelector('.icon-wrap').getBoundingClientRect();
  return {end, arrow: arrow.left, value: i.value};
}"""


def test_browser_page_width_is_the_same_on_every_tab_and_the_dataset_clears_the_arrow(page):
    """Issue 21: the page was narrower on the Evaluation tab (its width followed the open tab's
    content), and the dataset's name ran under the dropdown's arrow."""
    for width in (1440, 1100):
        page.set_viewport_size({"width": width, "height": 900})
        seen = {}
        for tab in ("Chat", "Library", "Evaluation", "Chat"):
            page.get_by_role("tab", name=tab).click()
            page.wait_for_timeout(300)
            seen.setdefault(tab, []).append(page.evaluate(_WIDTHS))
        widths = {tuple(w) for ws in seen.values() for w in ws}
        assert len(widths) == 1, (width, seen)
        assert next(iter(widths))[1] >= min(width - 200, 1200), (width, widths)
        page.get_by_role("tab", name="Evaluation").click()
        t = page.evaluate(_DATASET_TEXT)
        assert t["value"].startswith("Sample articles") and t["end"] <= t["arrow"], (width, t)
        page.screenshot(path=str(ARTIFACTS / f"ui-evaluation-{width}.png"))


@pytest.fixture(scope="module")
def auth_server(server):
    """The app with a login, as `articleqa serve --auth-file` runs it (no sample ingest again)."""
    demo = service.launch(
        server[1], port=_free_port(), auth=("ann", "s3:cret"), sample=False, block=False, quiet=True
    )
    yield demo.local_url
    demo.close()


def test_api_docs_are_hidden_behind_the_login(auth_server):
    import httpx
    from gradio_client import Client

    for path in ("openapi.json", "docs", "redoc"):
        assert httpx.get(auth_server + path).status_code == 404, path
    assert httpx.get(auth_server + "gradio_api/openapi.json").status_code == 401
    assert httpx.get(auth_server + "gradio_api/info").status_code == 401
    res = Client(auth_server, auth=("ann", "s3:cret"), verbose=False).predict(ODA_Q, api_name="/chat")
    assert not res["abstained"] and res["citations"]


def test_failed_logins_back_off(auth_server):
    import httpx

    login = auth_server + "login"
    with httpx.Client(timeout=60) as c:
        t0 = time.perf_counter()
        codes = [
            c.post(login, data={"username": "ann", "password": f"guess{i}"}).status_code for i in range(5)
        ]
        elapsed = time.perf_counter() - t0
    assert codes == [400] * 5
    assert elapsed >= 2.5, f"5 wrong passwords took {elapsed:.2f}s"  # 0, 0, 0, then 1 s and 2 s

    # The next failure locks this address for 4 s: meanwhile even the right password is refused
    # unchecked; once the lock is over it signs in (and the count starts afresh).
    with ThreadPoolExecutor(max_workers=1) as pool:
        slow = pool.submit(httpx.post, login, data={"username": "ann", "password": "guess5"}, timeout=60)
        time.sleep(0.5)
        early = httpx.post(login, data={"username": "ann", "password": "s3:cret"})
        assert slow.result().status_code == 400
    assert early.status_code == 429 and int(early.headers["retry-after"]) >= 1
    ok = httpx.post(login, data={"username": "ann", "password": "s3:cret"})
    assert ok.status_code == 200 and ok.json() == {"success": True}
    t0 = time.perf_counter()
    assert httpx.post(login, data={"username": "ann", "password": "typo"}).status_code == 400
    assert time.perf_counter() - t0 < 1.0


def test_login_throttle_is_per_address_and_40_guesses_take_minutes():
    import asyncio

    import httpx
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from articleqa.ui.security import Backoff, LoginThrottle

    assert sum(Backoff().delay(n) for n in range(1, 41)) > 10 * 60  # was 0.67 s for 40

    async def login(request):
        form = await request.form()
        ok = form.get("password") == "right"
        return JSONResponse(
            {"success": True} if ok else {"detail": "Incorrect credentials."}, 200 if ok else 400
        )

    backoff = Backoff(free=2, base=0.01, cap=0.05)
    app = LoginThrottle(Starlette(routes=[Route("/login", login, methods=["POST"])]), backoff)

    async def attempts(addr: str, passwords: list[str]) -> tuple[list[int], float]:
        transport = httpx.ASGITransport(app=app, client=(addr, 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            t0 = time.perf_counter()
            codes = [(await c.post("/login", data={"password": p})).status_code for p in passwords]
            return codes, time.perf_counter() - t0

    async def scenario():
        codes, took = await attempts("10.0.0.1", ["wrong"] * 40)
        assert codes == [400] * 40
        assert took >= sum(backoff.delay(n) for n in range(1, 41)) * 0.9
        other, quick = await attempts("10.0.0.2", ["wrong", "right"])  # someone else is not slowed
        assert other == [400, 200] and quick < 0.05
        burst = await asyncio.gather(*(attempts("10.0.0.1", ["wrong"]) for _ in range(10)))
        assert sorted(c for (cs, _) in burst for c in cs).count(400) == 1  # one checked, 9 refused
        await asyncio.sleep(backoff.cap)
        assert (await attempts("10.0.0.1", ["right"]))[0] == [200]

    with ThreadPoolExecutor(max_workers=1) as pool:  # its own event loop (Playwright's may be running)
        pool.submit(asyncio.run, scenario()).result()


def test_serve_takes_auth_from_env_or_a_file_and_warns_about_the_command_line(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    import articleqa.cli as cli

    seen = []
    monkeypatch.setattr(service.app, "launch", lambda qa, **kw: seen.append(kw["auth"]))
    monkeypatch.setattr(cli, "Assistant", lambda cfg: None)
    monkeypatch.delenv("ARTICLEQA_AUTH", raising=False)
    run = CliRunner().invoke
    data = ["--data-dir", str(tmp_path / "data")]

    res = run(cli.app, ["serve", *data, "--auth", "ann:s3cret"])
    assert res.exit_code == 0 and seen[-1] == ("ann", "s3cret")
    assert "visible to other users" in res.stderr and "--auth-file" in res.stderr

    res = run(cli.app, ["serve", *data], env={"ARTICLEQA_AUTH": "ann:s3cret"})
    assert res.exit_code == 0 and seen[-1] == ("ann", "s3cret") and "visible" not in res.stderr

    secret = tmp_path / "auth"
    secret.write_text("# who may sign in\nann:s3:cret\n", encoding="utf-8")
    secret.chmod(0o600)
    res = run(cli.app, ["serve", *data, "--auth-file", str(secret)])
    assert res.exit_code == 0 and seen[-1] == ("ann", "s3:cret") and res.stderr == ""
    secret.chmod(0o644)
    res = run(cli.app, ["serve", *data, "--auth-file", str(secret)])
    assert res.exit_code == 0 and "can be read by other users" in res.stderr

    for bad in (["--auth-file", str(tmp_path / "missing")], ["--auth-file", str(secret), "--auth", "a:b"]):
        res = run(cli.app, ["serve", *data, *bad])
        assert res.exit_code == 2 and "--auth-file" in res.output
    assert len(seen) == 4


def test_deleting_the_articles_of_a_jsonl_upload_removes_its_copy_with_the_last(fresh_qa, tmp_path):
    """A .jsonl upload holds several articles: its copy in uploads/ stays while any of them
    is stored, and goes with the last (their keys don't name the file; their origin does)."""
    feed = tmp_path / "feed.jsonl"
    feed.write_text(
        '{"id": "f1", "text": "The harbour reopened on Tuesday after repairs."}\n'
        '{"id": "f2", "text": "The ferry to Dunmore resumed on Friday."}\n',
        encoding="utf-8",
    )
    report, errors = library.ingest_uploads(fresh_qa, [str(feed)])
    assert errors == [] and sorted(report.added) == ["f1", "f2"]
    copy = library.uploads_dir(fresh_qa) / "feed.jsonl"
    assert library.delete_article(fresh_qa, "f1") and copy.exists()
    assert library.delete_article(fresh_qa, "f2") and not copy.exists()


def test_browser_add_a_feed_then_poll_it_shows_versions_and_last_polled(page, server, site):  # noqa: F811
    from .test_feeds import two_entries

    two_entries(site)
    url = site.url("/feed.xml")
    page.get_by_role("tab", name="Library").click()
    assert "No feeds yet" in page.inner_text("#aq-feeds")
    page.fill("#aq-feed-url textarea", url)
    page.click("#aq-add-feed")
    page.wait_for_selector("#aq-feed-result .notice.ok")
    assert f"{url}: 2 added" in page.inner_text("#aq-feed-result")
    feeds = page.inner_text("#aq-feeds")
    assert "Harbour Gazette" in feeds and "ok: 2 entries" in feeds and " UTC" in feeds
    assert "Ferry strike" in page.inner_text("#aq-library")

    site.page("/b.html", "Ferry strike", "Ferry crews in Danang ended their strike on Thursday.")
    site.rss("/feed.xml", [{"guid": "gz-2", "title": "Ferry strike ends", "link": site.url("/b.html"),
                            "pubDate": "Fri, 06 Dec 2024 08:00:00 +0700"}], etag='"v2"')  # fmt: skip
    page.click("#aq-poll-feeds")
    page.wait_for_selector(f"#aq-feed-result:has-text('{url}: 0 added, 1 updated')")
    assert "v2" in page.inner_text("#aq-library")
    page.screenshot(path=str(ARTIFACTS / "ui-feeds.png"))
    page.fill("#aq-feed-url textarea", "ftp://nope")
    page.click("#aq-add-feed")
    page.wait_for_selector("#aq-feed-result .notice.error")
    assert "'ftp://nope' is not an http(s) feed URL" in page.inner_text("#aq-feed-result")


# ---- forwarded headers: trusted only from configured proxies (issue 21) ----------------------------
def _wrong_logins(url: str, forwarded: list[str | None]) -> tuple[list[int], float]:
    import httpx

    with httpx.Client(timeout=60) as c:
        t0 = time.perf_counter()
        codes = [
            c.post(url + "login", data={"username": "ann", "password": f"guess{i}"},
                   headers={"X-Forwarded-For": xff} if xff else {}).status_code
            for i, xff in enumerate(forwarded)
        ]  # fmt: skip
        return codes, time.perf_counter() - t0


def test_a_new_x_forwarded_for_on_each_try_does_not_dodge_the_login_back_off(server):
    """Bug: uvicorn (run by Gradio) took X-Forwarded-For from 127.0.0.1, so a script sending a
    new address with each wrong password was never slowed. Now forwarded headers count only
    from ``trusted_proxies``: without one, such tries back off like plain ones; with the proxy
    configured, the address it forwards is the one that backs off."""
    import httpx

    from articleqa.ui.security import Backoff

    backoff = Backoff(free=1, base=0.4, cap=0.8)  # 0, then 0.4, 0.8, 0.8 s
    demo = service.launch(server[1], port=_free_port(), auth=("ann", "s3:cret"), sample=False, block=False, quiet=True,
                     login_backoff=backoff)  # fmt: skip
    try:
        codes, took = _wrong_logins(demo.local_url, [f"203.0.113.{i}" for i in range(1, 5)])
        assert codes == [400] * 4 and took >= 0.9 * 2.0, f"4 forged addresses took {took:.2f}s"
        # Still locked out while the next try is held back, whatever address it claims.
        with ThreadPoolExecutor(max_workers=1) as pool:
            slow = pool.submit(_wrong_logins, demo.local_url, ["203.0.113.5"])
            time.sleep(0.3)
            early = httpx.post(demo.local_url + "login", data={"username": "ann", "password": "s3:cret"},
                               headers={"X-Forwarded-For": "203.0.113.6"})  # fmt: skip
            assert slow.result()[0] == [400]
        assert early.status_code == 429
    finally:
        demo.close()

    demo = service.launch(server[1], port=_free_port(), auth=("ann", "s3:cret"), sample=False, block=False, quiet=True,
                     login_backoff=backoff, trusted_proxies=["127.0.0.1"])  # fmt: skip
    try:
        codes, took = _wrong_logins(demo.local_url, [f"198.51.100.{i}" for i in range(1, 5)])
        assert codes == [400] * 4 and took < 0.4, (
            f"4 clients behind the proxy took {took:.2f}s"
        )  # each its own
        codes, took = _wrong_logins(demo.local_url, ["198.51.100.9"] * 3)
        assert codes == [400] * 3 and took >= 0.9 * 1.2, f"one client behind the proxy took {took:.2f}s"
    finally:
        demo.close()


def test_forwarded_headers_count_only_from_trusted_proxies():
    import asyncio

    import httpx
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from articleqa.ui.security import ForwardedHeaders

    async def echo(request):
        forwarded = {k: v for k, v in request.headers.items() if "forwarded" in k}
        return JSONResponse(
            {"client": request.client.host, "scheme": request.url.scheme, "forwarded": forwarded}
        )

    inner = Starlette(routes=[Route("/", echo)])
    sent = {
        "X-Forwarded-For": "203.0.113.9, 10.0.0.5",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "evil.example",
    }

    async def seen(trusted: list[str], peer: str) -> dict:
        transport = httpx.ASGITransport(app=ForwardedHeaders(inner, trusted), client=(peer, 1234))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            return (await c.get("/", headers=sent)).json()

    async def scenario():
        for trusted, peer in [([], "127.0.0.1"), (["10.0.0.0/8"], "127.0.0.1"), (["127.0.0.1"], "192.0.2.1")]:
            assert await seen(trusted, peer) == {"client": peer, "scheme": "http", "forwarded": {}}, (
                trusted,
                peer,
            )
        got = await seen(["127.0.0.1"], "127.0.0.1")
        assert got["client"] == "10.0.0.5" and got["scheme"] == "https"  # the proxy's word, as it says it
        assert got["forwarded"]["x-forwarded-host"] == "evil.example"
        got = await seen(["10.0.0.0/8"], "10.1.2.3")  # a chain of trusted proxies: the client before them
        assert got["client"] == "203.0.113.9" and got["scheme"] == "https"

    with ThreadPoolExecutor(max_workers=1) as pool:  # its own event loop (Playwright's may be running)
        pool.submit(asyncio.run, scenario()).result()


def test_trusted_proxies_come_from_the_environment_or_serve_trusted_proxy(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    import articleqa.cli as cli

    assert Config().trusted_proxies == []
    monkeypatch.setenv("ARTICLEQA_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8 ::1")
    assert Config().trusted_proxies == ["127.0.0.1", "10.0.0.0/8", "::1"]
    monkeypatch.delenv("ARTICLEQA_TRUSTED_PROXIES")
    with pytest.raises(ValueError, match="'proxy.example' is not an IP address or network"):
        Config(trusted_proxies=["proxy.example"])

    seen = []
    monkeypatch.setattr(service.app, "launch", lambda qa, **kw: seen.append(qa.trusted_proxies))
    monkeypatch.setattr(cli, "Assistant", lambda cfg: cfg)
    monkeypatch.delenv("ARTICLEQA_AUTH", raising=False)
    res = CliRunner().invoke(cli.app, ["serve", "--data-dir", str(tmp_path), "--trusted-proxy", "127.0.0.1",
                                       "--trusted-proxy", "172.16.0.0/12"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert seen == [["127.0.0.1", "172.16.0.0/12"]]
    res = CliRunner().invoke(cli.app, ["serve", "--data-dir", str(tmp_path), "--trusted-proxy", "nope"])
    assert res.exit_code == 2 and "not an IP address or network" in res.output


def test_launch_says_where_to_go_and_how_to_stop_not_gradios_share_hint(server, capfd):
    """Gradio printed "To create a public link, set `share=True` in `launch()`" to people who
    ran `articleqa serve`: a hint for Gradio's programmers, about a tunnel we never open."""
    capfd.readouterr()
    demo = service.launch(server[1], port=_free_port(), sample=False, block=False)
    try:
        out, err = capfd.readouterr()
    finally:
        demo.close()
    assert "share=True" not in out + err and "public link" not in out + err
    assert f"articleqa is running at {demo.local_url}" in out and "Ctrl+C to stop" in out
    capfd.readouterr()  # Gradio's "Closing server ..."
    demo = service.launch(server[1], port=_free_port(), sample=False, block=False, quiet=True)
    try:
        out, err = capfd.readouterr()
    finally:
        demo.close()
    assert (
        "articleqa is running" not in out + err and "Running on" not in out + err and "share" not in out + err
    )
