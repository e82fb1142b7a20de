"""Prompt files, loaded by name: ``load_prompt("answer_system", cfg)`` reads ``answer_system.txt``.

Searched in order: ``cfg.prompts_dir`` (a user's overrides, file by file), the repository's
``prompts/`` folder (the canonical files), then ``articleqa/prompts/`` inside the installed
package, for builds that copy them there.
"""

from __future__ import annotations

from pathlib import Path
from string import Template

from .config import Config

REPO_PROMPTS = Path(__file__).resolve().parents[2] / "prompts"
PACKAGE_PROMPTS = Path(__file__).resolve().parent / "prompts"


def prompt_dirs(cfg: Config) -> list[Path]:
    dirs = [cfg.prompts_dir] if cfg.prompts_dir else []
    return [*dirs, REPO_PROMPTS, PACKAGE_PROMPTS]


def load_prompt(name: str, cfg: Config) -> str:
    """The text of prompt ``name``; raises FileNotFoundError naming every folder searched."""
    dirs = prompt_dirs(cfg)
    for d in dirs:
        path = Path(d) / f"{name}.txt"
        if path.is_file():
            return path.read_text(encoding="utf-8").strip()
    raise FileNotFoundError(f"prompt '{name}.txt' not found in: {', '.join(str(d) for d in dirs)}")


def render(name: str, cfg: Config, **values: str) -> str:
    """Prompt ``name`` with its ``$placeholders`` filled; values are inserted verbatim."""
    return Template(load_prompt(name, cfg)).safe_substitute(values)
