"""Readers: files (.txt .md .html .jsonl) → `Article` objects, with specific errors.

A reader never touches the store; bad input raises `ReadError` (the batch carries on)
and recoverable oddities (invalid UTF-8) come back as warnings. Pages and feeds are read
by ingest/web.py and ingest/feeds.py; ingest/sources.py sends each path or URL to its reader.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

from ..periods import MONTH_NUMBERS
from ..types import Article

SUPPORTED = {".txt", ".md", ".markdown", ".html", ".htm", ".jsonl"}


class ReadError(Exception):
    """An input that cannot be ingested; the message says exactly why."""

    def __init__(self, path: str, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


def slugify(text: str, max_len: int = 60) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:max_len].rstrip("-") or "article"


def content_hash(a: Article) -> str:
    h = hashlib.sha256()
    for part in (a.text, a.title, a.source, a.url, a.author, a.published_at):
        h.update(part.encode("utf-8", "surrogatepass") + b"\x00")
    return h.hexdigest()


def is_url(p: str | Path) -> bool:
    return isinstance(p, str) and p.lower().startswith(("http://", "https://"))


def expand_paths(paths: list[str | Path], skipped: list[str] | None = None) -> Iterator[Path]:
    """Files named directly, and every supported file under a named folder (sorted).

    Each other file under a folder gets a warning in ``skipped`` (hidden ones, under a name
    starting with '.', are skipped silently)."""
    for p in (Path(x) for x in paths if not is_url(x)):
        if p.is_dir():
            for f in sorted(f for f in p.rglob("*") if f.is_file()):
                if f.suffix.lower() in SUPPORTED:
                    yield f
                elif skipped is not None and not any(n.startswith(".") for n in f.relative_to(p).parts):
                    kind = f"'{f.suffix}' files" if f.suffix else "files without an extension"
                    skipped.append(f"{f}: skipped, {kind} can't be ingested (use .txt .md .html .jsonl)")
        else:
            yield p


def _decode(path: Path, data: bytes, warnings: list[str]) -> str:
    if b"\x00" in data[:8192]:
        raise ReadError(str(path), "looks like a binary file (contains NUL bytes), not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        text = data.decode("utf-8", errors="replace").lstrip("\ufeff")
        warnings.append(f"{path}: invalid UTF-8 at byte {e.start}; undecodable bytes replaced with �")
    # Offsets are into this normalised text: one newline convention.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def read_file(path: Path, max_file_mb: float = 20.0) -> tuple[list[Article], list[str]]:
    """Read one file into articles; raises `ReadError` with the reason."""
    name = str(path)
    suffix = path.suffix.lower()
    if not path.exists():
        raise ReadError(name, "no such file or folder")
    if suffix not in SUPPORTED:
        raise ReadError(
            name, f"unsupported file type '{suffix or '(none)'}'; supported: {', '.join(sorted(SUPPORTED))}"
        )
    try:
        size = path.stat().st_size
        if size > max_file_mb * 1024 * 1024:
            raise ReadError(
                name, f"file is {size / 2**20:.1f} MB, over the {max_file_mb:g} MB limit (max_file_mb)"
            )
        data = path.read_bytes()
    except OSError as e:
        raise ReadError(name, f"cannot read: {e.strerror or e}") from e
    warnings: list[str] = []
    text = _decode(path, data, warnings)
    if not text.strip():
        raise ReadError(name, "file is empty")
    key = str(path.resolve())
    if suffix == ".jsonl":
        arts = _read_jsonl(path, text, warnings)
        for a in arts:
            a.origin = key
        return arts, warnings
    if suffix in {".html", ".htm"}:
        art = parse_html(text, key=key, fallback_id=slugify(path.stem))
    elif suffix in {".md", ".markdown"}:
        art = plain_article(text, key, slugify(path.stem), markdown=True)
    else:
        art = plain_article(text, key, slugify(path.stem))
    art.content_hash = content_hash(art)
    art.origin = key
    return [art], warnings


def first_line_title(text: str, markdown: bool = False) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if markdown:
        for ln in lines:
            if ln.startswith("#"):
                return ln.lstrip("#").strip()
    # Scraped copy often glues a photo placeholder to the headline ("... picture 1").
    title = re.sub(r"\s+(picture|photo|image)\s*\d*$", "", lines[0], flags=re.I) if lines else ""
    title = title[:1].upper() + title[1:]
    if len(title) > 100:  # a first line that is a whole paragraph: cut at a word
        title = title[:100].rsplit(" ", 1)[0] + "…"
    return title


def _credit_line(text: str) -> str:
    """News copy often ends with the outlet's credit on its own line ("VOV", "Reuters")."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) < 2:
        return ""
    last = lines[-1]
    if len(last) <= 40 and len(last.split()) <= 4 and not re.search(r"[.!?:;,]$", last):
        return last.strip("-—–() ")
    return ""


_MONTHS = MONTH_NUMBERS  # "jan" ... "dec" (and the full names): periods is the months' home
# "TOKYO, Dec 5 (Reuters) -", "HANOI, December 5, 2024 (VNA) –", "WASHINGTON (AP) —" has no date.
_DATELINE = re.compile(
    r"^[A-Z][A-Z.'’ -]{1,40}(?:, [A-Z][A-Za-z.'’ -]{1,30})?,\s+"
    r"(?P<month>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\.?\s+(?P<day>\d{1,2})"
    r"(?:,?\s+(?P<year>\d{4}))?\s*(?:\((?P<credit>[^)]{1,40})\))?\s*[-–—]",
    re.M,
)


