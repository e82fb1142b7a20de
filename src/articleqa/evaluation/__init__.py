"""Evaluation: datasets, metrics, the llama-index baseline and the report (docs/evaluation.md)."""

from .datasets import EvalItem, load_jsonl, load_squad
from .runner import run_eval
from .types import Report

__all__ = ["EvalItem", "Report", "load_jsonl", "load_squad", "run_eval"]
