"""The Gradio app: chat with cited, highlighted sources; the article library; evaluation.

`build_app(assistant)` makes the Blocks; `launch_options` is what Gradio takes when it is
mounted (look, upload cap). `articleqa.service` mounts it in the one server process, beside
the API (what ``articleqa serve`` runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gradio as gr

from ..answer.models import LLMError
from ..assistant import Assistant
from ..config import Config
from . import chat, evaluate, library, render
from .style import CSS, HEAD, theme

EXAMPLES = [
    "On what terms did Man want Japan's new-generation ODA to be provided?",
    "What did the two sides want the committees to share more of?",
    "Which storm did Japan express sympathy about?",
    "What is the population of Hanoi?",
]
# Gradio's own temporary files (uploads not yet ingested, evaluation plots): swept every hour
# once a day old, and all of them when the server stops. Ingested uploads go at once.
DELETE_CACHE = (3600, 86400)


class _Views:
    """The bits of HTML and choice lists that several tabs refresh."""

    def __init__(self, assistant: Assistant):
        self.qa = assistant

    def header(self) -> str:
        stats = self.qa.stats()
        return (
            '<div id="aq-header"><div class="logo">article<span>qa</span></div>'
            '<div class="tag">answers from your articles, citing the exact passages</div><div class="chips">'
            f'<span class="chip"><b>{stats.articles:,}</b> articles</span><span class="chip"><b>{stats.passages:,}</b> passages</span>'
            f'<span class="chip">answerer <b>{render.esc(self.qa.config.answerer)}</b></span></div></div>'
        )

    def empty_chat(self) -> tuple[str, str]:
        n_art = self.qa.stats().articles
        stats = f"{n_art:,} article{'s' if n_art != 1 else ''} indexed."
        return render.conversation_html([], stats), render.sources_html([], self.qa.article)

    def outlets(self) -> list[str]:
        return sorted({r.source for r in self.qa.articles() if r.source})

    def article_choices(self) -> list[tuple[str, str]]:
        return [(f"{r.title or r.id}  ({r.id})", r.id) for r in self.qa.articles()]


def build_app(
    assistant: Assistant, *, examples: list[str] | None = None, title: str = "articleqa"
) -> gr.Blocks:
    """The whole UI over ``assistant``; its look comes with `launch_options` (Gradio 6 sets it at launch)."""
    views = _Views(assistant)
    with gr.Blocks(title=title, analytics_enabled=False, delete_cache=DELETE_CACHE) as demo:
        head = gr.HTML(views.header(), js_on_load=None)
        with gr.Tabs():
            with gr.Tab("Chat", id="chat"):
                outlet = _chat_tab(assistant, views, EXAMPLES if examples is None else examples)
            with gr.Tab("Library", id="library"):
                _library_tab(assistant, views, demo, head, outlet)
            with gr.Tab("Evaluation", id="evaluation"):
                _evaluation_tab(assistant)

        # The API: gradio_client.Client(url).predict("question", api_name="/chat")
        def chat_api(question: str, history: list[dict] | None = None) -> dict:
            """Answer a question from the articles; returns {"answer", "abstained", "citations", ...}."""
            try:
                return chat.api_answer(assistant, question, history)
            except (ValueError, LLMError) as e:  # the LLM's one line, not a bare "Error"
                raise gr.Error(str(e)) from e

        gr.api(chat_api, api_name="chat")
    return demo


@dataclass
class _ChatUI:
    convo: gr.HTML
    sources: gr.HTML
    msg: gr.Textbox
    send: gr.Button
    stop: gr.Button
    clear: gr.Button
    ex_row: gr.Row
    ex_btns: list[gr.Button]
    top_k: gr.Slider
    outlet: gr.Dropdown
    since: gr.Textbox
    until: gr.Textbox


def _chat_tab(assistant: Assistant, views: _Views, examples: list[str]) -> gr.Dropdown:
    """Conversation, input, starter questions and search options | sources. Returns the outlet filter."""
    ui = _chat_layout(assistant, views, examples)
    _wire_chat(assistant, views, ui)
    return ui.outlet


def _chat_layout(assistant: Assistant, views: _Views, examples: list[str]) -> _ChatUI:
    with gr.Row(equal_height=False):
        with gr.Column(scale=6, min_width=420):
            welcome, no_sources = views.empty_chat()
            convo = gr.HTML(welcome, elem_id="aq-convo", js_on_load=None)
            with gr.Row(elem_id="aq-input-row"):
                msg = gr.Textbox(
                    placeholder="Ask a question about your articles…  (Enter to send)", show_label=False,
                    container=False, scale=8, max_lines=6, autofocus=True, elem_id="aq-input",
                )  # fmt: skip
                send = gr.Button("Ask", variant="primary", scale=0, min_width=96, elem_id="aq-send")
                stop = gr.Button("Stop", scale=0, min_width=96, visible=False, elem_id="aq-stop")
                clear = gr.Button("New chat", scale=0, min_width=110, elem_id="aq-clear")
            with gr.Row(elem_id="aq-examples") as ex_row:
                gr.HTML('<span class="try">Try</span>', js_on_load=None, container=False)
                ex_btns = [
                    gr.Button(q, size="sm", variant="secondary", scale=0, min_width=0) for q in examples
                ]
            with gr.Accordion("Search options", open=False):
                with gr.Row():
                    top_k = gr.Slider(
                        1, 20, value=assistant.config.top_k, step=1, label="Passages to consider"
                    )
                    outlet = gr.Dropdown(views.outlets(), multiselect=True, label="Only these outlets")
                with gr.Row():
                    since = gr.Textbox(label="Published from", placeholder="YYYY-MM-DD")
                    until = gr.Textbox(label="Published until", placeholder="YYYY-MM-DD")
        with gr.Column(scale=5, min_width=360):
            sources = gr.HTML(no_sources, elem_id="aq-sources", js_on_load=None)
    return _ChatUI(convo, sources, msg, send, stop, clear, ex_row, ex_btns, top_k, outlet, since, until)


# While an answer streams, Stop takes the place of Ask; the starter questions make room for
# the conversation once it has begun (New chat brings them back).
def _busy(question: str):
    if not (question or "").strip():
        return gr.skip(), gr.skip(), gr.skip()
    return gr.update(visible=False), gr.update(visible=True), gr.update(visible=False)


def _idle():
    return gr.update(visible=True), gr.update(visible=False)


def _wire_chat(assistant: Assistant, views: _Views, ui: _ChatUI) -> None:
    """Ask (Enter, the button or a starter question) streams the answer; Stop and New chat."""
    turns = gr.State([])

    def respond(question: str, state: list[dict], k: float, only: list[str] | None, frm: str, to: str):
        asked = (question or "").strip()
        question, clipped = chat.clip_question(asked)
        if not question:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        if clipped:
            gr.Warning(
                f"Your question was {len(asked):,} characters long; only the first {len(question):,} "
                f"were used (the limit is {chat.MAX_QUESTION_CHARS:,})."
            )
        filters, warnings = chat.make_filters(only, frm, to)
        for w in warnings:
            gr.Warning(w)
        history = chat.history_of(state)
        state = [*state, chat.new_turn(question)]
        for kind, turn in chat.stream_turn(assistant, question, history, int(k), filters):
            if clipped:
                turn["clipped"] = len(asked)
            state[-1] = turn
            src = gr.skip() if kind == "token" else render.sources_html(state, assistant.article)
            yield "", render.conversation_html(state), src, state

    def stopped(state: list[dict]):
        if state and state[-1].get("status") != "done":
            state[-1]["status"] = "stopped"
        return render.conversation_html(state), render.sources_html(state, assistant.article), state

    private: dict[str, Any] = {"show_progress": "hidden", "api_visibility": "private"}
    swap = {**private, "queue": False}
    ins = [turns, ui.top_k, ui.outlet, ui.since, ui.until]
    outs = [ui.msg, ui.convo, ui.sources, turns]
    buttons = [ui.send, ui.stop]
    triggers = [(ui.msg.submit, ui.msg), (ui.send.click, ui.msg), *((b.click, b) for b in ui.ex_btns)]
    events = []
    for trigger, question in triggers:
        answering = trigger(_busy, [question], [*buttons, ui.ex_row], **swap).then(
            respond, [question, *ins], outs, **private
        )
        answering.then(_idle, None, buttons, **swap)
        events.append(answering)
    ui.stop.click(stopped, [turns], [ui.convo, ui.sources, turns], cancels=events, **private).then(
        _idle, None, buttons, **swap
    )
    ui.clear.click(
        lambda: ([], *views.empty_chat(), gr.update(visible=True)),
        None, [turns, ui.convo, ui.sources, ui.ex_row], cancels=events, **private,
    ).then(_idle, None, buttons, **swap)  # fmt: skip


def _library_tab(
    assistant: Assistant, views: _Views, demo: gr.Blocks, head: gr.HTML, outlet: gr.Dropdown
) -> None:
    """The article list and reader | upload, read, delete. Keeps the header and outlet filter current."""
    cfg = assistant.config
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=420):
            lib = gr.HTML(render.library_html(assistant.articles()), elem_id="aq-library", js_on_load=None)
            viewer = gr.HTML(render.article_html(None), elem_id="aq-viewer", js_on_load=None)
        with gr.Column(scale=2, min_width=320):
            # No file_types or per-file size here: Gradio's browser side would drop a whole
            # selection over one bad file. Every file goes to `library.check_uploads`, which
            # refuses each bad one by name and takes the rest (see `launch_options`).
            files = gr.File(
                file_count="multiple", elem_id="aq-upload",
                label=f"Add articles: {' '.join(library.UPLOAD_TYPES)}, up to {cfg.max_file_mb:g} MB each",
            )  # fmt: skip
            ingest_btn = gr.Button("Ingest", variant="primary", elem_id="aq-ingest")
            ingest_out = gr.HTML(elem_id="aq-ingest-result", js_on_load=None)
            pick = gr.Dropdown(views.article_choices(), label="Read or delete an article", value=None)
            with gr.Row():
                delete_btn = gr.Button("Delete article", variant="stop", elem_id="aq-delete")
                # A file of the same name as a stored one is another article; replacing one is this.
                replace_btn = gr.Button("Replace with the chosen file", elem_id="aq-replace")
            delete_out = gr.HTML(js_on_load=None)
            feed_url = gr.Textbox(label="Add an RSS or Atom feed (URL)", placeholder="https://example.org/feed.xml",
                                  elem_id="aq-feed-url", max_lines=3)  # fmt: skip
            with gr.Row():
                feed_btn = gr.Button("Add feed", elem_id="aq-add-feed")
                poll_btn = gr.Button("Poll feeds now", elem_id="aq-poll-feeds")
            feed_out = gr.HTML(elem_id="aq-feed-result", js_on_load=None)
            feeds = gr.HTML(render.feeds_html(assistant.feeds()), elem_id="aq-feeds", js_on_load=None)

    refreshed = [head, lib, pick, outlet]
    handlers = _LibraryHandlers(assistant, views)
    write: dict[str, Any] = {"concurrency_limit": 1, "concurrency_id": "write", "api_visibility": "private"}
    ingest_btn.click(handlers.ingest, [files, pick], [ingest_out, files, *refreshed], **write)
    feed_btn.click(handlers.add_feed, [feed_url, pick], [feed_out, feed_url, feeds, *refreshed], **write)
    poll_btn.click(handlers.poll_feeds, [pick], [feed_out, feeds, *refreshed], **write)
    confirm = "(id) => (id && confirm('Delete this article from the library and every index?')) ? id : null"
    # First say when nothing is picked; then confirm() and delete (a cancel reaches it as None).
    quick: dict[str, Any] = {"queue": False, "api_visibility": "private", "show_progress": "hidden"}
    delete_btn.click(handlers.need_pick, [pick], [delete_out], **quick).then(
        handlers.delete, [pick], [delete_out, viewer, *refreshed], js=confirm, **write
    )
    replace_ok = (
        "(paths, id) => [paths, (id && paths && paths.length === 1 && "
        "confirm('Replace this article with the chosen file? Its current text goes.')) ? id : null]"
    )
    replace_btn.click(handlers.need_replace, [files, pick], [delete_out], **quick).then(
        handlers.replace, [files, pick], [delete_out, files, viewer, *refreshed], js=replace_ok, **write
    )
    pick.change(
        lambda aid: render.article_html(assistant.article(aid) if aid else None),
        [pick], [viewer], api_visibility="private", show_progress="hidden",
    )  # fmt: skip
    demo.load(handlers.refresh, None, refreshed, api_visibility="private", show_progress="hidden")
    demo.load(
        lambda: render.feeds_html(assistant.feeds()),
        None,
        feeds,
        api_visibility="private",
        show_progress="hidden",
    )


class _LibraryHandlers:
    """What the library's buttons do; each returns the notice, then the refreshed
    (header, library, article choices, outlet choices)."""

    def __init__(self, assistant: Assistant, views: _Views):
        self.qa, self.views = assistant, views

    def refresh(self, picked: str | None = None):
        return (
            self.views.header(),
            render.library_html(self.qa.articles()),
            gr.update(choices=self.views.article_choices(), value=picked),
            gr.update(choices=self.views.outlets()),
        )

    # Gradio hands a progress tracker to a parameter whose default is gr.Progress().
    def ingest(self, paths: list[str] | None, picked: str | None, progress=gr.Progress()):  # noqa: B008
        if not paths:
            return render.notice("info", ["Choose one or more files first."]), None, *self.refresh(picked)

        def tick(done: int, total: int, chunks: int) -> None:
            progress((done, total), desc=f"{done}/{total} articles, {chunks} passages embedded")

        try:
            report, errors = library.ingest_uploads(self.qa, paths, tick)
        finally:  # Gradio would go on serving its copies; ours in data_dir/uploads is kept
            library.discard_temp_uploads(paths)
        if report is None:
            box = render.notice("error", [f"Nothing was ingested: {len(errors)} failed.", *errors])
        else:
            kind = "ok" if not errors else "warn" if report.added or report.updated else "error"
            box = render.notice(kind, [report.summary(), *errors, *report.warnings])
        return box, None, *self.refresh(picked)

    def add_feed(self, text: str | None, picked: str | None):
        results, bad = library.add_feeds(self.qa, text or "")
        if not results and not bad:
            return (
                render.notice("info", ["Type a feed URL first."]),
                gr.skip(),
                gr.skip(),
                *self.refresh(picked),
            )
        box = self._feed_notice(results, bad)
        keep = "" if results and not bad and all(r.ok for _, r in results) else text
        return box, keep, render.feeds_html(self.qa.feeds()), *self.refresh(picked)

    def poll_feeds(self, picked: str | None):
        results = library.poll_all_feeds(self.qa)
        if not results:
            return render.notice("info", ["No feeds yet: add one first."]), gr.skip(), *self.refresh(picked)
        return self._feed_notice(results, []), render.feeds_html(self.qa.feeds()), *self.refresh(picked)

    @staticmethod
    def _feed_notice(results: list, bad: list[str]) -> str:
        lines = [f"{url}: {'not modified' if r.not_modified else r.summary()}" for url, r in results]
        problems = bad + [m for _, r in results for m in r.errors]
        warnings = [w for _, r in results for w in r.warnings]
        changed = any(r.added or r.updated or r.not_modified or r.unchanged for _, r in results)
        kind = "ok" if not problems else "warn" if changed else "error"
        return render.notice(kind, [*lines, *problems, *warnings] if lines else [*problems])

    @staticmethod
    def need_pick(article_id: str | None):
        return render.notice("info", ["Pick an article to delete first."]) if not article_id else ""

    @staticmethod
    def need_replace(paths: list[str] | None, article_id: str | None):
        if not article_id:
            return render.notice("info", ["Pick the article to replace first."])
        if not paths or len(paths) != 1:
            return render.notice("info", ["Choose the one file to replace it with first."])
        return ""

    def replace(self, paths: list[str] | None, article_id: str | None, progress=gr.Progress()):  # noqa: B008
        """Replace the picked uploaded article with the one chosen file (its id stays, its version counts up)."""
        if not article_id or not paths or len(paths) != 1:  # need_replace said why, or no confirm()
            return (gr.skip(),) * 7

        def tick(done: int, total: int, chunks: int) -> None:
            progress((done, total), desc=f"{done}/{total} articles, {chunks} passages embedded")

        try:
            report, errors = library.replace_upload(self.qa, article_id, paths[0], tick)
        finally:
            library.discard_temp_uploads(paths)
        if report is None or not report.ok:
            box = render.notice("error", [f"'{article_id}' was not replaced.", *errors])
        else:
            box = render.notice("ok", [report.summary(), *report.warnings])
        art = self.qa.article(article_id)
        return box, None, render.article_html(art), *self.refresh(article_id if art else None)

    def delete(self, article_id: str | None):
        if not article_id:  # nothing picked (need_pick said so), or the confirm() was cancelled
            return (gr.skip(),) * 6
        art = self.qa.article(article_id)
        if art is None or not library.delete_article(self.qa, art.id):
            return render.notice("error", [f"No article '{article_id}'."]), gr.skip(), *self.refresh()
        box = render.notice("ok", [f"Deleted '{art.title or art.id}' from every index."])
        return box, render.article_html(None), *self.refresh()


def _evaluation_tab(assistant: Assistant) -> None:
    """Run an evaluation on a bundled set; metrics, plots, worst questions, report files."""
    gr.Markdown(
        "Score the assistant on a bundled question set: answers, abstentions, retrieval and "
        "citations. It runs in a separate store, so your library is untouched."
    )
    with gr.Row(equal_height=True):
        first = next(iter(evaluate.DATASETS))
        ds = gr.Dropdown(
            list(evaluate.DATASETS), value=first, label="Dataset", scale=3, elem_id="aq-eval-dataset"
        )
        limit = gr.Number(20, precision=0, minimum=1, maximum=5000, label="Questions (sampled)", scale=1)
        with_base = gr.Checkbox(False, label="Also run the llama-index baseline (slower)", scale=1)
        run_btn = gr.Button("Run evaluation", variant="primary", scale=1)
    status = gr.HTML(js_on_load=None)
    metrics = gr.HTML(elem_id="aq-metrics", js_on_load=None)
    # The plots at their own size, one under another across the page (a column beside the
    # metrics shrank the by-type plot, ~1,500 px wide for 6 types, to half): `evaluate.plots_html`.
    plots = gr.HTML(elem_id="aq-plots", js_on_load=None)
    worst = gr.HTML(js_on_load=None)
    report_files = gr.File(label="Report files", file_count="multiple", interactive=False)

    def do_eval(label: str, n: float | None, baseline: bool):
        yield from evaluate.run_tab(assistant, label, n, baseline)

    run_btn.click(
        do_eval, [ds, limit, with_base], [status, metrics, plots, worst, report_files],
        concurrency_limit=1, concurrency_id="eval", api_visibility="private",
    )  # fmt: skip


def upload_cap_mb(cfg: Config) -> float:
    """The most Gradio itself accepts of one upload: well over ``max_file_mb``, so that a file
    a little too large still reaches `library.check_uploads` (which refuses it by name, stores
    nothing, and ingests the rest of the selection), while a huge one can't fill the disk.
    Gradio's browser side drops the whole selection over a file above this cap."""
    return max(4 * cfg.max_file_mb, 100.0)


def launch_options(cfg: Config) -> dict[str, Any]:
    """What Gradio 6 takes at launch rather than in Blocks: look, script, upload cap."""
    return {"theme": theme(), "css": CSS, "head": HEAD, "max_file_size": int(upload_cap_mb(cfg) * 2**20)}
