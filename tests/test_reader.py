"""The reader (answer/reader.py `SpanReader`, evidence `ReaderEvidence`), run on real inputs with
onnxruntime over real ingestion: the spans and refusals below fail for a model that didn't
learn where an answer is, or that a window on the topic without the asked fact answers nothing."""

from __future__ import annotations

import math

import pytest

from articleqa import Assistant, Config
from articleqa.answer.evidence import READER_VETO, ReaderEvidence, with_hand_path
from articleqa.answer.reader import READER_MAX_QUESTION, SpanReader
from articleqa.index.local import Store
from articleqa.text import sentence_spans

from .conftest import ROOT, SAMPLES, VOV_ID

NEWS = ROOT / "eval" / "datasets" / "news_reader_corpus.jsonl"


@pytest.fixture(scope="module")
def reader():
    return SpanReader()


def _reader_qa(tmp_path_factory, embedder, name: str, path) -> Assistant:
    """An assistant judging with the reader (``evidence = "reader"``) over ``path``."""
    cfg = Config(data_dir=tmp_path_factory.mktemp(name), evidence="reader")
    qa = Assistant(cfg, store=Store(cfg, embedder=embedder))
    assert qa.ingest([path]).ok
    return qa


@pytest.fixture(scope="module")
def news_qa(tmp_path_factory, embedder):
    return _reader_qa(tmp_path_factory, embedder, "news-reader", NEWS)


@pytest.fixture(scope="module")
def reader_qa(tmp_path_factory, embedder):
    return _reader_qa(tmp_path_factory, embedder, "reader-samples", SAMPLES)


def test_the_reader_evidence_is_selectable(reader_qa):
    assert Config().evidence == "overlap" and isinstance(reader_qa.answerer.evidence, ReaderEvidence)
    assert reader_qa.config.threshold == reader_qa.config.reader_abstain_threshold
    ans = reader_qa.ask("Which typhoon recently caused damage in Vietnam?")
    assert not ans.abstained and ans.short_answer is not None
    assert ans.short_answer.text in {"Yagi", "Typhoon Yagi"}, ans.text
    assert reader_qa.ask("What is the population of Hanoi?").abstained


def test_the_hand_tuned_score_answers_at_its_own_threshold_unless_the_reader_finds_nothing(reader_qa):
    """The stacked confidence refused "Which storm did Japan express sympathy about?" (0.43
    against 0.48); the hand-tuned score answers it at its own threshold and the reader finds
    an answer in its window, so it is answered. A question no window answers stays refused."""
    sig = {"overlap": 0.46, "a_max": 0.9}
    assert with_hand_path(0.3, sig, 0.44, 0.48) == pytest.approx(0.5)  # moved onto the reader's scale
    assert with_hand_path(0.9, sig, 0.44, 0.48) == 0.9
    assert with_hand_path(0.3, {**sig, "a_max": READER_VETO - 0.01}, 0.44, 0.48) == 0.3  # vetoed
    assert with_hand_path(0.3, {**sig, "overlap": 0.43}, 0.44, 0.48) == 0.3
    ans = reader_qa.ask("Which storm did Japan express sympathy about?")
    assert not ans.abstained and "Typhoon Yagi" in ans.citations[0].text, ans.text
    assert reader_qa.ask("What is the population of Hanoi?").abstained


def test_a_runner_up_is_quoted_only_if_close_on_the_hand_tuned_score_too():
    from types import SimpleNamespace as S

    from articleqa.answer.extractive import _close

    best = S(score=2.0, base=1.0)
    assert _close(S(score=1.9, base=0.95), best)
    assert not _close(S(score=1.9, base=0.5), best)  # close only by the reader's bonus
    assert not _close(S(score=1.0, base=1.0), best)
    assert _close(S(score=0.95, base=None), S(score=1.0, base=None))  # `overlap`: no bonus


