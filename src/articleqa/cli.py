"""The `articleqa` command line: ingest, watch, ask, chat, list, remove, eval, serve, mcp, schema,
migrate, postgres."""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from .answer.models import LLMError
from .assistant import Assistant
from .config import Config
from .ingest.pipeline import IngestReport
from .offline import keep_offline
from .periods import is_day
from .resources import sample_articles
from .types import Answer, Filters

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__)


@app.callback()
def _main() -> None:
    keep_offline()  # before any command imports chromadb or gradio


console = Console()
err = Console(stderr=True, soft_wrap=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", "-d", help="Data directory (env ARTICLEQA_DATA_DIR; default ./.articleqa)"),
]
ChromaHost = Annotated[
    str | None, typer.Option("--chroma-host", help="Chroma server host (default: embedded)")
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        show_default=False,
        help="Use the postgres store at postgresql://USER:PASSWORD@HOST:PORT/DB (prefer env "
        "ARTICLEQA_DATABASE_URL: a password on the command line shows in ps)",
    ),
]
ChromaPort = Annotated[int | None, typer.Option("--chroma-port", help="Chroma server port")]
AnswererOpt = Annotated[
    str | None,
    typer.Option(
        "--answerer", help="extractive | openai | local (env ARTICLEQA_ANSWERER; default extractive)"
    ),
]
LlmModel = Annotated[str | None, typer.Option("--llm-model", help="Model name for --answerer openai")]
LlmBaseUrl = Annotated[
    str | None, typer.Option("--llm-base-url", help="OpenAI-compatible server URL (default: OPENAI_BASE_URL)")
]
AllowFetch = Annotated[
    list[str] | None,
    typer.Option(
        "--allow-fetch", metavar="HOST|NETWORK",
        help="Also fetch from this internal host or network (e.g. intranet.example, 10.1.0.0/16, "
        "127.0.0.1; repeatable; env ARTICLEQA_FETCH_ALLOW). Internal addresses are refused otherwise",
    ),
]  # fmt: skip
LlmGguf = Annotated[
    Path | None, typer.Option("--llm-gguf", help="GGUF model for --answerer local (default: SmolLM2-135M)")
]


def _llm(
    answerer: str | None, model: str | None, base_url: str | None, gguf: Path | None
) -> dict[str, object]:
    return {"answerer": answerer, "llm_model": model, "llm_base_url": base_url, "llm_gguf_path": gguf}


def _config(data_dir: Path | None = None, **extra: object) -> Config:
    overrides = {k: v for k, v in {"data_dir": data_dir, **extra}.items() if v is not None}
    try:
        return Config(**overrides)
    except Exception as e:  # pydantic's message names the bad field
        err.print(f"[red]Invalid configuration:[/] {e}")
        raise typer.Exit(2) from e


def _fail(message: str) -> NoReturn:
    """A usage error: one line on stderr, exit code 2."""
    err.print(f"[red]error:[/] {escape(message)}")
    raise typer.Exit(2)


def _llm_failed(e: LLMError) -> NoReturn:
    """The LLM could not answer (down, bad key, no such model, timed out): its one line on
    stderr, no traceback, exit code 1."""
    err.print(f"[red]error:[/] {escape(e.message)}", highlight=False)
    raise typer.Exit(1)


def _day(option: str, value: str | None) -> str:
    """``value`` if it is a real date written YYYY-MM-DD (or empty: no bound), else a usage error."""
    if value and not is_day(value):
        _fail(f"{option} '{value}' is not a valid date; use YYYY-MM-DD, e.g. 2024-12-05")
    return value or ""


def _filters(source: list[str] | None, since: str | None, until: str | None) -> Filters | None:
    since, until = _day("--since", since), _day("--until", until)
    if since and until and since > until:
        _fail(f"--since {since} is after --until {until}: no date is in that range")
    f = Filters(sources=source or [], since=since, until=until)
    return None if f.empty else f


