"""The local backend: articles and chunks in SQLite (``registry``, the source of truth),
vectors in Chroma (``vectors``: embedded, or a ``chroma run`` server), BM25 in process
(``keywords``, saved beside the registry), behind one `Store` (``store``)."""

from .store import Store, StoreUnavailable

__all__ = ["Store", "StoreUnavailable"]
