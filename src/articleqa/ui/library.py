"""The article library: checking and ingesting uploads, deleting articles."""

from __future__ import annotations

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

    A stable copy makes the article's key its upload name, so uploading a new version of
    a file updates that article instead of adding a duplicate.
    """
    ok, errors = check_uploads(paths, assistant.config.max_file_mb)
    if not ok:
        return None, errors
    dest = uploads_dir(assistant)
    dest.mkdir(parents=True, exist_ok=True)
    copies = []
    for p in ok:
        target = dest / safe_name(p.name)
        shutil.copyfile(p, target)
        copies.append(target)
    report = assistant.ingest(copies, progress=progress)
    # Messages name our copy's full path; the upload's own name is what the user knows.
    prefix = str(dest.resolve()) + "/"
    report.errors = [e.replace(prefix, "") for e in report.errors]
    report.warnings = [w.replace(prefix, "") for w in report.warnings]
    return report, errors + report.errors


def delete_article(assistant: Assistant, article_id: str) -> bool:
    """Remove an article everywhere; an uploaded copy of its file goes too."""
    art = assistant.article(article_id)
    if art is None or not assistant.remove(article_id):
        return False
    key = Path(art.key) if art.key else None
    up = uploads_dir(assistant).resolve()
    if key is not None and key.is_file() and key.resolve().parent == up:
        key.unlink(missing_ok=True)  # else it would come back on the next re-ingest
    return True
