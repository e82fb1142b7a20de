"""How well the LLM answer path keeps a capable model's right claims and drops its invented ones.

Every fixture of ``tests/fixtures/capable_llm.jsonl`` (what GPT-4-class models really write:
paraphrases, merged sentences, wrong markers, yes/no and comparison answers, invented names
and figures, abstentions) goes through the real path: an `articleqa.Assistant` with
``answerer="openai"`` over the fixture's corpus, the real openai client, and the scripted
server of ``eval/scripted_llm.py`` playing the model. Each claim's ``key`` is then looked
for in the validated answer text (case-insensitive, whitespace-normalised):

- correct kept: correct claims whose key is still in the answer / all correct claims;
- hallucinated dropped: invented claims whose key is gone / all invented claims;
- abstentions right: ``abstain`` fixtures answered with an abstention;
- wrong markers fixed: kept claims with a ``source`` phrase whose marker now points at a
  passage containing it;
- gated: questions the evidence gate abstained on before the model was asked;
- not shown: ``{cite:...}`` phrases in no passage shown to the model (a retrieval miss).

python eval/llm_fixtures.py [--fixtures tests/fixtures/capable_llm.jsonl] [--json out.json] [--show]

Through the evaluation runner
-----------------------------
The same fixtures can be scored by ``articleqa eval --answerer openai`` against the scripted
server, so the numbers come out of the runner's own report.

``--write-eval DIR`` writes ``DIR/capable_llm_sample.jsonl`` and ``DIR/capable_llm_dated.jsonl``
(`write_eval`), one item per fixture in the format of `articleqa.evaluation.datasets.load_jsonl`
(eval/datasets/README.md):

- ``answers`` and ``must_mention``: the fixture's correct claim keys; ``[]`` for ``abstain``
  fixtures, which makes them unanswerable.
- ``contains``: the runner scores an answerable item with ``metrics.contains``. When
  ``must_mention`` is given, that is `metrics.mentions`: every item must occur in the
  answer, after SQuAD normalisation and as whole tokens. An abstention scores False (the
  runner's prediction is then ""). So ``contains`` is the share of answerable fixtures
  where every right claim survived validation. That is stricter than the harness's
  per-claim "correct kept".
- ``articles`` and ``gold_spans``: the ids and (article_id, start, end) offsets, in the text
  the reader produces, of every place the corpus holds an evidence phrase of a correct
  claim (`evidence_phrases`: the ``{cite:}``/``{wrong:}`` phrases of its sentence and its
  ``source``). The runner does not need ``articles``: `metrics.relevant` accepts any article
  when the list is empty. But a citation counts as correct (citation precision) only when
  its passage holds a gold answer verbatim or overlaps a gold span. Claim keys are the
  model's paraphrases, so without the spans almost no citation would count. Retrieval
  hit@k/MRR still need a passage that holds a key *verbatim* and lies in a gold span, so
  for this set they are a lower bound; they are not a retrieval score.
- ``type``: the fixture ``kind``.
- ``must_not_mention``: the hallucinated claim keys. The runner ignores them today; they
  are kept as a record, and `claims_in_results` reads them.

``--serve-eval`` (`serve_eval`) starts a `ScriptedLLM` and, for each corpus, calls
``run_eval(set, corpus=[corpus path], config=Config(answerer="openai", llm_base_url=url,
llm_model="scripted", llm_api_key="x"), baseline=False, ...)`` on a temporary store. It then
prints each report's headline: contains, abstention recall, false abstention and citation
precision (hit@5 too). It also prints the claim rates that `claims_in_results` computes
from that run's ``results.jsonl``: a hallucinated key absent from the answer text (or an
abstention) counts as dropped, and a correct key present in it counts as kept. The sets and
reports stay in ``--write-eval DIR``, if that is given, with one ``DIR/report-<corpus>/``
per corpus; ``--json`` writes the numbers. The equivalent shell commands are::

    python eval/llm_fixtures.py --write-eval DIR
    python eval/scripted_llm.py --fixtures tests/fixtures/capable_llm.jsonl --port 8765 &
    articleqa eval DIR/capable_llm_dated.jsonl --corpus eval/datasets/news_dated_corpus.jsonl \
        --answerer openai --llm-base-url http://127.0.0.1:8765/v1 --llm-model scripted \
        --no-baseline --data-dir /tmp/aq-dated --report-dir DIR/report-dated
    articleqa eval DIR/capable_llm_sample.jsonl --corpus examples/articles ...  # likewise

The CLI has no API-key option. The openai answerer sends ``OPENAI_API_KEY`` if it is set,
and otherwise the placeholder "not-needed", which the scripted server accepts. Use a fresh
``--data-dir``: otherwise ``.articleqa/`` is used. The hallucination rate of such a run is
``claims_in_results("DIR/capable_llm_dated.jsonl", "DIR/report-dated/results.jsonl")``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import re
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

for _k, _v in {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
               "ANONYMIZED_TELEMETRY": "False"}.items():  # fmt: skip
    os.environ.setdefault(_k, _v)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from scripted_llm import MARK, ScriptedLLM, load_fixtures, norm  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "capable_llm.jsonl"
# Where each fixture corpus is read from: the first path that exists.
CORPORA = {
    "sample": [ROOT / "examples" / "articles"],
    "dated": [ROOT / "src" / "articleqa" / "data" / "datasets" / "news_dated_corpus.jsonl",
              ROOT / "eval" / "datasets" / "news_dated_corpus.jsonl"],
}  # fmt: skip


def corpus_path(corpus: str) -> Path:
    if corpus not in CORPORA:
        raise ValueError(f"unknown corpus {corpus!r}: one of {', '.join(CORPORA)}")
    for p in CORPORA[corpus]:
        if p.exists():
            return p
    raise FileNotFoundError(f"corpus {corpus!r}: none of {[str(p) for p in CORPORA[corpus]]} exists")


_MARKS = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


@dataclass
class ClaimResult:
    key: str
    correct: bool
    kept: bool
    why: str = ""
    source: str | None = None  # phrase the passage it should cite contains (wrong_marker fixtures)
    cited_right: bool | None = None  # kept, and a marker of its sentence points at such a passage
    not_shown: bool = False  # a {cite:} phrase of its sentence was in no passage shown to the model
    lost_to: str | None = None  # a correct claim not kept: "gate", "not_shown" or "validator"
    note: str = ""  # what the validator said about the sentence holding it, if anything


@dataclass
class Result:
    id: str
    kind: str
    corpus: str
    question: str
    abstain_expected: bool
    gated: bool  # the model was never asked (evidence gate, or no passages)
    raw: str | None  # the scripted answer as the model sent it
    answer: str
    abstained: bool
    shown: list[str] = field(default_factory=list)
    claims: list[ClaimResult] = field(default_factory=list)
    misses: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


class _Notes(logging.Handler):
    """Collects the validator's "citation check: what: claim" debug lines."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):  # a log line is never worth failing the run for
            self.lines.append(record.getMessage())


