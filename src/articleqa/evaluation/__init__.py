"""Evaluation: datasets, metrics, the llama-index baseline and the report (docs/evaluation.md)."""

from .datasets import EvalItem, load_jsonl, load_squad
from .runner import run_eval

__all__ = ["EvalItem", "load_jsonl", "load_squad", "run_eval"]
