"""Plan-time rewrite of Concat chains (densenet's dense blocks): ``c1 = Concat(a, y1)``,
``c2 = Concat(c1, y2)``, ... each concat appending to the previous one along one axis.

Run as written, every concat copies everything before it again: a block of k layers copies
O(k^2) channels. Planned as a chain, the first concat allocates the *final* output once and
every concat writes only its new inputs into their slice of it, returning a view of the
prefix filled so far (for a batch of one along axis 1, a contiguous array). Earlier views
stay valid: later concats write only past them, and kernels never write into inputs.

The final shape is learnt: the first run concatenates normally and records, for the first
concat's input shapes, the shape the last one produced; later runs with those shapes
preallocate it. Any surprise (other shapes, a dtype change, a view that is not the one the
chain handed out) falls back to a plain concatenate for the rest of that run, so results
never depend on the guess.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorbridge.ir.node import Node
from tensorbridge.runtime.plan_view import Fusion, PlanView

MIN_CHAIN = 3  # shorter chains copy little: not worth a stateful step


class ConcatChain:
    """The shared state of one chain's steps during a run."""

    def __init__(self, axis: int, length: int) -> None:
        self.axis = axis
        self.length = length
        self.final: dict[tuple[Any, ...], tuple[int, ...]] = {}
        self._key: tuple[Any, ...] = ()
        self._buf: np.ndarray | None = None
        self._last: np.ndarray | None = None
        self._filled = 0

    def start(self, xs: tuple[np.ndarray, ...]) -> np.ndarray:
        self._buf = None
        self._key = (xs[0].dtype, *(x.shape for x in xs))
        final = self.final.get(self._key)
        if final is None or any(x.dtype != xs[0].dtype for x in xs):
            return self._plain(0, xs)
        ax = self.axis % len(final)
        self._buf = np.empty(final, xs[0].dtype)
        self._filled = 0
        return self._append(ax, xs)

    def extend(self, index: int, xs: tuple[np.ndarray, ...]) -> np.ndarray:
        buf = self._buf
        if buf is None or xs[0] is not self._last or any(x.dtype != buf.dtype for x in xs[1:]):
            return self._plain(index, xs)
        ax = self.axis % buf.ndim
        room = buf.shape[ax] - self._filled
        if (sum(x.shape[ax] for x in xs[1:]) > room or any(
                x.ndim != buf.ndim or x.shape[:ax] + x.shape[ax + 1:] != buf.shape[:ax] + buf.shape[ax + 1:]
                for x in xs[1:])):
            return self._plain(index, xs)
        return self._append(ax, xs[1:])

    def _append(self, ax: int, xs: tuple[np.ndarray, ...]) -> np.ndarray:
        buf = self._buf
        assert buf is not None
        lead = (slice(None),) * ax
        for x in xs:
            n = x.shape[ax]
            buf[(*lead, slice(self._filled, self._filled + n))] = x
            self._filled += n
        self._last = buf[(*lead, slice(0, self._filled))]
        return self._last

    def _plain(self, index: int, xs: tuple[np.ndarray, ...]) -> np.ndarray:
        self._buf = None
        out = np.concatenate(xs, axis=self.axis % xs[0].ndim)
        if index == self.length - 1 and self._key:
            self.final[self._key] = out.shape
        return out


class ChainStep:
    """One concat of a chain (the session's step function)."""

    __name__ = "concat_into_slice"

    def __init__(self, chain: ConcatChain, index: int) -> None:
        self.chain, self.index = chain, index

    def __call__(self, *xs: np.ndarray) -> np.ndarray:
        if self.index == 0:
            return self.chain.start(xs)
        return self.chain.extend(self.index, xs)


def _next_concat(view: PlanView, c: Node) -> Node | None:
    """The concat appending to ``c``'s output (its first input), if exactly one does."""
    nxt = [n for n, port in view.g.consumers(view.out(c)) if n.op_type == "Concat" and not n.domain and port == 0]
    if len(nxt) != 1 or nxt[0].attr("axis", None) != c.attr("axis", None) or view.out(c) in view.g.outputs:
        return None
    return nxt[0]


def find_concat_chains(view: PlanView, taken: set[Node]) -> list[Fusion]:
    """One single-node fusion per concat of every chain of at least MIN_CHAIN."""
    found: list[Fusion] = []
    starts = [n for n in view.g.nodes() if n.op_type == "Concat" and not n.domain and n not in taken
              and n.attr("axis", None) is not None and all(v is not None for v in view.operands(n))]
    inner = {n for s in starts if (n := _next_concat(view, s)) is not None}
    for head in starts:
        if head in inner:
            continue
        chain_nodes = [head]
        while (n := _next_concat(view, chain_nodes[-1])) is not None and n not in taken:
            chain_nodes.append(n)
        if len(chain_nodes) < MIN_CHAIN:
            continue
        chain = ConcatChain(int(head.attr("axis")), len(chain_nodes))
        for i, node in enumerate(chain_nodes):
            ins = tuple(v for v in view.operands(node) if v is not None)
            found.append(Fusion((node,), ins, view.out(node), ChainStep(chain, i)))  # type: ignore[arg-type]
        taken.update(chain_nodes)
    return found