def _sentence_markers(text: str, key: str) -> list[int]:
    """The ``[n]`` numbers of the answer sentence that holds ``key`` (markers follow sentences)."""
    t = norm(text)
    at = t.find(norm(key))
    if at < 0:
        return []
    # The validated text is "claim [n] claim [m][k] ...": the markers right after the claim.
    m = re.compile(r"((?:\s*\[\d+(?:\s*,\s*\d+)*\])+)").search(t, at + len(norm(key)))
    return [int(n) for g in _MARKS.findall(m.group(1)) for n in g.split(",")] if m else []


_SENTENCE_END = re.compile(r"[.!?](?=\s|$)|\n")


def claim_markers(template: str, key: str) -> list[tuple[str, str]]:
    """The ``(cite|wrong, phrase)`` markers of the template sentence that holds ``key`` (the
    validator judges sentences, so a sentence citing a passage not shown fails as a whole)."""
    plain, at = [], []  # the template without markers, and each marker's position in it
    pos = 0
    for m in MARK.finditer(template):
        plain.append(template[pos : m.start()])
        at.append((sum(map(len, plain)), m["kind"], m["phrase"]))
        pos = m.end()
    plain.append(template[pos:])
    text = "".join(plain).lower()
    start = text.find(key.lower())
    if start < 0:
        return []
    first = max((e.end() for e in _SENTENCE_END.finditer(text, 0, start)), default=0)
    stop = _SENTENCE_END.search(text, start + len(key))
    last = stop.start() if stop else len(text)
    return [(k, ph) for x, k, ph in at if first <= x <= last]


