"""First divergence: walk the source layers in the order they finished (children before
parents), compare each layer's output with the IR value provenance maps it to, and blame
the first layer whose output diverges; if that layer's inputs already diverge, blame the op
that produced the diverging input instead (code between layers, in the parent's forward)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Node, Value
from tensorbridge.ir.records import LayerRecord
from tensorbridge.runtime.parity.compare import Errors, errors
from tensorbridge.runtime.parity.mapping import Boundary, module_boundaries
from tensorbridge.runtime.parity.report import Divergence, LayerComparison, Tolerance


def _boundary(bounds: dict[str, Boundary], module: str) -> Boundary | None:
    """The boundary of ``module``: by its path, or else by a unique path ending in it (Keras
    layers of a Sequential model are ``model/layer`` in provenance)."""
    key = module.replace("/", ".")
    if key in bounds:
        return bounds[key]
    hits = [k for k in bounds if k.endswith("." + key)]
    return bounds[hits[0]] if len(hits) == 1 else None


def values_to_capture(graph: Graph, records: Sequence[LayerRecord]) -> set[str]:
    bounds = module_boundaries(graph)
    names: set[str] = set()
    for r in records:
        b = _boundary(bounds, r.module)
        if b is not None:
            names |= {v.name for v in b.outputs} | {v.name for v in b.inputs}
    return names


class Localizer:
    """Compares source layers with the IR as the layer records arrive (in the order the
    layers finished), fetching IR values through ``fetch(name)``; keeps only the values a
    layer still to come will need."""

    def __init__(self, graph: Graph, tol: Tolerance, module_names: Sequence[str] | None = None,
                 tolerances: Mapping[str, Tolerance] | None = None) -> None:
        self.graph, self.tol = graph, tol
        self.tolerances = tolerances or {}  # per IR value name (a calibrated layer check), else ``tol``
        self.bounds = module_boundaries(graph)
        self.layers: list[LayerComparison] = []
        self.first: Divergence | None = None

    def outputs(self, module: str) -> list[str]:
        """The IR values ``module``'s output may map to."""
        b = _boundary(self.bounds, module)
        return [] if b is None else [v.name for v in b.outputs]

    def needed(self, module: str) -> list[str]:
        b = _boundary(self.bounds, module)
        return [] if b is None else [v.name for v in b.outputs] + [v.name for v in b.inputs]

    def feed(self, r: LayerRecord, values: Mapping[str, Any]) -> None:
        b = _boundary(self.bounds, r.module)
        if b is None or not r.outputs:
            return
        m = _match(b.outputs, r.outputs[0], values, r.channels_last)
        if m is None:
            return
        v, ref = m
        err = errors(values[v.name], ref, self.tolerances.get(v.name, self.tol))
        self.layers.append(_layer(self.graph, r.module, v, b, err))
        if not err.ok and self.first is None:
            self.first = _blame(self.graph, self.bounds, r, b, values, self.tol, err, self.tolerances)


def locate(graph: Graph, records: Sequence[LayerRecord], captured: Mapping[str, Any],
           tol: Tolerance) -> tuple[list[LayerComparison], Divergence | None]:
    """All records at once, against values captured in one run."""
    loc = Localizer(graph, tol)
    for r in records:
        loc.feed(r, captured)
    return loc.layers, loc.first


class StreamedValues(Mapping[str, Any]):
    """IR values pulled on demand from ``Session.stream``; a value is dropped once no
    pending layer refers to it."""

    def __init__(self, stream: Iterator[tuple[str, Any]], refs: dict[str, int]) -> None:
        self._stream, self._refs = stream, refs
        self._held: dict[str, Any] = {}
        self.max_held = 0  # the most IR values held at once (a memory measure)

    def pull(self, names: Sequence[str]) -> None:
        missing = {n for n in names if n in self._refs and n not in self._held}
        for name, value in self._stream:
            self._held[name] = value
            self.max_held = max(self.max_held, len(self._held))
            missing.discard(name)
            if not missing:
                return

    def release(self, names: Sequence[str]) -> None:
        for n in names:
            if n in self._refs:
                self._refs[n] -= 1
                if self._refs[n] <= 0:
                    self._held.pop(n, None)

    def __getitem__(self, name: str) -> Any:
        return self._held[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._held)

    def __len__(self) -> int:
        return len(self._held)

    def get(self, name: str, default: Any = None) -> Any:
        return self._held.get(name, default)


