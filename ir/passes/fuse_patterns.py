"""Replace recognised op chains (see ``patterns.py``) with the ONNX op they spell, where the
graph's opset has it: Gelu (opset 20+, exact or tanh), RMSNormalization (23+)."""

from __future__ import annotations

import numpy as np

from ir.graph import Graph
from ir.passes.base import PassReport
from ir.passes.patterns import Match, find_matches

MIN_OPSET = {"Gelu": 20, "RMSNormalization": 23}


def fuse_patterns(graph: Graph) -> PassReport:
    report = PassReport("fuse_patterns")
    opset = graph.opset("")
    for m in find_matches(graph):
        if opset >= MIN_OPSET[m.op_type] and _apply(graph, m):
            report.note(f"{len(m.nodes)} ops from {m.nodes[0].name} -> {m.op_type}")
    return report


def _apply(graph: Graph, m: Match) -> bool:
    inputs = list(m.inputs)
    if m.op_type == "RMSNormalization" and len(inputs) == 1:
        last = (inputs[0].shape or (None,))[-1]
        if not isinstance(last, int) or inputs[0].dtype is None:
            return False  # a scale of ones needs the static size
        inputs.append(graph.add_constant("rms_scale", np.ones(last, inputs[0].dtype.np_dtype)))
    name, was_output, vtype = m.output.name, m.output in graph.outputs, m.output.type
    (new,) = graph.add_op(m.op_type, inputs, m.attrs, provenance=m.nodes[0].provenance,
                          name=f"{m.nodes[0].name}_{m.op_type.lower()}")
    new.type = vtype
    graph.replace_all_uses(m.output, new)
    for node in reversed(m.nodes):
        graph.remove(node)
    if was_output:
        graph.rename(new, name)
    return True
