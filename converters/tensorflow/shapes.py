"""Which unknown dims of the graph's tensors are the inputs' named dims.

TF's static shapes say ``None`` for every dim that depends on a ``None`` input dim, and
lose track of which one it was. TF's shape functions do evaluate shape arithmetic
(``tf.shape(x)[0]`` packed into a Reshape target, as Keras' Flatten does), so the frozen
graph is imported once more with each named input dim set to a distinct large prime that
no real dim equals: a tensor dim equal to that prime is that named dim. Weights are
replaced by placeholders of their shape for this import (only shapes matter).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import graph_pb2

SymShape = tuple[int | str | None, ...]
_FIRST_SENTINEL = 1_000_003
_SMALL = 64  # constants up to this many elements are kept: they may be shape data


def symbolic_shapes(graph_def: Any, inputs: Sequence[Any]) -> dict[str, SymShape]:
    """Tensor name ("node:i") -> shape with named dims, for tensors that have any."""
    symbols = sorted({d for s in inputs for d in (s.shape or ()) if isinstance(d, str)})
    if not symbols:
        return {}
    sentinel = dict(zip(symbols, _primes(_FIRST_SENTINEL, len(symbols))))
    probe = _probe_graph(graph_def, {s.name: s for s in inputs}, sentinel)
    try:
        g = tf.Graph()
        with g.as_default():
            tf.graph_util.import_graph_def(probe, name="")
    except (ValueError, tf.errors.OpError):
        return {}  # e.g. the model reshapes to a fixed batch: keep TF's unknown dims
    names = {p: s for s, p in sentinel.items()}
    out: dict[str, SymShape] = {}
    for op in g.get_operations():
        for t in op.outputs:
            if t.shape.rank is None:
                continue
            dims = t.shape.as_list()
            if any(d in names for d in dims):
                out[t.name] = tuple(names.get(d, d) if d is not None else None for d in dims)
    return out


def _probe_graph(graph_def: Any, specs: dict[str, Any], sentinel: dict[str, int]) -> Any:
    probe = graph_pb2.GraphDef()
    probe.versions.CopyFrom(graph_def.versions)
    probe.library.CopyFrom(graph_def.library)
    for node in graph_def.node:
        if node.op == "Const" and _is_big_float(node):
            tensor = node.attr["value"].tensor
            p = probe.node.add(name=node.name, op="Placeholder")
            p.attr["dtype"].type = tensor.dtype
            p.attr["shape"].shape.CopyFrom(tensor.tensor_shape)
            continue
        new = probe.node.add()
        new.CopyFrom(node)
        spec = specs.get(node.name)
        if node.op == "Placeholder" and spec is not None and spec.shape is not None:
            shape = new.attr["shape"].shape
            shape.ClearField("dim")
            shape.unknown_rank = False
            for d in spec.shape:
                shape.dim.add(size=sentinel[d] if isinstance(d, str) else int(d))
    return probe


def _is_big_float(node: Any) -> bool:
    tensor = node.attr["value"].tensor
    if not tf.as_dtype(tensor.dtype).is_floating:
        return False
    return int(np.prod([d.size for d in tensor.tensor_shape.dim], dtype=np.int64)) > _SMALL


def _primes(start: int, n: int) -> list[int]:
    found: list[int] = []
    k = start
    while len(found) < n:
        if all(k % f for f in range(2, int(k ** 0.5) + 1)):
            found.append(k)
        k += 2
    return found
