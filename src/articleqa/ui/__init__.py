"""The web UI (Gradio): chat with cited, highlighted sources, the article library, evaluation."""

from .app import build_app, launch

__all__ = ["build_app", "launch"]
