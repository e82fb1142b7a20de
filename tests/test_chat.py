"""Follow-up questions: condensation (heuristic and LLM-checked) and `Assistant.chat`."""

from __future__ import annotations

import pytest

from articleqa import Config
from articleqa.answer.followup import check_rewrite, condense, heuristic, needs_context

CFG = Config()
STORM_Q = "Which storm did Japan express sympathy about?"


class FakeModel:
    """A chat model that says what it's told to, and records what it was asked."""

    name = "fake"

    def __init__(self, reply: str):
        self.reply = reply
        self.calls: list[list[dict]] = []

    def complete(self, messages, max_tokens=None):
        self.calls.append(messages)
        return self.reply

    def stream(self, messages, max_tokens=None):
        yield self.complete(messages, max_tokens)


def test_needs_context():
    assert needs_context("When did it hit?")
    assert needs_context("And what did the other article say?")
    assert needs_context("Why?")
    assert not needs_context(STORM_Q)


def test_heuristic_adds_the_previous_questions_key_terms():
    assert heuristic("When did it hit?", STORM_Q) == "When did it hit (storm Japan express sympathy)?"
    assert heuristic(STORM_Q, "Who met Ishiba?") == STORM_Q  # standalone: left alone


def test_condense_without_a_model():
    history = [{"role": "user", "content": STORM_Q}, {"role": "assistant", "content": "Typhoon Yagi. [1]"}]
    assert condense("When did it hit?", history, CFG) == "When did it hit (storm Japan express sympathy)?"
    assert condense("When did it hit?", [], CFG) == "When did it hit?"
    # A chain of follow-ups keeps the topic of the first question.
    history += [{"role": "user", "content": "When did it hit?"}, {"role": "assistant", "content": "In September."}]
    assert "storm" in condense("And where?", history, CFG)


def test_condense_uses_a_model_rewrite_only_when_it_stays_on_topic():
    history = [{"role": "user", "content": STORM_Q}]
    good = FakeModel("Standalone question: When did the storm Japan expressed sympathy about hit?")
    assert condense("When did it hit?", history, CFG, good) == "When did the storm Japan expressed sympathy about hit?"
    prompt = good.calls[0][1]["content"]
    assert STORM_Q in prompt and "When did it hit?" in prompt

    drifting = FakeModel("What is the capital of France and its population in 1990?")
    assert condense("When did it hit?", history, CFG, drifting) == "When did it hit (storm Japan express sympathy)?"
    assert check_rewrite("", "When did it hit?", history) is None
    assert check_rewrite("Typhoon Yagi.", "When did it hit?", history) is None  # answered, dropped "hit"


def test_chat_condenses_follow_ups_extractive(sample_qa):
    first = sample_qa.chat([{"role": "user", "content": STORM_Q}])
    assert first.standalone_question is None and "Typhoon Yagi" in first.text
    messages = [
        {"role": "user", "content": STORM_Q},
        {"role": "assistant", "content": first.text},
        {"role": "user", "content": "What support did Japan pledge for it?"},
    ]
    ans = sample_qa.chat(messages)
    assert ans.question == "What support did Japan pledge for it?"
    assert ans.standalone_question and "storm" in ans.standalone_question
    for c in ans.citations:
        assert sample_qa.article(c.article_id).text[c.start : c.end] == c.text


def test_ask_stream_with_history_carries_the_standalone_question(sample_qa):
    history = [{"role": "user", "content": STORM_Q}, {"role": "assistant", "content": "Typhoon Yagi."}]
    events = list(sample_qa.ask_stream("What support did Japan pledge for it?", history=history))
    assert [e.kind for e in events][0] == "sources" and events[-1].kind == "answer"
    sq = events[-1].answer.standalone_question
    assert sq and all(e.standalone_question == sq for e in events)


def test_chat_rejects_a_conversation_not_ending_with_a_question(sample_qa):
    with pytest.raises(ValueError):
        sample_qa.chat([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}])
    with pytest.raises(ValueError):
        sample_qa.chat([])
