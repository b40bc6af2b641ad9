"""Cast emitters (Cast, CastLike, BitCast) and the dtype plumbing the emitter families share.

Plain conversions are ``Tensor.to``; float8 targets saturate by default (torch's own
conversion saturates float8e4m3fn and overflows float8e5m2 to inf, so both modes are
spelled out); host values stay host values when the target is an integer type, so shape
arithmetic keeps flowing through ``Cast(Shape(x))``.

Dtype decisions read the IR types (:func:`dtype_of`): under ``torch.fx`` tracing a
tensor's ``.dtype`` is a proxy that cannot be branched on. torch has CPU kernels for
uint16/32/64 in only a few ops (mul, eq, sum, bitwise and/or/xor, casts); the others run
on an int64 image: widened for uint16/32 (exact), the same 64 bits for uint64. Ring
operations (add, sub, mul, neg, left shift, bitwise) wrap back exactly (:func:`wrapping`);
order-dependent ones use an order-preserving image (:func:`ordering`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.context import to_dtype
from tensorbridge.converters.pytorch.from_ir.dtypes import torch_dtype
from tensorbridge.converters.pytorch.from_ir.host import Host, T, host_unary
from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import UnsupportedOpError
from tensorbridge.ir.types import TensorType

LAYER = "PyTorch emitter"
UNSIGNED = (torch.uint16, torch.uint32, torch.uint64)
_SIGN = -(2**63)  # the int64 sign bit
_HALF = (torch.float16, torch.bfloat16)


def dtype_of(ctx: EmitContext | None, i: int, x: Any) -> torch.dtype | None:
    """The torch dtype of input ``i``: the IR type's (static under tracing), else ``x``'s
    own; None for an untyped value under torch.fx tracing (``x.dtype`` is a proxy there)."""
    t = ctx.input_types[i] if ctx is not None and i < len(ctx.input_types) else None
    if isinstance(t, TensorType) and t.dtype is not None:
        return torch_dtype(t.dtype)
    dtype = getattr(x, "dtype", None)
    return dtype if isinstance(dtype, torch.dtype) else None


def work_dtype(dtype: torch.dtype | None) -> torch.dtype | None:
    """The computation type: float16/bfloat16 are accumulated in float32."""
    return torch.float32 if dtype in _HALF else dtype


def known_dtype(ctx: EmitContext | None, i: int, x: Any, op_type: str) -> torch.dtype:
    """:func:`dtype_of` for an emitter whose computation depends on it."""
    dtype = dtype_of(ctx, i, x)
    if dtype is None:
        raise UnsupportedOpError(LAYER, op_type, node=ctx.node_name if ctx else "",
                                 hint=f"the element type of input {i} is unknown under torch.fx "
                                 "tracing; give the IR value types (ONNX shape inference)")
    return dtype


# --------------------------------------------------------------------------------------
# Unsigned types torch lacks kernels for


def as_int64(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``x`` of unsigned ``dtype`` in int64: uint16/32 widened, uint64 with the same bits."""
    return x.view(torch.int64) if dtype == torch.uint64 else x.to(torch.int64)


