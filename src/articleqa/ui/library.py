"""The article library: checking and ingesting uploads, adding feeds, deleting articles."""

from __future__ import annotations

import contextlib
import filecmp
import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from ..assistant import Assistant
from ..ingest.pipeline import IngestReport

UPLOAD_TYPES = (".txt", ".md", ".html", ".htm", ".jsonl")


def uploads_dir(assistant: Assistant) -> Path:
    return Path(assistant.config.data_dir) / "uploads"


def safe_name(name: str) -> str:
    """A plain file name: no directories, no characters a file system might object to."""
    stem = re.sub(r"[^\w.\- ]+", "_", Path(name).name).strip(" .") or "upload"
    return stem[:120]


def check_uploads(paths: list[str], max_mb: float) -> tuple[list[Path], list[str]]:
    """Split uploads into acceptable files and error messages (type, size, emptiness)."""
    ok, errors = [], []
    for p in map(Path, paths):
        name = p.name  # Gradio keeps the original name as the temp file's name
        suffix = p.suffix.lower()
        if suffix not in UPLOAD_TYPES:
            errors.append(
                f"{name}: '{suffix or 'no extension'}' files can't be ingested; use {' '.join(UPLOAD_TYPES)}"
            )
        elif not p.is_file():
            errors.append(f"{name}: the upload did not arrive; try again")
        elif p.stat().st_size > max_mb * 2**20:
            errors.append(f"{name}: {p.stat().st_size / 2**20:.1f} MB is over the {max_mb:g} MB limit")
        elif p.stat().st_size == 0:
            errors.append(f"{name}: the file is empty")
        else:
            ok.append(p)
    return ok, errors


def ingest_uploads(
    assistant: Assistant, paths: list[str], progress: Callable[[int, int, int], None] | None = None
) -> tuple[IngestReport | None, list[str]]:
    """Copy acceptable uploads into ``data_dir/uploads`` and ingest them.

    An upload is identified by its name *and* its bytes, never its name alone: uploading
    the same file again finds its stored copy (``unchanged``); a different file with the
    name of one already stored is another article, copied beside it as ``stem-2.ext``.
    Replacing an article with a new file is a deliberate act (`replace_upload`). A copy
    that could not be ingested is removed again. The report's errors are all the failures,
    upload checks included, so its summary counts them all; every message names the user's
    file, not our copy.
    """
    ok, errors = check_uploads(paths, assistant.config.max_file_mb)
    if not ok:
        return None, errors
    dest = uploads_dir(assistant).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    names: dict[Path, str] = {}  # our copy → the name of the user's file
    reused: set[Path] = set()  # copies stored before: kept whatever happens
    warnings: list[str] = []
    for p in ok:
        target, same = _place(dest, p)
        if same and target in names:
            warnings.append(
                f"{p.name}: the same file as {names[target]}, given twice in this upload; ingested once"
            )
            continue
        if same:
            reused.add(target)
        else:
            shutil.copyfile(p, target)
            if target.name != safe_name(p.name):
                warnings.append(
                    f"{p.name}: a different file of this name was uploaded before; this one is another article "
                    "(to replace an article with a file instead, pick it and press Replace)"
                )
        names[target] = p.name
    report = _ingest_copies(assistant, names, {c: c for c in reused}, dest, progress)
    report.errors = errors + report.errors
    report.warnings = warnings + report.warnings
    return report, report.errors


def _place(dest: Path, upload: Path) -> tuple[Path, bool]:
    """Where ``upload`` goes in ``dest``, and whether that file already holds its bytes.

    A stored copy of the same name (or of its ``stem-N.ext`` variants) with the very same
    bytes is reused: re-uploading a file changes nothing. Otherwise the first free name of
    ``name``, ``stem-2.ext``, ``stem-3.ext``…: a different file never overwrites a stored one.
    """
    name = safe_name(upload.name)
    stem, suffix = Path(name).stem, Path(name).suffix
    n = 1
    while True:
        target = dest / (name if n == 1 else f"{stem}-{n}{suffix}")
        if not target.exists():
            return target, False
        if _same_bytes(target, upload):
            return target, True
        n += 1


def _same_bytes(a: Path, b: Path) -> bool:
    try:
        return a.is_file() and filecmp.cmp(a, b, shallow=False)  # sizes first, then the bytes
    except OSError:
        return False


