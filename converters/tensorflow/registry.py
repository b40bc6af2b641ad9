"""The TensorFlow translation registry: ``@tf_op("Conv2D")`` on one function per TF op
type (a function may cover several aliases, e.g. ``Add`` and ``AddV2``). Keys feed the
coverage table."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

Translation = Callable[..., Any]


class TfOpRegistry:
    """Explicit registry of TF op translations. A duplicate registration raises."""

    def __init__(self) -> None:
        self._fns: dict[str, Translation] = {}

    def register(self, *op_types: str, replace: bool = False) -> Callable[[Translation], Translation]:
        """Decorator registering a translation; a key registered again raises unless ``replace``."""
        def deco(fn: Translation) -> Translation:
            for op_type in op_types:
                if op_type in self._fns and not replace:
                    raise ValueError(f"TensorFlow translation {op_type!r} registered twice "
                                     f"({self._fns[op_type].__qualname__} and {fn.__qualname__}); pass replace=True to replace it")
                self._fns[op_type] = fn
            return fn

        return deco

    def lookup(self, op_type: str) -> Translation | None:
        return self._fns.get(op_type)

    def close_matches(self, op_type: str) -> list[str]:
        return difflib.get_close_matches(op_type, list(self._fns), n=3)

    def keys(self) -> list[str]:
        return sorted(self._fns)

    def __contains__(self, op_type: str) -> bool:
        return op_type in self._fns


TF_OPS = TfOpRegistry()
tf_op = TF_OPS.register
