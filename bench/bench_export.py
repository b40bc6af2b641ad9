"""Export benchmark: tensorbridge's PyTorch -> ONNX vs torch.onnx.export(dynamo=True).

    .venv/bin/python bench/bench_export.py [--runs N]

Same process, same models (bench/models.py: ResNet-18, 4-layer BERT, 2-layer bi-LSTM
tagger; random weights), each exporter timed from the nn.Module to an in-memory
onnx.ModelProto (median of N runs, after one warm-up that loads the exporter's code).
Also prints the node count of each result and, per model, tensorbridge's peak memory during
export (fresh subprocess, peak RSS minus the RSS with the model built) against the
weights' size.
"""

from __future__ import annotations

import argparse
import io
import statistics
import subprocess
import sys
import warnings
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.measure import median_time, status_mib  # noqa: E402
from bench.models import torch_models  # noqa: E402


def export_tensorbridge(module, inputs):
    import tensorbridge as tb

    return tb.convert(module, tuple(inputs), to="onnx")


def export_torch(module, inputs):
    import onnx
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prog = torch.onnx.export(module, tuple(inputs), dynamo=True, verbose=False)
    buf = io.BytesIO()
    onnx.save(prog.model_proto, buf)
    return prog.model_proto


EXPORTERS = {"tensorbridge": export_tensorbridge, "torch.onnx (dynamo)": export_torch}


def memory_child(name: str) -> None:
    import torch

    from bench.models import tiny_module

    if name == "tiny":
        module, inputs = tiny_module()
    else:
        factory, inputs = torch_models()[name]
        module = factory()
    args = tuple(torch.from_numpy(x) for x in inputs)
    weights = sum(p.numel() * p.element_size() for p in module.state_dict().values()) / 2**20
    base = status_mib("VmRSS")
    export_tensorbridge(module, args)
    print(f"{weights:.1f} {status_mib('VmHWM') - base:.1f}")


def main() -> None:
    import torch
    from rich.console import Console
    from rich.table import Table

    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--models", nargs="*", default=list(torch_models()))
    args = ap.parse_args()
    torch.set_num_threads(1)
    table = Table(title=f"PyTorch -> ONNX export, median of {args.runs} (same process)")
    for col in ("model", "exporter", "seconds", "x torch.onnx", "nodes", "peak MiB / weights MiB"):
        table.add_column(col)
    ratios = []
    fixed = _memory("tiny")[1]
    budget_ok = []
    for name in args.models:
        factory, inputs = torch_models()[name]
        module = factory()
        targs = [torch.from_numpy(x) for x in inputs]
        res = {k: median_time(partial(fn, module, targs), args.runs) for k, fn in EXPORTERS.items()}
        ref = res["torch.onnx (dynamo)"][0]
        weights, peak = _memory(name)
        budget_ok.append(peak <= 1.5 * weights + fixed)
        for k, (t, model) in res.items():
            mem = f"{peak:.0f} / {weights:.0f}" if k == "tensorbridge" else "-"
            table.add_row(name, k, f"{t:.2f}", f"{t / ref:.2f}", str(len(model.graph.node)), mem)
        ratios.append(res["tensorbridge"][0] / ref)
    Console().print(table)
    print(f"median export-time ratio tensorbridge / torch.onnx: {statistics.median(ratios):.2f}")
    print(f"fixed export overhead (peak RSS growth exporting nn.Linear(4, 4)): {fixed:.0f} MiB; "
          f"peak <= 1.5 x weights + fixed on {sum(budget_ok)}/{len(budget_ok)} models")


def _memory(name: str) -> tuple[float, float]:
    out = subprocess.run([sys.executable, __file__, "--memory-child", name], capture_output=True, text=True)
    if out.returncode != 0:
        print(f"memory run for {name} failed: {out.stderr[-500:]}", file=sys.stderr)
        return np.nan, np.nan
    weights, peak = (float(x) for x in out.stdout.split()[-2:])
    return weights, peak


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--memory-child":
        memory_child(sys.argv[2])
    else:
        main()
