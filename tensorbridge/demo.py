"""``make demo``: the main job on the bundled fixture models.

For each fixture: load the ONNX file into the IR, verify it, write it back through the IR
(atomically, deterministic bytes), run it on the built-in runtime and compare with the
outputs of the framework that produced it (stored next to the fixture)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

import tensorbridge as tb
from tensorbridge.ir.verify import verify
from tensorbridge.summary import summarize

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ("tiny_cnn", "tiny_encoder", "control_flow")


def main() -> int:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # TensorFlow's start-up chatter
    console = Console(highlight=False)
    out_dir = ROOT / "out"
    out_dir.mkdir(exist_ok=True)
    table = Table(title="tensorbridge demo: ONNX -> IR -> ONNX, checked on the built-in runtime")
    for col in ("model", "ops", "params", "round trip", "identical bytes", "max abs err vs source", "verdict"):
        table.add_column(col)
    ok_all = True
    for name in FIXTURES:
        src = ROOT / "fixtures" / f"{name}.onnx"
        t0 = time.perf_counter()
        graph = tb.load(src)
        verify(graph)
        written = tb.save(graph, out_dir / f"{name}.onnx")
        elapsed = time.perf_counter() - t0
        same = written.read_bytes() == tb.save(tb.load(written), out_dir / f"{name}.again.onnx").read_bytes()
        with np.load(ROOT / "fixtures" / f"{name}.npz") as data:
            inputs = [data[f"input_{i}"] for i in range(len(graph.inputs))]
            expected = [data[f"output_{i}"] for i in range(len(graph.outputs))]
        got = tb.run(written, *inputs)
        err = max(float(np.max(np.abs(g.astype(np.float64) - e))) for g, e in zip(got, expected))
        ok = err <= 1e-4 and same
        ok_all &= ok
        s = summarize(graph)
        table.add_row(name, str(s.n_ops), f"{s.n_parameters:,}", f"{elapsed * 1000:.0f} ms",
                      "yes" if same else "NO", f"{err:.2e}", "[green]ok[/]" if ok else "[red]MISMATCH[/]")
    console.print(table)
    console.print(f"round-tripped models written to {out_dir}/")
    ok_all &= _pytorch_demo(console, out_dir)
    ok_all &= _migration_demo(console, out_dir)
    return 0 if ok_all else 1


FRAMEWORK_FIXTURES = ("cnn.pt2", "transformer_block.pt2", "keras_cnn.keras", "keras_mlp_savedmodel")


def _pytorch_demo(console: Console, out_dir: Path) -> bool:
    """The bundled PyTorch (.pt2) and Keras (.keras, SavedModel) models -> ONNX, each checked
    against its framework run eagerly, on the built-in runtime and onnxruntime."""
    table = Table(title="PyTorch / Keras -> ONNX, checked against the framework (eager)")
    for col in ("model", "export", "nodes", "runtime max abs err", "onnxruntime max abs err", "verdict"):
        table.add_column(col)
    ok_all = True
    for fixture in FRAMEWORK_FIXTURES:
        src = ROOT / "fixtures" / fixture
        name = fixture.split(".")[0]
        t0 = time.perf_counter()
        model = tb.convert(src, None, to="onnx")
        elapsed = time.perf_counter() - t0
        tb.save(model, out_dir / f"{name}.onnx")
        report = tb.check(src, None)
        report.to_html(out_dir / f"{name}.check.html")
        errs: dict[str, float] = {}
        for c in report.comparisons:  # worst over every input set
            errs[c.runtime] = max(errs.get(c.runtime, 0.0), c.max_abs)
        ok_all &= report.ok
        table.add_row(name, f"{elapsed:.2f} s", str(len(model.graph.node)),
                      f"{errs.get('tensorbridge', float('nan')):.1e}",
                      f"{errs.get('onnxruntime', float('nan')):.1e}",
                      "[green]ok[/]" if report.ok else "[red]MISMATCH[/]")
    console.print(table)
    console.print(f"parity reports: {out_dir}/*.check.html")
    return ok_all


MIGRATIONS = (("cnn.pt2", "tensorflow"), ("keras_cnn.keras", "torch"), ("tiny_encoder.onnx", "torch"),
              ("tiny_encoder.onnx", "tensorflow"))


def _migration_demo(console: Console, out_dir: Path) -> bool:
    """The bundled models migrated to the other framework (weights included, trainable),
    saved (model.py + safetensors / SavedModel) and checked against the source."""
    table = Table(title="Migration: emitted PyTorch / TensorFlow, checked against the source")
    for col in ("source", "to", "convert + save", "trainable params", "max abs err", "verdict"):
        table.add_column(col)
    ok_all = True
    for fixture, to in MIGRATIONS:
        src = ROOT / "fixtures" / fixture
        t0 = time.perf_counter()
        module = tb.convert(src, None, to=to)
        tb.save(module, out_dir / f"{fixture.split('.')[0]}_{to}")
        elapsed = time.perf_counter() - t0
        inputs = None
        if fixture.endswith(".onnx"):  # an ONNX file carries no example inputs
            with np.load(ROOT / "fixtures" / fixture.replace(".onnx", ".npz")) as data:
                inputs = [data[k] for k in sorted(data.files) if k.startswith("input_")]
        report = tb.check(src, None, to=to, inputs=inputs)
        err = max((c.max_abs for c in report.comparisons), default=float("nan"))
        ok_all &= report.ok
        table.add_row(fixture, to, f"{elapsed:.2f} s", f"{_trainable(module):,}", f"{err:.1e}",
                      "[green]ok[/]" if report.ok else "[red]MISMATCH[/]")
    console.print(table)
    console.print(f"migrated models written to {out_dir}/<name>_<framework>/")
    return ok_all


def _trainable(module: object) -> int:
    params = getattr(module, "parameters", None)
    if callable(params):  # torch
        return sum(p.numel() for p in params() if p.requires_grad)
    return sum(int(v.shape.num_elements()) for v in module.trainable_variables)  # type: ignore[attr-defined]


if __name__ == "__main__":
    raise SystemExit(main())
