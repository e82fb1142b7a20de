"""articleqa as a service: one FastAPI app with the HTTP API (``/v1``), the MCP server and the
Gradio UI mounted in it (``articleqa serve``; docs/api.md)."""

from .app import Server, create_app, launch

__all__ = ["Server", "create_app", "launch"]
