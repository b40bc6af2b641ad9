"""Input sets for parity checks: the example inputs plus generated ones that expose bugs
(other random draws, zeros, negatives, large magnitudes, and -- when the graph declares
dynamic dims -- a second size of every dynamic dim). Integer inputs that index an embedding
table stay inside it; other integer and boolean inputs keep their example values."""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorbridge.ir.errors import TensorbridgeError
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Value

SEEDS = (1, 2)


def input_sets(graph: Graph, example: list[np.ndarray]) -> dict[str, list[np.ndarray]]:
    user = [v for v in graph.inputs if not v.role.is_initializer][: len(example)]
    limits = [_index_limit(graph, v) for v in user]
    sets = {"example": list(example)}
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        sets[f"seed{seed}"] = [_random(x, lim, rng) for x, lim in zip(example, limits)]
    if any(x.dtype.kind == "f" for x in example):
        sets["zeros"] = [np.zeros_like(x) if x.dtype.kind == "f" else x for x in example]
        sets["negative"] = [-np.abs(x) if x.dtype.kind == "f" else x for x in example]
        sets["large"] = [x * np.asarray(100, x.dtype) if x.dtype.kind == "f" else x for x in example]
    resized = _resized(user, example, limits)
    if resized is not None:
        sets[RESIZED] = resized
    return sets


RESIZED = "resized"  # the set in which every dynamic dim has a second size


def dynamic_sizes(user: list[Value], example: list[np.ndarray]) -> dict[str, int]:
    """The example's size of each named dynamic dim of the graph inputs."""
    sizes: dict[str, int] = {}
    for v, x in zip(user, example):
        for d, n in zip(v.shape or (), x.shape):
            if isinstance(d, str) and d:
                sizes.setdefault(d, int(n))
    return sizes


def _resized(user: list[Value], example: list[np.ndarray], limits: list[int | None]) -> list[np.ndarray] | None:
    """The example with every named dynamic dim at twice its size (doubling keeps sizes that
    must divide by a stride or a head count valid), or None when the graph has none. Float
    inputs are new draws; integer and boolean inputs repeat their example values (indices
    into a table stay in range) along the grown axes."""
    sizes = dynamic_sizes(user, example)
    if not sizes:
        return None
    rng = np.random.default_rng(3)
    out = []
    for v, x, lim in zip(user, example, limits):
        shape = tuple(2 * sizes[d] if isinstance(d, str) and d in sizes else n
                      for d, n in zip(v.shape or (), x.shape))
        if len(shape) != x.ndim:
            return None  # a rank the graph does not declare: leave the sizes alone
        drawn = _draw(x, lim, rng, shape)
        if drawn is not None:
            out.append(drawn)
        elif x.size == 0:
            out.append(np.zeros(shape, x.dtype))
        else:
            grown = x
            for axis, n in enumerate(shape):
                grown = np.take(grown, np.arange(n), axis=axis, mode="wrap")
            out.append(grown)
    return out


def _random(x: np.ndarray, limit: int | None, rng: np.random.Generator) -> np.ndarray:
    drawn = _draw(x, limit, rng, x.shape)
    return x.copy() if drawn is None else drawn


def _draw(x: np.ndarray, limit: int | None, rng: np.random.Generator,
          shape: tuple[int, ...]) -> np.ndarray | None:
    """A new random array of ``shape`` like ``x``: floats with its mean and spread, integers
    that index a table of ``limit`` rows inside it; None for other integer and boolean
    inputs, which keep their example values."""
    if x.dtype.kind == "f":
        if not x.size and shape == x.shape:
            return x.astype(x.dtype)
        scale = float(np.std(x)) if x.size and np.std(x) > 0 else 1.0
        return (rng.standard_normal(shape) * scale + (float(np.mean(x)) if x.size else 0.0)).astype(x.dtype)
    if x.dtype.kind in "iu" and limit is not None:
        return rng.integers(0, limit, shape).astype(x.dtype)
    return None


def _index_limit(graph: Graph, v: Value) -> int | None:
    """Rows of the smallest constant table this input indexes (Gather axis 0), if any."""
    rows = []
    for node, port in graph.consumers(v):
        if node.op_type == "Gather" and port == 1 and node.attr("axis", 0) == 0:
            table = graph.node_inputs(node)[0]
            if table is not None and table.shape and isinstance(table.shape[0], int):
                rows.append(table.shape[0])
    return min(rows) if rows else None


def example_from_graph(graph: Graph, batch: int = 2, seed: int = 0) -> list[np.ndarray]:
    """Inputs built from the graph's declared input types (for sources that carry no example
    inputs, e.g. a .keras file): symbolic dims take ``batch``, floats are standard normal,
    integers index within any embedding table they feed (else 0..9)."""
    rng = np.random.default_rng(seed)
    arrays = []
    for v in graph.inputs:
        if v.role.is_initializer or v.dtype is None or v.shape is None:
            continue
        shape = tuple(d if isinstance(d, int) else batch for d in v.shape)
        dt = v.dtype.np_dtype
        if dt.kind == "f":
            arrays.append(rng.standard_normal(shape).astype(dt))
        elif dt.kind in "iu":
            arrays.append(rng.integers(0, _index_limit(graph, v) or 10, shape).astype(dt))
        else:
            arrays.append(np.zeros(shape, dt))
    return arrays


def with_kwargs(example_inputs: Any, kwargs: dict[str, Any] | None) -> Any:
    """Example inputs plus keyword arguments, as one PyTorch call (``CallArgs``)."""
    if not kwargs:
        return example_inputs
    from tensorbridge.converters.pytorch.call_inputs import CallArgs, bind

    if not isinstance(kwargs, dict):
        raise TensorbridgeError(f"kwargs: expected a dict of keyword example inputs, got {type(kwargs).__name__}")
    if isinstance(example_inputs, dict):
        return CallArgs((), {**example_inputs, **kwargs}) if not set(example_inputs) & set(kwargs) \
            else bind(None, example_inputs, kwargs)  # raises: a name given twice
    args = example_inputs if isinstance(example_inputs, tuple | list) else \
        () if example_inputs is None else (example_inputs,)
    return CallArgs(tuple(args), dict(kwargs))
