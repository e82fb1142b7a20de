"""HTML for the UI, built from escaped pieces only.

Article text and model output are untrusted: every piece of it goes through `esc` before
it is placed inside markup we write ourselves (highlights, citation links), so a
``<script>`` or ``onerror=`` in an article shows as text and runs nothing.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

from ..periods import day
from ..types import CITATION_MARKER, Article, ArticleInfo, FeedState

CONTEXT_CHARS = 420  # of the surrounding paragraph shown either side of a cited passage
FULL_TEXT_CHARS = 40_000  # inline "full article" is windowed around the passage beyond this
HEADER_CHARS = 200  # of a question shown in its sources header (all of it is in the tooltip)

ArticleLookup = Callable[[str], Article | None]


def esc(text: Any) -> str:
    return html.escape(str(text or ""), quote=True)


def safe_url(url: str) -> str:
    """Only http(s) links: a ``javascript:`` URL in article metadata must not become a link."""
    return url if re.match(r"^https?://", url or "", re.IGNORECASE) else ""


def shorten(text: str, limit: int = HEADER_CHARS) -> str:
    """``text`` cut to about ``limit`` characters at a word boundary, with an ellipsis."""
    text = " ".join(str(text or "").split())
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit + 1)
    return (text[:cut] if cut >= limit * 3 // 4 else text[:limit]).rstrip(" ,;:.") + "…"


def meta_line(source: str, published_at: str, *extra: str) -> str:
    """Outlet · date · each non-empty ``extra`` (HTML): one separator between parts, none doubled."""
    parts = [esc(source) if source else '<span class="muted">outlet unknown</span>']
    parts.append(esc(published_at[:10]) if published_at else '<span class="muted">undated</span>')
    parts += [x.strip() for x in extra if x and x.strip()]
    return " · ".join(parts)


# ---- answers ------------------------------------------------------------------------
_SHORT_LEAD = re.compile(r"^\*\*(.+?)\*\* — ")


def answer_html(text: str, turn: int, known: set[int]) -> str:
    """The answer, escaped, with each ``[n]`` turned into a link to source card n of this turn
    (and a leading short answer, "**Typhoon Yagi** — ", in bold)."""
    out, pos = [], 0
    lead = _SHORT_LEAD.match(text)
    if lead:
        out.append(f'<strong class="short-answer">{esc(lead.group(1))}</strong> — ')
        pos = lead.end()
    for m in CITATION_MARKER.finditer(text):
        out.append(esc(text[pos : m.start()]))
        nums = [int(x) for x in m.group(1).split(",")]
        if all(n in known for n in nums):
            out.append("".join(_cite_link(turn, n) for n in nums))
        else:  # not one of our citations: leave the text as it was
            out.append(esc(m.group(0)))
        pos = m.end()
    out.append(esc(text[pos:]))
    return "".join(out)


def _cite_link(turn: int, n: int) -> str:
    target = f"src-{turn}-{n}"
    return f'<a class="cite" href="#{target}" data-target="{target}" title="Show source {n}">{n}</a>'


def conversation_html(turns: list[dict], stats: str = "") -> str:
    if not turns:
        return (
            '<div class="aq-convo"><div class="aq-welcome"><h3>Ask your articles</h3>'
            f"<p>{esc(stats)}</p><p>Every answer quotes the exact passages it used: click a "
            '<span class="cite">1</span> to see the passage highlighted in its article. When the '
            "articles don't answer a question, articleqa says so instead of guessing.</p></div></div>"
        )
    return '<div class="aq-convo">' + "".join(_turn_html(i, t) for i, t in enumerate(turns)) + "</div>"


def _turn_html(i: int, t: dict) -> str:
    sq = t.get("standalone")
    searched = (
        '<div class="standalone" title="The follow-up, rewritten to stand on its own">'
        f"Searched for: <q>{esc(sq)}</q></div>"
        if sq and sq.strip() != t["q"].strip()
        else ""
    )
    head = f'<div class="turn"><div class="msg user"><div class="bubble">{esc(t["q"])}</div>'
    if t.get("clipped"):
        head += (
            f'<div class="clipped">Your question was {t["clipped"]:,} characters long; only the first '
            f"{len(t['q']):,} were used.</div>"
        )
    head += "</div>"
    head += f'<div class="msg bot">{searched}'
    status, text = t.get("status", "done"), t.get("text", "")
    if status == "error":
        msg = esc(t.get("error", ""))
        return (
            f'{head}<div class="bubble error"><strong>Something went wrong.</strong> {msg}</div></div></div>'
        )
    if not text and status in ("searching", "reading", "stopped"):
        label = {
            "searching": "Searching the articles…",
            "reading": f"Reading {len(t.get('hits', []))} passages…",
            "stopped": "Stopped before an answer.",
        }[status]
        dots = '<span class="dots"></span> ' if status != "stopped" else ""
        return f'{head}<div class="bubble pending">{dots}{label}</div></div></div>'
    timeline = timeline_html(text, i, t.get("citations", [])) if _is_timeline(t) else ""
    body = timeline or answer_html(text, i, {c["n"] for c in t.get("citations", [])})
    body += '<span class="caret"></span>' if status == "streaming" else ""
    if timeline:
        body = f'<div class="bubble answer timeline">{body}</div>'
    elif t.get("abstained"):
        label = "Maybe not in the articles" if t.get("form") == "uncertain" else "Not in the articles"
        body = f'<div class="bubble abstain"><div class="abstain-label">{label}</div>{body}</div>'
        if t.get("withdrawn"):
            body += (
                "<details class=\"draft\"><summary>The model's draft wasn't supported by the passages, "
                f"so it was withdrawn</summary><div>{esc(t['withdrawn'])}</div></details>"
            )
    else:
        body = f'<div class="bubble answer">{body}</div>'
    body += _checks_html(t.get("checks", []))
    meta = '<div class="meta">stopped</div>' if status == "stopped" else ""
    if status == "done":
        n = len(t.get("citations", []))
        cites = f"{n} source{'s' if n != 1 else ''}" if n else "no sources cited"
        backend = esc(t.get("backend", ""))
        meta = f'<div class="meta">{backend} · evidence {t.get("confidence", 0):.2f} · {cites}</div>'
    return f"{head}{body}{meta}</div></div>"


# ---- timelines ----------------------------------------------------------------------
# Where a line of an answer splits into sentences: after . ! ? (or a closing quote after one)
# or a citation marker, before what starts a sentence ("e.g. the" stays whole).
_SENTENCE_END = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"”’)])|(?<=\]))\s+(?=[A-Z0-9“\"‘(])")
_BULLET = re.compile(r"^\s*[-*•]\s+")


def _is_timeline(t: dict) -> bool:
    """A finished timeline answer with at least two dated sources: worth drawing as one."""
    dated = [c for c in t.get("citations", []) if c.get("published_at")]
    return (
        t.get("status", "done") == "done"
        and not t.get("abstained")
        and t.get("form") == "timeline"
        and len(dated) >= 2
    )


def timeline_pieces(text: str) -> list[tuple[str, list[int]]]:
    """The answer's lines (or, within a line, sentences), each with the citation numbers it
    cites in order. An uncited piece is joined to the next one (a cut after "Mr." or a lead-in
    belongs to the claim that follows), or to the previous one at the end."""
    pieces: list[tuple[str, list[int]]] = []
    carry = ""
    for line in text.splitlines():
        for sentence in _SENTENCE_END.split(_BULLET.sub("", line).strip()):
            sentence = f"{carry} {sentence}".strip() if carry else sentence.strip()
            nums = [int(x) for m in CITATION_MARKER.finditer(sentence) for x in m.group(1).split(",")]
            carry = "" if nums else sentence
            if nums:
                pieces.append((sentence, nums))
    if carry and pieces:
        pieces[-1] = (f"{pieces[-1][0]} {carry}", pieces[-1][1])
    return pieces


def timeline_entries(text: str, citations: list[dict]) -> list[tuple[dict, list[str]]]:
    """One entry per cited source, oldest first, with the pieces of the answer that cite it
    first (a piece citing several goes under its first dated one); undated sources last."""
    by_n = {c["n"]: c for c in citations}
    entries: dict[int, list[str]] = {}
    for piece, nums in timeline_pieces(text):
        known = [n for n in nums if n in by_n]
        if known:
            n = next((n for n in known if by_n[n].get("published_at")), known[0])
            entries.setdefault(n, []).append(piece)
    # Undated last; first appearance breaks ties between reports of the same day.
    ranked = sorted(
        enumerate(entries),
        key=lambda t: (not by_n[t[1]].get("published_at"), by_n[t[1]].get("published_at", ""), t[0]),
    )
    return [(by_n[n], entries[n]) for _, n in ranked]


def timeline_html(text: str, turn: int, citations: list[dict]) -> str:
    """The answer as a vertical timeline: date and outlet, then its own cited lines. "" when
    fewer than two entries are dated (then it reads better as plain text)."""
    entries = timeline_entries(text, citations)
    if sum(bool(c.get("published_at")) for c, _ in entries) < 2:
        return ""
    known = {c["n"] for c in citations}
    items = []
    for c, pieces in entries:
        pub = c.get("published_at", "")
        when = (
            f'<time datetime="{esc(pub)}">{esc(short_day(pub))}</time>'
            if pub
            else '<span class="muted">undated</span>'
        )
        outlet = esc(c.get("source")) or '<span class="muted">outlet unknown</span>'
        said = " ".join(answer_html(_without_heading(p, c), turn, known) for p in pieces)
        items.append(
            f'<li class="tl-entry{"" if pub else " undated"}"><div class="tl-when">'
            f'<span class="tl-date">{when}</span> · <span class="tl-outlet">{outlet}</span></div>'
            f'<div class="tl-text">{said}</div></li>'
        )
    return f'<ol class="tl">{"".join(items)}</ol>'


def short_day(iso: str) -> str:
    """``2026-02-02`` as "2 Feb 2026"; a partial or odd date as given."""
    return day(iso, short=True)


def _without_heading(piece: str, c: dict) -> str:
    """The extractive answerer starts each line "2 February 2026, Vellmark Wire: "; the entry
    shows its date and outlet already."""
    head = f"{day(c.get('published_at', ''))}, {c.get('source', '')}: "
    return piece[len(head) :] if c.get("source") and piece.startswith(head) else piece


_CHECK_LABEL = {"dropped": "removed", "trimmed": "cut", "recited": "re-cited", "warned": "warning"}


def _checks_html(checks: list[dict]) -> str:
    """What the citation check removed from or changed in the model's answer, and why."""
    if not checks:
        return ""
    dropped = sum(k["action"] in ("dropped", "trimmed") for k in checks)
    summary = (
        f"{dropped} unsupported claim{'s' if dropped != 1 else ''} removed"
        if dropped
        else "citations corrected"
    )
    if any(k["action"] == "warned" for k in checks):  # an article held instructions to the model
        summary = "a source contained instructions to the model" + (f"; {summary}" if dropped else "")
    items = "".join(
        f'<li><span class="check-action">{_CHECK_LABEL.get(k["action"], esc(k["action"]))}</span> '
        f"<q>{esc(k['claim'])}</q>: {esc(k['reason'])}</li>"
        for k in checks
    )
    return f'<details class="checks"><summary>{summary}</summary><ul>{items}</ul></details>'