class Harness:
    """A scripted server and one `Assistant` per corpus (built and ingested on first use)."""

    def __init__(self, fixtures: list[dict] | str | Path = FIXTURES, *, stream: bool = False, workdir=None):
        self.fixtures = load_fixtures(fixtures) if isinstance(fixtures, str | Path) else list(fixtures)
        self.stream = stream
        self.llm = ScriptedLLM(self.fixtures)
        self._tmp = tempfile.TemporaryDirectory(prefix="llm-fixtures-") if workdir is None else None
        self.workdir = Path(workdir or self._tmp.name)
        self._assistants: dict = {}
        self._embedder = None
        self.ingest_seconds: dict[str, float] = {}

    def __enter__(self) -> Harness:
        self.llm.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.llm.stop()
        self._assistants.clear()
        if self._tmp is not None:
            self._tmp.cleanup()

    def assistant(self, corpus: str):
        if corpus not in self._assistants:
            from articleqa import Assistant, Config
            from articleqa.index.embeddings import MiniLMEmbedder
            from articleqa.index.local import Store

            path = corpus_path(corpus)
            self._embedder = self._embedder or MiniLMEmbedder()
            cfg = Config(
                data_dir=self.workdir / corpus, answerer="openai", llm_base_url=self.llm.start(),
                llm_model="scripted", llm_api_key="x",
            )  # fmt: skip
            qa = Assistant(cfg, store=Store(cfg, embedder=self._embedder))
            t = time.perf_counter()
            report = qa.ingest([path])
            self.ingest_seconds[corpus] = time.perf_counter() - t
            if not report.ok:
                raise RuntimeError(f"ingesting {path} failed: {report}")
            self._assistants[corpus] = qa
        return self._assistants[corpus]

    def ask(self, fx: dict) -> Result:
        qa = self.assistant(fx["corpus"])
        before_req, before_miss = len(self.llm.requests), len(self.llm.misses)
        log = logging.getLogger("articleqa.answer.citations")
        notes, level = _Notes(), log.level
        log.addHandler(notes)
        log.setLevel(logging.DEBUG)
        t = time.perf_counter()
        try:
            if self.stream:
                ans = next(ev.answer for ev in qa.ask_stream(fx["question"]) if ev.answer is not None)
            else:
                ans = qa.ask(fx["question"])
        finally:
            log.removeHandler(notes)
            log.setLevel(level)
        seconds = time.perf_counter() - t
        checks = getattr(ans, "checks", None)  # what the validator did, where Answer says so
        if checks:
            notes.lines = [f"{k.action} ({k.reason}): {k.claim!r}" for k in checks]
        mine = [
            r
            for r in self.llm.requests[before_req:]
            if r.get("role") == "answer" and r.get("fixture") == fx.get("id")
        ]
        misses = [m for m in self.llm.misses[before_miss:] if m.get("fixture") == fx.get("id")]
        chunk_text = {h.chunk.id: h.chunk.text for h in ans.hits}
        cited = {c.n: chunk_text.get(c.chunk_id, c.text) for c in ans.citations}
        unseen = {norm(m["phrase"]) for m in misses if m["miss"] == "not_shown"}
        claims = []
        for c in fx.get("claims", []):
            kept = not ans.abstained and norm(c["key"]) in norm(ans.text)
            source = c.get("source")
            right = None
            if source is not None and c.get("correct"):
                right = kept and any(
                    norm(source) in norm(cited.get(n, "")) for n in _sentence_markers(ans.text, c["key"])
                )
            hidden = any(
                k == "cite" and norm(ph) in unseen for k, ph in claim_markers(fx["answer"], c["key"])
            )
            lost = None
            if c.get("correct") and not kept:
                lost = "gate" if not mine else "not_shown" if hidden else "validator"
            # The note that decided it: the last one about the sentence holding the key.
            note = next((n for n in reversed(notes.lines) if norm(c["key"]) in norm(n)), "")
            claims.append(ClaimResult(c["key"], bool(c.get("correct")), kept, c.get("why", ""), source, right,
                                      hidden, lost, note))  # fmt: skip
        return Result(
            id=fx.get("id", "?"), kind=fx.get("kind", "?"), corpus=fx["corpus"], question=fx["question"],
            abstain_expected=bool(fx.get("abstain", fx.get("kind") == "abstain")), gated=not mine,
            raw=mine[-1]["reply"] if mine else None, answer=ans.text, abstained=ans.abstained,
            shown=[f"{h.title} ({h.chunk.article_id})" for h in ans.hits], claims=claims, misses=misses,
            notes=notes.lines, seconds=seconds,
        )  # fmt: skip

    def run(self, fixtures: list[dict] | None = None) -> list[Result]:
        return [self.ask(fx) for fx in (self.fixtures if fixtures is None else fixtures)]


