"""The web UI (Gradio): chat with cited, highlighted sources, the article library, evaluation.

It is served by `articleqa.service` (``articleqa serve``), mounted beside the HTTP API."""

from .app import build_app

__all__ = ["build_app"]
