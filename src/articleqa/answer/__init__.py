"""Answering: retrieved passages → a cited `Answer` (or an abstention).

Each answerer is one file implementing `base.Answerer`; `make_answerer` picks one by
``Config.answerer``. A new answerer is a new file plus one line in ``ANSWERERS`` (and its
name in ``config.ANSWERER_NAMES``, which validates ``Config.answerer``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from .base import ABSTAIN_TEXT, Answerer, cite

if TYPE_CHECKING:
    from ..config import Config
    from ..index.contracts import ArticleStore
    from .models import ChatModel


def _extractive(store: ArticleStore, cfg: Config, model: Callable[[], ChatModel]) -> Answerer:
    from .extractive import ExtractiveAnswerer

    return ExtractiveAnswerer(store, cfg)


def _generative(store: ArticleStore, cfg: Config, model: Callable[[], ChatModel]) -> Answerer:
    from .generative import GenerativeAnswerer

    return GenerativeAnswerer(store, cfg, model)


# Config.answerer -> factory(store, config, chat model getter). The generative ones differ
# only in their chat model (models.CHAT_MODELS). The same names, in the same order, as
# config.ANSWERER_NAMES (tests/test_architecture_cycles.py).
ANSWERERS: dict[str, Callable[[ArticleStore, Config, Callable[[], ChatModel]], Answerer]] = {
    "extractive": _extractive,
    "openai": _generative,
    "local": _generative,
}


def make_answerer(store: ArticleStore, cfg: Config, model: Callable[[], ChatModel]) -> Answerer:
    """The answerer ``cfg.answerer`` names; ``model`` returns the chat model when one is needed."""
    try:
        factory = ANSWERERS[cfg.answerer]
    except KeyError:
        raise ValueError(f"unknown answerer '{cfg.answerer}': choose one of {', '.join(ANSWERERS)}") from None
    return factory(store, cfg, model)


__all__ = ["ABSTAIN_TEXT", "ANSWERERS", "Answerer", "cite", "make_answerer"]