# ---- scoring --------------------------------------------------------------------------------
def _rates(results: list[Result]) -> dict:
    correct = [c for r in results for c in r.claims if c.correct]
    invented = [c for r in results for c in r.claims if not c.correct]
    sourced = [c for c in correct if c.cited_right is not None]
    abst = [r for r in results if r.abstain_expected]
    answerable = [r for r in results if not r.abstain_expected]

    def rate(a: int, b: int) -> float | None:
        return round(a / b, 4) if b else None

    kept = sum(c.kept for c in correct)
    dropped = sum(not c.kept for c in invented)
    seen = [c for c in correct if c.lost_to != "gate" and not c.not_shown]  # asked, passage shown
    return {
        "fixtures": len(results),
        "correct_claims": len(correct),
        "correct_kept": kept,
        "correct_kept_rate": rate(kept, len(correct)),
        "correct_lost_to_gate": sum(c.lost_to == "gate" for c in correct),
        "correct_lost_not_shown": sum(c.lost_to == "not_shown" for c in correct),
        "correct_lost_to_validator": sum(c.lost_to == "validator" for c in correct),
        "correct_asked_and_shown": len(seen),
        "correct_kept_when_shown_rate": rate(sum(c.kept for c in seen), len(seen)),
        "hallucinated_claims": len(invented),
        "hallucinated_dropped": dropped,
        "hallucinated_dropped_rate": rate(dropped, len(invented)),
        "abstain_fixtures": len(abst),
        "abstained_right": sum(r.abstained for r in abst),
        "abstained_right_rate": rate(sum(r.abstained for r in abst), len(abst)),
        "false_abstentions": sum(r.abstained for r in answerable),
        "gated": sum(r.gated for r in results),
        "gated_answerable": sum(r.gated for r in answerable),
        "markers_to_fix": len(sourced),
        "markers_fixed": sum(bool(c.cited_right) for c in sourced),
        "not_shown_misses": sum(m["miss"] == "not_shown" for r in results for m in r.misses),
        "fixtures_with_not_shown": sum(any(m["miss"] == "not_shown" for m in r.misses) for r in results),
        "no_wrong_passage": sum(m["miss"] == "no_wrong_passage" for r in results for m in r.misses),
    }


def score(results: list[Result]) -> dict:
    by_kind: dict[str, list[Result]] = defaultdict(list)
    by_corpus: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_kind[r.kind].append(r)
        by_corpus[r.corpus].append(r)
    return {
        "overall": _rates(results),
        "by_kind": {k: _rates(v) for k, v in sorted(by_kind.items())},
        "by_corpus": {k: _rates(v) for k, v in sorted(by_corpus.items())},
    }


def _frac(a, b) -> str:
    return f"{a}/{b}" if b else "-"


def table(summary: dict) -> str:
    head = (f"{'':<20}{'fixt':>5}{'correct kept':>15}{'halluc dropped':>16}{'abstain ok':>11}{'false abst':>11}"
            f"{'gated':>6}{'not shown':>10}{'lost gate/unseen/valid':>23}{'kept if shown':>14}{'marker fixed':>13}")  # fmt: skip
    lines = [head, "-" * len(head)]

    def row(name: str, s: dict) -> str:
        ck = _frac(s["correct_kept"], s["correct_claims"])
        hd = _frac(s["hallucinated_dropped"], s["hallucinated_claims"])
        if s["correct_claims"]:
            ck += f" {s['correct_kept_rate']:.0%}"
        if s["hallucinated_claims"]:
            hd += f" {s['hallucinated_dropped_rate']:.0%}"
        lost = f"{s['correct_lost_to_gate']}/{s['correct_lost_not_shown']}/{s['correct_lost_to_validator']}"
        ks = s["correct_kept_when_shown_rate"]
        return (f"{name:<20}{s['fixtures']:>5}{ck:>15}{hd:>16}{_frac(s['abstained_right'], s['abstain_fixtures']):>11}"
                f"{s['false_abstentions']:>11}{s['gated']:>6}{s['not_shown_misses']:>10}{lost:>23}"
                f"{'-' if ks is None else f'{ks:.0%}':>14}{_frac(s['markers_fixed'], s['markers_to_fix']):>13}")  # fmt: skip

    for k, s in summary["by_kind"].items():
        lines.append(row(k, s))
    lines.append("-" * len(head))
    for k, s in summary["by_corpus"].items():
        lines.append(row(f"corpus {k}", s))
    lines.append(row("ALL", summary["overall"]))
    return "\n".join(lines)