def from_int64(y: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Inverse of :func:`as_int64`; narrower types wrap modulo 2**bits, as ONNX integers do."""
    return y.view(torch.uint64) if dtype == torch.uint64 else y.to(dtype)


def ordered(x: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """An int64 image of ``x`` (unsigned ``dtype``) with the same order: flipping uint64's
    top bit maps [0, 2**64) monotonically onto the int64 range."""
    return x.view(torch.int64) ^ _SIGN if dtype == torch.uint64 else x.to(torch.int64)


def from_ordered(y: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    return (y ^ _SIGN).view(torch.uint64) if dtype == torch.uint64 else y.to(dtype)


def wrapping(dtype: torch.dtype | None, fn: Callable[..., torch.Tensor], *xs: torch.Tensor) -> torch.Tensor:
    """``fn`` on operands of ``dtype``, where the low bits of the result depend only on the
    low bits of the operands (add, sub, mul, neg, left shift, bitwise): exact on the image."""
    if dtype is None or dtype not in UNSIGNED:
        return fn(*xs)
    return from_int64(fn(*(as_int64(x, dtype) for x in xs)), dtype)


def ordering(dtype: torch.dtype | None, fn: Callable[..., torch.Tensor], *xs: torch.Tensor,
             keep: bool = True) -> torch.Tensor:
    """``fn`` on operands of ``dtype`` that only compares them (max, <, argmax...), on the
    ordered image; ``keep``: the result holds operand values, mapped back to ``dtype``."""
    if dtype is None or dtype not in UNSIGNED:
        return fn(*xs)
    y = fn(*(ordered(x, dtype) for x in xs))
    return from_ordered(y, dtype) if keep else y


# --------------------------------------------------------------------------------------
# Cast

_FLOAT8 = (torch.float8_e4m3fn, torch.float8_e5m2, torch.float8_e4m3fnuz, torch.float8_e5m2fnuz)
# float8e4m3fn has no infinity: beyond the rounding midpoint between its max (448) and the
# next step (480) a non-saturating conversion gives NaN; torch's own conversion saturates.
_E4M3FN_OVERFLOW = 464.0


def _wrap_int(v: Any, dtype: torch.dtype) -> Any:
    if dtype == torch.bool:
        return bool(v) if isinstance(v, int | float) else v != 0
    if not isinstance(v, int | float):
        return v  # a symbolic size: non-negative and in range of every index type
    bits = torch.iinfo(dtype).bits
    v = int(v) % (1 << bits)
    return v - (1 << bits) if dtype.is_signed and v >= 1 << (bits - 1) else v


def _to_float8(x: torch.Tensor, src_dtype: torch.dtype | None, dtype: torch.dtype,
               saturate: int) -> torch.Tensor:
    src = x if src_dtype is not None and src_dtype.is_floating_point else x.to(torch.float32)
    if saturate:  # out-of-range values and +-inf become the largest finite value
        limit = torch.finfo(dtype).max
        return src.clamp(-limit, limit).to(dtype)
    if dtype == torch.float8_e4m3fn:
        src = torch.where(src.abs() > _E4M3FN_OVERFLOW, float("nan"), src)
    return src.to(dtype)


def cast_to(input: Any, to: DType, saturate: int = 1, ctx: EmitContext | None = None,
            op_type: str = "Cast") -> Any:
    """``input`` converted to ONNX type ``to``; host values stay host values for integer
    targets."""
    src = ctx.input_types[0] if ctx is not None and ctx.input_types else None
    if to == DType.STRING or getattr(src, "dtype", None) == DType.STRING:
        raise UnsupportedOpError(LAYER, op_type, node=ctx.node_name if ctx else "",
                                 hint="PyTorch has no string tensors; cast strings before conversion")
    dtype = torch_dtype(to)
    if isinstance(input, Host):
        if not (dtype.is_floating_point or dtype.is_complex):
            return host_unary(lambda v: _wrap_int(v, dtype), input, dtype)
        input = T(input)
    src_dtype = dtype_of(ctx, 0, input)
    if src_dtype == dtype:
        return input
    if dtype in _FLOAT8:
        return _to_float8(input, src_dtype, dtype, saturate)
    return input.to(dtype)


@emits("Cast", since=6)
def cast(input: Any, *, to: int, saturate: int = 1, round_mode: str = "up", ctx: EmitContext) -> Any:
    """Cast-6/9/13/19/21/23/24/25/28: convert to element type ``to``. ``saturate`` (from 19,
    default 1) clamps float8 overflow to the max; before 19 there are no float8 types, so
    it changes nothing. ``round_mode`` (from 24) only concerns float8e8m0, which PyTorch
    cannot convert to (rejected with the dtype). (Cast-1's type names: ir/op_versions.py.)"""
    return cast_to(input, DType(to), saturate, ctx)


def _like(target_type: Any, ctx: EmitContext) -> DType:
    return to_dtype(known_dtype(ctx, 1, target_type, "CastLike"))


@emits("CastLike", since=15)
def cast_like(input: Any, target_type: Any, *, saturate: int = 1, round_mode: str = "up",
              ctx: EmitContext) -> Any:
    """CastLike-15/19/21/23/24/25: convert to target_type's element type. ``saturate``
    (19, default 1) clamps float8 overflow; before 19 there are no float8 types, so it
    changes nothing. ``round_mode`` (24) only concerns float8e8m0, which PyTorch cannot
    convert to."""
    return cast_to(input, _like(target_type, ctx), saturate, ctx, op_type="CastLike")


@emits("BitCast", since=26)
def bit_cast(input: Any, *, to: int, ctx: EmitContext | None = None) -> Any:
    """BitCast-26: reinterpret the bits of each element as type ``to`` (same bit width)."""
    x = T(input)
    dst = torch_dtype(DType(to))
    src = dtype_of(ctx, 0, x)
    if src is not None and src.itemsize != dst.itemsize:
        raise UnsupportedOpError(LAYER, "BitCast", hint=f"{src} and {dst} differ in bit width")
    return x.view(dst)  # torch, like the spec, is little endian on every supported CPU
