"""Tensor generator emitters: Constant, ConstantOfShape, Range, EyeLike.

Small integer results (rank <= 1, static length) are host values, like the graph's small
integer constants (see :func:`host_constant`): they usually feed shape arithmetic."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.from_ir.dtypes import to_torch, torch_dtype
from tensorbridge.converters.pytorch.from_ir.host import (
    HOST_LIMIT,
    Host,
    host_constant,
    ints,
    scalar,
)
from tensorbridge.converters.pytorch.from_ir.ops.shape import dims_of
from tensorbridge.converters.pytorch.from_ir.registry import emits, out_dtype
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import UnsupportedOpError
from tensorbridge.ir.generator_math import constant_value

LAYER = "PyTorch emitter"


def _tensor_or_host(array: np.ndarray, op_type: str) -> Any:
    if array.dtype.kind in "OUS":
        raise UnsupportedOpError(LAYER, op_type, hint="PyTorch has no string tensors; keep "
                                 "string constants out of the model (pre/post-process them)")
    host = host_constant(array, torch_dtype(DType.from_numpy(array.dtype)))
    return host if host is not None else to_torch(array)


@emits("Constant", since=1)
def constant(*, value: np.ndarray | None = None, sparse_value: Any = None,
             value_float: float | None = None, value_floats: tuple[float, ...] | None = None,
             value_int: int | None = None, value_ints: tuple[int, ...] | None = None,
             value_string: str | None = None,
             value_strings: tuple[str, ...] | None = None) -> Any:
    """Constant-1/9/11/12/13/19/21/23() -> output; exactly one of value, sparse_value (11,
    densified) and value_* (12)."""
    array = constant_value(value, sparse_value, value_float=value_float,
                           value_floats=value_floats, value_int=value_int, value_ints=value_ints,
                           value_string=value_string, value_strings=value_strings)
    return _tensor_or_host(array, "Constant")


@emits("ConstantOfShape", since=9)
def constant_of_shape(input: Any, *, value: np.ndarray | None = None) -> Any:
    """ConstantOfShape-9(input) -> output; fill value defaults to float32 0."""
    if value is None:
        value = np.zeros(1, dtype=np.float32)
    dims = ints(input)
    dtype = torch_dtype(DType.from_numpy(value.dtype))
    fill = value.reshape(-1)[0].item()
    if (len(dims) == 1 and isinstance(dims[0], int) and dims[0] <= HOST_LIMIT
            and value.dtype.kind in "iub"):
        return Host((fill,) * dims[0], dtype)
    return torch.full(dims, fill, dtype=dtype)


def _dtype_of(v: Any) -> torch.dtype:
    return v.dtype if isinstance(v, Host | torch.Tensor) else torch.float32


def _range(start: Any, limit: Any, delta: Any, exact: bool, ctx: EmitContext) -> Any:
    dtype = out_dtype(ctx) or _dtype_of(start)
    s, lim, d = scalar(start), scalar(limit), scalar(delta)
    if not dtype.is_floating_point:
        if all(isinstance(v, int) for v in (s, lim, d)) and len(range(s, lim, d)) <= HOST_LIMIT:
            return Host(tuple(range(s, lim, d)), dtype)
        return torch.arange(s, lim, d, dtype=dtype)
    # start + i*delta computed in float64 (exact), unless the model asked for
    # half-precision arithmetic (Range-27 stash_type=0).
    work = torch.float64 if exact or dtype not in (torch.float16, torch.bfloat16) else dtype
    return torch.arange(s, lim, d, dtype=work).to(dtype)


@emits("Range", since=11)
def range_(start: Any, limit: Any, delta: Any, *, stash_type: int = 1,
           ctx: EmitContext) -> Any:
    """Range-11/27(start, limit, delta) -> output [start, start+delta, ...) up to limit;
    stash_type=0 (27) picks half-precision arithmetic, the default is the earlier meaning."""
    return _range(start, limit, delta, stash_type == 1, ctx)


@emits("EyeLike", since=9)
def eye_like(input: Any, *, dtype: int | None = None, k: int = 0, ctx: EmitContext) -> Any:
    """EyeLike-9(input) -> output 2-D with ones on diagonal k; dtype defaults to input's."""
    n, m = dims_of(input, ctx, 0)
    dt = torch_dtype(dtype) if dtype is not None else out_dtype(ctx) or _dtype_of(input)
    device = getattr(input, "device", None)  # a host value has none: the default device
    if k == 0:
        return torch.eye(n, m, dtype=dt, device=device)
    cols, rows = torch.arange(m, device=device), torch.arange(n, device=device).unsqueeze(1)
    return (cols - rows == k).to(dt)