def show(r: Result) -> str:
    out = [f"=== {r.id} [{r.kind}, {r.corpus}] {r.question}"]
    out.append("  shown:     " + " | ".join(r.shown))
    out.append(f"  scripted:  {r.raw if r.raw is not None else '(model not asked: evidence gate abstained)'}")
    out.append(f"  validated: {r.answer}{'  (abstained)' if r.abstained else ''}")
    for m in r.misses:
        out.append(f"  MISS {m['miss']}: {m['marker']}:{m['phrase']!r}")
    for c in r.claims:
        ok = c.kept == c.correct
        status = ("kept" if c.kept else "DROPPED") + ("" if ok else "  <-- wrong")
        extra = "" if c.cited_right is None else f", cited right: {c.cited_right}"
        extra += f" (lost to: {c.lost_to})" if c.lost_to else ""
        out.append(
            f"  {'ok ' if ok else 'BAD'} {'correct ' if c.correct else 'invented'} {status}: {c.key!r}{extra}"
        )
        if not ok and c.note:
            out.append(f"        validator: {c.note}")
    for n in r.notes:
        out.append(f"  note: {n}")
    return "\n".join(out)


# ---- the same fixtures through the evaluation runner (`articleqa eval`) ----------------------
EVAL_FILE = "capable_llm_{corpus}.jsonl"


def _spans(text: str, phrase: str) -> list[tuple[int, int]]:
    """Every (start, end) in ``text`` where ``phrase`` occurs as `norm` compares them (case,
    quotes, dashes and runs of whitespace ignored), in ``text``'s own offsets."""
    flat: list[str] = []  # text as norm() writes it, one char at a time...
    at: list[int] = []  # ...and the offset in text each char came from
    for i, ch in enumerate(text):
        if ch.isspace():
            if flat and flat[-1] != " ":
                flat.append(" ")
                at.append(i)
            continue
        for c in norm(ch):
            flat.append(c)
            at.append(i)
    hay, needle = "".join(flat), norm(phrase)
    out, pos = [], hay.find(needle) if needle else -1
    while pos >= 0:
        out.append((at[pos], at[pos + len(needle) - 1] + 1))
        pos = hay.find(needle, pos + 1)
    return out


def evidence_phrases(fx: dict) -> list[str]:
    """The phrases the passages behind a fixture's correct claims contain: the ``{cite:}`` and
    ``{wrong:}`` phrases of each correct claim's sentence, and its ``source``."""
    out: list[str] = []
    for c in fx.get("claims", []):
        if c.get("correct"):
            out += [ph for _, ph in claim_markers(fx["answer"], c["key"])]
            out += [c["source"]] if c.get("source") else []
    return list(dict.fromkeys(out))


def eval_items(fixtures: list[dict], corpus: str) -> list[dict]:
    """The fixtures of ``corpus`` as evaluation items (the format of
    `articleqa.evaluation.datasets.load_jsonl`, see the module docstring)."""
    from articleqa.ingest.sources import read_paths

    articles = read_paths([corpus_path(corpus)]).articles
    items = []
    for fx in (f for f in fixtures if f["corpus"] == corpus):
        right = [c["key"] for c in fx.get("claims", []) if c.get("correct")]
        spans = [(a.id, s, e) for ph in (evidence_phrases(fx) if right else [])
                 for a in articles for s, e in _spans(a.text, ph)]  # fmt: skip
        items.append({
            "id": fx["id"], "question": fx["question"], "answers": right, "must_mention": right,
            "articles": list(dict.fromkeys(a for a, _, _ in spans)), "type": fx.get("kind", "factoid"),
            "gold_spans": [list(s) for s in dict.fromkeys(spans)],
            "must_not_mention": [c["key"] for c in fx.get("claims", []) if not c.get("correct")],
        })  # fmt: skip
    return items


