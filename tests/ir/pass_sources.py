"""Graphs (with feeds) for the pass-validation harness: the ONNX node conformance models,
the repo's fixtures, a small Keras RNN model (Loops for fuse_rnn_loops) and the seeded
random graphs. Loaded once per test session."""

from __future__ import annotations

import os
from functools import cache, lru_cache
from typing import Any

import numpy as np
import pytest

from tensorbridge.ir import Graph
from tests.conftest import FIXTURES, conformance_cases
from tests.ir.random_graphs import random_case

Case = tuple[str, Graph, dict[str, Any]]

FIXTURE_FILES = ("tiny_cnn.onnx", "tiny_encoder.onnx", "control_flow.onnx", "cnn.pt2",
                 "transformer_block.pt2", "keras_cnn.keras", "keras_mlp_savedmodel")


@lru_cache(maxsize=4)
def random_graphs(seeds: range) -> list[Case]:
    return [(c.name, c.graph, c.feeds) for c in map(random_case, seeds)]


@lru_cache(maxsize=2)
def conformance(fast: bool = False) -> list[Case]:
    """The node conformance models with their first data set's inputs. ``fast``: every
    other model with more than one op (expanded functions: where passes act) and every
    16th one-op model, about 300."""
    from tensorbridge.converters.onnx import to_ir
    from tests.conformance import as_arrays

    out = []
    multi = single = 0
    for case in conformance_cases():
        if fast:
            if len(case.model.graph.node) > 1:
                multi += 1
                if multi % 2:
                    continue
            else:
                single += 1
                if single % 16:
                    continue
        try:
            g = to_ir(case.model)
        except Exception:
            continue  # the importer's own tests cover what it rejects
        inputs = as_arrays(case.data_sets[0][0]) if case.data_sets else []
        out.append((case.name, g, {v.name: x for v, x in zip(g.inputs, inputs)}))
    return out


def feeds_for(graph: Graph, seed: int = 0) -> dict[str, Any]:
    """Random feeds for the graph's inputs (symbolic dims: 2)."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for v in graph.inputs:
        shape = tuple(d if isinstance(d, int) else 2 for d in v.shape or ())
        dtype = np.dtype(v.dtype.np_dtype if v.dtype is not None else np.float32)
        data = rng.integers(0, 4, shape) if dtype.kind in "iu" else rng.standard_normal(shape)
        feeds[v.name] = data.astype(dtype)
    return feeds


@cache
def fixture(name: str) -> Case:
    import tensorbridge as tb

    g = tb.load(str(FIXTURES / name), optimize=False)
    npz = FIXTURES / (name.rsplit(".", 1)[0] + ".npz")
    if name.endswith(".onnx") and npz.exists():
        data = np.load(npz)
        return name, g, {v.name: data[f"input_{i}"] for i, v in enumerate(g.inputs)}
    return name, g, feeds_for(g)


@lru_cache(maxsize=1)
def keras_rnn() -> Case:
    """Keras LSTM -> GRU -> SimpleRNN: While loops the front-end makes Loops."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    keras = pytest.importorskip("keras")
    import tensorbridge as tb

    layers = keras.layers
    inp = keras.Input((5, 3))
    x = layers.LSTM(4, return_sequences=True)(inp)
    x = layers.GRU(3, return_sequences=True)(x)
    x = layers.SimpleRNN(2)(x)
    model = keras.Model(inp, x)
    rng = np.random.default_rng(0)
    model.set_weights([rng.normal(size=w.shape).astype(np.float32) * 0.5 for w in model.get_weights()])
    feed = rng.standard_normal((2, 5, 3)).astype(np.float32)
    g = tb.load(model, (feed,), optimize=False)
    assert sum(n.op_type == "Loop" for n in g.nodes()) == 3
    return "keras_rnn", g, {g.inputs[0].name: feed}
