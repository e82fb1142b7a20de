"""articleqa: answers questions over your articles, citing the exact passages it used."""

from .assistant import Assistant
from .config import Config
from .types import Answer, Article, Citation, Filters, Hit, StreamEvent

__all__ = ["Answer", "Article", "Assistant", "Citation", "Config", "Filters", "Hit", "StreamEvent"]
__version__ = "0.1.0"