# ---- sources ------------------------------------------------------------------------
def paragraph_bounds(text: str, start: int, end: int, reach: int = CONTEXT_CHARS) -> tuple[int, int]:
    """The paragraph (line) around ``text[start:end]``, cut to ``reach`` chars either side."""
    a = text.rfind("\n", 0, start) + 1
    b = text.find("\n", end)
    b = len(text) if b < 0 else b
    if start - a > reach:  # cut at a word boundary so the context doesn't start mid-word
        cut = text.find(" ", start - reach, start)
        a = cut + 1 if cut >= 0 else start - reach
    if b - end > reach:
        cut = text.rfind(" ", end, end + reach)
        b = cut if cut > end else end + reach
    return a, b


def highlighted(text: str, start: int, end: int, a: int, b: int, short: tuple[int, int] | None = None) -> str:
    """``text[a:b]`` escaped, with ``text[start:end]`` inside a <mark> we write ourselves (and
    the short answer ``text[short[0]:short[1]]``, inside it, in bold)."""
    pre = ("…" if a > 0 and text[a - 1] != "\n" else "") + esc(text[a:start])
    post = esc(text[end:b]) + ("…" if b < len(text) and text[b] != "\n" else "")
    inner = esc(text[start:end])
    if short and start <= short[0] < short[1] <= end:
        x, y = short
        inner = (
            f'{esc(text[start:x])}<strong class="short-answer">{esc(text[x:y])}</strong>{esc(text[y:end])}'
        )
    return f"{pre}<mark>{inner}</mark>{post}"


