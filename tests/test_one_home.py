"""Issue 22: number detection, month names, date formatting and "latest" each have one home
(`text.numbers` / `text.counts`, `periods`). The detectors they replaced are frozen here,
verbatim, and must agree with the new ones on every text the project ships (the sample
articles, the eval and training corpora, the SQuAD subset, the questions) and on random
strings built from the characters that matter (digits, "." "," "%", month names, Unicode
letters that case-fold oddly); tricky cases pin the expected answers themselves."""

from __future__ import annotations

import calendar
import json
import random
import re
from datetime import date
from pathlib import Path

import pytest

from articleqa.answer.extractive import _figures
from articleqa.periods import (
    MONTH_NAMES,
    MONTH_NUMBERS,
    MONTH_PATTERN,
    asks_latest,
    asks_latest_on_story,
    day,
)
from articleqa.text import _in_date, counts, figure_units, numbers, terms

ROOT = Path(__file__).resolve().parents[1]

# ---- the detectors as they were (frozen: do not edit) --------------------------------------
_OLD_NUMBER = re.compile(
    r"\b(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
    r"twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen|half)\b|%",
    re.I,
)
_OLD_COUNT = re.compile(r"(?<![\w.,])(\d[\d,.]*\d|\d)\s+([^\W\d_]+)")
_OLD_LATEST = re.compile(
    r"\b(?:latest|most recent(?:ly)?|newest|current(?:ly)?|now|so far|to date|as of now|still)\b", re.I
)
_OLD_ON_STORY = re.compile(r"^\s*(?:what'?s|what is|what are|any|give me|tell me)\s+(?:the\s+)?(?:latest|newest|most recent)"
                           r"(?:\s+(?:news|update|updates|developments?|reports?))?\s+(?:on|about|with|in|from)\b", re.I)  # fmt: skip
_OLD_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_OLD_READER_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}


def old_answer_numbers(s: str) -> list[tuple[int, int, str]]:  # text.has_answer_type, kind "number"
    return [(m.start(), m.end(), m.group(0)) for m in _OLD_NUMBER.finditer(s) if not _in_date(s, m)]


def old_figure_units(s: str) -> set[str]:  # text.figure_units
    out: set[str] = set()
    for m in re.finditer(r"\b\d[\d,.]*\b", s):
        if not _in_date(s, m):
            out.update(terms(" ".join(s[m.end() :].split()[:3])))
    return out


def old_figures(s: str) -> set[str]:  # extractive._figures
    return set(re.findall(r"\b(?:\d[\d,.]*|first|second|third|fourth|fifth|sixth|largest|top)\b", s.lower()))


def old_counts(s: str) -> list[tuple[str, str]]:  # evidence._counted's pattern
    return [(m.group(1), m.group(2)) for m in _OLD_COUNT.finditer(s)]


def new_answer_numbers(s: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), m.group(0)) for m in numbers(s, spelled=True, percent=True, dates=False)]


# ---- the texts ------------------------------------------------------------------------------
def _jsonl_texts(path: Path) -> list[str]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            out += [str(row.get(k, "")) for k in ("text", "title", "question", "previous")]
            out += [str(a) for a in row.get("answers", []) or []]
    return out


def _shipped_texts() -> list[str]:
    texts = [p.read_text(encoding="utf-8") for p in sorted((ROOT / "examples/articles").glob("*"))]
    for d in ("eval/datasets", "train/data"):
        for p in sorted((ROOT / d).glob("*.jsonl")):
            texts += _jsonl_texts(p)
    squad = json.loads((ROOT / "eval/datasets/squad-v1.1-dev-subset.json").read_text(encoding="utf-8"))
    for art in squad["data"]:
        for para in art["paragraphs"]:
            texts.append(para["context"])
            texts += [qa["question"] for qa in para["qas"]]
            texts += [a["text"] for qa in para["qas"] for a in qa["answers"]]
    # Each paragraph whole, and each line of it: the detectors see sentences and passages.
    return [t for text in texts if text for t in {text, *text.splitlines()} if t.strip()]