def test_a_question_longer_than_the_reader_reads_is_cut_not_an_error(sample_qa, reader):
    """Only the window is cut to fit the reader, so a question of more word-pieces than the
    reader reads made the tokenizer raise, also in the default answer (its short answer)."""
    q = (
        "On what terms did Man want Japan's new-generation ODA to be provided, and what did he say "
        "about ODA support over the past 30 years? "
    ) * 14  # 1,806 characters
    ans = sample_qa.ask(q)
    assert not ans.abstained and "high preferential terms and simplified procedures" in ans.text
    window = "Masakazu extended his sympathy for the damage recently caused by Typhoon Yagi in Vietnam."
    (r,) = reader.read("Which storm did Japan express sympathy about? " * 45, [window])
    assert window[r.start : r.end].startswith("Typhoon Yagi")
    assert len(reader._clipped("word " * 200).split()) <= READER_MAX_QUESTION


def test_the_default_answer_leads_with_the_readers_short_answer(sample_qa):
    ans = sample_qa.ask("Which typhoon recently caused damage in Vietnam?")
    sa = ans.short_answer
    assert sa is not None and sa.text == "Yagi", ans.text
    assert ans.text.startswith("**Yagi** — “")
    c = ans.citations[sa.citation - 1]
    assert c.article_id == sa.article_id == VOV_ID and c.start <= sa.start < sa.end <= c.end
    assert "Typhoon Yagi" in c.text and sample_qa.article(sa.article_id).text[sa.start : sa.end] == sa.text
    d = ans.to_dict()["short_answer"]
    assert d == {
        "text": "Yagi",
        "start": sa.start,
        "end": sa.end,
        "citation": sa.citation,
        "article_id": VOV_ID,
    }


def test_a_short_answer_is_shown_only_when_its_span_is_sure(tmp_path, embedder):
    """The span must beat "no answer" by `Config.short_answer_margin` (the reader's span for
    this paraphrase names the storm, but by a margin under the calibrated one: 2.1 against
    3.5; the second reader's span runs on to "Typhoon Yagi in Vietnam")."""
    q = "Which storm did Japan express sympathy about?"
    answers = {}
    for margin in (-math.inf, 100.0):
        cfg = Config(data_dir=tmp_path / str(margin), short_answer_margin=margin)
        qa = Assistant(cfg, store=Store(cfg, embedder=embedder))
        qa.ingest([SAMPLES])
        answers[margin] = qa.ask(q)
    sa = answers[-math.inf].short_answer
    assert sa is not None and sa.text in {"Typhoon Yagi", "Typhoon Yagi in Vietnam"}, sa
    for ans in answers.values():
        assert "Typhoon Yagi" in ans.citations[0].text
    assert answers[100.0].short_answer is None and not answers[100.0].text.startswith("**")


def test_the_reader_finds_the_span_in_a_window(reader):
    window = (
        "Masakazu welcomed Man’s visit to Japan. He extended his sympathy for the damage recently caused by "
        "Typhoon Yagi in Vietnam. The two sides agreed to boost trade."
    )
    unrelated = (
        "The Hanoi Flower Festival opened on Saturday with 300 stalls along the lake, organisers said."
    )
    found, other = reader.read(
        "Which natural disaster did the Japanese side offer condolences for?", [window, unrelated]
    )
    span = window[found.start : found.end]
    assert span.startswith("Typhoon Yagi") and len(span) <= len("Typhoon Yagi in Vietnam"), span
    assert found.answerable > 0.5 > 0.1 > other.answerable
    (pop,) = reader.read("What is the population of Hanoi?", [unrelated])
    assert pop.answerable < 0.1
    assert reader.read("q?", []) == []


