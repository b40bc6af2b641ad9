"""Kernels: element type conversion (Cast, CastLike, BitCast).

Plain numeric conversions are numpy's ``astype`` (ml_dtypes provides bfloat16, float8,
float4 and the 4/2-bit integers with the wrap-around ONNX specifies for integers). Three
cases need more: float8 targets saturate by default, float8e8m0 has its own rounding modes,
and strings are parsed/printed.
"""

from __future__ import annotations

import ml_dtypes
import numpy as np

from tensorbridge.ir.dtypes import DType
from tensorbridge.runtime.registry import kernel

_FLOAT8 = frozenset(
    np.dtype(t) for t in (ml_dtypes.float8_e4m3fn, ml_dtypes.float8_e4m3fnuz,
                          ml_dtypes.float8_e5m2, ml_dtypes.float8_e5m2fnuz)
)
_E8M0 = np.dtype(ml_dtypes.float8_e8m0fnu)
# The 16-bit floats: numpy computes in them slowly and inexactly, so kernels work in float32.
HALF_FLOATS = (np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16))
_STRING = np.dtype(object)
_E8M0_MAX_CODE = 254  # 0xFF is NaN
_MANTISSA_HALF = 0x400000  # float32 mantissa bits of 1.5 * 2**e: the rounding midpoint


def onnx_dtype(to: int) -> np.dtype:
    """The numpy dtype for an ONNX element type code, with a clear error for bad codes."""
    try:
        return DType(to).np_dtype
    except ValueError as e:
        raise ValueError(f"'to'={to} is not an ONNX element type numpy can hold: {e}") from e


def _to_e8m0(x: np.ndarray, saturate: int, round_mode: str) -> np.ndarray:
    """Power-of-two scale type: the code is the float32 biased exponent, rounded by the
    dropped mantissa bits. Sign is ignored (negative inputs are undefined in the spec)."""
    magnitude = np.asarray(x, dtype=np.float32).view(np.uint32) & 0x7FFFFFFF
    exponent = (magnitude >> 23).astype(np.int32)
    mantissa = magnitude & 0x7FFFFF
    if round_mode == "up":
        exponent += mantissa != 0
    elif round_mode == "nearest":  # ties (1.5 * 2**e) go up
        exponent += mantissa >= _MANTISSA_HALF
    elif round_mode != "down":
        raise ValueError(f"round_mode must be 'up', 'down' or 'nearest', got {round_mode!r}")
    code = np.minimum(exponent, _E8M0_MAX_CODE).astype(np.uint8)
    if not saturate:
        # Out of range (inf, rounding past the max, and zero, which is below the min) is NaN.
        code[(exponent > _E8M0_MAX_CODE) | (magnitude == 0)] = 0xFF
    code[magnitude > 0x7F800000] = 0xFF  # NaN
    return code.view(_E8M0)


def _from_strings(x: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Parse decimal/scientific literals; Python's float() already accepts INF/+INF/NaN in any case."""
    if dtype == np.bool_:
        return x.astype(np.float64).astype(np.bool_)
    if dtype.kind in "iu":
        try:
            return x.astype(np.int64).astype(dtype)
        except (ValueError, OverflowError):
            pass  # "2.5" or "1e3" into an integer: undefined by the spec; go through float
    return cast_array(x.astype(np.float64), dtype)


def _to_strings(x: np.ndarray) -> np.ndarray:
    """Text as onnxruntime prints it: integers in full, bools as 1/0, floats with 8
    significant digits ('%.8g': '0.1', '3', '1e-07') and the spec's INF/-INF/NaN literals."""
    if x.dtype == np.bool_:
        return np.where(x, "1", "0").astype(object)
    if x.dtype.kind in "iu":
        return x.astype(np.str_).astype(object)
    f = x.astype(np.float64)
    out = np.char.mod("%.8g", f).astype(object)
    out[np.isnan(f)] = "NaN"
    out[np.isposinf(f)] = "INF"
    out[np.isneginf(f)] = "-INF"
    return out


def cast_array(x: np.ndarray, dtype: np.dtype, saturate: int = 1,
               round_mode: str = "up") -> np.ndarray:
    """Convert ``x`` to ``dtype`` with ONNX Cast semantics."""
    if x.dtype == dtype:
        return x
    if x.dtype == _STRING:
        return _from_strings(x, dtype)
    if dtype == _STRING:
        return _to_strings(x)
    if dtype in _FLOAT8:
        if not saturate:
            return x.astype(dtype)
        # Saturation: out-of-range values (and +-inf) become the largest finite value.
        src = x if x.dtype in (np.float32, np.float64) else x.astype(np.float32)
        limit = float(ml_dtypes.finfo(dtype).max)
        return np.clip(src, -limit, limit).astype(dtype)
    if dtype == _E8M0:
        return _to_e8m0(x, saturate, round_mode)
    return x.astype(dtype)


@kernel("Cast", since=6)
def cast(input: np.ndarray, *, to: int, saturate: int = 1, round_mode: str = "up") -> np.ndarray:
    """Cast-6/9/13/19/21/23/24/25/28: convert to element type ``to``; ``saturate`` (19)
    clamps float8 overflow to the max, ``round_mode`` (24) rounds float8e8m0 targets. The
    defaults are the earlier versions' meaning (they have no float8 types). Cast-1's type
    name is rewritten by ir/op_versions.py."""
    return cast_array(input, onnx_dtype(to), saturate, round_mode)


@kernel("CastLike", since=15)
def cast_like(input: np.ndarray, target_type: np.ndarray, *, saturate: int = 1,
              round_mode: str = "up") -> np.ndarray:
    """CastLike-15/19/21/23/24/25: convert to target_type's element type; ``saturate`` (19)
    and ``round_mode`` (24) as for Cast."""
    return cast_array(input, target_type.dtype, saturate, round_mode)


@kernel("BitCast", since=26)
def bit_cast(input: np.ndarray, *, to: int) -> np.ndarray:
    """BitCast-26: reinterpret the bits of each element as type ``to`` (same bit width)."""
    src, dst = DType.from_numpy(input.dtype), DType(to)
    if dst == DType.STRING or src == DType.STRING or src.itemsize_bits != dst.itemsize_bits:
        raise ValueError(
            f"BitCast needs non-string types of one bit width; got {src.name} "
            f"({src.itemsize_bits} bits) -> {dst.name}"
        )
    # numpy views are host-endian; every platform we run on is little endian like the spec.
    return input.view(dst.np_dtype)
