"""What the HTTP API adds to an answer: ``POST /v1/chat/completions`` (the real `openai` client,
plain and streamed) against `Assistant.ask` on the same questions, in one run, interleaved.

    python benchmarks/api_overhead.py [--rounds 20] [--out benchmarks/results/api_overhead.json]

The server is `articleqa serve`'s app (UI mounted, API keys on) on loopback, in this process,
over the bundled sample articles with the extractive answerer. Each round asks every question
of `QUESTIONS` three ways in turn (in process, HTTP, HTTP streamed); the report gives the
median and p90 of each, and the HTTP ones as ratios of in-process.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

for k, v in {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
             "ANONYMIZED_TELEMETRY": "False"}.items():  # fmt: skip
    os.environ.setdefault(k, v)

import openai  # noqa: E402

from articleqa import Assistant, Config, service  # noqa: E402

QUESTIONS = [
    "Which storm did Japan express sympathy about?",
    "How long ago had Ishiba previously been to Vietnam?",
    "In which city did Man and Sekiguchi hold their talks?",
    "What did the two sides want the committees to share more of?",
    "What is the population of Hanoi?",  # an abstention
]
KEY = "benchmark-key-0123456789"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stats(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    return {"median_ms": 1000 * statistics.median(xs), "p90_ms": 1000 * xs[int(0.9 * (len(xs) - 1))]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        qa = Assistant(Config(data_dir=d, api_keys=[KEY], api_rate_limit=0))
        server = service.launch(qa, port=_port(), block=False, quiet=True)
        client = openai.OpenAI(base_url=server.local_url + "v1", api_key=KEY, max_retries=0)
        times: dict[str, list[float]] = {
            "in_process": [],
            "http": [],
            "http_stream": [],
            "http_stream_first": [],
        }
        msgs = {q: [{"role": "user", "content": q}] for q in QUESTIONS}
        for q in QUESTIONS:  # warm every path once
            qa.ask(q)
            client.chat.completions.create(model="articleqa", messages=msgs[q])
        for _ in range(args.rounds):
            for q in QUESTIONS:
                t = time.perf_counter()
                expected = qa.ask(q)
                times["in_process"].append(time.perf_counter() - t)
                t = time.perf_counter()
                r = client.chat.completions.create(model="articleqa", messages=msgs[q])
                times["http"].append(time.perf_counter() - t)
                assert r.choices[0].message.content == expected.text
                t = time.perf_counter()
                first = None
                for ch in client.chat.completions.create(model="articleqa", messages=msgs[q], stream=True):
                    if first is None and ch.choices and ch.choices[0].delta.content:
                        first = time.perf_counter() - t
                times["http_stream"].append(time.perf_counter() - t)
                times["http_stream_first"].append(first or 0.0)
        server.close()
    base = statistics.median(times["in_process"])
    report = {
        "questions": len(QUESTIONS), "rounds": args.rounds, "cpu": os.cpu_count(), "python": sys.version.split()[0],
        **{k: {**_stats(v), "ratio_to_in_process": statistics.median(v) / base} for k, v in times.items()},
    }  # fmt: skip
    print(json.dumps(report, indent=2))
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
