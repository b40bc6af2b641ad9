"""One explicit registry class for everything keyed by an ONNX op: the runtime's kernels and
the PyTorch / TensorFlow emitters. It maps (domain, op_type, since-version) to a function
whose signature is the spec's (inputs positional, attributes keyword-only); a function that
needs its call site declares a keyword-only ``ctx`` parameter.

Duplicate registration raises; a miss raises :class:`UnsupportedOpError` naming the layer,
op and node, with close matches. An op's old spelling that :mod:`tensorbridge.ir.op_versions`
rewrites (Split-2's ``split`` attribute, Upsample) is looked up as the newer spelling, wrapped
in the rewrite, so a layer implements only that."""

from __future__ import annotations

import dataclasses
import difflib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tensorbridge.ir.errors import UnsupportedOpError
from tensorbridge.ir.op_versions import Upgrade, input_types, upgrade_for

OpFn = Callable[..., Any]


@dataclass(frozen=True)
class OpSpec:
    op_type: str
    domain: str
    since: int
    fn: OpFn
    wants_ctx: bool
    attr_names: frozenset[str]


class OpRegistry:
    """Explicit registry of per-op functions for one layer (``"runtime"``, ``"torch emitter"``)."""

    def __init__(self, layer: str, *, constant: Callable[[Any], Any] | None = None) -> None:
        """``constant(array)``: how the layer holds a numpy constant that an upgrade's
        rewrite makes (the runtime: as is)."""
        self.layer = layer
        self.constant = constant or (lambda a: a)
        self._by_op: dict[tuple[str, str], list[OpSpec]] = {}

    def register(self, op_type: str, *, since: int = 1, domain: str = "",
                 replace: bool = False) -> Callable[[OpFn], OpFn]:
        """Decorator registering a function for ``op_type`` from opset ``since``; a second
        registration of the same (domain, op, since) raises unless ``replace``."""
        domain = "" if domain == "ai.onnx" else domain

        def deco(fn: OpFn) -> OpFn:
            specs = self._by_op.setdefault((domain, op_type), [])
            if any(s.since == since for s in specs):
                if not replace:
                    raise ValueError(
                        f"{self.layer}: {domain or 'ai.onnx'}::{op_type} since={since} registered twice "
                        f"(second: {fn.__module__}.{fn.__qualname__}); pass replace=True to replace it"
                    )
                specs[:] = [s for s in specs if s.since != since]
            params = inspect.signature(fn).parameters
            attrs = frozenset(
                n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY and n != "ctx"
            )
            specs.append(OpSpec(op_type, domain, since, fn, "ctx" in params, attrs))
            specs.sort(key=lambda s: s.since)
            return fn

        return deco

    def lookup(self, op_type: str, domain: str, opset: int, *, where: str = "") -> OpSpec:
        """The function with the highest since-version <= ``opset``; for an old spelling
        that an upgrade rewrites, the newer spelling's function behind that rewrite."""
        domain = "" if domain == "ai.onnx" else domain
        up = upgrade_for(op_type, domain, opset)
        if up is not None:
            target = self.lookup(up.to_op, domain, up.to_opset, where=where)
            return _upgraded(up, target, opset, self.constant)
        specs = self._by_op.get((domain, op_type))
        if specs:
            usable = [s for s in specs if s.since <= opset]
            if usable:
                return usable[-1]
            # Older than every registered version: the oldest one is the best guess only
            # when the op did not change meaning, which we cannot know; refuse clearly.
            raise UnsupportedOpError(
                self.layer, op_type, node=where, domain=domain,
                hint=f"the {self.layer} implements {op_type} from opset {specs[0].since}; the "
                f"model imports opset {opset}. Convert the model to a newer opset "
                "(onnx.version_converter) first.",
            )
        names = [op for (d, op) in self._by_op if d == domain]
        close = difflib.get_close_matches(op_type, names, n=3)
        raise UnsupportedOpError(self.layer, op_type, node=where, domain=domain, close=close)

    def served_versions(self, op_type: str, domain: str, versions: list[int]) -> list[int]:
        """Those of ``versions`` (an op's schema since-versions) that a lookup serves, by a
        function of its own or behind an upgrade's rewrite."""
        served = []
        for v in versions:
            try:
                self.lookup(op_type, domain, v)
            except UnsupportedOpError:
                continue
            served.append(v)
        return served

    def keys(self) -> list[tuple[str, str, int]]:
        return sorted((d, op, s.since) for (d, op), specs in self._by_op.items() for s in specs)

    def ops(self) -> list[tuple[str, str]]:
        return sorted(self._by_op)

    def __contains__(self, key: tuple[str, str]) -> bool:
        """Whether some version of the op runs: by a function of its own or, for an op that
        ir/op_versions.py rewrites into another (Upsample -> Resize), by that op's."""
        if key in self._by_op:
            return True
        up = upgrade_for(key[1], key[0], 0)
        return up is not None and up.to_op != key[1] and ("" if key[0] == "ai.onnx" else key[0], up.to_op) in self


def _upgraded(up: Upgrade, target: OpSpec, opset: int, constant: Callable[[Any], Any]) -> OpSpec:
    """``target`` called on the rewritten inputs and attributes of an old-spelling node (the
    constants the rewrite makes held as the layer holds constants); its context (when it
    wants one) describes the rewritten node."""

    def call(*inputs: Any, ctx: Any, **attrs: Any) -> Any:
        new_inputs, new_attrs = up.fn(list(inputs), dict(attrs), ctx.input_types)
        if target.wants_ctx:
            types = input_types(inputs, new_inputs, ctx.input_types)
            new_attrs["ctx"] = dataclasses.replace(ctx, opset=up.to_opset, input_types=types)
        held = [constant(v) if isinstance(v, np.ndarray) and not any(v is i for i in inputs) else v
                for v in new_inputs]
        return target.fn(*held, **new_attrs)

    call.__name__ = call.__qualname__ = f"{up.op_type.lower()}_{opset}_as_{target.fn.__name__}"
    call.__module__ = target.fn.__module__  # the implementation lives there
    call.__doc__ = f"{up.op_type}-{opset} rewritten by ir/op_versions.py, then {target.fn.__qualname__}."
    return OpSpec(up.op_type, target.domain, opset, call, True, up.consumes | target.attr_names)
