"""The reader's training windows (train/reader_model.py), built without torch."""

from __future__ import annotations

import random
import sys

from .conftest import ROOT

sys.path.insert(0, str(ROOT / "train"))

import numpy as np  # noqa: E402
import reader_model  # noqa: E402
from reader_model import Window, question_swaps, reworded  # noqa: E402


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


def _embed(words: list[str]) -> np.ndarray:
    """Word vectors: "rain" and "hurricane" near "storm", "condolences" near "sympathy", the
    rest apart."""
    near = {"storm": [1.0, 0.0, 0.0], "hurricane": [0.8, 0.6, 0.0], "sympathy": [0.0, 0.0, 1.0],
            "condolences": [0.0, 0.3, 0.954], "rain": [0.9, 0.0, 0.436]}  # fmt: skip
    out = []
    for w in words:
        v = np.zeros(64)
        if w in near:
            v[:3] = near[w]
        else:
            v[3 + sum(map(ord, w)) % 61] = 1.0
        out.append(v / np.linalg.norm(v))
    return np.array(out)


def test_a_reworded_question_says_the_windows_words_in_others_whatever_its_label(monkeypatch):
    monkeypatch.setattr(reader_model, "REWORD_MIN_COUNT", 1)
    text = "Japan extended its sympathy after the storm and rain hit Vietnam."
    asked = _pos("Which storm did Japan express sympathy about?", text, "Vietnam", "a")
    refused = Window("Which storm did Japan express sympathy about?", text, -1, -1, "squad_swap", "a")
    lower = _pos("which storm hit?", text, "Vietnam", "a")  # a search query: its names hide
    elsewhere = Window(
        "When did the Hurricane pass?", "The hurricane passed. Condolences were sent.", -1, -1, "qed"
    )
    out = reworded([asked, refused, lower, elsewhere], 1.0, random.Random(0), embed=_embed)
    for old, new in zip([asked, refused], out[:2], strict=True):
        assert new.question != old.question and new.kind == old.kind + "_reworded"
        assert (new.text, new.start, new.end) == (old.text, old.start, old.end)  # the label stays
        swapped = set(new.question.lower().rstrip("?").split()) - set(
            old.question.lower().rstrip("?").split()
        )
        assert swapped and swapped <= {"hurricane", "condolences"}  # near words the window lacks: not "rain"
    assert out[2] == lower
    assert reworded([asked], 0.0, random.Random(0), embed=_embed) == [asked]
