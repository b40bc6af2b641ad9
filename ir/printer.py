"""A readable, deterministic text form of a graph, for error messages and golden tests.

    graph main (x: float[batch,3]) -> (y)
      init w: float[4,3]  (fc.weight)
      y = Gemm(x, w, b) {transB=1}   # pytorch fc aten.addmm.default
"""

from __future__ import annotations

import numpy as np

from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Attr, AttrKind, Node, Value


def format_graph(graph: Graph, indent: str = "") -> str:
    lines: list[str] = []
    sig = ", ".join(f"{v.name}: {v.type}" for v in graph.inputs)
    outs = ", ".join(v.name for v in graph.outputs)
    lines.append(f"{indent}graph {graph.name} ({sig}) -> ({outs})")
    for v in graph.initializers():
        src = f"  ({v.source_name})" if v.source_name else ""
        lines.append(f"{indent}  init {v.name}: {v.type}{src}")
    for v in graph.outer_refs():
        lines.append(f"{indent}  outer {v.name}")
    for node in graph.nodes():
        lines.extend(_node_lines(graph, node, indent + "  "))
    return "\n".join(lines)


def _node_lines(graph: Graph, node: Node, indent: str) -> list[str]:
    outs = ", ".join(_vname(v) for v in graph.node_outputs(node))
    ins = ", ".join(_vname(v) for v in graph.node_inputs(node))
    op = f"{node.domain}::{node.op_type}" if node.domain else node.op_type
    plain = {k: a for k, a in sorted(node.attrs.items()) if a.kind not in (AttrKind.GRAPH, AttrKind.GRAPHS)}
    attrs = " {" + ", ".join(f"{k}={_attr(a)}" for k, a in plain.items()) + "}" if plain else ""
    p = node.provenance
    prov = f"   # {p}" if p.framework and p.framework != "onnx" else ""
    lines = [f"{indent}{outs} = {op}({ins}){attrs}{prov}"]
    for name, a in sorted(node.attrs.items()):
        subs = [a.value] if a.kind == AttrKind.GRAPH else list(a.value) if a.kind == AttrKind.GRAPHS else []
        for sub in subs:
            lines.append(f"{indent}  {name}:")
            lines.append(format_graph(sub, indent + "    "))
    return lines


def _vname(v: Value | None) -> str:
    return "_" if v is None else v.name


def _attr(a: Attr) -> str:
    if a.ref:
        return f"@{a.ref}"
    v = a.value
    if isinstance(v, np.ndarray):
        if v.size <= 8:
            return f"tensor({v.dtype}, {v.tolist()})"
        return f"tensor({v.dtype}{list(v.shape)})"
    if isinstance(v, tuple):
        return "[" + ", ".join(_attr(Attr(AttrKind.TENSOR, x)) if isinstance(x, np.ndarray) else repr(x)
                               for x in v) + "]"
    return repr(v)