def write_eval(out_dir: str | Path, fixtures: list[dict] | None = None) -> dict[str, Path]:
    """``out_dir/capable_llm_<corpus>.jsonl`` for each corpus the fixtures use; their paths."""
    fixtures = load_fixtures(FIXTURES) if fixtures is None else fixtures
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for corpus in (c for c in CORPORA if any(f["corpus"] == c for f in fixtures)):
        paths[corpus] = out_dir / EVAL_FILE.format(corpus=corpus)
        lines = [json.dumps(it, ensure_ascii=False) for it in eval_items(fixtures, corpus)]
        paths[corpus].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths


def claims_in_results(dataset: str | Path, results: str | Path) -> dict:
    """Claim rates of an ``articleqa eval`` run (its ``results.jsonl``) on a set `write_eval`
    wrote: a key is kept when the answer was not an abstention and holds it (`norm`, as the
    harness compares), so a hallucinated key absent from the answer text is dropped."""

    def lines(path: str | Path) -> list[dict]:
        return [json.loads(ln) for ln in Path(path).read_text(encoding="utf-8").splitlines() if ln.strip()]

    items = {it["id"]: it for it in lines(dataset)}
    rows = lines(results)
    correct = kept = invented = dropped = answerable = with_one = 0
    hallucinated_kept: list[tuple[str, str]] = []
    for row in rows:
        it = items[row["id"]]
        text = "" if row["abstained"] else norm(row["answer"])
        here = [norm(k) in text for k in it["must_mention"]]
        correct, kept = correct + len(here), kept + sum(here)
        if it["answers"]:
            answerable, with_one = answerable + 1, with_one + any(here)
        for k in it.get("must_not_mention", []):
            invented += 1
            if norm(k) in text:
                hallucinated_kept.append((row["id"], k))
            else:
                dropped += 1

    def rate(a: int, b: int) -> float | None:
        return round(a / b, 4) if b else None

    return {
        "items": len(rows), "correct_claims": correct, "correct_kept": kept,
        "correct_kept_rate": rate(kept, correct), "hallucinated_claims": invented,
        "hallucinated_dropped": dropped, "hallucinated_dropped_rate": rate(dropped, invented),
        "hallucinated_kept": hallucinated_kept, "answerable": answerable,
        "answerable_with_a_correct_key": with_one,
        "answerable_with_a_correct_key_rate": rate(with_one, answerable),
    }  # fmt: skip


def serve_eval(fixtures: list[dict] | None = None, out_dir: str | Path | None = None) -> dict[str, dict]:
    """Per corpus: `write_eval`'s set run through `articleqa.evaluation.run_eval` with
    ``answerer="openai"`` against a `ScriptedLLM`, then its report's headline and
    `claims_in_results`. Sets and reports go under ``out_dir`` (``report-<corpus>/``), kept;
    without it, a temporary folder. The stores are always temporary."""
    from articleqa import Config
    from articleqa.evaluation import run_eval

    fixtures = load_fixtures(FIXTURES) if fixtures is None else fixtures
    out: dict[str, dict] = {}
    with ScriptedLLM(fixtures) as llm, tempfile.TemporaryDirectory(prefix="llm-fixtures-eval-") as tmp:
        where = Path(out_dir or tmp)
        for corpus, dataset in write_eval(where, fixtures).items():
            cfg = Config(answerer="openai", llm_base_url=llm.base_url, llm_model="scripted", llm_api_key="x")
            report_dir = where / f"report-{corpus}"
            t = time.perf_counter()
            report = run_eval(dataset, corpus=[corpus_path(corpus)], config=cfg, baseline=False,
                              report_dir=report_dir, data_dir=Path(tmp) / f"data-{corpus}", progress=False)  # fmt: skip
            s = report.articleqa
            out[corpus] = {
                "dataset": str(dataset), "report_dir": str(report_dir), "n": s.n,
                "answerable": s.n_answerable, "answerer": report.config.get("answerer"),
                "contains": s.answer.contains, "abstention_recall": s.abstention.recall,
                "false_abstention": s.abstention.false_rate, "citation_precision": s.citations.precision,
                "hit_at_5": s.retrieval.hit_at_5, "seconds": round(time.perf_counter() - t, 1),
                **claims_in_results(dataset, report_dir / "results.jsonl"),
                "unmatched": [u["question"] for u in llm.unmatched],
            }  # fmt: skip
            llm.unmatched.clear()
    return out


