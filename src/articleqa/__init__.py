"""articleqa: answers questions over your articles, citing the exact passages it used."""

from .answer import Answerer
from .answer.models import LLMError
from .assistant import Assistant
from .config import Config
from .types import Answer, Article, Citation, Filters, Hit, Retrieved, Stats, StreamEvent

__all__ = [
    "Answer", "Answerer", "Article", "Assistant", "Citation", "Config", "Filters", "Hit", "LLMError",
    "Retrieved", "Stats", "StreamEvent",
]  # fmt: skip
__version__ = "0.1.0"
