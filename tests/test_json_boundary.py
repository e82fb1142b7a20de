"""The JSON boundary: each type has one JSON form (``to_dict``/``from_dict``), ``ask --json`` and
``list --json`` keep their keys, the UI's chat writes the same forms, and the exported JSON
Schema validates what articleqa really writes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from articleqa.ingest.pipeline import IngestReport
from articleqa.schema import BOUNDARY, json_schema
from articleqa.types import (
    Answer,
    Article,
    ArticleInfo,
    Chunk,
    Citation,
    ClaimCheck,
    FeedState,
    Hit,
    Stats,
    StreamEvent,
)
from articleqa.ui import chat

from .conftest import SAMPLES, VOV_ID
from .test_cli import run

ODA_Q = "On what terms did Man want Japan's new-generation ODA to be provided?"

# What `articleqa ask --json` and `list --json` wrote before the boundary was typed: kept, added to only.
ASK_KEYS = {"question", "answer", "abstained", "confidence", "backend", "form", "citations", "checks"}
CITATION_KEYS = {"n", "article_id", "title", "source", "text", "start", "end", "url", "published_at"}
CHECK_KEYS = {"claim", "action", "reason"}
LIST_KEYS = {"id", "title", "source", "published_at", "url", "key", "group_id", "chunks", "chars", "origin",
             "version"}  # fmt: skip


def _hit(cid: str = "c1", **kw: Any) -> Hit:
    chunk = Chunk(cid, "a1", 2, 10, 22, "Typhoon Yagi")
    return Hit(chunk, title="Storms", source="VOV", published_at="2024-09-07", url="https://x.test/a",
               score=0.03, vector_score=0.61, keyword_score=None, rerank_score=0.7, rank=0, group_id="g1",
               **kw)  # fmt: skip


def _answer() -> Answer:
    copy = _hit("c9", copy_of="c1")
    return Answer(
        question="Which storm?", text="Typhoon Yagi [1].", abstained=False,
        citations=[Citation(1, "a1", "Storms", "VOV", "Typhoon Yagi", 10, 22, "https://x.test/a", "2024-09-07", "c1")],
        hits=[_hit(also=[copy]), _hit("c2")], confidence=0.5, backend="fake", standalone_question="Which storm hit?",
        checks=[ClaimCheck("It hit Hanoi.", "dropped", "no passage supports it")], form="latest",
    )  # fmt: skip


EXAMPLES: dict[str, Any] = {
    "Answer": _answer(),
    "Citation": _answer().citations[0],
    "Hit": _hit(also=[_hit("c9", copy_of="c1")]),
    "ArticleInfo": ArticleInfo(
        "a1", "Storms", "VOV", "2024-09-07", "", "a1.txt", None, 3, 812, "/x/a1.txt", 2
    ),
    "IngestReport": IngestReport(
        added=["a1"],
        chunks=3,
        warnings=["w"],
        seconds=1.5,
        not_modified=["https://f.test/rss"],
        feeds=[FeedState("https://f.test/rss", "F", '"v1"', "", "2024-09-07T10:00:00Z", "ok")],
    ),  # fmt: skip
    "Stats": Stats(articles=2, passages=9),
    "FeedState": FeedState(
        "https://f.test/rss",
        "F",
        '"v1"',
        "Sat, 07 Sep 2024 10:00:00 GMT",
        "2024-09-07T10:00:00Z",
        "ok: 3 entries",
    ),  # fmt: skip
}


def _properties(schema: dict[str, Any]) -> set[str]:
    """The keys a (possibly ``$ref``-rooted) schema's object has."""
    if "$ref" in schema:
        schema = schema["$defs"][schema["$ref"].rsplit("/", 1)[1]]
    return set(schema["properties"])


def validate(name: str, instance: Any) -> None:
    """``instance`` against the exported schema of ``name`` (jsonschema when installed; pydantic always)."""
    schema = json_schema()[name]
    try:
        import jsonschema
    except ImportError:
        pass
    else:
        jsonschema.Draft202012Validator(schema).validate(instance)
    BOUNDARY[name].from_dict(json.loads(json.dumps(instance)))  # pydantic checks the types too
    assert set(instance) == _properties(schema), name