def _match(candidates: Sequence[Value], ref: np.ndarray, captured: Mapping[str, Any],
           channels_last: bool = False) -> tuple[Value, np.ndarray] | None:
    """The candidate holding the reference's values, with the reference in that candidate's
    layout: an array of the reference's shape or, for a channels-last source, of its
    channels-first shape. Among several that fit, the closest (ties: the last produced):
    a module called more than once (torchvision's ResNet blocks call one ReLU twice) has
    one boundary output per call, and a layout ambiguity (C == H == W) leaves two readings
    of one value. A wrong candidate differs almost everywhere, far beyond any tolerance, so
    the choice cannot hide a real divergence."""
    layouts = [ref]
    if channels_last and ref.ndim >= 3:
        layouts.append(np.moveaxis(ref, -1, 1))
    best: tuple[float, Value, np.ndarray] | None = None
    for v in reversed(candidates):
        got = captured.get(v.name)
        if not isinstance(got, np.ndarray):
            continue
        for r in layouts:
            if r.shape == got.shape:
                d = _distance(got, r)
                if best is None or d < best[0]:
                    best = (d, v, r)
    return None if best is None else (best[1], best[2])


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| (NaN as infinitely far), for telling two layouts of one value apart."""
    if a.size == 0:
        return 0.0
    d = np.abs(a.astype(np.float64, copy=False) - b.astype(np.float64, copy=False))
    return float(np.max(np.nan_to_num(d, nan=np.inf)))


def _layer(graph: Graph, module: str, v: Value, b: Boundary, err: Errors) -> LayerComparison:
    """The comparison of one layer's output, with the ops that computed it: the layer's own
    ops, or (a container whose code is all in its children) the op producing the output."""
    producer = graph.producer(v)
    ops = b.ops or ([producer] if producer is not None else [])
    first = ops[0] if ops else None
    return LayerComparison(module, v.name, err.max_abs, err.max_rel, err.ok, err.ratio,
                           list(dict.fromkeys(n.op_type for n in ops)),
                           first.provenance.source_op if first else "",
                           first.provenance.location if first else "")


def _blame(graph: Graph, bounds: dict[str, Boundary], r: LayerRecord, b: Boundary,
           captured: Mapping[str, Any], tol: Tolerance, err: Errors,
           tolerances: Mapping[str, Tolerance]) -> Divergence:
    for source_ref in r.inputs:
        m = _match(b.inputs, source_ref, captured, r.channels_last)
        if m is None:
            continue
        v, ref = m
        in_err = errors(captured[v.name], ref, tolerances.get(v.name, tol))
        producer = graph.producer(v)
        if not in_err.ok and producer is not None:
            return _divergence(producer.provenance.module, [producer], in_err,
                               f"the input of {r.module or '<model>'} already differs; produced by "
                               f"{producer.op_type} {producer.name}")
    ops = b.ops or [n for path, bb in bounds.items() if _under(path, r.module) for n in bb.ops]
    return _divergence(r.module, ops, err, "inputs agree, output differs")


def _under(path: str, module: str) -> bool:
    return not module or path == module or path.startswith(module + ".")


def _divergence(module: str, ops: Sequence[Node], err: Errors, detail: str) -> Divergence:
    kinds = list(dict.fromkeys(n.op_type for n in ops))
    first = ops[0] if ops else None
    return Divergence(module, kinds, first.provenance.source_op if first else "",
                      first.provenance.location if first else "", err.max_abs, err.max_rel, detail,
                      err.ratio)
