"""Plain typed objects that flow between the stages."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any, Literal, Self

from pydantic import ConfigDict, TypeAdapter
from typing_extensions import TypedDict  # pydantic reads typing.TypedDict only from Python 3.12

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt


class JSONForm:
    """The one JSON form of a boundary type (schema.py lists them) whose JSON keys are its
    dataclass fields: ``to_dict()`` (what ``ask --json``, ``list --json``, the UI, the
    evaluation and an HTTP API write), ``from_dict()`` (its inverse) and ``json_schema()``.
    A type whose form differs from its fields (`Hit`, `Answer`) overrides the three, its form
    declared by a `TypedDict`."""

    # Every key is always written, so the schema of what is written requires them all.
    __pydantic_config__ = ConfigDict(json_schema_serialization_defaults_required=True)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        return _adapter(cls).validate_python(data)

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        return _adapter(cls).json_schema(mode="serialization")


@cache
def _adapter(t: Any) -> TypeAdapter:
    return TypeAdapter(t)


@dataclass
class Article:
    """One article as read from disk, a URL or a JSONL line."""

    id: str
    text: str
    title: str = ""
    source: str = ""
    url: str = ""
    author: str = ""
    published_at: str = ""  # ISO date (YYYY-MM-DD) when known
    key: str = ""  # what identifies it across re-ingestion (docs/ingestion.md, "Keys")
    content_hash: str = ""
    origin: str = ""  # the file (resolved path) or URL it was read from; "" when handed in


@dataclass
class FeedState(JSONForm):
    """What the registry keeps about a feed between polls."""

    url: str
    title: str = ""
    etag: str = ""
    last_modified: str = ""
    polled_at: str = ""  # ISO time (UTC) of the last poll, successful or not
    status: str = ""  # "ok: 3 entries", "not modified", "error: HTTP 404 Not Found"


@dataclass
class Chunk:
    """A passage of an article; ``article.text[start:end] == text`` always holds."""

    id: str
    article_id: str
    ord: int
    start: int
    end: int
    text: str


@dataclass
class Hit(JSONForm):
    """A retrieved chunk with its score from each retriever, their fusion and the rerank."""

    chunk: Chunk
    title: str = ""
    source: str = ""
    published_at: str = ""
    url: str = ""
    score: float = 0.0  # fused (reciprocal rank) score
    vector_score: float | None = None  # cosine similarity
    keyword_score: float | None = None  # BM25
    rerank_score: float | None = None  # question coverage + cosine (retrieve.rerank), when reranked
    rank: int = 0  # position in the final list; a collapsed copy has its twin's rank
    group_id: str | None = None  # near-duplicate story group of its article
    also: list[Hit] = field(default_factory=list)  # the same passage in other copies of the story
    copy_of: str | None = None  # chunk id of the hit this copy was collapsed into (in its ``also``)

    def to_dict(self) -> HitJSON:
        """The passage flat (``article_id``, ``chunk_id``, offsets and text, as a `Citation` has
        them), then its metadata and scores; ``also``: the collapsed copies in the same form."""
        c = self.chunk
        return {
            "article_id": c.article_id, "chunk_id": c.id, "ord": c.ord, "start": c.start, "end": c.end,
            "text": c.text, "title": self.title, "source": self.source, "published_at": self.published_at,
            "url": self.url, "score": self.score, "vector_score": self.vector_score,
            "keyword_score": self.keyword_score, "rerank_score": self.rerank_score, "rank": self.rank,
            "group_id": self.group_id, "copy_of": self.copy_of, "also": [h.to_dict() for h in self.also],
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Hit:
        d = _adapter(HitJSON).validate_python(data)
        chunk = Chunk(d["chunk_id"], d["article_id"], d["ord"], d["start"], d["end"], d["text"])
        also = [cls.from_dict(h) for h in d["also"]]
        keep = ("title", "source", "published_at", "url", "score", "vector_score", "keyword_score",
                "rerank_score", "rank", "group_id", "copy_of")  # fmt: skip
        return cls(chunk, also=also, **{k: d[k] for k in keep})

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        return _adapter(HitJSON).json_schema(mode="serialization")


class HitJSON(TypedDict):
    """`Hit`'s JSON form."""

    __pydantic_config__ = ConfigDict(title="Hit")  # type: ignore[misc]

    article_id: str
    chunk_id: str
    ord: int
    start: int
    end: int
    text: str
    title: str
    source: str
    published_at: str
    url: str
    score: float
    vector_score: float | None
    keyword_score: float | None
    rerank_score: float | None
    rank: int
    group_id: str | None
    copy_of: str | None
    also: list[HitJSON]