# Not met yet (issue 25): the reader finds the span in the right window (see above) but the
# right sentence is not chosen, or the confidence stays under the threshold (the fitted
# confidence trusts the reader little on paraphrases: docs/evaluation.md "The reader"). Strict: these
# fail the run the day they pass, so the marker comes off.
@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="issue 25 target not met: paraphrases still refused or mis-answered",
)
@pytest.mark.parametrize(
    ("question", "short"),
    [
        ("Which natural disaster did the Japanese side offer condolences for?", "Typhoon Yagi"),
        # answered (0.55 against 0.44) before the reader's per-channel export and its refit;
        # refused at 0.43 against 0.48 after it; answered again by the hand-tuned path
        # (READER_VETO), but without a short answer: the span's margin is 2.1, under 3.5
        ("Which storm did Japan express sympathy about?", "Typhoon Yagi"),
        (
            "What conditions did the Vietnamese assembly chairman attach to Japan's next round of development aid?",
            "high preferential terms and simplified procedures",
        ),
    ],
)
def test_paraphrased_questions_get_the_exact_short_answer(reader_qa, question, short):
    """Both were refused before the reader ("The articles don't say"): the words differ from
    the article's ("condolences" for "sympathy", "development aid" for "ODA")."""
    ans = reader_qa.ask(question)
    assert not ans.abstained
    sa = ans.short_answer
    assert sa is not None and sa.text == short, ans.text
    assert ans.text.startswith(f"**{short}** — “")
    c = ans.citations[sa.citation - 1]
    assert c.article_id == sa.article_id == VOV_ID
    assert c.start <= sa.start < sa.end <= c.end  # a sub-span of its citation
    assert reader_qa.article(sa.article_id).text[sa.start : sa.end] == sa.text


def test_population_of_a_place_the_articles_only_mention_is_abstained(news_qa, reader_qa):
    """The reader refuses it; the default hand-tuned score still quotes the bridge story."""
    ans = news_qa.ask("What is the population of Port Elen?")
    assert ans.abstained and ans.citations == [], ans.text
    assert reader_qa.ask("What is the population of Hanoi?").abstained


def test_who_first_reported_names_the_earliest_report_that_states_it(news_qa):
    ans = news_qa.ask("Who first reported the bridge closure?")
    assert ans.form == "earliest"
    assert "3 March 2026" in ans.text and "Skerrin Gazette" in ans.text, ans.text
    assert ans.citations[0].article_id == "pe-bridge-gazette"
    assert "clos" in ans.citations[0].text  # a sentence stating it ("closed", "the closure"), not a caption


def test_a_figure_that_changed_is_quoted_from_each_report_with_its_date(news_qa):
    ans = news_qa.ask("How much has the estimated repair cost risen?")
    assert ans.form == "change"
    lines = ans.text.splitlines()
    for figure, date in [
        ("1.2 million", "3 March 2026"),
        ("2.1 million", "24 March 2026"),
        ("3.4 million", "14 April 2026"),
    ]:
        assert any(figure in line and date in line for line in lines), ans.text
    assert [c.published_at for c in ans.citations] == sorted(c.published_at for c in ans.citations)


def test_a_caption_byline_or_headline_that_echoes_the_question_is_never_the_answer(news_qa):
    for q in ["Who first reported the bridge closure?", "What did the Port Elen bridge closure photo show?",
              "How much has the estimated repair cost risen?"]:  # fmt: skip
        ans = news_qa.ask(q)
        for c in ans.citations:
            whole = news_qa.article(c.article_id).text
            line = next(whole[a:b] for a, b in sentence_spans(whole) if a <= c.start < b)
            assert not line.startswith(("Photo:", "By ", "Tags:", "Related:")), (q, line)
            assert "picture" not in c.text.lower(), (q, c.text)


def test_without_the_reader_model_file_the_error_says_where(tmp_path):
    r = SpanReader(tmp_path / "missing.onnx")
    with pytest.raises(FileNotFoundError, match="reader model not found"):
        r.read("q?", ["w."])


def test_warm_up_loads_the_reader(tmp_path, embedder):
    cfg = Config(data_dir=tmp_path / "data", evidence="reader")
    qa = Assistant(cfg, store=Store(cfg, embedder=embedder))
    reader = qa.answerer.evidence.reader
    assert reader._session is None
    qa.warm_up()
    assert reader._session is not None


def test_short_answers_can_be_turned_off(tmp_path, embedder):
    cfg = Config(data_dir=tmp_path / "data", short_answers=False)
    qa = Assistant(cfg, store=Store(cfg, embedder=embedder))
    qa.ingest([SAMPLES])
    ans = qa.ask("Which storm did Japan express sympathy about?")
    assert "Typhoon Yagi" in ans.text and ans.short_answer is None and not ans.text.startswith("**")
