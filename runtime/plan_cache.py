"""A small LRU cache of planned sessions, for one-shot callers (``tb.run``) that run the same
graph again and again.

An entry is keyed by the graph's identity and the inputs' signature (dtype and shape of
each), and remembers a **version token** of the graph taken when it was planned: the
graph's structural ``version`` (bumped by every edit: ``add_node``, ``set_input``,
``replace_all_uses``, ``remove``, ``set_outputs``, ...) and the identity of every op node,
its op type, domain, attribute names and attribute objects, every value's type and constant
data objects, the graph's inputs, outputs, opset imports and local functions. A lookup
whose token differs re-plans, so a graph edited in place is never served a stale plan.
The entry holds references to everything its token names, so no id in it can be reused by
a new object while the entry lives. Computing the token is one pass over the graph's node
and value lists (about 2 ms for densenet121's 1,746 nodes), far
below what planning costs (constant folding, fusion, last-use analysis).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from tensorbridge.ir.graph import Graph
from tensorbridge.runtime.session import Session

Signature = tuple[Any, ...]


def input_signature(inputs: Sequence[Any] | Mapping[str, Any]) -> Signature:
    """(name or position, dtype, shape) of each input; non-arrays by type."""
    items = inputs.items() if isinstance(inputs, Mapping) else enumerate(inputs)
    return tuple((k, x.dtype, x.shape) if isinstance(x, np.ndarray) else (k, type(x).__name__)
                 for k, x in sorted(items, key=lambda kv: str(kv[0])))


def _token_parts(graph: Graph) -> list[Any]:
    """The objects whose identities make up ``graph``'s version (see the module docstring)."""
    nodes = graph.nodes()
    parts: list[Any] = [*graph.inputs, None, *graph.outputs, None,
                        *graph.opset_imports, *graph.opset_imports.values(), *graph.functions.values(), None]
    for n in nodes:
        # (strings and small ints are shared objects: an equal value keeps its id, a new one
        # at worst costs a re-plan)
        parts += (n, n.op_type, n.domain)
        parts.extend(n.attrs)
        parts.extend(n.attrs.values())
    for v in graph.values():
        parts += (v, v.type, v.const)
    return parts


class _Entry:
    __slots__ = ("graph", "keep", "token", "session")

    def __init__(self, graph: Graph, parts: list[Any], session: Session) -> None:
        self.graph = graph
        self.keep = parts  # strong references: the ids in ``token`` stay unique
        self.token = token(graph, parts)
        self.session = session


def token(graph: Graph, parts: list[Any]) -> tuple[Any, ...]:
    return (graph.version, *map(id, parts))


class PlanCache:
    """Up to ``size`` planned sessions, least recently used evicted first."""

    def __init__(self, size: int = 4, plan: Callable[[Graph], Session] = Session) -> None:
        self.size = size
        self._plan = plan
        self._entries: OrderedDict[tuple[int, Signature], _Entry] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def session(self, graph: Graph, inputs: Sequence[Any] | Mapping[str, Any],
                prepare: Callable[[Graph], Any] | None = None) -> Session:
        """The planned session for ``graph`` and inputs like ``inputs``; ``prepare(graph)``
        (e.g. verification) runs before planning, i.e. only on a miss."""
        key = (id(graph), input_signature(inputs))
        parts = _token_parts(graph)
        entry = self._entries.get(key)
        if entry is not None and entry.graph is graph and entry.token == token(graph, parts):
            self._entries.move_to_end(key)
            self.hits += 1
            return entry.session
        self.misses += 1
        if prepare is not None:
            prepare(graph)
            parts = _token_parts(graph)  # preparing may have completed the graph's types
        sess = self._plan(graph)
        self._entries[key] = _Entry(graph, parts, sess)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return sess

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


__all__ = ["PlanCache", "input_signature"]
