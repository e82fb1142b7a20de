"""Files that ship inside the package (``articleqa/data/``), found with `importlib.resources`.

- prompts: ``load_prompt("answer_system", cfg)`` reads ``answer_system.txt`` from
  ``cfg.prompts_dir`` (a user's overrides, file by file) or else the shipped one;
- the two sample articles (``make run``, ``articleqa chat``, the UI's sample);
- the bundled evaluation sets.

The repository's top-level ``prompts/``, ``examples/articles/`` and ``eval/datasets/`` are
links to these folders, so an installed wheel and a source checkout read the same files.
"""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template

from .config import Config


def data(*parts: str) -> Traversable:
    """``articleqa/data/<parts>`` inside the installed package."""
    node = resources.files("articleqa") / "data"
    for p in parts:
        node = node / p
    return node


def sample_articles() -> Path:
    """The folder of the sample articles (installs unpack the package, so it is a real folder)."""
    return Path(str(data("sample_articles")))


def dataset(name: str) -> Path:
    """A bundled evaluation set by file name, e.g. ``sample_articles.jsonl``."""
    path = Path(str(data("datasets", name)))
    if not path.is_file():
        raise FileNotFoundError(f"no bundled dataset '{name}' in {path.parent}")
    return path


# ---- prompts ----------------------------------------------------------------------------------
def prompt_dirs(cfg: Config) -> list[Traversable]:
    shipped = data("prompts")
    return [Path(cfg.prompts_dir), shipped] if cfg.prompts_dir else [shipped]


def load_prompt(name: str, cfg: Config) -> str:
    """The text of prompt ``name``; raises FileNotFoundError naming every folder searched."""
    dirs = prompt_dirs(cfg)
    for d in dirs:
        f = d / f"{name}.txt"
        if f.is_file():
            return f.read_text(encoding="utf-8").strip()
    raise FileNotFoundError(f"prompt '{name}.txt' not found in: {', '.join(str(d) for d in dirs)}")


def render(name: str, cfg: Config, **values: str) -> str:
    """Prompt ``name`` with its ``$placeholders`` filled; values are inserted verbatim."""
    return Template(load_prompt(name, cfg)).safe_substitute(values)
