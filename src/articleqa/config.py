"""The one configuration object, passed explicitly to every stage.

Values come from (highest first): keyword arguments / CLI flags, environment variables
(``ARTICLEQA_*``), a ``.env`` file in the working directory, then the defaults below.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# The answerers ``Config.answerer`` may name: the keys of ``articleqa.answer.ANSWERERS``, in
# its order (a test holds the two together; config imports nothing of answer/).
ANSWERER_NAMES = ("extractive", "openai", "local")


class Config(BaseSettings):
    """Everything articleqa can be told. Construct once and hand it to `Assistant`."""

    model_config = SettingsConfigDict(
        env_prefix="ARTICLEQA_", env_file=".env", extra="ignore", validate_assignment=True
    )

    # --- storage ---------------------------------------------------------------------
    store: Literal["local", "postgres"] = Field(
        "local",
        description="Storage backend (index/): local = SQLite + Chroma + in-process BM25; postgres = "
        "PostgreSQL + pgvector (docs/postgres.md). Giving database_url alone selects postgres.",
    )
    data_dir: Path = Field(Path(".articleqa"), description="Where the registry and vectors live.")
    # Local: the Chroma collection. Postgres: the schema holding the collection's tables, so
    # several collections can share one database.
    collection: str = Field(
        "articles", min_length=1, max_length=63, description="Collection name (Chroma collection / schema)."
    )
    # postgresql://user:password@host:port/database; carries a password, so never printed.
    database_url: str | None = Field(
        None, description="The PostgreSQL database of the postgres store.", repr=False
    )
    database_read_url: str | None = Field(
        None, description="A read replica of database_url: searches and reads go there.", repr=False
    )
    chroma_host: str | None = Field(None, description="Use a Chroma server instead of files.")
    chroma_port: int = 8000

    # --- ingestion -------------------------------------------------------------------
    # Sizes are in MiniLM word-pieces: the model embeds at most 256, so larger chunks
    # would silently lose their tail to truncation.
    chunk_size: int = Field(224, ge=16, le=254, description="Max word-pieces per chunk.")
    chunk_overlap: int = Field(1, ge=0, le=5, description="Sentences shared by neighbours.")
    max_file_mb: float = Field(20.0, gt=0, description="Files larger than this are refused.")
    # One article's text, whatever it was read from (a file, a JSONL line, a URL, a feed
    # entry), checked before chunking. A long news feature runs 5,000-10,000 words (30,000-
    # 60,000 characters) and even 25,000-word magazine pieces stay under 160,000, so no real
    # article reaches 200,000; a text that does is a dump, a whole book or a scraping mistake.
    # A 10 MB JSONL line made 9,363 chunks and held the write lock for 281 s (issue 21);
    # 200,000 characters is about 200 chunks, a few seconds to embed.
    max_article_chars: int = Field(
        200_000, ge=1, description="An article whose text is longer than this is refused (not stored)."
    )
    # --- URLs and feeds (docs/ingestion.md, "Feeds and watching") ------------------------
    fetch_timeout: float = Field(20.0, gt=0, description="Seconds to wait on a URL or feed (each read).")
    fetch_host_delay: float = Field(1.0, ge=0, description="Seconds between two requests to one host.")
    feed_entry_max_mb: float = Field(
        1.0, gt=0, description="A feed entry's own text larger than this is refused."
    )
    # Fetching never reaches internal addresses (loopback, private, link-local, metadata...)
    # unless allowed here: host names (``intranet.example``, ``*.corp.example``), addresses
    # or networks (``10.1.0.0/16``). Env: comma-separated. docs/ingestion.md, "Fetch policy".
    fetch_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Internal hosts or networks URLs and feeds may be fetched from."
    )

    # --- web UI (docs/ui.md) -----------------------------------------------------------
    # X-Forwarded-For / -Proto / -Host are honoured only from these peers (addresses or
    # networks: ``127.0.0.1``, ``10.0.0.0/8``); from anyone else they are dropped, so a client
    # can't pose as a new address to dodge the login back-off. Env: comma-separated.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Reverse proxies whose X-Forwarded-* headers the web UI trusts."
    )

    # --- HTTP API (docs/api.md) ---------------------------------------------------------
    # Bearer keys for every /v1 route and the MCP endpoint (env: comma-separated). Never on the
    # command line (ps shows it): env ARTICLEQA_API_KEYS or a file (api_keys_file, one per line).
    api_keys: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="API keys; with any set, every /v1 route needs one.", repr=False
    )
    api_keys_file: Path | None = Field(None, description="A file of API keys, one per line (# comments).")
    # Per key (per client address when the API is open on loopback). A person in a chat client
    # asks a few questions a minute; a batch job that needs more can be given more.
    api_rate_limit: int = Field(120, ge=0, description="Requests per minute per API key; 0 = no limit.")
    # The largest JSON body a /v1 route reads. An article's text is at most max_article_chars
    # (200,000 characters, up to 800 KB as UTF-8), so 2 MB holds any article with room to spare.
    api_max_body_mb: float = Field(2.0, gt=0, description="Largest JSON request body (uploads: max_file_mb).")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Browser origins allowed to call the API (CORS); none by default."
    )
    mcp_ingest: bool = Field(False, description="Offer the MCP `ingest` tool (off: MCP clients only read).")

    # --- embeddings ------------------------------------------------------------------
    embed_backend: Literal["onnx", "openai"] = "onnx"
    embed_model: str = Field("all-MiniLM-L6-v2-onnx-int8", description="Name recorded per store.")
    embed_runtime: Literal["auto", "int8", "fp32"] = Field(
        "auto", description="MiniLM's runtime: auto = int8 where the CPU has an int8 dot product, else fp32."
    )
    embed_batch_size: int = Field(8, ge=1, description="fp32 only (int8 embeds one text per call).")
    embed_threads: int = Field(
        0,
        ge=0,
        description="Cores the embedder uses (int8: texts embedded at once, fp32: onnxruntime threads); 0 = all.",
    )

    # --- retrieval -------------------------------------------------------------------
    top_k: int = Field(5, ge=1, le=50, description="Passages handed to the answerer.")
    candidate_k: int = Field(30, ge=1, description="Hits taken from each retriever before fusion.")
    rrf_k: int = Field(60, ge=1, description="Reciprocal-rank-fusion damping constant.")
    rerank_depth: int = Field(20, ge=1, description="Fused candidates re-ordered by question coverage.")

    # --- answering -------------------------------------------------------------------
    answerer: str = Field("extractive", description="One of ANSWERER_NAMES (articleqa.answer.ANSWERERS).")
    max_answer_sentences: int = Field(2, ge=1, le=5)
    # Calibrated by eval/calibrate.py on 900 held-out SQuAD items (seeds 101-103; Youden J:
    # abstention recall 0.957, false rate 0.062; docs/evaluation.md): below this
    # evidence score the articles are taken not to contain the answer.
    abstain_threshold: float = Field(0.44, ge=0.0, le=1.0)
    # Which judge decides what answers, each with its own threshold: the hand-tuned score
    # ("overlap", the default), the reader ("reader": a trained span-and-answerability model
    # reading windows around the best-ranked sentences; evidence.ReaderEvidence) or the
    # sentence answer model blended with it ("model"; answer/reader.py). The reader does not
    # yet beat overlap on every style (docs/evaluation.md, "The reader"); with any evidence the
    # reader finds the short answer in the quoted sentence (short_answers).
    evidence: Literal["overlap", "reader", "model"] = "overlap"
    # eval/calibrate.py --fit (the model card has the splits and the rates).
    model_abstain_threshold: float = Field(0.47, ge=0.0, le=1.0)
    # The reader's ("reader"; evidence.ReaderEvidence): eval/calibrate.py --fit --evidence reader.
    # The hand-tuned confidence still answers at abstain_threshold where the reader finds an
    # answer in some window (evidence.READER_VETO), moved onto this threshold.
    reader_abstain_threshold: float = Field(0.48, ge=0.0, le=1.0)
    # A short answer (the reader's span, at most extractive.SHORT_MAX_WORDS words) leads the
    # answer when the reader's answerability of its window is at least this threshold and the
    # span's margin over "no answer" (its start + end logit minus [CLS]'s) at least this
    # margin. How sure the window answers hardly says whether the span is exact (SQuAD
    # calibration splits: exactly right 0.55 at answerability 0.5, 0.57 at 0.9); the span's
    # margin does: eval/calibrate.py --fit --evidence reader picks the highest margin that
    # still shows one on 0.65 of the answered SQuAD questions (docs/evaluation.md).
    short_answer_threshold: float = Field(0.5, ge=0.0, le=1.0)
    short_answer_margin: float = Field(3.5, description="the span's logit margin over no answer")
    short_answers: bool = Field(True, description="Lead with the reader's short answer when it is sure.")
    # The middle band: a confidence this far under the threshold shows the closest passage,
    # cited and marked as uncertain, instead of a bare abstention (still an abstention).
    # 0 turns it off. See docs/evaluation.md, "The middle band".
    uncertain_band: float = Field(0.0, ge=0.0, le=1.0)

    @property
    def threshold(self) -> float:
        """The abstention threshold of the configured evidence."""
        return {"model": self.model_abstain_threshold, "reader": self.reader_abstain_threshold}.get(
            self.evidence, self.abstain_threshold
        )

    # --- LLM (issue: generative answers) -----------------------------------------------
    llm_model: str = "gpt-4o-mini"
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_gguf_path: Path | None = None
    llm_temperature: float = 0.0
    llm_max_tokens: int = 256
    llm_n_ctx: int | None = Field(
        None, ge=512, description="Context window of the model (default: see llm_context)."
    )
    llm_top_k: int | None = Field(
        None, ge=1, le=20, description="Passages put in an LLM prompt (default: see llm_passages)."
    )
    # One thread: on 2 cores OpenMP's spinning waits made 2 threads ~10x slower (measured).
    llm_threads: int = Field(1, ge=1, description="CPU threads of the local model.")
    llm_timeout: float = Field(120.0, gt=0, description="Seconds to wait for an LLM server.")
    # Abstain before calling the LLM only when the answer model is near certain that no
    # passage answers (its confidence under llm_gate_threshold); otherwise the LLM decides.
    llm_evidence_gate: bool = True
    # Calibrated by eval/calibrate.py --fit for <= 0.5% false abstention on the calibration
    # splits (SQuAD held-out pages and every written question style; docs/llm.md, "The gate"):
    # the reader's confidence since issue 25 (0.200 at <= 2% with the first reader).
    llm_gate_threshold: float = Field(0.127, ge=0.0, le=1.0)
    llm_support_threshold: float = Field(0.5, ge=0.0, le=1.0, description="Min claim support.")
    prompts_dir: Path | None = Field(None, description="Prompt files here override the shipped ones.")

    @property
    def llm_context(self) -> int:
        """The model's context window in tokens: ``llm_n_ctx``, else 2048 for the local model
        (SmolLM2-135M's llama.cpp context) and 16384 for a served one (capable models have
        far more; passages are dropped to fit either way)."""
        return self.llm_n_ctx or (2048 if self.answerer == "local" else 16384)

    @property
    def llm_passages(self) -> int:
        """Passages shown to the model: ``llm_top_k``, else 3 for the local model (more only
        confuse a 135M model; docs/llm.md) and 10 for a served one (plus up to half as many
        copies from other outlets). On the capable-model fixtures (eval/llm_fixtures.py) the
        right claims kept were 93% with 6, 94% with 8 and 97% with 10: fewer left the
        passage a claim came from unseen."""
        return self.llm_top_k or (3 if self.answerer == "local" else 10)

    @model_validator(mode="before")
    @classmethod
    def _postgres_when_a_database_is_given(cls, data: object) -> object:
        """A database URL with no store named selects the postgres store (``Config()`` stays local)."""
        if isinstance(data, dict) and data.get("database_url") and data.get("store") is None:
            return {**data, "store": "postgres"}
        return data

    @field_validator("answerer")
    @classmethod
    def _known_answerer(cls, v: str) -> str:
        if v not in ANSWERER_NAMES:
            raise ValueError(f"unknown answerer '{v}': choose one of {', '.join(ANSWERER_NAMES)}")
        return v

    @field_validator("fetch_allow", mode="before")
    @classmethod
    def _split_allow(cls, v: object) -> object:
        """``"a, 10.0.0.0/8"`` (env, .env) → ["a", "10.0.0.0/8"]; each a host name, address or network."""
        items = _entries(v)
        for x in items if isinstance(items, list) else []:
            try:
                ipaddress.ip_network(x.strip("[]"), strict=False)
            except ValueError:
                if not re.fullmatch(r"(\*\.)?[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?", x):
                    raise ValueError(
                        f"fetch_allow entry '{x}' is not a host name, address or network"
                    ) from None
        return items

    @field_validator("api_keys", "cors_origins", mode="before")
    @classmethod
    def _split_list(cls, v: object) -> object:
        return _entries(v)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, v: object) -> object:
        """``"127.0.0.1, 10.0.0.0/8"`` (env, .env) → ["127.0.0.1", "10.0.0.0/8"]; each an
        address or network (a name would need resolving on every request)."""
        items = _entries(v)
        if not isinstance(items, list):
            return items
        out = []
        for x in (x.strip("[]") for x in items):
            try:
                out.append(
                    str(ipaddress.ip_network(x, strict=False) if "/" in x else ipaddress.ip_address(x))
                )
            except ValueError:
                raise ValueError(f"trusted_proxies entry '{x}' is not an IP address or network") from None
        return out

    @field_validator("data_dir", "prompts_dir", "llm_gguf_path", "api_keys_file", mode="before")
    @classmethod
    def _expand(cls, v: object) -> object:
        return Path(v).expanduser() if isinstance(v, str | Path) else v

    @property
    def registry_path(self) -> Path:
        return self.data_dir / "registry.sqlite3"

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"


def _entries(v: object) -> object:
    """A list setting as given: a comma- or space-separated string (env, .env) split into its
    entries, a list or tuple as a list of stripped strings; anything else left for pydantic."""
    if isinstance(v, str):
        return [x for x in re.split(r"[\s,]+", v) if x]
    if isinstance(v, list | tuple):
        return [str(x).strip() for x in v]
    return v
