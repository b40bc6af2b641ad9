"""The kernel registry: one explicit object mapping (domain, op_type, since-version) to a
numpy function.

A kernel's signature is the ONNX spec's signature: inputs positional (a missing optional
input arrives as ``None``), attributes keyword-only with the spec's defaults and spelling.
A kernel that needs to know about its call site (number of outputs, opset, how to run a
subgraph, a random generator) declares a keyword-only ``ctx`` parameter and receives a
:class:`KernelContext`.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ir.errors import UnsupportedOpError

KernelFn = Callable[..., Any]


@dataclass(frozen=True)
class KernelContext:
    """What a kernel may learn about the node it runs for."""

    node_name: str
    n_outputs: int
    opset: int
    # run_subgraph(graph, inputs) -> list of outputs; outer-scope values are bound by the
    # session that created this context.
    run_subgraph: Callable[[Any, Sequence[Any]], list[Any]] | None = None
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    output_names: tuple[str, ...] = ()
    input_types: tuple[Any, ...] = ()
    output_types: tuple[Any, ...] = ()


@dataclass(frozen=True)
class KernelSpec:
    op_type: str
    domain: str
    since: int
    fn: KernelFn
    wants_ctx: bool
    attr_names: frozenset[str]


class KernelRegistry:
    """Explicit registry of runtime kernels. Duplicate registration raises."""

    def __init__(self) -> None:
        self._by_op: dict[tuple[str, str], list[KernelSpec]] = {}

    def register(self, op_type: str, *, since: int = 1, domain: str = "") -> Callable[[KernelFn], KernelFn]:
        domain = "" if domain == "ai.onnx" else domain

        def deco(fn: KernelFn) -> KernelFn:
            specs = self._by_op.setdefault((domain, op_type), [])
            if any(s.since == since for s in specs):
                raise ValueError(
                    f"kernel {domain or 'ai.onnx'}::{op_type} since={since} registered twice "
                    f"(second: {fn.__module__}.{fn.__qualname__})"
                )
            params = inspect.signature(fn).parameters
            attrs = frozenset(
                n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY and n != "ctx"
            )
            specs.append(KernelSpec(op_type, domain, since, fn, "ctx" in params, attrs))
            specs.sort(key=lambda s: s.since)
            return fn

        return deco

    def lookup(self, op_type: str, domain: str, opset: int, *, where: str = "") -> KernelSpec:
        """The kernel with the highest since-version <= ``opset``."""
        domain = "" if domain == "ai.onnx" else domain
        specs = self._by_op.get((domain, op_type))
        if specs:
            usable = [s for s in specs if s.since <= opset]
            if usable:
                return usable[-1]
            # Older than every registered version: the oldest one is the best guess only
            # when the op did not change meaning, which we cannot know; refuse clearly.
            raise UnsupportedOpError(
                "runtime", op_type, node=where, domain=domain,
                hint=f"the runtime implements {op_type} from opset {specs[0].since}; the model "
                f"imports opset {opset}. Convert the model to a newer opset "
                "(onnx.version_converter) first.",
            )
        names = [op for (d, op) in self._by_op if d == domain]
        close = difflib.get_close_matches(op_type, names, n=3)
        raise UnsupportedOpError("runtime", op_type, node=where, domain=domain, close=close)

    def keys(self) -> list[tuple[str, str, int]]:
        return sorted((d, op, s.since) for (d, op), specs in self._by_op.items() for s in specs)

    def ops(self) -> list[tuple[str, str]]:
        return sorted(self._by_op)

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._by_op


KERNELS = KernelRegistry()
kernel = KERNELS.register