def eval_table(numbers: dict[str, dict]) -> str:
    head = (f"{'corpus':<8}{'n':>4}{'contains':>10}{'abst recall':>13}{'false abst':>12}{'cit prec':>10}"
            f"{'hit@5':>7}{'halluc dropped':>17}{'correct kept':>15}{'>=1 key':>9}")  # fmt: skip
    lines = [head, "-" * len(head)]

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{x:.0%}"

    for corpus, s in numbers.items():
        hd = f"{s['hallucinated_dropped']}/{s['hallucinated_claims']} {pct(s['hallucinated_dropped_rate'])}"
        ck = f"{s['correct_kept']}/{s['correct_claims']} {pct(s['correct_kept_rate'])}"
        lines.append(f"{corpus:<8}{s['n']:>4}{pct(s['contains']):>10}{pct(s['abstention_recall']):>13}"
                     f"{pct(s['false_abstention']):>12}{pct(s['citation_precision']):>10}{pct(s['hit_at_5']):>7}"
                     f"{hd:>17}{ck:>15}{pct(s['answerable_with_a_correct_key_rate']):>9}")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Score the LLM answer path against scripted capable-model answers."
    )
    ap.add_argument("--fixtures", default=str(FIXTURES))
    ap.add_argument("--json", dest="json_out", help="write the numbers (and per-fixture results) here")
    ap.add_argument(
        "--show", action="store_true", help="per fixture: scripted answer, validated answer, drops"
    )
    ap.add_argument("--stream", action="store_true", help="ask through ask_stream (SSE) instead of ask")
    ap.add_argument("--only", action="append", help="fixture ids or kinds to run (repeatable)")
    ap.add_argument("--write-eval", metavar="DIR",
                    help="write DIR/capable_llm_<corpus>.jsonl, evaluation sets for `articleqa eval`, and "
                         "stop (with --serve-eval: the sets and reports go there)")  # fmt: skip
    ap.add_argument("--serve-eval", action="store_true",
                    help="run the sets through the evaluation runner (run_eval, answerer openai) against "
                         "the scripted server instead of the harness; print each report's headline")  # fmt: skip
    a = ap.parse_args(argv)

    fixtures = load_fixtures(a.fixtures)
    if a.only:
        fixtures = [f for f in fixtures if f.get("id") in a.only or f.get("kind") in a.only]
    if a.serve_eval:
        t = time.perf_counter()
        numbers = serve_eval(fixtures, a.write_eval)
        print(eval_table(numbers))
        for corpus, s in numbers.items():
            print(f"\n{corpus}: contains {s['contains']}, abstention recall {s['abstention_recall']}, "
                  f"false abstention {s['false_abstention']}, citation precision {s['citation_precision']}, "
                  f"hallucinated dropped {s['hallucinated_dropped_rate']} "
                  f"({s['hallucinated_dropped']}/{s['hallucinated_claims']}); answerer {s['answerer']}, "
                  f"{s['n']} items in {s['seconds']} s")  # fmt: skip
            for fid, key in s["hallucinated_kept"]:
                print(f"  hallucinated key kept: {fid}: {key!r}")
            if s["unmatched"]:
                print(f"  warning: {len(s['unmatched'])} prompts matched no fixture: {s['unmatched']}")
        if a.write_eval:
            print(f"\nsets and reports in {a.write_eval}")
        print(f"{time.perf_counter() - t:.1f} s in all")
        if a.json_out:
            Path(a.json_out).write_text(json.dumps(numbers, indent=1))
        return 0
    if a.write_eval:
        for corpus, path in write_eval(a.write_eval, fixtures).items():
            print(f"{corpus}: {path}")
        return 0
    t = time.perf_counter()
    with Harness(fixtures, stream=a.stream) as h:
        results = h.run()
        unmatched = list(h.llm.unmatched)
        ingest = dict(h.ingest_seconds)
    summary = score(results)
    if a.show:
        for r in results:
            print(show(r), end="\n\n")
    print(table(summary))
    import articleqa

    print(f"\n{len(results)} fixtures in {time.perf_counter() - t:.1f} s (ingest: "
          + ", ".join(f"{k} {v:.1f} s" for k, v in ingest.items()) + f"); articleqa from {Path(articleqa.__file__).parent}")  # fmt: skip
    if unmatched:
        print(f"warning: {len(unmatched)} prompts matched no fixture: {[u['question'] for u in unmatched]}")
    if a.json_out:
        Path(a.json_out).write_text(json.dumps(
            {**summary, "fixtures_file": str(a.fixtures), "articleqa": str(Path(articleqa.__file__).parent), "results": [asdict(r) for r in results]}, indent=1))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
