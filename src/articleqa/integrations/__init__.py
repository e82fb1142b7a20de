"""Adapters that let other frameworks use articleqa (`articleqa.integrations.llama_index`)."""