def source_card(turn: int, c: dict, article: Article | None, short: dict | None = None) -> str:
    """One cited passage: title, outlet, date, its paragraph with the passage marked (and the
    short answer in it, when ``short`` is this citation's), full text."""
    span = (short["start"], short["end"]) if short and short.get("citation") == c["n"] else None
    url = safe_url(c.get("url") or (article.url if article else ""))
    link = f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">original ↗</a>' if url else ""
    head = (
        f'<div class="src-head"><span class="badge">{c["n"]}</span>'
        f'<span class="src-title">{esc(c.get("title") or c["article_id"])}</span></div>'
        f'<div class="src-meta">{meta_line(c.get("source", ""), c.get("published_at", ""), link)}</div>'
    )
    s, e = c["start"], c["end"]
    if article is None or article.text[s:e] != c["text"]:
        # Removed or re-ingested since: the quoted passage is still what the answer used.
        body = f'<blockquote class="ctx"><mark>{esc(c["text"])}</mark></blockquote>'
        body += '<div class="muted small">This article has changed or been removed since.</div>'
    else:
        a, b = paragraph_bounds(article.text, s, e)
        body = f'<blockquote class="ctx">{highlighted(article.text, s, e, a, b, span)}</blockquote>'
        fa, fb = _full_window(article.text, s, e)
        body += (
            f'<details class="full"><summary>Open the full article ({len(article.text):,} characters)</summary>'
            f'<div class="fulltext">{highlighted(article.text, s, e, fa, fb, span)}</div></details>'
        )
    return f'<div class="src" id="src-{turn}-{c["n"]}">{head}{body}</div>'


