"""Migration benchmark: tensorbridge's IR -> PyTorch / TensorFlow emitters.

    .venv/bin/python bench/bench_migrate.py [--runs N]

Same process, one thread everywhere. For each PyTorch benchmark model (bench/models.py:
ResNet-18, 4-layer BERT, 2-layer bi-LSTM tagger) and each Keras model (keras.applications
MobileNetV2 and a small Keras CNN, random weights):
  * migration time: tb.convert(model, inputs, to="torch" / "tensorflow") against the source
    framework's ONNX exporter (torch.onnx.export(dynamo=True); for Keras, tf2onnx 1.17's
    from_keras) on the same model;
  * speed of the migrated model against the original in its own framework: emitted PyTorch
    vs the original nn.Module (eager, no_grad), emitted TensorFlow vs the original Keras
    model (both as tf.function graphs).
Medians of N runs after a warm-up (inference: 10 N runs, original and emitted alternating);
ratios < 1 mean tensorbridge is faster.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import warnings
from functools import partial
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_export import export_torch  # noqa: E402
from bench.bench_tf_export import convert_tf2onnx  # noqa: E402
from bench.measure import median_time  # noqa: E402
from bench.models import torch_models  # noqa: E402


def keras_models() -> dict:
    """name -> (factory of a Keras model, example inputs as numpy)."""
    import keras

    def mobilenet():
        return keras.applications.MobileNetV2(input_shape=(128, 128, 3), weights=None, classes=100)

    def cnn():
        L = keras.layers
        return keras.Sequential([keras.Input((64, 64, 3)), L.Conv2D(32, 3, padding="same"),
                                 L.BatchNormalization(), L.ReLU(), L.MaxPooling2D(),
                                 L.Conv2D(64, 3, padding="same", activation="relu"),
                                 L.GlobalAveragePooling2D(), L.Dense(10)])

    rng = np.random.default_rng(0)
    return {"mobilenet_v2": (mobilenet, [rng.standard_normal((1, 128, 128, 3)).astype(np.float32)]),
            "keras_cnn": (cnn, [rng.standard_normal((1, 64, 64, 3)).astype(np.float32)])}


def paired(original, emitted, runs: int) -> tuple[float, float]:
    """Median seconds of ``original()`` and ``emitted()``, timed alternately so that machine
    noise (2 shared cores) hits both alike."""
    import time

    for fn in (original, emitted):
        fn()
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for fn, acc in zip((original, emitted), times):
            t0 = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t0)
    return statistics.median(times[0]), statistics.median(times[1])


def convert(source, inputs, to):
    import tensorbridge as tb

    return tb.convert(source, inputs, to=to)


def torch_rows(name: str, runs: int) -> list[tuple]:
    import torch

    factory, inputs = torch_models()[name]
    module = factory()
    targs = tuple(torch.from_numpy(x) for x in inputs)
    rows = []
    t_onnx, _ = median_time(partial(export_torch, module, list(targs)), runs)
    for to in ("torch", "tensorflow"):
        t, emitted = median_time(partial(convert, module, targs, to), runs)
        rows.append((name, f"migrate -> {to}", t, "torch.onnx.export", t_onnx))
        if to == "torch":
            with torch.no_grad():
                t_orig, t_emit = paired(partial(module, *targs), partial(emitted, *targs), runs * 10)
            rows.append((name, "run emitted torch", t_emit, "original nn.Module", t_orig))
    return rows


def keras_rows(name: str, runs: int) -> list[tuple]:
    import tensorflow as tf

    factory, inputs = keras_models()[name]
    model = factory()
    rows = []
    try:
        t_onnx, _ = median_time(partial(convert_tf2onnx, model), runs)
        ref = "tf2onnx 1.17"
    except Exception as e:  # tf2onnx fails on Keras 3 Sequential models (output name lookup)
        t_onnx, ref = float("nan"), f"tf2onnx 1.17 fails ({type(e).__name__})"
    for to in ("torch", "tensorflow"):
        t, emitted = median_time(partial(convert, model, None, to), runs)
        rows.append((name, f"migrate -> {to}", t, ref, t_onnx))
        if to == "tensorflow":
            x = tf.constant(inputs[0])
            original = tf.function(partial(model, training=False))
            t_orig, t_emit = paired(partial(original, x), partial(emitted, x), runs * 10)
            rows.append((name, "run emitted tensorflow", t_emit, "original Keras (tf.function)", t_orig))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--models", nargs="*", default=None)
    args = ap.parse_args()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    import torch

    torch.set_num_threads(1)
    from rich.console import Console
    from rich.table import Table

    warnings.simplefilter("ignore")
    import logging

    logging.getLogger("torch.onnx").setLevel(logging.ERROR)  # "torchvision is not installed"
    names = args.models or [*torch_models(), *keras_models()]
    rows = []
    for name in names:
        rows += torch_rows(name, args.runs) if name in torch_models() else keras_rows(name, args.runs)
    table = Table(title=f"Migration, median of {args.runs} (same process, 1 thread)")
    for col in ("model", "task", "seconds", "reference", "ref seconds", "ratio"):
        table.add_column(col)
    ratios: dict[str, list[float]] = {}
    for name, task, t, ref, t_ref in rows:
        ratio = t / t_ref if t_ref == t_ref else float("nan")
        table.add_row(name, task, f"{t:.4f}", ref, f"{t_ref:.4f}" if t_ref == t_ref else "-",
                      f"{ratio:.2f}" if ratio == ratio else "-")
        if ratio == ratio:
            ratios.setdefault(task.split(" -> ")[0] if task.startswith("migrate") else task, []).append(ratio)
    Console(width=150).print(table)
    for task, rs in ratios.items():
        print(f"{task}: max ratio {max(rs):.2f}, median {statistics.median(rs):.2f}")


if __name__ == "__main__":
    main()
