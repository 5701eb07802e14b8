"""ONNX graph variants of m3e-small int8, measured on the shipped issue (a benchmark, not a test).

Builds each variant in a temp copy of the model directory, then embeds every distinct chunk of
the shipped issue with `OnnxEmbedder` (default workers) and prints CPU seconds, wall seconds and
the cosine to the fp32 ONNX vectors. Variants: the shipped recipe (dynamo export, onnxruntime's
BERT fusions at opt_level 1, int8 weights per channel); the TorchScript export, whose graph the
optimizer can fuse into Attention and EmbedLayerNormalization ops (optimum's O2), quantized with
QAttention; the same with the tanh GELU approximation (optimum's O3); with onnxruntime's
extended offline optimizations saved (opt_level 2); and with the embedding table quantized too.
optimum's ORTOptimizer drives the same onnxruntime optimizer, so it is not needed here.

Usage: python benchmarks/onnx_graphs.py [--model models/m3e-small] [--repeat 2] [--out F.json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from reporting import finish  # noqa: E402

from zhibu_qa.config import load_settings  # noqa: E402
from zhibu_qa.indexing.onnx_backend import ONNX_FILES, OnnxEmbedder  # noqa: E402

# name -> (export, optimizer opt_level, GELU approximation, op types to quantize; None = all)
VARIANTS = {
    "shipped: dynamo, fusions, MatMul int8": ("shipped", 1, False, None),
    "torchscript, Attention fusion (O2), MatMul+Attention int8": ("torchscript", 1, False, ["MatMul", "Attention"]),
    "same + FastGelu (O3)": ("torchscript", 1, True, ["MatMul", "Attention"]),
    "same as O2, opt_level 2 saved": ("torchscript", 2, False, ["MatMul", "Attention"]),
    "O2, embedding table int8 too": ("torchscript", 1, False, None),
    "O2, MatMul int8 only (fp32 Attention)": ("torchscript", 1, False, ["MatMul"]),
}


def torchscript_export(model_dir: Path, target: Path) -> None:
    from zhibu_qa.indexing.onnx_backend import _export_fp32

    _export_fp32(model_dir, target, dynamo=False)


def build_variant(fp32: Path, target: Path, opt_level: int, gelu_approx: bool, ops: list[str] | None) -> dict:
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions

    options = FusionOptions("bert")
    options.enable_gelu_approximation = gelu_approx
    fused = target.with_name("fused-" + target.name)
    config = json.loads((fp32.parent / "config.json").read_text(encoding="utf-8"))
    model = optimizer.optimize_model(str(fp32), model_type="bert", num_heads=config["num_attention_heads"],
                                     hidden_size=config["hidden_size"],
                                     optimization_options=options, opt_level=opt_level)
    stats = {k: v for k, v in model.get_fused_operator_statistics().items() if v}
    model.save_model_to_file(str(fused))
    # DefaultTensorType: shape inference cannot type the outputs of the fused com.microsoft ops
    quantize_dynamic(str(fused), str(target), weight_type=QuantType.QInt8, per_channel=True, reduce_range=False,
                     op_types_to_quantize=ops, extra_options={"DefaultTensorType": 1})
    fused.unlink()
    return stats


def embed(model_dir: Path, texts: list[str], quantized: bool) -> tuple[np.ndarray, float, float]:
    emb = OnnxEmbedder(model_dir, quantized=quantized)
    emb.embed_passages(texts[:4])  # session load and warm-up
    w0, c0 = time.perf_counter(), time.process_time()
    vecs = emb.embed_passages(texts)
    return vecs, time.perf_counter() - w0, time.process_time() - c0


def main(argv: list[str] | None = None) -> int:
    from embedders import shipped_chunks

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, default=ROOT / "models" / "m3e-small")
    ap.add_argument("--repeat", type=int, default=2, help="timed runs per variant (the best is printed)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    os.chdir(ROOT)
    settings = load_settings(env={k: v for k, v in os.environ.items() if k != "ZHIBU_CONFIG"})
    texts = shipped_chunks(settings)
    print(f"{len(texts)} shipped chunks; load average {os.getloadavg()}", flush=True)
    report: dict = {"chunks": len(texts), "variants": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp) / args.model.name
        shutil.copytree(args.model, work, ignore=shutil.ignore_patterns("onnx", ".zhibu-*", "zhibu_manifest.json"))
        (work / "onnx").mkdir()
        shutil.copy2(args.model / ONNX_FILES["onnx"], work / ONNX_FILES["onnx"])
        ref, _, _ = embed(work, texts, quantized=False)
        ts = work / "torchscript.onnx"  # beside config.json, which build_variant reads
        torchscript_export(work, ts)
        int8 = work / ONNX_FILES["onnx-int8"]
        for name, (export, level, gelu, ops) in VARIANTS.items():
            if export == "shipped":
                shutil.copy2(args.model / ONNX_FILES["onnx-int8"], int8)
                fused = {"SkipLayerNormalization": 8, "BiasGelu": 4}
            else:
                fused = build_variant(ts, int8, level, gelu, ops)
            runs = [embed(work, texts, quantized=True) for _ in range(args.repeat)]
            vecs = runs[0][0]
            cos = np.sum(vecs * ref, axis=1)
            row = {"variant": name, "fused": fused, "cpu_s": min(r[2] for r in runs),
                   "wall_s": min(r[1] for r in runs), "cos_mean": float(cos.mean()), "cos_min": float(cos.min()),
                   "mb": int8.stat().st_size / 1e6, "load1": os.getloadavg()[0]}
            report["variants"].append(row)
            print(f"{name:<58} CPU {row['cpu_s']:6.2f} s  wall {row['wall_s']:6.2f} s  cosine to fp32 "
                  f"{row['cos_mean']:.4f} (min {row['cos_min']:.4f})  {row['mb']:.0f} MB  load1 {row['load1']:.1f}",
                  flush=True)
    return finish(report, args.out)


if __name__ == "__main__":
    raise SystemExit(main())
