"""articleqa as a service: one FastAPI app with the HTTP API (``/v1``), the MCP server and the
Gradio UI mounted in it (``articleqa serve``)."""
