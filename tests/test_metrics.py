"""Evaluation metrics and dataset loaders on hand-made cases (fast: no model)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from articleqa.evaluation import metrics as m
from articleqa.evaluation.datasets import EvalItem, load_jsonl, load_squad, sample
from articleqa.types import Chunk, Citation, Hit

SQUAD = Path(__file__).resolve().parents[1] / "eval" / "datasets" / "squad-v1.1-dev-subset.json"


@dataclass
class P:  # a bare passage
    article_id: str
    start: int
    end: int
    text: str


def item(answers=("Denver Broncos",), must=(), articles=("nfl",), spans=(("nfl", 100, 200),)) -> EvalItem:
    return EvalItem("q1", "Who won?", list(answers), list(must), list(articles), "factoid", list(spans))


# ---- normalisation and answer scores ----------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("The  Denver Broncos!", "denver broncos"),
        ("a cat, an owl and the dog.", "cat owl and dog"),
        ("Levi’s “Stadium”", "levis stadium"),
        ("theatre anthem", "theatre anthem"),  # articles only as whole words
        ("", ""),
    ],
)
def test_normalize(raw, norm):
    assert m.normalize(raw) == norm


def test_exact_match_and_f1():
    assert m.exact_match("the Denver Broncos.", ["Denver Broncos"]) == 1.0
    assert m.exact_match("Broncos", ["Denver Broncos"]) == 0.0
    assert m.f1("Broncos", ["Denver Broncos"]) == pytest.approx(2 / 3)
    assert m.f1("Carolina", ["Denver Broncos", "Carolina Panthers"]) == pytest.approx(2 / 3)  # best gold
    assert m.f1("", ["Denver Broncos"]) == 0.0
    assert m.f1("anything", []) == 0.0
    assert m.exact_match("anything", []) == 0.0


def test_contains():
    golds = ["Denver Broncos"]
    assert m.contains("The winners were the Denver Broncos [1].", golds)
    assert m.contains("Levi’s Stadium", ["Levi's Stadium"])  # curly vs straight apostrophe
    assert not m.contains("It was 2010.", ["10"])  # whole tokens, not substrings
    assert not m.contains("", golds)
    assert not m.contains("Denver Broncos", [])  # unanswerable: nothing to contain


def test_contains_must_mention_needs_all():
    golds = ["They agreed to cooperate on energy and defence"]
    assert m.contains("Ties on energy, and on defence.", golds, ["energy", "defence"])
    assert not m.contains("Ties on energy.", golds, ["energy", "defence"])


def test_strip_markers():
    assert m.normalize(m.strip_markers("Denver Broncos [1][2]")) == "denver broncos"


# ---- citation markers --------------------------------------------------------------------
def test_markers_forms():
    assert m.markers("A [1]. B [1, 3]. C [2][4].") == [1, 1, 3, 2, 4]
    assert m.markers("no markers") == []


def test_citations_valid():
    cits = [1, 2, 3]
    assert m.citations_valid("A [1] B [2, 3]", cits)
    assert not m.citations_valid("A [7]", cits)  # out of range
    assert not m.citations_valid("A [1][4]", cits)
    assert m.citations_valid("plain answer", [])
    assert m.citations_valid("The articles don't say.", [])  # an abstention


def test_citations_valid_accepts_citation_objects():
    c = Citation(n=1, article_id="a", title="", source="", text="t", start=0, end=1)
    assert m.citations_valid("x [1]", [c])
    assert not m.citations_valid("x [2]", [c])


# ---- citation precision / recall -----------------------------------------------------------
def test_citation_correct():
    it = item()
    assert m.citation_correct(P("other", 0, 10, "The Denver Broncos won."), it)  # holds the answer
    assert m.citation_correct(P("nfl", 150, 160, "They won."), it)  # inside the gold span
    assert not m.citation_correct(P("nfl", 0, 100, "They won."), it)  # touches, doesn't overlap
    assert not m.citation_correct(P("other", 150, 160, "They won."), it)  # other article
    assert not m.citation_correct(P("nfl", 150, 160, "Denver Broncos"), item(answers=[], spans=[]))


def test_citation_correct_with_must_mention():
    multi = item(answers=["Tokyo", "Ishiba Shigeru"], must=["Tokyo", "Ishiba"], spans=[])
    assert m.citation_correct(P("x", 0, 9, "Talks were held in Tokyo."), multi)  # one part, one source
    lst = item(
        answers=["infrastructure, institutions, and human resources"], must=["infrastructure", "institutions"]
    )
    assert m.citation_correct(P("x", 0, 9, "Institutions and infrastructure matter."), lst)
    assert not m.citation_correct(P("x", 0, 9, "Infrastructure matters."), lst)


def test_citation_precision_recall():
    per_item = [[True, False], [True], [False]]
    assert m.citation_precision(per_item) == pytest.approx(2 / 4)
    assert m.citation_recall(per_item) == pytest.approx(2 / 3)
    assert m.citation_precision([[], []]) is None  # no citations at all
    assert m.citation_recall([]) is None


# ---- retrieval --------------------------------------------------------------------------
def hit(aid: str, start: int, text: str) -> Hit:
    return Hit(chunk=Chunk(f"{aid}:{start}", aid, 0, start, start + len(text), text))


def test_hit_at_k_and_mrr():
    it = item()
    hits = [
        hit("nfl", 0, "Nothing here."),
        hit("nfl", 300, "Denver Broncos, but outside the gold span."),
        hit("nfl", 120, "The Denver Broncos won."),
    ]
    assert not m.hit_at_k(hits, it, 2)
    assert m.hit_at_k(hits, it, 3)
    assert m.mrr_at_k(hits, it, 10) == pytest.approx(1 / 3)
    assert m.mrr_at_k(hits, it, 2) == 0.0
    assert m.first_relevant([h.chunk for h in hits], it) == 3


def test_hit_with_article_ids_only():
    it = item(spans=[])
    assert m.hit_at_k([hit("nfl", 999, "Denver Broncos")], it, 1)
    assert not m.hit_at_k([hit("mlb", 0, "Denver Broncos")], it, 1)
    assert m.hit_at_k([hit("mlb", 0, "Denver Broncos")], item(articles=[], spans=[]), 1)
    assert not m.hit_at_k([hit("nfl", 0, "Denver Broncos")], item(answers=[]), 1)  # unanswerable


# ---- abstention and latency ----------------------------------------------------------------
def test_abstention():
    answerable = [True, True, False, False]
    abstained = [False, True, True, False]
    assert m.abstain_precision(abstained, answerable) == 0.5
    assert m.abstain_recall(abstained, answerable) == 0.5
    assert m.false_abstain_rate(abstained, answerable) == 0.5
    # An unanswerable question abstained on counts for both precision and recall.
    assert m.abstain_precision([True], [False]) == 1.0
    assert m.abstain_recall([True], [False]) == 1.0


def test_abstention_empty_denominators():
    assert m.abstain_precision([False, False], [True, False]) is None  # never abstained
    assert m.abstain_recall([False], [True]) is None  # nothing unanswerable
    assert m.false_abstain_rate([True], [False]) is None  # nothing answerable


def test_latency():
    assert m.latency([10.0, 20.0, 30.0]) == {"p50": 20.0, "p95": pytest.approx(29.0)}
    assert m.latency([]) == {"p50": None, "p95": None}


# ---- loaders ----------------------------------------------------------------------------
def test_load_jsonl(tmp_path):
    f = tmp_path / "qs.jsonl"
    rows = [
        {"id": "a", "question": "Who?", "answers": ["Ishiba"], "must_mention": [], "articles": ["x"], "type": "who"},
        {"id": "b", "question": "Population?", "answers": [], "must_mention": [], "articles": [], "type": "unanswerable"},
    ]  # fmt: skip
    f.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    items = load_jsonl(f)
    assert [i.id for i in items] == ["a", "b"]
    assert items[0].answerable and items[0].articles == ["x"] and items[0].gold_spans == []
    assert not items[1].answerable and items[1].type == "unanswerable"


def test_load_jsonl_reports_bad_line(tmp_path):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"id": "a"}\n')
    with pytest.raises(ValueError, match="bad.jsonl:1"):
        load_jsonl(f)


def test_load_squad_articles_and_gold_spans():
    articles, items = load_squad(SQUAD)
    assert len(articles) == 12 and len(items) == 2891
    sb = next(a for a in articles if a.id == "super-bowl-50")
    assert sb.title == "Super Bowl 50" and sb.key == "squad:Super_Bowl_50" and sb.content_hash
    texts = {a.id: a.text for a in articles}
    raw = json.loads(SQUAD.read_text())["data"]
    by_id = {qa["id"]: qa for page in raw for p in page["paragraphs"] for qa in p["qas"]}
    for it in items:
        assert it.type == "squad" and it.answerable
        ((aid, start, end),) = it.gold_spans
        assert it.articles == [aid]
        para = texts[aid][start:end]
        for ans in by_id[it.id]["answers"]:
            s = ans["answer_start"]
            assert para[s : s + len(ans["text"])] == ans["text"]


def test_load_squad_holdout_makes_unanswerable_items():
    articles, items = load_squad(SQUAD, holdout=4, seed=1)
    indexed = {a.id for a in articles}
    assert len(indexed) == 8
    un = [i for i in items if not i.answerable]
    assert un and all(i.type == "unanswerable" and i.articles == [] and i.gold_spans == [] for i in un)
    assert all(set(i.articles) <= indexed for i in items if i.answerable)
    # The unanswerable questions are exactly those about the 4 pages left out.
    _, full = load_squad(SQUAD)
    page_of = {i.id: i.articles[0] for i in full}
    assert {page_of[i.id] for i in un}.isdisjoint(indexed)
    assert len({page_of[i.id] for i in un}) == 4


def test_load_squad_limit_is_seeded_and_mixed():
    _, a = load_squad(SQUAD, holdout=4, seed=3, limit=30)
    _, b = load_squad(SQUAD, holdout=4, seed=3, limit=30)
    assert [i.id for i in a] == [i.id for i in b] and len(a) == 30
    assert sum(not i.answerable for i in a) == 10
    _, c = load_squad(SQUAD, holdout=4, seed=4, limit=30)
    assert [i.id for i in a] != [i.id for i in c]


def test_load_squad_indexed_titles():
    articles, items = load_squad(SQUAD, indexed_titles={"Oxygen", "super-bowl-50"})
    assert sorted(a.id for a in articles) == ["oxygen", "super-bowl-50"]
    assert {i.articles[0] for i in items if i.answerable} == {"oxygen", "super-bowl-50"}


def test_sample_without_mix_is_plain():
    items = [EvalItem(str(n), "q", ["a"] if n % 2 else []) for n in range(20)]
    picked = sample(items, 5, seed=0)
    assert len(picked) == 5 and picked == sample(items, 5, seed=0)
    assert sample(items, None) == items


def test_auc_counts_how_often_answerable_items_outscore_unanswerable_ones():
    assert m.auc([0.9, 0.8, 0.1, 0.2], [True, True, False, False]) == 1.0
    assert m.auc([0.1, 0.2, 0.9, 0.8], [True, True, False, False]) == 0.0
    assert m.auc([0.5, 0.5], [True, False]) == 0.5  # a tie counts half
    assert m.auc([0.7, 0.3, 0.6], [True, False, False]) == 1.0
    assert m.auc([0.4, 0.3, 0.6], [True, False, False]) == 0.5
    assert m.auc([0.9], [True]) is None


@pytest.mark.parametrize(
    ("dataset", "corpus"),
    [
        ("eval/datasets/styles_sample.jsonl", ["examples/articles"]),
        ("eval/datasets/styles_echo.jsonl", ["eval/datasets/echo_corpus.jsonl"]),
        ("eval/datasets/news_dated.jsonl", ["eval/datasets/news_dated_corpus.jsonl"]),
        ("eval/datasets/news_paraphrase.jsonl", ["eval/datasets/news_paraphrase_corpus.jsonl"]),
        ("train/data/news_train_questions.jsonl", ["train/data/news_train_corpus.jsonl"]),
        ("train/data/news_calib_questions.jsonl", ["train/data/news_calib_corpus.jsonl"]),
        ("train/data/news_timedev_questions.jsonl", ["train/data/news_timedev_corpus.jsonl"]),
        ("train/data/news_paradev_questions.jsonl", ["train/data/news_paradev_corpus.jsonl"]),
        ("train/data/news_paradev2_questions.jsonl", ["train/data/news_calib_corpus.jsonl"]),
        ("train/data/reword_train_questions.jsonl", ["train/data/reword_train_corpus.jsonl"]),
    ],
)
def test_question_style_sets_quote_their_articles(dataset, corpus):
    """Every gold answer of the question-style sets appears in a listed article (after SQuAD
    normalisation), and every style mixes answerable and unanswerable questions."""
    from articleqa.ingest.sources import read_paths

    root = Path(__file__).resolve().parents[1]
    texts = {a.id: a.text for a in read_paths([root / c for c in corpus]).articles}
    items = load_jsonl(root / dataset)
    for it in items:
        for a in it.answers + it.must_mention:
            if a.lower() not in ("yes", "no"):  # a yes/no answer is the question's verdict
                assert any(m.normalize(a) in m.normalize(texts[x]) for x in it.articles), (it.id, a)
    styles = {it.type for it in items}
    # Styles that mix answerable and unanswerable questions (the time-aware forms of the
    # dated set and its own unanswerable type do not).
    for s in styles & {"paraphrased", "long_multiclause", "near_miss", "echo", "squad_like"}:
        kinds = {it.answerable for it in items if it.type == s}
        assert kinds == {True, False}, s
