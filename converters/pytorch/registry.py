"""The ATen translation registry: ``@aten("aten::addmm")`` on one function per overload
(or per op, covering all its overloads). Keys feed the coverage table."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

Translation = Callable[..., Any]


def op_key(target: Any) -> str:
    """``aten::add.Tensor`` for an OpOverload, ``operator::mul`` for a Python builtin."""
    schema = getattr(target, "_schema", None)  # OpOverload
    if schema is not None and hasattr(target, "_overloadname"):
        return f"{schema.name}.{target._overloadname}"
    module = getattr(target, "__module__", "") or ""
    if module in ("_operator", "operator"):
        return f"operator::{target.__name__}"
    if module == "math":
        return f"math::{target.__name__}"
    if module.startswith("torch"):
        return f"{module}::{getattr(target, '__name__', str(target))}"
    return str(target)


class AtenRegistry:
    """Explicit registry of ATen (and SymInt arithmetic) translations."""

    def __init__(self) -> None:
        self._fns: dict[str, Translation] = {}

    def register(self, *names: str, replace: bool = False) -> Callable[[Translation], Translation]:
        """Decorator registering a translation; a key registered again raises unless ``replace``."""
        def deco(fn: Translation) -> Translation:
            for name in names:
                if name in self._fns and not replace:
                    raise ValueError(f"ATen translation {name!r} registered twice "
                                     f"({self._fns[name].__qualname__} and {fn.__qualname__}); pass replace=True to replace it")
                self._fns[name] = fn
            return fn

        return deco

    def lookup(self, key: str) -> Translation | None:
        """Exact overload first (``aten::add.Tensor``), then the whole op (``aten::add``)."""
        fn = self._fns.get(key)
        if fn is None and "." in key.split("::")[-1]:
            fn = self._fns.get(key.rsplit(".", 1)[0])
        return fn

    def close_matches(self, key: str) -> list[str]:
        return difflib.get_close_matches(key, list(self._fns), n=3)

    def keys(self) -> list[str]:
        return sorted(self._fns)


ATEN = AtenRegistry()
aten = ATEN.register
