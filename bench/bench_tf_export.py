"""TensorFlow/Keras export benchmark: tensorbridge's Keras -> ONNX against tf2onnx 1.17
(``tf2onnx.convert.from_keras``), the converter people use today.

    .venv/bin/python bench/bench_tf_export.py [--runs N]

Same process, one thread, the same Keras models (keras.applications with random weights at
small input sizes, a Keras transformer block, and a stacked bidirectional LSTM whose
layers run as While loops), each converted from the Keras model to
an in-memory onnx.ModelProto at opset 17 (tf2onnx's newest supported default range),
median of N runs after a warm-up. Prints the time ratio and, for each result, its node and
Transpose counts.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.measure import median_time  # noqa: E402

OPSET = 17


def keras_models() -> dict:
    """name -> factory of a Keras model (input shape fixed, batch dynamic)."""
    import keras

    A, L = keras.applications, keras.layers

    def transformer():
        x = inp = keras.Input((64, 128))
        a = L.MultiHeadAttention(num_heads=4, key_dim=32)(x, x)
        x = L.LayerNormalization()(x + a)
        h = L.Dense(256, activation="gelu")(x)
        x = L.LayerNormalization()(x + L.Dense(128)(h))
        return keras.Model(inp, x, name="transformer_block")

    def recurrent():
        x = inp = keras.Input((32, 64))
        x = L.Bidirectional(L.LSTM(128, return_sequences=True))(x)
        x = L.LSTM(128)(x)
        return keras.Model(inp, L.Dense(10)(x), name="bilstm_tagger")

    return {
        "resnet50": lambda: A.ResNet50(input_shape=(96, 96, 3), weights=None, classes=10),
        "mobilenet_v2": lambda: A.MobileNetV2(input_shape=(96, 96, 3), weights=None, classes=10),
        "efficientnet_b0": lambda: A.EfficientNetB0(input_shape=(96, 96, 3), weights=None, classes=10),
        "densenet121": lambda: A.DenseNet121(input_shape=(64, 64, 3), weights=None, classes=10),
        "transformer_block": transformer,
        "bilstm": recurrent,
    }


def convert_tensorbridge(model):
    import tensorbridge as tb

    return tb.convert(model, opset=OPSET)


def convert_tf2onnx(model):
    import tensorflow as tf
    import tf2onnx

    spec = tuple(tf.TensorSpec((None, *i.shape[1:]), i.dtype, name=f"input_{k}")
                 for k, i in enumerate(model.inputs))
    proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=OPSET)
    return proto


CONVERTERS = {"tensorbridge": convert_tensorbridge, "tf2onnx 1.17": convert_tf2onnx}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--models", nargs="*", default=None)
    args = ap.parse_args()
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    warnings.simplefilter("ignore")
    import logging

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Keras -> ONNX (opset {OPSET}), median of {args.runs} (same process, 1 thread)")
    for col in ("model", "converter", "seconds", "x tf2onnx", "nodes", "Transposes"):
        table.add_column(col)
    ratios, smaller = [], []
    for name in args.models or list(keras_models()):
        model = keras_models()[name]()
        res = {k: median_time(partial(fn, model), args.runs) for k, fn in CONVERTERS.items()}
        ref = res["tf2onnx 1.17"][0]
        counts = {}
        for k, (t, proto) in res.items():
            nodes = len(proto.graph.node)
            transposes = sum(n.op_type == "Transpose" for n in proto.graph.node)
            counts[k] = (nodes, transposes)
            table.add_row(name, k, f"{t:.2f}", f"{t / ref:.2f}", str(nodes), str(transposes))
        ratios.append(res["tensorbridge"][0] / ref)
        smaller.append(all(a <= b for a, b in zip(counts["tensorbridge"], counts["tf2onnx 1.17"])))
    Console(width=120).print(table)
    print(f"median conversion-time ratio tensorbridge / tf2onnx: {statistics.median(ratios):.2f}")
    print(f"node and Transpose counts no larger than tf2onnx's on {sum(smaller)}/{len(smaller)} models")


if __name__ == "__main__":
    main()