def _full_window(text: str, start: int, end: int) -> tuple[int, int]:
    if len(text) <= FULL_TEXT_CHARS:
        return 0, len(text)
    half = FULL_TEXT_CHARS // 2
    a = max(0, start - half)
    return a, min(len(text), max(end, a + FULL_TEXT_CHARS))


def hit_item(h: dict) -> str:
    """A retrieved passage, clamped to a few lines (CSS); a click unfolds all of it."""
    return (
        f'<li><details class="hit"><summary><div class="src-meta"><strong>{esc(h.get("title") or h["article_id"])}'
        f"</strong> · {meta_line(h.get('source', ''), h.get('published_at', ''))}</div>"
        f'<div class="hit-text">{esc(h["text"])}</div></summary></details></li>'
    )


def sources_html(turns: list[dict], lookup: ArticleLookup, keep: int = 8) -> str:
    """Sources of the latest turns, newest first; older turns folded away."""
    title = '<div class="panel-title">Sources</div>'
    if not turns:
        return (
            f'<div class="aq-sources">{title}<div class="empty">Each passage an answer cites appears here, '
            "highlighted inside its article, with the outlet and date.</div></div>"
        )
    cache: dict[str, Article | None] = {}

    def article(aid: str) -> Article | None:
        if aid not in cache:
            cache[aid] = lookup(aid)
        return cache[aid]

    groups = []
    first = max(0, len(turns) - keep)
    for i in range(len(turns) - 1, first - 1, -1):
        groups.append(_turn_sources(i, turns[i], article, latest=i == len(turns) - 1))
    return f'<div class="aq-sources">{title}' + "".join(groups) + "</div>"


def _turn_sources(i: int, t: dict, article: ArticleLookup, latest: bool) -> str:
    cites, hits = t.get("citations", []), t.get("hits", [])
    if t.get("status") in ("searching", "reading") and not cites:
        inner = f'<div class="empty">Retrieved {len(hits)} candidate passages…</div>' if hits else ""
    else:
        inner = "".join(source_card(i, c, article(c["article_id"]), t.get("short_answer")) for c in cites)
        cited = {(c["article_id"], c.get("chunk_id")) for c in cites}
        rest = [h for h in hits if (h["article_id"], h.get("chunk_id")) not in cited]
        if t.get("abstained") and t.get("form") != "uncertain":
            inner += '<div class="abstain-note">None of the passages below answers the question.</div>'
        if rest:
            label = "Closest passages" if t.get("abstained") else "Also retrieved"
            inner += (
                f'<details class="hits"{" open" if t.get("abstained") and latest else ""}>'
                f"<summary>{label} ({len(rest)})</summary><ul>"
                + "".join(hit_item(h) for h in rest)
                + "</ul></details>"
            )
    q = t["q"]
    full = f' title="{esc(q)}"' if shorten(q) != q else ""
    title = f'<span class="turn-q"{full}>{esc(shorten(q))}</span>'
    return f'<details class="turn-src"{" open" if latest else ""}><summary>{title}</summary>{inner}</details>'