@dataclass(frozen=True)
class Relation:
    """A question placed before or after an event rather than a date: "What did Kessel do
    after Tarrow rejected its offer?" is ``Relation("after", "What did Kessel do", "Tarrow
    rejected its offer", yes_no=False)``; "Did the union accept before the court ruled?" asks
    which came first (``yes_no``; ``main`` is then "the union accept")."""

    rel: str  # "before" | "after"
    main: str
    event: str
    yes_no: bool


@dataclass
class Sighting:
    """The first report of a sentence that states something: where an event is dated from."""

    hit: Hit
    start: int  # article offsets of the sentence
    end: int
    text: str

    @property
    def date(self) -> str:
        return self.hit.published_at[:10]


@dataclass
class Anchor:
    """The event a question is placed before or after ("after Tarrow rejected the offer"),
    as retrieval found it: its first report (``first``; None when the event is an outlet's
    report, "Did the Wire report it before the Ledger?", or no dated report states it) and,
    for a yes/no question ("Did A happen before B?"), the first report of its ``main`` too."""

    relation: Relation
    first: Sighting | None = None
    subject: Sighting | None = None
    outlet: str = ""  # the event is this outlet's report


@dataclass
class Query:
    """A question as understood, once per question (`query.analyze`), before any search:
    retrieval and the answerers take it instead of reading the question again.

    It holds what the words say, against what the collection is (its outlets, its newest
    date), not what a search found: the event of a before/after question is a `Relation`
    here; where that event was first reported depends on the passages, so retrieval resolves
    it into an `Anchor` and returns it with the hits (``Retrieved.anchor``). Likewise whether
    a named period or outlet actually restricted the search (a period nothing was published
    in restricts nothing) is retrieval's outcome, and so is the focus it leads to."""

    asked: str  # the question as asked
    text: str  # standing alone: a follow-up rewritten with the chat history, else ``asked``
    parts: list[str]  # a two-part question's two parts (text.question_parts), else [text]
    outlets: list[str]  # the collection's outlets it names (outlets.named_outlets)
    period: tuple[str, str] | None = None  # (since, until) of a period it names (periods.period)
    period_note: str = ""  # how that period was read, to say in the answer (periods.period_note)
    relation: Relation | None = None  # the event it is placed before or after (periods.relation)
    event_outlets: list[str] = field(default_factory=list)  # outlets named in the relation's main clause
    forms: tuple[str, ...] = ()  # the answer forms it asks for (names in `query.FORMS`, in its order)

    @property
    def form(self) -> str:
        """The answer form it asks for, "" for a plain answer."""
        return self.forms[0] if self.forms else ""


@dataclass
class Retrieved:
    """What retrieval hands an answerer: the passages, and the question vector it searched with
    (answerers compare sentences with it, so the question is embedded once)."""

    question: str
    hits: list[Hit]
    qvec: npt.NDArray[np.float32]  # (dim,), L2-normalised
    # The Query searched for: what the question asks (`query.analyze`), read once.
    query: Query | None = None
    # Retrieval's outcome, not the question's: where the event ``query.relation`` names was
    # first reported (`retrieve.event_anchor`), and which of what the Query names the search
    # kept to ("outlets", "period", "event"): a period nothing was published in, or an event
    # nothing was reported after, restricts nothing. `query.judged` and `query.period_said`
    # read them.
    anchor: Anchor | None = None
    kept: frozenset[str] = frozenset()

    def candidates(self) -> list[Hit]:
        """Every hit followed by its collapsed copies, in rank order."""
        return [x for h in self.hits for x in (h, *h.also)]


@dataclass
class Citation(JSONForm):
    """A numbered source: the exact passage an answer sentence was drawn from."""

    n: int
    article_id: str
    title: str
    source: str
    text: str
    start: int
    end: int
    url: str = ""
    published_at: str = ""
    chunk_id: str = ""


def span_uri(article_id: str, start: int, end: int) -> str:
    """``article://{id}#char={start},{end}``: a span of an article (RFC 5147's ``char=``
    fragment), as MCP and the HTTP API name a citation or passage."""
    return f"article://{article_id}#char={start},{end}"


@dataclass
class ShortAnswer(JSONForm):
    """The exact answer inside a cited sentence ("Typhoon Yagi"): ``text`` is
    ``article.text[start:end]`` and lies within citation ``citation``'s span."""

    text: str
    start: int
    end: int
    citation: int
    article_id: str


# The markers of a finished answer's text: "[1]" or "[1, 3]", each number a `Citation.n`.
CITATION_MARKER = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


