"""The trained answer model (answer/reader.py), run on real inputs with onnxruntime: the
orderings below fail for a model that didn't learn to tell an answer from an echo."""

from __future__ import annotations

import pytest

from articleqa import Assistant, Config
from articleqa.answer.reader import AnswerModel, model_path
from articleqa.index.local import Store

from .conftest import ROOT, SAMPLES

ECHO_CORPUS = ROOT / "eval" / "datasets" / "echo_corpus.jsonl"
# (question, the sentence that answers it, a line that only repeats the question's words)
PAIRS = [
    ("Which storm did Japan express sympathy about?",
     "Masakazu welcomed Man’s visit to Japan, and at the same time extended his sympathy for the damage recently "
     "caused by Typhoon Yagi in Vietnam, emphasizing Japan’s unwavering support for the country during difficult times.",
     "Storm Japan Express Sympathy."),
    ("In which city were the parliamentary talks held?",
     "The document was signed following talks in Tokyo on December 5 between Tran Thanh Man, chairman of the National "
     "Assembly of Vietnam and Sekiguchi Masakazu, president of the House of Councillors of Japan.",
     "Home > News > City Parliamentary Talks Held"),
    ("Where did Miller Robotics open a battery plant?",
     "Miller Robotics opened a battery plant in Ohio on Monday, creating 800 jobs, the company said.",
     "Miller Robotics | Profile"),
    ("How often will the Dunmore ferry run in winter?",
     "The Dunmore ferry will run every two hours in winter, the operator said on Friday.",
     "Dunmore ferry timetable. Ferry services and fares."),
]  # fmt: skip


@pytest.fixture(scope="module")
def model():
    assert model_path().is_file(), "the answer model ships in the package (data/models/)"
    return AnswerModel()


def test_the_answer_outscores_a_line_that_only_echoes_the_question(model):
    for question, answer, echo in PAIRS:
        p_answer, p_echo = model.probabilities(question, [answer, echo])
        assert p_answer > 0.25 and p_answer > 3 * p_echo, (question, p_answer, p_echo)


def test_a_sentence_on_the_topic_without_the_asked_attribute_is_not_an_answer(model):
    (p,) = model.probabilities("What is the population of Hanoi?", [
        "The Hanoi Flower Festival opened on Saturday with 300 stalls along the lake, organisers said."
    ])  # fmt: skip
    assert p < 0.15
    assert len(model.probabilities("q?", [])) == 0


def test_the_model_evidence_answers_and_abstains(tmp_path, embedder):
    cfg = Config(data_dir=tmp_path / "data", evidence="model")
    assert cfg.threshold == cfg.model_abstain_threshold
    qa = Assistant(cfg, store=Store(cfg, embedder=embedder))
    qa.ingest([SAMPLES, ECHO_CORPUS])
    ans = qa.ask("Where did Miller Robotics open a battery plant?")
    assert not ans.abstained and "Ohio" in ans.text and ans.citations[0].article_id == "miller-plant"
    # A paraphrase (the acronym asked about, not named as the article does) is answered ...
    assert (
        "Inter-Parliamentary Union"
        in qa.ask("What does the acronym IPU stand for in the list of forums?").text
    )
    # ... a sentence on the topic without the asked attribute, and a profile line that only
    # repeats the question's company, are not answers.
    assert qa.ask("What is the population of Hanoi?").abstained
    assert qa.ask("Who acquired Miller Robotics?").abstained


def test_warm_up_loads_the_answer_model(tmp_path, embedder):
    """The first question doesn't wait for the answer model: `warm_up` loads it (the UI and
    the evaluation call it before timing anything)."""
    cfg = Config(data_dir=tmp_path / "data", evidence="model")
    qa = Assistant(cfg, store=Store(cfg, embedder=embedder))
    model = qa.answerer.evidence.model
    assert model._session is None
    qa.warm_up()
    assert model._session is not None