# ---- one JSON form each ------------------------------------------------------------------
def test_every_boundary_type_has_an_example():
    assert set(EXAMPLES) == set(BOUNDARY) == set(json_schema())


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_round_trip_through_json(name):
    obj = EXAMPLES[name]
    text = json.dumps(obj.to_dict())
    back = BOUNDARY[name].from_dict(json.loads(text))
    assert back == obj and type(back) is type(obj)
    validate(name, json.loads(text))


def test_answer_form_nests_the_other_forms():
    ans = _answer()
    d = ans.to_dict()
    assert d["answer"] == ans.text and d["confidence"] == 0.5
    assert d["citations"] == [c.to_dict() for c in ans.citations] and d["citations"][0]["chunk_id"] == "c1"
    assert d["checks"] == [k.to_dict() for k in ans.checks]
    assert d["hits"] == [h.to_dict() for h in ans.hits]
    assert d["hits"][0]["also"][0]["copy_of"] == "c1" and d["hits"][0]["chunk_id"] == "c1"
    assert Answer(**{**ans.__dict__, "confidence": 0.123456}).to_dict()["confidence"] == 0.1235


# ---- the UI writes the same forms ------------------------------------------------------
class _Scripted:
    """An assistant that answers with `_answer()`."""

    def ask_stream(self, question, *, top_k=None, filters=None, history=None):
        ans = _answer()
        yield StreamEvent("sources", hits=ans.hits)
        yield StreamEvent("token", text=ans.text)
        yield StreamEvent("answer", answer=ans)

    def ask(self, question, *, history=None):
        return _answer()


def test_ui_chat_turns_hold_the_json_forms():
    ans = _answer()
    turns = list(chat.stream_turn(_Scripted(), ans.question))
    kind, sources = turns[1]
    assert kind == "sources" and sources["hits"] == [h.to_dict() for h in ans.hits]
    kind, turn = turns[-1]
    assert kind == "answer" and turn["status"] == "done"
    assert turn["citations"] == [c.to_dict() for c in ans.citations]
    assert turn["hits"] == [h.to_dict() for h in ans.hits]
    assert turn["checks"] == [k.to_dict() for k in ans.checks if k.action != "fixed"]
    assert chat.api_answer(_Scripted(), ans.question) == ans.to_dict()  # the /chat endpoint


# ---- the CLI keeps today's keys; the schema validates real outputs -----------------------
def test_cli_json_keeps_its_keys_and_matches_the_schema(sample_dir):
    r = run("ask", ODA_Q, "--json", data_dir=sample_dir)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert set(out) >= ASK_KEYS and not out["abstained"]
    assert all(set(c) >= CITATION_KEYS for c in out["citations"]) and out["citations"][0]["chunk_id"]
    assert all(set(k) >= CHECK_KEYS for k in out["checks"])
    validate("Answer", out)
    for h in out["hits"]:
        validate("Hit", h)

    r = run("list", "--json", data_dir=sample_dir)
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert rows and all(set(row) == LIST_KEYS for row in rows)
    for row in rows:
        validate("ArticleInfo", row)

    r = run("schema", data_dir=sample_dir)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == json_schema()


def test_schema_validates_what_the_api_returns(sample_qa, fresh_qa, tmp_path):
    ans = sample_qa.ask("Which storm did Japan express sympathy about?")
    validate("Answer", ans.to_dict())
    assert ans.citations and all(c.chunk_id for c in ans.citations)
    for c in ans.citations:
        validate("Citation", c.to_dict())
    for h in sample_qa.retrieve(ODA_Q):
        validate("Hit", h.to_dict())
    infos = sample_qa.articles()
    assert all(isinstance(a, ArticleInfo) for a in infos) and VOV_ID in {a.id for a in infos}
    for a in infos:
        validate("ArticleInfo", a.to_dict())
    validate("Stats", sample_qa.stats().to_dict())

    report = fresh_qa.ingest([SAMPLES], articles=[Article(id="extra", text="A harbour reopened on Monday.")])
    assert report.ok
    validate("IngestReport", report.to_dict())


def test_schema_command_writes_one_file_per_type(tmp_path):
    from articleqa.schema import write_schemas

    paths = write_schemas(tmp_path / "schemas")
    assert sorted(p.name for p in paths) == sorted(f"{n}.schema.json" for n in BOUNDARY)
    assert json.loads((tmp_path / "schemas" / "Answer.schema.json").read_text()) == json_schema()["Answer"]
