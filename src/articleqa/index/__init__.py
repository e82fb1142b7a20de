"""Storage. `open_store` builds the backend ``Config.store`` names; everything above
``index/`` uses it only through the protocols of `contracts` (`ArticleStore`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..config import Config
    from .contracts import ArticleStore
    from .embeddings import Embedder


def _local(config: Config, embedder: Embedder | None) -> ArticleStore:
    from .local import Store

    return Store(config, embedder=embedder)


def _postgres(config: Config, embedder: Embedder | None) -> ArticleStore:
    from .postgres import Store

    return Store(config, embedder=embedder)


# A backend: a subpackage of index/ implementing `contracts.ArticleStore`, and one line here.
STORES: dict[str, Callable[[Config, Embedder | None], ArticleStore]] = {
    "local": _local,
    "postgres": _postgres,
}


def open_store(config: Config, embedder: Embedder | None = None) -> ArticleStore:
    """The store ``config.store`` names (not opened yet: backends load lazily), embedding
    with ``embedder`` when given (to share a loaded model), else the one ``config`` names."""
    try:
        factory = STORES[config.store]
    except KeyError:
        raise ValueError(f"unknown store '{config.store}'; known: {', '.join(STORES)}") from None
    return factory(config, embedder)
