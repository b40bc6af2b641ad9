"""Plan-time common-subexpression elimination, on slots (the IR is not changed).

The session feeds its plan through one :class:`Dedupe` in topological order. Small
constants with equal dtype, shape and bytes share one canonical slot; a step whose kernel,
attributes and (canonical) input slots equal an earlier step's is dropped and its output
slots become aliases of that step's. The session decides which steps may be merged at
all (deterministic, no subgraphs): this module only keys them.

Only values up to ``SMALL_BYTES`` are hashed, so planning stays one cheap pass: weights are
never worth comparing, and a big tensor attribute makes its step unmergeable.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

import numpy as np

SMALL_BYTES = 4096


class _TooBig(Exception):
    """A tensor too large to hash at plan time."""


class Dedupe:
    """Canonical slots for equal constants and repeated steps.

    ``keep`` are slots that must hold their own value (graph inputs and outputs): they are
    never made aliases, so every output is still written by its own step."""

    def __init__(self, keep: Collection[int]) -> None:
        self.alias: dict[int, int] = {}  # slot -> canonical slot (never itself an alias)
        self._keep = frozenset(keep)
        self._steps: dict[Any, tuple[int, ...]] = {}
        self._consts: dict[Any, int] = {}

    def remap(self, slots: tuple[int, ...]) -> tuple[int, ...]:
        alias = self.alias
        return tuple(alias.get(s, s) for s in slots)

    def constant(self, slot: int, value: Any) -> None:
        """Register a constant's value; a small one equal to an earlier one aliases it."""
        if slot in self._keep or not _small_array(value):
            return
        first = self._consts.setdefault((value.dtype, value.shape, value.tobytes()), slot)
        if first != slot:
            self.alias[slot] = first

    def repeated(self, fn: Callable[..., Any], ins: tuple[int, ...], outs: tuple[int, ...],
                 attrs: Mapping[str, Any]) -> bool:
        """True when an earlier step computed the same thing (its outputs are then aliased,
        and this step need not run). ``ins`` must already be remapped."""
        if self._keep.intersection(outs):
            return False
        try:
            # which outputs exist is part of the key: an omitted output cannot be aliased
            key = (fn, ins, tuple(s >= 0 for s in outs),
                   _freeze({k: v for k, v in attrs.items() if k != "ctx"}))
            first = self._steps.setdefault(key, outs)
        except (TypeError, ValueError, _TooBig):
            return False  # an attribute that cannot be compared cheaply: keep the step
        if first is outs:
            return False
        for mine, theirs in zip(outs, first):
            if mine >= 0:
                self.alias[mine] = theirs
        return True


def _small_array(x: Any) -> bool:
    return isinstance(x, np.ndarray) and x.dtype != object and x.nbytes <= SMALL_BYTES


def _freeze(x: Any) -> Any:
    """A hashable key equal only for equal attribute values (type-tagged, so 1, 1.0 and
    True, or 0.0 and -0.0, stay apart; dtypes compared as objects, not as ``dtype.str``,
    which several ml_dtypes types share)."""
    if isinstance(x, dict):
        return tuple(sorted((k, _freeze(v)) for k, v in x.items()))
    if isinstance(x, list | tuple):
        return tuple(_freeze(v) for v in x)
    if isinstance(x, np.ndarray):
        if not _small_array(x):
            raise _TooBig
        return (x.dtype, x.shape, x.tobytes())
    if isinstance(x, float):
        return (float, x.hex())
    return (type(x), x)