class _ProgressLines:
    """Ingestion progress as plain lines, for a stderr that is not a terminal (a log, CI):
    at most one line every ``every`` seconds while it runs, then a final line."""

    def __init__(self, out: Console, every: float = 2.0, clock: Callable[[], float] = time.monotonic):
        self.out, self.every, self.clock = out, every, clock
        self.last = clock()
        self.done = self.total = self.chunks = 0

    def __call__(self, done: int, total: int, chunks: int) -> None:
        self.done, self.total, self.chunks = done, total, chunks
        now = self.clock()
        if done < total and now - self.last >= self.every:
            self.last = now
            self._line()

    def finish(self) -> None:
        self._line()

    def _line(self) -> None:
        self.out.print(f"ingested {self.done}/{self.total} articles, {self.chunks} chunks", highlight=False)


@app.command()
def ingest(
    paths: Annotated[
        list[str],
        typer.Argument(help="Files (.txt .md .html .jsonl), folders, http(s) URLs or RSS/Atom feed URLs"),
    ],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    sync: Annotated[bool, typer.Option("--sync", help="Remove articles whose files are gone")] = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar or lines, no summary")
    ] = False,
    chroma_host: ChromaHost = None,
    chroma_port: ChromaPort = None,
    allow_fetch: AllowFetch = None,
    max_article_chars: Annotated[
        int | None,
        typer.Option(
            "--max-article-chars",
            min=1,
            help="Refuse an article whose text is longer (env ARTICLEQA_MAX_ARTICLE_CHARS; default 200000)",
        ),
    ] = None,
) -> None:
    """Ingest articles; unchanged ones are skipped. Exit code 1 if any input failed."""
    qa = Assistant(_config(data_dir, database_url=database_url, chroma_host=chroma_host, chroma_port=chroma_port, fetch_allow=allow_fetch or None,
                           max_article_chars=max_article_chars))  # fmt: skip
    if quiet or not err.is_terminal:  # a log gets plain lines (or nothing), a terminal the bar
        lines = None if quiet else _ProgressLines(err)
        report = qa.ingest(paths, sync=sync, progress=lines)
        if lines:
            lines.finish()
    else:
        report = _ingest_with_bar(qa, paths, sync)
    for w in report.warnings:
        err.print(f"[yellow]warning:[/] {escape(w)}")
    for e in report.errors:
        err.print(f"[red]error:[/] {escape(e)}")
    if not quiet:
        console.print(report.summary(), soft_wrap=True)
    raise typer.Exit(0 if report.ok else 1)


def _ingest_with_bar(qa: Assistant, paths: list[str], sync: bool) -> IngestReport:
    cols = (
        TextColumn("[bold]ingesting"), BarColumn(), MofNCompleteColumn(), TextColumn("articles"),
        TextColumn("{task.fields[chunks]} chunks"), TextColumn("{task.fields[rate]}"), TimeElapsedColumn(),
    )  # fmt: skip
    with Progress(*cols, console=err, transient=False) as bar:
        task = bar.add_task("ingest", total=None, chunks=0, rate="")

        def on_progress(done: int, total: int, chunks: int) -> None:
            el = bar.tasks[0].elapsed or 1e-9
            bar.update(task, completed=done, total=total, chunks=chunks,
                       rate=f"{done / el:.1f} art/s, {chunks / el:.1f} chunks/s")  # fmt: skip

        return qa.ingest(paths, sync=sync, progress=on_progress)


_EVERY = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*(s|m|h|d)?")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(every: str) -> float:
    """``--every``: "15m", "30s", "1h", "1d" or plain seconds; at least 1 s."""
    m = _EVERY.fullmatch(every.strip().lower())
    if not m or float(m[1]) * _UNIT[m[2] or "s"] < 1:
        _fail(f"--every '{every}' is not an interval; use e.g. 30s, 15m, 1h or 1d (at least 1s)")
    return float(m[1]) * _UNIT[m[2] or "s"]