def _random_texts(n: int = 4000) -> list[str]:
    rnd = random.Random(22)
    pieces = (
        list("0123456789") * 4 + list(".,%  ") * 3
        + ["\n", "-", "'", "’", "İ", "ı", "ſ", "K", "é", "_", "st", "th", "(", ")"]
        + ["a", "stations", "riders", "km", "first", "First", "SECOND", "top", "largest", "largeſt", "firſt"]
        + ["one", "Two", "TWELVE", "dozen", "half", "million", "ſix", "in", "on", "July", "May", "may", "dec"]
        + ["latest", "Latest", "most recent", "most recently", "now", "still", "currently", "so far", "What's the"]
        + [m.title() for m in MONTH_NAMES] + ["Sept.", "Jan.", "2019", "1999", "2026", "23", "1st", "03"]
    )  # fmt: skip
    out = []
    for _ in range(n):
        k = rnd.randint(1, 14)
        out.append("".join(rnd.choice(pieces) + (" " if rnd.random() < 0.5 else "") for _ in range(k)))
    return out


@pytest.fixture(scope="module")
def texts() -> list[str]:
    shipped = _shipped_texts()
    assert len(shipped) > 5000  # the SQuAD subset alone has thousands of questions and paragraphs
    return shipped + _random_texts()


def test_number_detectors_agree_with_the_ones_they_replaced(texts):
    for s in texts:
        assert new_answer_numbers(s) == old_answer_numbers(s), s
        assert figure_units(s) == old_figure_units(s), s
        assert _figures(s) == old_figures(s), s
        assert counts(s) == old_counts(s), s


def test_latest_detectors_agree_with_the_ones_they_replaced(texts):
    for s in texts:
        assert asks_latest(s) == bool(_OLD_LATEST.search(s)), s
        assert asks_latest_on_story(s) == bool(_OLD_ON_STORY.match(s)), s


@pytest.mark.parametrize(
    ("text", "answer_numbers", "figures", "counted"),
    [
        ("12 stations opened on July 1, 2026.", ["12"], {"12", "1", "2026"}, [("12", "stations")]),
        (
            "About 60,000 riders a day, up 5% from 2019.",
            ["60,000", "5", "%"],
            {"60,000", "5", "2019"},
            [("60,000", "riders")],
        ),
        (
            "Two of the twelve died; a dozen were hurt in 23 May storms.",
            ["Two", "twelve", "dozen"],
            {"23"},
            [("23", "May")],  # evidence drops month words itself
        ),
        ("It is the first and largest of the top three.", ["three"], {"first", "largest", "top"}, []),
        ("The First line, not the firſt.", [], {"first"}, []),  # ranks: lower case only (then lower-cased)
        (
            "In 2019. Then 71, killed; v.2 beta; 140km; 1,2 x.",
            ["71", "2", "1,2"],
            {"2019", "71", "2", "1,2"},
            [("1,2", "x")],
        ),
        ("ſix TWELVE Half", ["ſix", "TWELVE", "Half"], set(), []),  # spelled numbers ignore case: "ſ" is "s"
        ("2.1 billion crowns", ["2.1", "billion"], {"2.1"}, [("2.1", "billion")]),
        ("3.5. Next 4.a", ["3.5", "4."], {"3.5", "4."}, []),
    ],
)
def test_number_detectors_on_tricky_cases(text, answer_numbers, figures, counted):
    for found in (new_answer_numbers, old_answer_numbers):
        assert [g for _, _, g in found(text)] == answer_numbers
    assert _figures(text) == old_figures(text) == figures
    assert counts(text) == old_counts(text) == counted


def test_figure_units_skip_dates():
    assert figure_units("60,000 riders a day on July 1") == {"rider", "day"}
    assert figure_units("in 2019 it grew") == set()


def test_months_and_days_have_one_home():
    assert MONTH_PATTERN == _OLD_MONTHS
    assert [m.lower() for m in calendar.month_name if m] == MONTH_NAMES
    assert {k: MONTH_NUMBERS[k] for k in _OLD_READER_MONTHS} == _OLD_READER_MONTHS
    assert MONTH_NUMBERS["december"] == 12 and MONTH_NUMBERS["sep"] == 9
    assert day("2026-05-23") == "23 May 2026" and day(date(2026, 2, 2)) == "2 February 2026"
    assert day("2026-02-02T10:00:00Z", short=True) == "2 Feb 2026"
    assert day("2026-05") == "2026-05" and day("") == ""  # a partial date as given
