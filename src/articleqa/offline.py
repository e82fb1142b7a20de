"""Nothing in articleqa may phone home: the libraries' telemetry and hub downloads stay off."""

from __future__ import annotations

import os

# Read by chromadb (telemetry), gradio (analytics) and huggingface_hub (downloads, telemetry).
OFFLINE_ENV = {
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "HF_HUB_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
}


def keep_offline() -> None:
    """Set the variables above where the user hasn't; called when an `Assistant` is made and
    by the CLI, before chromadb or gradio are imported (they are imported lazily)."""
    for k, v in OFFLINE_ENV.items():
        os.environ.setdefault(k, v)