@app.command()
def watch(
    urls: Annotated[list[str], typer.Argument(help="RSS or Atom feed URLs")],
    every: Annotated[str, typer.Option("--every", help="Time between polls: 30s, 15m, 1h, 1d")] = "15m",
    once: Annotated[bool, typer.Option("--once", help="Poll once and exit (for cron)")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only warnings and errors")] = False,
    chroma_host: ChromaHost = None,
    chroma_port: ChromaPort = None,
    allow_fetch: AllowFetch = None,
) -> None:
    """Keep the collection in sync with feeds: new entries added, edited ones replaced (their
    version counted), entries gone from a feed kept. Conditional GETs (ETag, Last-Modified).
    With --once, exit code 1 if any feed or entry failed."""
    interval = _seconds(every)
    for u in urls:
        if not u.lower().startswith(("http://", "https://")):
            _fail(f"'{u}' is not an http(s) feed URL")
    qa = Assistant(
        _config(
            data_dir,
            database_url=database_url,
            chroma_host=chroma_host,
            chroma_port=chroma_port,
            fetch_allow=allow_fetch or None,
        )
    )
    n = 0
    try:
        while True:
            n += 1
            started = time.monotonic()
            totals = IngestReport()
            for url in urls:
                if not quiet:
                    err.print(f"poll {n}: {escape(url)} …", highlight=False)
                ((_, report),) = qa.poll_feeds([url])
                for w in report.warnings:
                    err.print(f"[yellow]warning:[/] {escape(w)}")
                for e in report.errors:
                    err.print(f"[red]error:[/] {escape(e)}")
                if not quiet:
                    line = "not modified" if report.not_modified else report.summary()
                    console.print(f"{escape(url)}: {line}", highlight=False, soft_wrap=True)
                for name in ("added", "updated", "unchanged", "errors", "not_modified"):
                    getattr(totals, name).extend(getattr(report, name))
                totals.chunks += report.chunks
            totals.seconds = time.monotonic() - started
            if not quiet:
                nxt = "" if once else f"; next poll in {every}"
                console.print(f"[bold]poll {n}:[/] {totals.summary()}{nxt}", highlight=False)
            if once:
                raise typer.Exit(0 if totals.ok else 1)
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def _print_answer(ans: Answer) -> None:
    style = "yellow" if ans.abstained else "green"
    title = "no answer in the articles" if ans.abstained else f"answer ({ans.backend})"
    text = escape(ans.text)
    sa = ans.short_answer
    lead = f"**{sa.text}** — " if sa else ""
    if sa and ans.text.startswith(lead):  # the short answer in bold, not in asterisks
        text = f"[bold]{escape(sa.text)}[/] — {escape(ans.text[len(lead) :])}"
    console.print(Panel(text, title=title, border_style=style, expand=False))
    if ans.citations:
        t = Table(title="Sources", show_lines=True, expand=False)
        for col in ("#", "article", "source", "date", "passage", "span"):
            t.add_column(col, overflow="fold")
        for c in ans.citations:
            t.add_row(str(c.n), escape(c.title or c.article_id), escape(c.source or "—"), c.published_at or "—",
                      escape(c.text), f"{c.start}–{c.end}")  # fmt: skip
        console.print(t)
    for k in ans.checks:
        if k.action != "fixed":  # a marker fix changes no claim
            console.print(f"[dim]{k.action}: {escape(k.claim)} ({escape(k.reason)})[/]")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON")] = False,
    top_k: Annotated[int | None, typer.Option("--top-k", help="Passages to consider")] = None,
    source: Annotated[
        list[str] | None, typer.Option("--source", help="Only this outlet (repeatable)")
    ] = None,
    since: Annotated[str | None, typer.Option("--since", help="Published on/after YYYY-MM-DD")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Published on/before YYYY-MM-DD")] = None,
    chroma_host: ChromaHost = None,
    chroma_port: ChromaPort = None,
    answerer: AnswererOpt = None,
    llm_model: LlmModel = None,
    llm_base_url: LlmBaseUrl = None,
    llm_gguf: LlmGguf = None,
) -> None:
    """Answer one question from the ingested articles, with numbered sources."""
    if not question.strip():
        _fail("the question is empty")
    filters = _filters(source, since, until)
    llm = _llm(answerer, llm_model, llm_base_url, llm_gguf)
    qa = Assistant(
        _config(data_dir, database_url=database_url, chroma_host=chroma_host, chroma_port=chroma_port, **llm)
    )
    _require_articles(qa)
    try:
        ans = qa.ask(question, top_k=top_k, filters=filters)
    except LLMError as e:
        if as_json:  # still JSON on stdout, for scripts: {"question", "error": {"type", "message", "url"}}
            sys.stdout.write(
                json.dumps({"question": question, "error": e.to_dict()}, ensure_ascii=False, indent=2) + "\n"
            )
        _llm_failed(e)
    if as_json:
        sys.stdout.write(json.dumps(ans.to_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        _print_answer(ans)


def _require_articles(qa: Assistant) -> None:
    if qa.stats().articles == 0:
        err.print(f"[red]No articles in {qa.config.data_dir}.[/] Run `articleqa ingest PATH` first.")
        raise typer.Exit(2)


SAMPLE_QUESTION = "On what terms did Man want Japan's new-generation ODA to be provided?"
SAMPLE_ARTICLE = "vietnam-japan-parliamentary-agreement-vov"  # the sample article it is about


@app.command()
def chat(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    sample: Annotated[
        bool, typer.Option("--sample/--no-sample", help="Ingest the bundled sample articles first")
    ] = True,
    answerer: AnswererOpt = None,
    llm_model: LlmModel = None,
    llm_base_url: LlmBaseUrl = None,
    llm_gguf: LlmGguf = None,
) -> None:
    """Ask questions interactively in the terminal (empty line or Ctrl-D to quit).

    Follow-ups ("and when did it hit?") are understood in the context of earlier questions."""
    qa = Assistant(
        _config(data_dir, database_url=database_url, **_llm(answerer, llm_model, llm_base_url, llm_gguf))
    )
    messages: list[dict[str, str]] = []
    if sample:
        report = qa.ingest([sample_articles()])
        console.print(f"[dim]sample articles: {report.summary()}[/]")
    _require_articles(qa)
    stats = qa.stats()
    console.print(
        f"[bold]articleqa[/] — {stats.articles} article{'' if stats.articles == 1 else 's'}, {stats.passages} "
        f"passage{'' if stats.passages == 1 else 's'}. Ask a question (empty line to quit)."
    )
    if sample or qa.article(SAMPLE_ARTICLE) is not None:  # the example is about a sample article
        console.print(f'[dim]e.g. "{escape(SAMPLE_QUESTION)}"[/]')
    while True:
        try:
            q = console.input("[bold cyan]? [/]").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not q:
            break
        messages.append({"role": "user", "content": q})
        try:
            ans = qa.chat(messages)
        except LLMError as e:  # every later question would fail the same way
            _llm_failed(e)
        messages.append({"role": "assistant", "content": ans.text})
        if ans.standalone_question and ans.standalone_question != q:
            console.print(f"[dim]understood as: {escape(ans.standalone_question)}[/]")
        _print_answer(ans)


@app.command("list")
def list_articles(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List ingested articles."""
    rows = Assistant(_config(data_dir, database_url=database_url)).articles()
    if as_json:
        sys.stdout.write(json.dumps([r.to_dict() for r in rows], ensure_ascii=False, indent=2) + "\n")
        return
    count = f"{len(rows)} article{'' if len(rows) == 1 else 's'}"
    cols = ("id", "title", "source", "published", "chunks", "version", "group")
    cells = [
        [r.id, r.title, r.source or "—", r.published_at or "—", str(r.chunks), str(r.version),
         r.group_id or "—"]
        for r in rows
    ]  # fmt: skip
    if not console.is_terminal:  # piped: one line per article, columns padded, never wrapped
        cells = [[" ".join(str(v).split()) for v in row] for row in cells]
        widths = [max(len(v) for v in col) for col in zip(cols, *cells, strict=False)]
        for row in (list(cols), *cells):
            sys.stdout.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")
        err.print(count, highlight=False)
        return
    t = Table(title=count)
    for col in cols:
        t.add_column(col, overflow="fold")
    for row in cells:
        t.add_row(*(escape(v) for v in row))
    console.print(t)


@app.command()
def remove(article_ids: Annotated[list[str], typer.Argument(help="Article ids (see `articleqa list`)")],
           data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:  # fmt: skip
    """Remove articles from every index."""
    qa = Assistant(_config(data_dir, database_url=database_url))
    missing = 0
    for a in article_ids:
        if qa.remove(a):
            console.print(f"removed {escape(a)}", soft_wrap=True, highlight=False)
        else:
            missing += 1
            err.print(f"[red]no article with id '{escape(a)}'[/]")
    raise typer.Exit(1 if missing else 0)


@app.command()
def schema(
    out: Annotated[
        Path | None, typer.Argument(help="Write NAME.schema.json files into this folder (default: print)")
    ] = None,
) -> None:
    """The JSON Schema of everything articleqa writes as JSON (ask --json, list --json, the UI's /chat)."""
    from .schema import json_schema, write_schemas

    if out is None:
        sys.stdout.write(json.dumps(json_schema(), ensure_ascii=False, indent=2) + "\n")
        return
    for path in write_schemas(out):
        console.print(str(path), soft_wrap=True, highlight=False)


@app.command("eval")
def evaluate(
    dataset: Annotated[Path, typer.Argument(help="Evaluation set (.jsonl) or SQuAD .json")],
    fmt: Annotated[
        str | None, typer.Option("--format", help="jsonl | squad (default: from extension)")
    ] = None,
    corpus: Annotated[
        list[Path] | None, typer.Option("--corpus", help="Articles to index (jsonl sets)")
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    report_dir: Annotated[Path, typer.Option("--report-dir", help="Where reports go")] = Path(
        "reports/latest"
    ),
    limit: Annotated[int | None, typer.Option("--limit", help="Evaluate at most N questions")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Sampling seed")] = 0,
    holdout: Annotated[
        int,
        typer.Option(
            "--holdout", help="SQuAD: leave N articles unindexed; their questions must be abstained"
        ),
    ] = 0,
    baseline: Annotated[
        bool, typer.Option("--baseline/--no-baseline", help="Also run the llama-index baseline")
    ] = True,
    compare_evidence: Annotated[
        bool,
        typer.Option(
            "--compare-evidence",
            help="Ask every question again with the other evidence scorer (overlap, or reader when overlap is configured; "
            "env ARTICLEQA_EVIDENCE sets the configured one) and report both side by side",
        ),
    ] = False,
    answerer: AnswererOpt = None,
    llm_model: LlmModel = None,
    llm_base_url: LlmBaseUrl = None,
    llm_gguf: LlmGguf = None,
) -> None:
    """Run the batch evaluation and write report.json, report.md, plots and results.jsonl.

    With --compare-evidence, also answer with the other evidence scorer; both are reported side by side."""
    from .evaluation import run_eval
    from .evaluation.report import evidence_summary

    fmt = fmt or ("squad" if dataset.suffix == ".json" else "jsonl")
    try:
        report = run_eval(
            dataset, fmt=fmt, corpus=corpus, data_dir=data_dir, report_dir=report_dir, limit=limit,
            seed=seed, holdout=holdout, baseline=baseline, compare_evidence=compare_evidence,
            config=_config(data_dir, database_url=database_url, **_llm(answerer, llm_model, llm_base_url, llm_gguf)),
        )  # fmt: skip
    except LLMError as e:
        _llm_failed(e)
    headline = ("n", "answer", "abstention", "retrieval", "citations", "latency_ms")
    console.print_json(json.dumps({k: v for k, v in report.to_dict().items() if k in headline}))
    if report.evidence:
        console.print(evidence_summary(report), highlight=False, markup=False, soft_wrap=True)
    console.print(f"report: {report_dir / 'report.md'}")


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[
        str, typer.Option("--host", help="Interface to listen on (0.0.0.0: every interface)")
    ] = "127.0.0.1",
    port: Annotated[
        int | None, typer.Option("--port", "-p", help="Port (default: 7860 or the next free one)")
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    auth: Annotated[
        str | None,
        typer.Option(
            "--auth",
            envvar="ARTICLEQA_AUTH",
            show_default=False,
            help="USER:PASSWORD; turns on login. Prefer env ARTICLEQA_AUTH or --auth-file: "
            "a password on the command line shows in ps",
        ),
    ] = None,
    auth_file: Annotated[
        Path | None,
        typer.Option(
            "--auth-file",
            show_default=False,
            help="A file holding USER:PASSWORD (its first non-# line); turns on login",
        ),
    ] = None,
    sample: Annotated[
        bool, typer.Option("--sample/--no-sample", help="Ingest the bundled sample articles first")
    ] = True,
    answerer: AnswererOpt = None,
    llm_model: LlmModel = None,
    llm_base_url: LlmBaseUrl = None,
    llm_gguf: LlmGguf = None,
    chroma_host: ChromaHost = None,
    chroma_port: ChromaPort = None,
    allow_fetch: AllowFetch = None,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-proxy",
            metavar="ADDRESS|NETWORK",
            help="A reverse proxy in front of the UI (e.g. 127.0.0.1, 10.0.0.0/8; repeatable; env "
            "ARTICLEQA_TRUSTED_PROXIES): X-Forwarded-For/-Proto are honoured only from it "
            "(from no one by default)",
        ),
    ] = None,
    api_keys_file: Annotated[
        Path | None,
        typer.Option(
            "--api-keys-file",
            show_default=False,
            help="A file of API keys, one per line: every /v1 route then needs 'Authorization: Bearer KEY' "
            "(or env ARTICLEQA_API_KEYS, comma-separated; never on the command line)",
        ),
    ] = None,  # fmt: skip
) -> None:
    """Serve the web UI and the HTTP API (/v1, OpenAI-compatible chat, MCP at /mcp) in one process."""
    from .service.app import launch, parse_auth
    from .ui.security import CMDLINE_AUTH_WARNING, auth_file_warning, read_auth_file

    hint = "--auth"
    if auth_file is not None:
        if auth is not None:
            raise typer.BadParameter(
                "give either --auth (or ARTICLEQA_AUTH) or --auth-file", param_hint="--auth-file"
            )
        hint = "--auth-file"
        try:
            auth = read_auth_file(auth_file)
        except ValueError as e:
            raise typer.BadParameter(str(e), param_hint=hint) from e
    try:
        creds = parse_auth(auth)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint=hint) from e
    if auth_file is not None and (warning := auth_file_warning(auth_file)):
        err.print(escape(warning))
    source = ctx.get_parameter_source("auth")  # typer's own click: compare by name
    if creds and getattr(source, "name", "") == "COMMANDLINE":
        err.print(escape(CMDLINE_AUTH_WARNING))
    llm = _llm(answerer, llm_model, llm_base_url, llm_gguf)
    cfg = _config(data_dir, database_url=database_url, chroma_host=chroma_host, chroma_port=chroma_port, fetch_allow=allow_fetch or None,
                  trusted_proxies=trusted_proxy or None, api_keys_file=api_keys_file, **llm)  # fmt: skip
    try:
        launch(Assistant(cfg), host=host, port=port, auth=creds, sample=sample)
    except (ValueError, OSError) as e:
        _fail(str(e))


@app.command()
def mcp(
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    allow_ingest: Annotated[
        bool,
        typer.Option(
            "--allow-ingest",
            help="Add the ingest tool: clients may add articles (fetching URLs under the fetch policy)",
        ),
    ] = False,
    allow_fetch: AllowFetch = None,
    answerer: AnswererOpt = None,
    llm_model: LlmModel = None,
    llm_base_url: LlmBaseUrl = None,
    llm_gguf: LlmGguf = None,
    chroma_host: ChromaHost = None,
    chroma_port: ChromaPort = None,
) -> None:
    """Serve the collection to an MCP client over stdio (tools: ask, search, list_articles,
    get_article; ingest with --allow-ingest). Stdout carries only the protocol; logs go to stderr."""
    from .service.mcp import build_mcp

    llm = _llm(answerer, llm_model, llm_base_url, llm_gguf)
    cfg = _config(data_dir, database_url=database_url, chroma_host=chroma_host, chroma_port=chroma_port, fetch_allow=allow_fetch or None,
                  **llm)  # fmt: skip
    qa = Assistant(cfg)
    if qa.stats().articles == 0:  # served anyway: with --allow-ingest a client may add articles
        err.print(
            f"[yellow]No articles in {escape(str(cfg.data_dir))}.[/] Run `articleqa ingest PATH --data-dir "
            f"{escape(str(cfg.data_dir))}` first{' (or use the ingest tool)' if allow_ingest else ''}.",
            highlight=False,
        )
    qa.warm_up()  # the model loads now, not during the client's first call
    server = build_mcp(qa, allow_ingest=allow_ingest or cfg.mcp_ingest)
    try:
        server.run("stdio")
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


@app.command()
def migrate(
    to: Annotated[str, typer.Option("--to", help="Target database: postgresql://USER:PASSWORD@HOST:PORT/DB")],
    data_dir: DataDir = None,
    chroma_host: ChromaHost = None,
    chroma_port: ChromaPort = None,
) -> None:
    """Copy the local collection (articles, chunks with their vectors, feeds, story groups) into
    PostgreSQL, without embedding anything again; run it again to copy what changed since."""
    from .index import open_store
    from .index.contracts import StoreUnavailable
    from .index.migrate import migrate as copy_collection

    source_cfg = _config(data_dir, chroma_host=chroma_host, chroma_port=chroma_port, store="local")
    target_cfg = _config(data_dir, store="postgres", database_url=to)
    source = open_store(source_cfg)
    if source.count()[0] == 0:
        _fail(f"no articles in {source_cfg.data_dir} to copy")
    try:
        target = open_store(target_cfg, embedder=source.embedding_model())
        cols = (
            TextColumn("[bold]copying"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("articles"),
            TimeElapsedColumn(),
        )
        with Progress(*cols, console=err, transient=True) as bar:
            task = bar.add_task("copy", total=None)
            report = copy_collection(
                source, target, lambda done, total: bar.update(task, completed=done, total=total)
            )
    except StoreUnavailable as e:
        _fail(str(e))
    for e in report.errors:
        err.print(f"[red]failed:[/] {escape(e)}")
    console.print(report.summary(), soft_wrap=True)
    if report.errors:
        raise typer.Exit(1)


postgres_app = typer.Typer(
    no_args_is_help=True, help="A local PostgreSQL with pgvector for the postgres store."
)
app.add_typer(postgres_app, name="postgres")
PgDir = Annotated[Path, typer.Option("--dir", help="The server's data folder")]
PgPort = Annotated[int, typer.Option("--port", help="Port on 127.0.0.1")]


@postgres_app.command("start")
def postgres_start(dir: PgDir = Path("pgdata"), port: PgPort = 5432) -> None:
    """Start (creating on first use) PostgreSQL 16 + pgvector in --dir on 127.0.0.1, and print
    its URL for ARTICLEQA_DATABASE_URL (pip install 'articleqa[postgres]')."""
    from .postgres_server import LocalPostgres

    try:
        server = LocalPostgres(dir.resolve(), port=port).init().start()
    except RuntimeError as e:
        _fail(str(e))
    err.print(f"PostgreSQL is running on 127.0.0.1:{port} (pid {server.pid}); stop it with "
              f"`articleqa postgres stop --dir {escape(str(dir))}`.")  # fmt: skip
    console.print(server.url(), highlight=False, soft_wrap=True)


@postgres_app.command("stop")
def postgres_stop(dir: PgDir = Path("pgdata")) -> None:
    """Stop the server started in --dir (by its PID)."""
    from .postgres_server import LocalPostgres

    server = LocalPostgres(dir.resolve())
    if server.pid is None:
        err.print(f"no server is running in {escape(str(dir))}")
        return
    server.stop()
    err.print("stopped")


@postgres_app.command("url")
def postgres_url(dir: PgDir = Path("pgdata")) -> None:
    """Print the URL of the server running in --dir (for ARTICLEQA_DATABASE_URL)."""
    from .postgres_server import LocalPostgres

    server = LocalPostgres.running(dir.resolve())
    if server is None:
        _fail(f"no server is running in {dir}; start it with `articleqa postgres start --dir {dir}`")
    console.print(server.url(), highlight=False, soft_wrap=True)


def main() -> None:
    """The ``articleqa`` command: `app`, with a store that can't be opened or used (no server
    there, a wrong password, another embedding model) said in one line, exit code 2."""
    from .index.contracts import StoreMismatch, StoreUnavailable
    from .index.embeddings import EmbeddingServerError

    try:
        app()
    except (StoreUnavailable, StoreMismatch, EmbeddingServerError) as e:
        err.print(f"[red]error:[/] {escape(str(e))}", highlight=False)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