@dataclass
class ClaimCheck(JSONForm):
    """What the citation check did with one claim of a generated answer, and why."""

    claim: str
    action: str  # "dropped", "recited" (its marker moved to the passage that backs it), "trimmed", "fixed",
    # or "warned": an article shown to the model addresses it ("claim" is then the article's title)
    reason: str


@dataclass
class Answer(JSONForm):
    """What `Assistant.ask` returns."""

    question: str
    text: str
    abstained: bool
    citations: list[Citation] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)  # what retrieval handed the answerer
    confidence: float = 0.0
    backend: str = "extractive"
    standalone_question: str | None = None
    # What the citation check did to a generated answer's claims (dropped, re-cited, trimmed).
    checks: list[ClaimCheck] = field(default_factory=list)
    # How a question about a developing story was answered: the name of an answer form
    # (`query.FORMS`, where each is registered): "timeline" (one cited line per development,
    # oldest first; the UI draws it as a timeline), "latest", "earliest", "before"/"after" (an
    # event), "order" (which came first); "" for a plain answer.
    form: str = ""
    # The reader's confident answer span, shown first ("**Typhoon Yagi** — “…” [1]").
    short_answer: ShortAnswer | None = None

    def to_dict(self) -> AnswerJSON:
        """Its JSON form (``articleqa ask --json``, the UI's ``/chat``): the text as ``answer``,
        the confidence to 4 places, and the citations, checks and hits in their own forms."""
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "confidence": round(self.confidence, 4),
            "backend": self.backend,
            "form": self.form,
            "short_answer": self.short_answer.to_dict() if self.short_answer else None,
            "citations": [c.to_dict() for c in self.citations],
            "checks": [k.to_dict() for k in self.checks],
            "standalone_question": self.standalone_question,
            "hits": [h.to_dict() for h in self.hits],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Answer:
        d = _adapter(AnswerJSON).validate_python(data)
        return cls(
            question=d["question"], text=d["answer"], abstained=d["abstained"], confidence=d["confidence"],
            backend=d["backend"], form=d["form"], standalone_question=d["standalone_question"],
            short_answer=d["short_answer"],
            citations=[Citation.from_dict(c) for c in d["citations"]],
            checks=[ClaimCheck.from_dict(k) for k in d["checks"]],
            hits=[Hit.from_dict(h) for h in d["hits"]],
        )  # fmt: skip

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        return _adapter(AnswerJSON).json_schema(mode="serialization")


class AnswerJSON(TypedDict):
    """`Answer`'s JSON form."""

    __pydantic_config__ = ConfigDict(title="Answer")  # type: ignore[misc]

    question: str
    answer: str
    abstained: bool
    confidence: float
    backend: str
    form: str
    short_answer: ShortAnswer | None
    citations: list[Citation]
    checks: list[ClaimCheck]
    standalone_question: str | None
    hits: list[HitJSON]


@dataclass
class Filters:
    """Restrict retrieval to some outlets, a date range (inclusive, ISO dates) or articles."""

    sources: list[str] = field(default_factory=list)
    since: str = ""
    until: str = ""
    article_ids: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.sources or self.since or self.until or self.article_ids)

    def allows(self, source: str, published_at: str, article_id: str) -> bool:
        """The same test Chroma's ``where`` applies, for the keyword side."""
        if self.sources and source not in self.sources:
            return False
        if self.article_ids and article_id not in self.article_ids:
            return False
        day = published_at[:10]
        if self.since and not (day and day >= self.since):
            return False
        return not (self.until and not (day and day <= self.until))


@dataclass(frozen=True)
class Stats(JSONForm):
    """How much is stored: articles and their passages (chunks)."""

    articles: int
    passages: int


@dataclass
class ArticleInfo(JSONForm):
    """One row of `Assistant.articles()` (and ``articleqa list --json``): an article's metadata
    without its text, with its passage count, length and version."""

    id: str
    title: str
    source: str
    published_at: str
    url: str
    key: str
    group_id: str | None  # near-duplicate story group
    chunks: int  # passages stored
    chars: int  # length of its text
    origin: str  # the file (resolved path) or URL it was read from
    version: int  # 1, +1 for each change of its content


@dataclass
class StreamEvent:
    """One event of `Assistant.ask_stream`, in this order: one ``sources`` (the candidate
    passages, before any text), any number of ``token`` (text as it arrives), then one
    ``answer`` (the final, validated `Answer` with renumbered citations)."""

    kind: Literal["sources", "token", "answer"]
    text: str = ""
    hits: list[Hit] = field(default_factory=list)
    answer: Answer | None = None
    standalone_question: str | None = None