# ---- library ------------------------------------------------------------------------
def library_html(rows: list[ArticleInfo]) -> str:
    if not rows:
        return '<div class="empty">No articles yet: upload some on the right.</div>'
    titles = {r.id: r.title or r.id for r in rows}
    groups: dict[str, list[str]] = {}
    for r in rows:
        if r.group_id:
            groups.setdefault(r.group_id, []).append(r.id)
    body, none = [], '<span class="muted">—</span>'
    for r in rows:
        same = [titles[o] for o in groups.get(r.group_id or "", []) if o != r.id]
        dup = "; ".join(esc(t) for t in same) if same else none
        body.append(
            f'<tr><td><div class="lib-title">{esc(r.title or r.id)}</div>'
            f'<div class="muted small mono">{esc(r.id)}{_version(r)}</div></td>'
            f"<td>{esc(r.source) or none}</td><td>{esc(r.published_at[:10]) or none}</td>"
            f'<td class="num">{r.chunks}</td><td class="num">{r.chars:,}</td><td>{dup}</td></tr>'
        )
    n_chunks = sum(r.chunks for r in rows)
    title = f'<div class="panel-title">Library · {len(rows):,} articles · {n_chunks:,} passages</div>'
    head = "<tr><th>Article</th><th>Outlet</th><th>Date</th><th>Passages</th><th>Characters</th><th>Same story as</th></tr>"
    return f'{title}<table class="aq-table">{head}{"".join(body)}</table>'


def _version(r: ArticleInfo) -> str:
    v = r.version or 1
    return f' · <span class="aq-version" title="edited {v - 1}×">v{v}</span>' if v > 1 else ""


def feeds_html(feeds: list[FeedState]) -> str:
    """The feeds ingested or polled, with when each was last polled and how that went."""
    if not feeds:
        return '<div class="empty small">No feeds yet: add an RSS or Atom feed URL above.</div>'
    rows = []
    for f in feeds:
        url = safe_url(f.url)
        link = (
            f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">{esc(f.url)}</a>'
            if url
            else esc(f.url)
        )
        polled = (
            esc(f.polled_at.replace("T", " ").replace("+00:00", " UTC")) or '<span class="muted">—</span>'
        )
        cls = "aq-feed-error" if f.status.startswith("error") else ""
        rows.append(
            f'<tr><td><div class="lib-title">{esc(f.title or f.url)}</div><div class="muted small mono">{link}</div></td>'
            f'<td class="small">{polled}</td><td class="small {cls}">{esc(f.status)}</td></tr>'
        )
    head = "<tr><th>Feed</th><th>Last polled</th><th>Status</th></tr>"
    return f'<div class="panel-title">Feeds · {len(feeds)}</div><table class="aq-table" id="aq-feeds-table">{head}{"".join(rows)}</table>'


def article_html(a: Article | None) -> str:
    if a is None:
        return '<div class="empty">Pick an article to read it.</div>'
    url = safe_url(a.url)
    link = f'<a href="{esc(url)}" target="_blank" rel="noopener noreferrer">original ↗</a>' if url else ""
    by = f"by {esc(a.author)}" if a.author else ""
    return (
        f'<div class="aq-article"><h3>{esc(a.title or a.id)}</h3>'
        f'<div class="src-meta">{meta_line(a.source, a.published_at, by, link)}'
        f'<span class="mono small muted"> · {esc(a.id)}</span></div>'
        f'<div class="fulltext">{esc(a.text)}</div></div>'
    )


def notice(kind: str, lines: list[str]) -> str:
    """A message box (``ok`` | ``warn`` | ``error`` | ``info``); each line escaped."""
    items = "".join(f"<li>{esc(x)}</li>" for x in lines[1:])
    rest = f"<ul>{items}</ul>" if items else ""
    return f'<div class="notice {kind}">{esc(lines[0]) if lines else ""}{rest}</div>'