def replace_upload(
    assistant: Assistant, article_id: str, path: str, progress: Callable[[int, int, int], None] | None = None
) -> tuple[IngestReport | None, list[str]]:
    """Replace an uploaded article with a new file, deliberately: the article keeps its id
    and key, its old chunks go, and its version counts up. Only an article that came from
    a single-article upload (.txt .md .html) can be replaced, and with a file of the same
    kind; a replacement that can't be ingested leaves the article and its file as they were.
    """
    ok, errors = check_uploads([path], assistant.config.max_file_mb)
    if not ok:
        return None, errors
    (p,) = ok
    art = assistant.article(article_id)
    if art is None:
        return None, [f"No article '{article_id}'."]
    dest = uploads_dir(assistant).resolve()
    copy = Path(art.key)
    if not copy.is_absolute() or copy.parent != dest or copy.suffix.lower() == ".jsonl" or not copy.is_file():
        return None, [
            f"'{art.title or art.id}' did not come from a file uploaded here (it came from {art.origin or art.key}), "
            "so it can't be replaced by an upload; delete it, then add the new file"
        ]
    if _kind(p.suffix) != _kind(copy.suffix):
        return None, [
            f"{p.name}: '{art.title or art.id}' was read from a {copy.suffix} file; replace it with one"
        ]
    previous = {copy: copy.with_name(f".{copy.name}.previous")}
    os.replace(copy, previous[copy])
    shutil.copyfile(p, copy)
    report = _ingest_copies(assistant, {copy: p.name}, previous, dest, progress)
    return report, report.errors


def _kind(suffix: str) -> str:
    return {".htm": ".html", ".markdown": ".md"}.get(suffix.lower(), suffix.lower())


def _ingest_copies(
    assistant: Assistant,
    names: dict[Path, str],
    previous: dict[Path, Path],
    dest: Path,
    progress: Callable[[int, int, int], None] | None,
) -> IngestReport:
    """Ingest our copies; keep those that went in, remove those that did not (or put back the
    version one replaced: ``previous``, which maps a copy stored before to itself); messages
    name the user's files, not our copies."""
    try:
        report = assistant.ingest(list(names), progress=progress)
    except BaseException:
        for copy in names:
            _settle(copy, previous.get(copy), rejected=True)
        raise
    for copy in names:
        _settle(copy, previous.get(copy), rejected=any(e.startswith(f"{copy}: ") for e in report.errors))
    report.errors = [_user_names(e, names, dest) for e in report.errors]
    report.warnings = [_user_names(w, names, dest) for w in report.warnings]
    return report


def _settle(copy: Path, previous: Path | None, rejected: bool) -> None:
    """Keep an ingested copy (dropping the version it replaced); remove a rejected one."""
    if previous == copy:
        return  # stored before this upload, and still the file its articles were read from
    if rejected and previous is not None:
        os.replace(previous, copy)  # the stored article keeps the file it was read from
    elif rejected:
        copy.unlink(missing_ok=True)
    elif previous is not None:
        previous.unlink(missing_ok=True)


def _user_names(message: str, names: dict[Path, str], dest: Path) -> str:
    """``message`` with each of our copies' paths replaced by the name of the user's file."""
    for copy in sorted(names, key=lambda c: len(str(c)), reverse=True):
        message = message.replace(str(copy), names[copy])
    return message.replace(f"{dest}/", "")


def discard_temp_uploads(paths: list[str] | None) -> None:
    """Delete Gradio's temporary copies of uploads once we are done with them.

    Gradio serves every file in its upload folder to anyone who has the URL, for as long
    as the file is there (restarts included). Our own copy in ``data_dir/uploads`` is the
    one that stays, and only until its article is deleted. Paths outside Gradio's upload
    folder are left alone.
    """
    from gradio.utils import get_upload_folder

    root = Path(get_upload_folder()).resolve()
    for p in paths or []:
        f = Path(p).resolve()
        if root not in f.parents or not f.is_file():
            continue
        f.unlink(missing_ok=True)
        if f.parent != root:
            with contextlib.suppress(OSError):
                f.parent.rmdir()  # the upload's own folder, when nothing else is in it


def add_feeds(assistant: Assistant, text: str) -> tuple[list[tuple[str, IngestReport]], list[str]]:
    """Poll each feed URL of ``text`` (one per line, or separated by spaces) once: its entries
    are ingested and it joins the feeds shown. Returns the reports, and what was not a URL."""
    urls = [u for u in re.split(r"[\s,]+", text or "") if u]
    bad = [
        f"'{u}' is not an http(s) feed URL" for u in urls if not u.lower().startswith(("http://", "https://"))
    ]
    good = [u for u in urls if u.lower().startswith(("http://", "https://"))]
    return (assistant.poll_feeds(good) if good else []), bad


def poll_all_feeds(assistant: Assistant) -> list[tuple[str, IngestReport]]:
    """Poll every feed ingested or polled before (conditional GETs)."""
    return assistant.poll_feeds([f.url for f in assistant.feeds()])


def delete_article(assistant: Assistant, article_id: str) -> bool:
    """Remove an article everywhere; the uploaded file it came from goes too once no other
    article comes from it (a .jsonl upload holds several)."""
    art = assistant.article(article_id)
    if art is None or not assistant.remove(article_id):
        return False
    src = Path(art.origin or art.key.split("#", 1)[0]) if (art.origin or art.key) else None
    up = uploads_dir(assistant).resolve()
    if src is not None and src.is_file() and src.resolve().parent == up:
        still_used = any(r.origin == str(src.resolve()) for r in assistant.articles())
        if not still_used:
            src.unlink(missing_ok=True)  # else it would come back on the next re-ingest
    return True
