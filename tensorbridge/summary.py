"""Facts about a graph for ``tensorbridge inspect`` and the demo."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from tensorbridge.ir.graph import Graph


@dataclass
class GraphSummary:
    name: str
    opsets: dict[str, int]
    inputs: list[tuple[str, str]]
    outputs: list[tuple[str, str]]
    op_histogram: list[tuple[str, int]]
    n_ops: int
    n_initializers: int
    n_parameters: int
    weight_bytes: int
    subgraphs: int = 0
    metadata: dict[str, str] = field(default_factory=dict)


def summarize(g: Graph) -> GraphSummary:
    hist: Counter[str] = Counter()
    n_sub = _count(g, hist)
    inits = g.initializers()
    params = sum(int(np.prod(v.shape or (), dtype=np.int64)) for v in inits if v.shape is not None)
    nbytes = sum(int(np.prod(v.shape or (), dtype=np.int64)) * max(1, (v.dtype.itemsize_bits if v.dtype else 8) // 8)
                 for v in inits if v.shape is not None)
    return GraphSummary(
        name=g.name, opsets={(d or "ai.onnx"): v for d, v in sorted(g.opset_imports.items())},
        inputs=[(v.name, str(v.type)) for v in g.inputs],
        outputs=[(v.name, str(v.type)) for v in g.outputs],
        op_histogram=sorted(hist.items(), key=lambda kv: (-kv[1], kv[0])),
        n_ops=sum(hist.values()), n_initializers=len(inits), n_parameters=params,
        weight_bytes=nbytes, subgraphs=n_sub, metadata=dict(g.metadata))


def _count(g: Graph, hist: Counter[str]) -> int:
    subs = 0
    for n in g.nodes():
        hist[f"{n.domain}::{n.op_type}" if n.domain else n.op_type] += 1
        for s in n.subgraphs():
            subs += 1 + _count(s, hist)
    return subs
