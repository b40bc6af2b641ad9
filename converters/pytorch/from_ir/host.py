"""Host values: small integer (and scalar) tensors kept as Python numbers while emitting.

ONNX graphs compute shapes with tensor ops (Shape -> Gather -> Concat -> Reshape). Run as
torch tensors, ``x.reshape(shape_tensor)`` would need the tensor's *data*, which breaks
``torch.export`` (data-dependent) and ``torch.fx`` tracing. So shapes, and small integer
constants, flow as :class:`Host` values whose items are ints, floats or symbolic sizes
(``SymInt`` under export, ``fx.Proxy`` under tracing); shape arithmetic on them is Python
arithmetic, and an op that needs a tensor converts with :func:`T`."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from tensorbridge.ir.axis_math import norm_index

# Integer constants up to this many elements (rank <= 1) stay on the host.
HOST_LIMIT = 64


@dataclass(frozen=True)
class Host:
    """A rank-0 (``scalar``) or rank-1 value held as Python items, with its torch dtype."""

    items: tuple[Any, ...]
    dtype: torch.dtype
    scalar: bool = False

    @staticmethod
    def of(value: Any, dtype: torch.dtype) -> Host:
        if isinstance(value, list | tuple):
            return Host(tuple(value), dtype)
        return Host((value,), dtype, scalar=True)

    @property
    def value(self) -> Any:
        return self.items[0] if self.scalar else list(self.items)

    def __len__(self) -> int:
        return len(self.items)


def host_constant(array: np.ndarray, dtype: torch.dtype, *, setting: bool = False) -> Host | None:
    """The host form of a constant, or None when it should be a tensor. Float constants stay
    on the host only as ``setting``s (Resize scales, Clip bounds): read as numbers, not data."""
    kinds = "iubf" if setting else "iub"
    if array.ndim > 1 or array.size > HOST_LIMIT or array.dtype.kind not in kinds:
        return None
    if array.ndim == 0:
        return Host.of(array.item(), dtype)
    return Host.of(array.tolist(), dtype)


def T(v: Any, dtype: torch.dtype | None = None) -> Any:
    """``v`` as a tensor (host values are materialised; tensors and proxies pass through)."""
    if not isinstance(v, Host):
        return v
    dt = dtype or v.dtype
    if all(isinstance(i, int | float | bool) for i in v.items):
        return torch.tensor(v.value, dtype=dt)
    parts = [torch.as_tensor(i, dtype=dt) if isinstance(i, int | float | bool) else
             torch.scalar_tensor(i, dtype=dt) for i in v.items]
    return parts[0] if v.scalar else torch.stack(parts)


def ints(v: Any) -> list[Any]:
    """An integer-list parameter (axes, pads, a shape) as a Python list. Host values give
    their items; a tensor is read (eager only: it is data the graph computes)."""
    if v is None:
        return []
    if isinstance(v, Host):
        return list(v.items)
    if isinstance(v, torch.Tensor):
        return [int(i) for i in v.reshape(-1).tolist()]
    return [int(i) for i in np.asarray(v).reshape(-1)]


def scalar(v: Any) -> Any:
    """A scalar parameter (a count, a limit) as a Python number or symbolic size."""
    if isinstance(v, Host):
        return v.items[0]
    if isinstance(v, torch.Tensor):
        return v.reshape(-1)[0].item()
    return v


def all_host(*vs: Any) -> bool:
    return all(isinstance(v, Host) for v in vs if v is not None)


def _broadcast(a: Host, b: Host) -> tuple[list[Any], list[Any], bool]:
    xa, xb = list(a.items), list(b.items)
    if len(xa) == 1 and len(xb) != 1:
        xa = xa * len(xb)
    elif len(xb) == 1 and len(xa) != 1:
        xb = xb * len(xa)
    return xa, xb, a.scalar and b.scalar


def host_binary(fn: Callable[[Any, Any], Any], a: Host, b: Host, dtype: torch.dtype | None = None) -> Host:
    """Elementwise ``fn`` on two host values with ONNX broadcasting (rank <= 1)."""
    xa, xb, sc = _broadcast(a, b)
    items = tuple(fn(i, j) for i, j in zip(xa, xb, strict=True))
    return Host(items, dtype or a.dtype, scalar=sc)


def host_unary(fn: Callable[[Any], Any], a: Host, dtype: torch.dtype | None = None) -> Host:
    return Host(tuple(fn(i) for i in a.items), dtype or a.dtype, scalar=a.scalar)


def int_div(a: Any, b: Any) -> Any:
    """ONNX integer Div truncates toward zero."""
    if isinstance(a, int) and isinstance(b, int):
        q = abs(a) // abs(b)
        return q if (a >= 0) == (b >= 0) else -q
    return a // b  # symbolic sizes are non-negative


HOST_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "Add": operator.add, "Sub": operator.sub, "Mul": operator.mul,
    "Max": max, "Min": min,
}


def host_select(cond: Host, a: Host, b: Host) -> Host:
    c, x, _ = _broadcast(cond, a)
    c, y, _ = _broadcast(Host(tuple(c), cond.dtype, cond.scalar), b)
    x = x * len(c) if len(x) == 1 and len(c) != 1 else x
    return Host(tuple(i if k else j for k, i, j in zip(c, x, y, strict=True)), a.dtype,
                scalar=cond.scalar and a.scalar and b.scalar)


def index_list(items: Sequence[Any], idx: int, op: str) -> Any:
    """``items[idx]`` for an ONNX index in [-n, n-1] (out of range: a clear error)."""
    return items[norm_index(idx, len(items), op)]


def tracing() -> bool:
    """Under torch.export, torch.compile or torch.fx tracing (nothing may be cached across
    calls then: values are proxies or fake tensors)."""
    return bool(torch.compiler.is_compiling() or torch.compiler.is_exporting()
                or torch.fx._symbolic_trace.is_fx_symbolic_tracing())