def dateline(text: str) -> tuple[str, str]:
    """(ISO date, credit) from a news dateline in the first lines of a text: the date only
    when the dateline carries a year (a file's year is otherwise unknown), else ""."""
    from datetime import date

    head = "\n".join(text.lstrip().split("\n")[:4])
    m = _DATELINE.search(head)
    if not m:
        return "", ""
    day = ""
    if m["year"]:
        try:
            day = date(int(m["year"]), _MONTHS[m["month"][:3].lower()], int(m["day"])).isoformat()
        except ValueError:
            day = ""
    return day, (m["credit"] or "").strip()


def plain_article(text: str, key: str, id_: str, markdown: bool = False) -> Article:
    # Markdown puts its headings above the dateline and may set it in bold ("**PORT ELEN**,").
    head = re.sub(
        r"(\*\*|__)", "", "\n".join(ln for ln in text.split("\n") if not ln.lstrip().startswith("#"))
    )
    day, credit = dateline(head if markdown else text)
    return Article(
        id=id_, text=text, title=first_line_title(text, markdown), source=_credit_line(text) or credit,
        key=key, published_at=day,
    )  # fmt: skip


def text_article(
    text: str, *, title: str = "", source: str = "", url: str = "", published_at: str = "",
    author: str = "", id_: str = "", origin: str = "",
) -> Article:  # fmt: skip
    """An article handed in as text (the HTTP API's ``POST /v1/articles``, MCP's ``ingest``),
    read as a .txt file is (title from its first line, an outlet's credit line, a dateline's
    date) where not given. Its key: ``id:<id>`` when it names an id, else its URL, else its
    text's hash, so sending it again updates it or leaves it unchanged, never doubles it."""
    text = text.replace("\r\n", "\n").strip()
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    art = plain_article(text, key=f"id:{id_}" if id_ else (url or f"text:{digest[:32]}"), id_="")
    art.title, art.source = title.strip() or art.title, source.strip() or art.source
    art.url, art.author, art.origin = url, author, origin
    art.published_at = published_at or art.published_at
    art.id = slugify(id_ or art.title or f"text-{digest[:8]}", 80)
    art.content_hash = content_hash(art)
    return art


def parse_html(html: str, key: str, fallback_id: str, url: str = "") -> Article:
    """Main text and metadata of an HTML article page, via trafilatura."""
    import trafilatura  # imported here: it is slow to import and only HTML needs it

    doc = trafilatura.bare_extraction(html, url=url or None, with_metadata=True, favor_precision=True)
    text = (getattr(doc, "text", None) or "").strip() if doc else ""
    if not text:
        raise ReadError(key, "no article text found in the HTML page")

    def meta(name: str) -> str:
        v = getattr(doc, name, None)
        return str(v).strip() if v else ""

    return Article(
        id=fallback_id,
        text=text,
        title=meta("title") or first_line_title(text),
        source=meta("sitename") or meta("hostname"),
        url=url or meta("url"),
        author=meta("author"),
        published_at=meta("date")[:10],
        key=key,
    )


_JSONL_FIELDS = ("id", "title", "source", "url", "author", "published_at")


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _record_key(fields: dict[str, str], body: str) -> str:
    """A JSONL record without an ``id`` is known by its content, not its line number (a line
    inserted above must not shift every article after it): its URL, else its title and date,
    else a hash of its text."""
    if fields.get("url"):
        return fields["url"]
    if fields.get("title"):
        return f"jsonl-title:{fields['title']}|{fields.get('published_at', '')[:10]}"
    return f"jsonl-text:{_digest(body)[:32]}"


def _read_jsonl(path: Path, text: str, warnings: list[str]) -> list[Article]:
    arts: list[Article] = []
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            # json's own messages can end in "at" ("Unterminated string starting at"): one "at".
            msg = e.msg.removesuffix(" at")
            warnings.append(f"{path}:{lineno}: malformed JSON ({msg} at column {e.colno}); line skipped")
            continue
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str) or not obj["text"].strip():
            warnings.append(f"{path}:{lineno}: needs a non-empty string field 'text'; line skipped")
            continue
        body = obj["text"].replace("\r\n", "\n")
        fields = {k: str(obj[k]).strip() for k in _JSONL_FIELDS if obj.get(k) not in (None, "")}
        given_id = fields.pop("id", "")
        key = f"jsonl:{given_id}" if given_id else _record_key(fields, body)
        art = Article(
            id=slugify(given_id or fields.get("title", "") or f"{path.stem}-{_digest(body)[:8]}", 80),
            text=body,
            title=fields.get("title") or first_line_title(body),
            source=fields.get("source", ""),
            url=fields.get("url", ""),
            author=fields.get("author", ""),
            published_at=fields.get("published_at", "")[:10],
            key=key,
        )
        art.content_hash = content_hash(art)
        arts.append(art)
    if not arts:
        raise ReadError(str(path), "no valid JSON lines with a 'text' field")
    return arts
