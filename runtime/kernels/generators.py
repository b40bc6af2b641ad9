"""Kernels: tensor generators (Constant, ConstantOfShape, Range, EyeLike)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.generator_math import constant_value
from tensorbridge.runtime.kernels.cast import HALF_FLOATS
from tensorbridge.runtime.registry import kernel


@kernel("Constant", since=1)
def constant(*, value: np.ndarray | None = None, sparse_value: Any = None,
             value_float: float | None = None, value_floats: list[float] | None = None,
             value_int: int | None = None, value_ints: list[int] | None = None,
             value_string: str | None = None,
             value_strings: list[str] | None = None) -> np.ndarray:
    """Constant-1/9/11/12/13/19/21/23() -> output; exactly one of value, sparse_value (11,
    densified) and value_* (12)."""
    return constant_value(value, sparse_value, value_float=value_float, value_floats=value_floats,
                     value_int=value_int, value_ints=value_ints, value_string=value_string,
                     value_strings=value_strings)


@kernel("ConstantOfShape", since=9)
def constant_of_shape(input: np.ndarray, *, value: np.ndarray | None = None) -> np.ndarray:
    """ConstantOfShape-9(input) -> output; fill value defaults to float32 0."""
    if value is None:
        value = np.zeros(1, dtype=np.float32)
    dims = input.tolist()
    if min(dims, default=0) < 0:
        raise ValueError(f"ConstantOfShape: negative dimension in {dims}")
    return np.full(dims, value.reshape(-1)[0], dtype=value.dtype)


def _range(start: np.ndarray, limit: np.ndarray, delta: np.ndarray,
           exact: bool) -> np.ndarray:
    dtype = start.dtype
    s, lim, d = start.item(), limit.item(), delta.item()
    if d == 0:
        raise ValueError("Range: delta must not be 0")
    if dtype.kind in "iu":
        return np.arange(s, lim, d, dtype=dtype)
    n = max(int(np.ceil((float(lim) - float(s)) / float(d))), 0)
    # start + i*delta, computed wide so large ranges stay exact, unless the model asked for
    # half-precision arithmetic (Range-27 stash_type=0).
    work = dtype if not exact and dtype in HALF_FLOATS else np.float64
    out = np.asarray(s, dtype=work) + np.arange(n, dtype=work) * np.asarray(d, dtype=work)
    return out.astype(dtype, copy=False)


@kernel("Range", since=11)
def range_(start: np.ndarray, limit: np.ndarray, delta: np.ndarray, *,
           stash_type: int = 1) -> np.ndarray:
    """Range-11/27(start, limit, delta) -> output [start, start+delta, ...) up to limit;
    stash_type=0 (27) picks half-precision arithmetic, the default is the earlier meaning."""
    return _range(start, limit, delta, stash_type == 1)


@kernel("EyeLike", since=9)
def eye_like(input: np.ndarray, *, dtype: int | None = None, k: int = 0) -> np.ndarray:
    """EyeLike-9(input) -> output 2-D with ones on diagonal k; dtype defaults to input's."""
    if input.ndim != 2:
        raise ValueError(f"EyeLike needs a 2-D input, got shape {input.shape}")
    dt = DType(dtype).np_dtype if dtype is not None else input.dtype
    return np.eye(input.shape[0], input.shape[1], k=k, dtype=dt)
