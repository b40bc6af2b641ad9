"""Where each source layer's inputs and outputs live in the IR, from op provenance.

A value produced by an op whose provenance module is ``encoder.layer.0.attention.self``
and read by an op of ``encoder.layer.0.output`` *leaves* ``...attention.self``,
``...attention`` (but not ``encoder.layer.0``, which contains both): it is an output of
those modules. Values entering a module are its inputs likewise."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Node, Value


@dataclass
class Boundary:
    outputs: list[Value] = field(default_factory=list)  # in production order
    inputs: list[Value] = field(default_factory=list)
    ops: list[Node] = field(default_factory=list)  # ops whose innermost module is this one


def _parts(path: str) -> list[str]:
    """Module path components: PyTorch paths use '.', Keras layer scopes '/'."""
    return path.replace("/", ".").split(".") if path else []


def _common(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def module_boundaries(graph: Graph) -> dict[str, Boundary]:
    out: dict[str, Boundary] = defaultdict(Boundary)
    outputs = set(map(id, graph.outputs))
    for node in graph.nodes():
        p = _parts(node.provenance.module)
        out[".".join(p)].ops.append(node)
        for v in graph.node_outputs(node):
            if v is None:
                continue
            users = [_parts(c.provenance.module) for c, _ in graph.consumers(v)]
            keep = 0 if id(v) in outputs else min((_common(p, u) for u in users), default=len(p))
            for depth in range(len(p), keep, -1):
                out[".".join(p[:depth])].outputs.append(v)
            for u in users:
                for depth in range(len(u), _common(p, u), -1):
                    b = out[".".join(u[:depth])]
                    if not any(x is v for x in b.inputs):
                        b.inputs.append(v)
    out[""].outputs = list(graph.outputs)  # the model itself ("" = root module)
    return dict(out)
