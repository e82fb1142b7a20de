"""The reader's training windows (train/reader_model.py), built without torch."""

from __future__ import annotations

import random
import sys

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "train"))

from reader_model import Window, question_swaps  # noqa: E402


def _pos(q: str, text: str, answer: str, doc: str) -> Window:
    a = text.index(answer)
    return Window(q, text, a, a + len(answer), "squad", doc)


def test_a_question_swap_asks_another_question_of_the_document_over_the_same_window():
    staff = _pos("How many staff does Skyra Air employ?", "Skyra Air employs 1,150 people.", "1,150", "a")
    planes = _pos("How many planes does Skyra Air fly?", "The airline flies 58 planes.", "58", "a")
    boss = _pos("Who heads Skyra Air?", "Skyra Air is run by Ida Moln.", "Ida Moln", "a")
    also = _pos("Who runs the airline?", "Skyra Air is run by Ida Moln, who founded it.", "Ida Moln", "a")
    other = _pos("How many lakes does Belvaria have?", "Belvaria has 900 lakes.", "900", "b")
    undocumented = Window("How many?", "Ten of them.", 0, 3, "qed")
    data = [staff, planes, boss, also, other, undocumented]
    swaps = question_swaps(data, 1.0, random.Random(0))
    by_text = {w.text: w for w in swaps}
    # the same kind of question ("how many") of the same document, over the window unchanged
    assert by_text[staff.text].question == planes.question
    assert by_text[planes.text].question == staff.question
    assert all(w.start == w.end == -1 and w.kind == "squad_swap" for w in swaps)
    # never a question the window answers ("Ida Moln" is in both of these), nor one of
    # another document, nor for a window without a document
    assert by_text[boss.text].question in {staff.question, planes.question}
    assert by_text[also.text].question in {staff.question, planes.question}
    assert other.text not in by_text and undocumented.text not in by_text
    assert question_swaps(data, 0.0, random.Random(0)) == []
