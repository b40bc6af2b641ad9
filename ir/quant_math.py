"""The ONNX linear-quantization rules written once: how a scale / zero point broadcasts
against the tensor it quantizes (per tensor, per axis, blocked), which type a
QuantizeLinear produces and a DequantizeLinear returns, the type the division runs in, the
saturation range of every target type, the order "round half to even, then add the zero
point, then saturate", DynamicQuantizeLinear's scale / zero-point formula, and the shapes a
per-row / per-column / per-channel parameter of the integer products takes.

The runtime kernel and both emitters run this code with their own array operations (an
object following :class:`QuantOps`); the integer accumulation of MatMulInteger,
QLinearMatMul, ConvInteger and QLinearConv stays in each layer. Shapes are sequences whose
dims are Python ints, or anything else (a symbol, a framework scalar) when only known at
run time: a check whose dims are not all ints is left to run time.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import ml_dtypes
import numpy as np

from tensorbridge.ir.dtypes import DType

PER_TENSOR = "per tensor"
PER_AXIS = "per axis"
BLOCKED = "blocked"

# QuantizeLinear-25's T2 (and DequantizeLinear's T1): the types a value can be quantized to
QUANTIZED_TYPES = frozenset({
    DType.INT8, DType.UINT8, DType.INT16, DType.UINT16, DType.INT4, DType.UINT4, DType.INT2,
    DType.UINT2, DType.FLOAT8E4M3FN, DType.FLOAT8E4M3FNUZ, DType.FLOAT8E5M2,
    DType.FLOAT8E5M2FNUZ, DType.FLOAT4E2M1,
})


class QuantOps(Protocol):
    """The array operations the quantization maths calls (numpy, torch or TF spellings)."""

    def cast(self, x: Any, dtype: DType, saturate: int = 1) -> Any:
        """``x`` converted to ``dtype`` by the layer's Cast (float8 overflow saturating or
        not, per ``saturate``); ``x`` itself when it has that type already."""
    def reshape(self, x: Any, shape: list[int]) -> Any: ...
    def repeat(self, x: Any, repeats: int, axis: int) -> Any:
        """Each entry ``repeats`` times in a row along ``axis`` (numpy's ``repeat``)."""
    def narrow(self, x: Any, axis: int, length: Any) -> Any:
        """The first ``length`` entries along ``axis``."""
    def rint(self, x: Any) -> Any:
        """Round half to even. May overwrite ``x``: the maths passes only values it
        computed (and :func:`round_saturate`'s ``v``, scratch by contract)."""
    def clip(self, x: Any, lo: float, hi: float) -> Any:
        """May overwrite ``x``, as :meth:`rint`."""
    def where(self, cond: Any, a: Any, b: Any) -> Any:
        """Elementwise choice; ``a`` may be a Python number (in ``b``'s type)."""
    def extent(self, x: Any) -> tuple[Any, Any]:
        """(min(min(x), 0), max(max(x), 0)) as float32 scalars; (0, 0) for an empty x."""


# ------------------------------------------------------------------------ types


def saturation_range(dtype: DType) -> tuple[float, float]:
    """The (min, max) a quantized value of ``dtype`` saturates to: the integer range, or
    +-the largest finite value of a float8 / float4 type."""
    if dtype.is_integer:
        info = np.iinfo(dtype.np_dtype) if dtype.itemsize_bits >= 8 else \
            ml_dtypes.iinfo(dtype.np_dtype)
        return int(info.min), int(info.max)
    if dtype in QUANTIZED_TYPES:
        top = float(ml_dtypes.finfo(dtype.np_dtype).max)
        return -top, top
    raise ValueError(f"{dtype.name} is not a quantized type (one of "
                     f"{', '.join(sorted(d.name for d in QUANTIZED_TYPES))})")


def compute_type(dtype: DType) -> DType:
    """The type (de)quantization arithmetic runs in: DOUBLE stays DOUBLE, everything else
    computes in FLOAT (float16 / bfloat16 products are exact there, rounded once)."""
    return DType.DOUBLE if dtype == DType.DOUBLE else DType.FLOAT


def _element_type(code: int, what: str, op: str) -> DType:
    try:
        return DType(code)
    except ValueError:
        raise ValueError(f"{op}: {what}={code} is not an ONNX element type code") from None


def quantize_target(zero_point: DType | None, output_dtype: int = 0,
                    op: str = "QuantizeLinear") -> DType:
    """The quantized type: the zero point's, else the ``output_dtype`` attribute's, else
    UINT8; both given must agree."""
    if output_dtype:
        out = _element_type(output_dtype, "output_dtype", op)
        if zero_point is not None and zero_point != out:
            raise ValueError(f"{op}: output_dtype {out.name} differs from y_zero_point's type "
                             f"{zero_point.name}; drop one or make them agree")
    else:
        out = zero_point if zero_point is not None else DType.UINT8
    if out not in QUANTIZED_TYPES:
        raise ValueError(f"{op}: cannot quantize to {out.name}; the target must be one of "
                         f"{', '.join(sorted(d.name for d in QUANTIZED_TYPES))}")
    return out


def division_type(scale: DType, precision: int = 0, op: str = "QuantizeLinear") -> DType:
    """The type x / y_scale is computed in: the ``precision`` attribute's (23), else
    DOUBLE for a DOUBLE scale, else FLOAT. The quotient is rounded from
    :func:`compute_type` of it."""
    if precision:
        return _element_type(precision, "precision", op)
    return compute_type(scale)


def dequantize_output(scale: DType, output_dtype: int = 0,
                      op: str = "DequantizeLinear") -> DType:
    """The dequantized type: ``output_dtype`` (23), else the scale's; a FLOAT8E8M0 scale
    (a power of two, no arithmetic type) gives FLOAT."""
    if output_dtype:
        return _element_type(output_dtype, "output_dtype", op)
    return DType.FLOAT if scale == DType.FLOAT8E8M0 else scale


# ----------------------------------------------------------------------- layouts


@dataclass(frozen=True)
class Layout:
    """How one scale or zero point broadcasts against x: ``kind`` is PER_TENSOR, PER_AXIS
    or BLOCKED; ``axis`` is normalised; ``length`` is x's length on it (BLOCKED)."""

    kind: str
    rank: int
    axis: int = 0
    block_size: int = 0
    length: Any = None


def _known(*dims: Any) -> bool:
    return all(isinstance(d, int) for d in dims)


def normalize_axis(axis: int, rank: int, op: str) -> int:
    """``axis`` in [0, rank); a negative one counts from the end."""
    if not -rank <= axis < rank:
        raise ValueError(f"{op}: axis {axis} is out of range for an input of rank {rank}")
    return axis % rank


def _blocked(x_shape: Sequence[Any], p_shape: Sequence[Any], axis: int, block_size: int,
             op: str, name: str) -> Layout:
    rank = len(x_shape)
    if len(p_shape) != rank:
        raise ValueError(f"{op}: blocked quantization (block_size={block_size}) needs {name} of "
                         f"the input's rank {rank}; got shape {tuple(p_shape)} for input shape "
                         f"{tuple(x_shape)}")
    axis = normalize_axis(axis, rank, op)
    for a, (n, m) in enumerate(zip(x_shape, p_shape, strict=True)):
        if not _known(n, m):
            continue
        want = math.ceil(n / block_size) if a == axis else n
        if m != want:
            raise ValueError(
                f"{op}: {name} of shape {tuple(p_shape)} does not fit input shape "
                f"{tuple(x_shape)} with block_size {block_size} on axis {axis}: dim {a} must "
                f"be {want}" + (f" (ceil({n} / {block_size}) blocks)" if a == axis else ""))
    return Layout(BLOCKED, rank, axis, block_size, x_shape[axis])


def layout(x_shape: Sequence[Any], p_shape: Sequence[Any], axis: int = 1,
           block_size: int = 0, op: str = "QuantizeLinear", name: str = "the scale") -> Layout:
    """The granularity ``p_shape`` (a scale's or zero point's) selects against x: a scalar
    or 1-element vector is per tensor, a vector per ``axis`` (its length that axis's), a
    tensor of x's rank blocked along ``axis`` with ``block_size`` entries per value (as
    many blocks as ceil(length / block_size), the last one possibly short)."""
    rank = len(x_shape)
    if block_size < 0:
        raise ValueError(f"{op}: block_size must be >= 0, got {block_size}")
    if block_size > 0:
        return _blocked(x_shape, p_shape, axis, block_size, op, name)
    if len(p_shape) == 0 or (len(p_shape) == 1 and p_shape[0] == 1):
        return Layout(PER_TENSOR, rank)
    if len(p_shape) == 1 and rank > 0:
        axis = normalize_axis(axis, rank, op)
        if _known(p_shape[0], x_shape[axis]) and p_shape[0] != x_shape[axis]:
            raise ValueError(f"{op}: per-axis {name} has {p_shape[0]} values but axis {axis} of "
                             f"the input shape {tuple(x_shape)} has {x_shape[axis]}")
        return Layout(PER_AXIS, rank, axis)
    raise ValueError(f"{op}: {name} of shape {tuple(p_shape)} is neither a scalar, a vector (per "
                     f"axis) nor of the input's rank {rank} (blocked: set block_size); input "
                     f"shape {tuple(x_shape)}")


def broadcast(p: Any, lay: Layout, xp: QuantOps) -> Any:
    """``p`` reshaped (per tensor, per axis) or repeated and cut (blocked) so that it
    broadcasts against x."""
    if lay.kind == PER_TENSOR:
        return xp.reshape(p, [])
    if lay.kind == PER_AXIS:
        return xp.reshape(p, [-1] + [1] * (lay.rank - 1 - lay.axis))
    return xp.narrow(xp.repeat(p, lay.block_size, lay.axis), lay.axis, lay.length)


# ------------------------------------------------------------- the two directions


def round_saturate(v: Any, zero_point: Any, target: DType, saturate: int,
                   xp: QuantOps) -> Any:
    """round(v) + zero_point saturated into ``target`` (``v`` float32/64 scratch the caller
    gives up, the zero point in v's type or None). Integer targets round half to even *before* the zero point is added,
    as the spec writes it (with an odd zero point, rounding v + zp would pick the other
    neighbour of a tie); float targets round in the conversion itself, clamped to their
    largest finite value unless ``saturate`` is 0 (then the Cast's overflow rules hold)."""
    lo, hi = saturation_range(target)
    if target.is_integer:
        v = xp.rint(v)
    if zero_point is not None:
        v = v + zero_point
    if target.is_integer or saturate:
        v = xp.clip(v, lo, hi)
    return xp.cast(v, target, saturate)


@dataclass(frozen=True)
class QuantizeSpec:
    """One QuantizeLinear node's decisions (see :func:`quantize_spec`)."""

    target: DType
    division: DType
    scale: Layout
    zero_point: Layout | None
    saturate: int = 1


def quantize_spec(x_shape: Sequence[Any], scale: tuple[Sequence[Any], DType],
                  zero_point: tuple[Sequence[Any], DType] | None, *, axis: int = 1,
                  block_size: int = 0, output_dtype: int = 0, precision: int = 0,
                  saturate: int = 1, op: str = "QuantizeLinear") -> QuantizeSpec:
    """Target type, division type and layouts of a QuantizeLinear; ``scale`` and
    ``zero_point`` are (shape, type) pairs, ``zero_point`` None when absent."""
    target = quantize_target(None if zero_point is None else zero_point[1], output_dtype, op)
    zp = None if zero_point is None else \
        layout(x_shape, zero_point[0], axis, block_size, op, "y_zero_point")
    return QuantizeSpec(target, division_type(scale[1], precision, op),
                        layout(x_shape, scale[0], axis, block_size, op, "y_scale"), zp, saturate)


def quantize(x: Any, y_scale: Any, y_zero_point: Any, spec: QuantizeSpec, xp: QuantOps) -> Any:
    """y = saturate(round(x / y_scale) + y_zero_point)."""
    work = spec.division
    v = xp.cast(x, work) / broadcast(xp.cast(y_scale, work), spec.scale, xp)
    rounding = compute_type(work)  # a float16/bfloat16 quotient still rounds from float32
    v = xp.cast(v, rounding)
    zp = None
    if y_zero_point is not None and spec.zero_point is not None:
        zp = broadcast(xp.cast(y_zero_point, rounding), spec.zero_point, xp)
    return round_saturate(v, zp, spec.target, spec.saturate, xp)


@dataclass(frozen=True)
class DequantizeSpec:
    """One DequantizeLinear node's decisions (see :func:`dequantize_spec`)."""

    output: DType
    scale: Layout
    zero_point: Layout | None


def dequantize_spec(x_shape: Sequence[Any], scale: tuple[Sequence[Any], DType],
                    zero_point_shape: Sequence[Any] | None, *, axis: int = 1,
                    block_size: int = 0, output_dtype: int = 0,
                    op: str = "DequantizeLinear") -> DequantizeSpec:
    """Output type and layouts of a DequantizeLinear; ``scale`` is a (shape, type) pair."""
    zp = None if zero_point_shape is None else \
        layout(x_shape, zero_point_shape, axis, block_size, op, "x_zero_point")
    return DequantizeSpec(dequantize_output(scale[1], output_dtype, op),
                          layout(x_shape, scale[0], axis, block_size, op, "x_scale"), zp)


def dequantize(x: Any, x_scale: Any, x_zero_point: Any, spec: DequantizeSpec,
               xp: QuantOps) -> Any:
    """y = (x - x_zero_point) * x_scale, computed in :func:`compute_type` of the output and
    rounded once to it."""
    work = compute_type(spec.output)
    v = xp.cast(x, work)
    if x_zero_point is not None and spec.zero_point is not None:
        v = v - broadcast(xp.cast(x_zero_point, work), spec.zero_point, xp)
    v = v * broadcast(xp.cast(x_scale, work), spec.scale, xp)
    return xp.cast(v, spec.output)


def dynamic_quantize(x: Any, xp: QuantOps) -> tuple[Any, Any, Any]:
    """DynamicQuantizeLinear in float32: with [lo, hi] x's range widened to include 0,
    y_scale = (hi - lo) / (qmax - qmin), y_zero_point = saturate(round(qmin - lo / y_scale)),
    y = saturate(round(x / y_scale) + y_zero_point) for uint8. An all-zero x has scale 0;
    any divisor then gives the right zeros and 1 avoids dividing by zero."""
    qmin, qmax = saturation_range(DType.UINT8)
    lo, hi = xp.extent(x)
    scale = (hi - lo) / (qmax - qmin)
    divisor = xp.where(scale == 0, 1, scale)
    zero_point = xp.clip(xp.rint(qmin - lo / divisor), qmin, qmax)
    y = round_saturate(xp.cast(x, DType.FLOAT) / divisor, zero_point, DType.UINT8, 1, xp)
    return y, scale, xp.cast(zero_point, DType.UINT8)


# ------------------------------------------------- parameters of the integer products


def matmul_param_shape(p_shape: Sequence[Any], m_shape: Sequence[Any], per_row: bool,
                       op: str, name: str) -> list[int] | None:
    """The reshape a MatMulInteger / QLinearMatMul scale or zero point needs to broadcast
    against its operand, None when it broadcasts as it is. A vector is one value per row
    of a (``per_row``: length M, reshaped to (M, 1)) or per column of b (length N); a
    scalar, a 1-element vector or an N-D tensor (e.g. [D1, M, 1]) broadcasts as it is."""
    if len(p_shape) != 1 or p_shape[0] == 1 or len(m_shape) < 2:
        return None
    want = m_shape[-2] if per_row else m_shape[-1]
    if _known(p_shape[0], want) and p_shape[0] != want:
        kind = "rows" if per_row else "columns"
        raise ValueError(f"{op}: {name} has {p_shape[0]} values but its operand of shape "
                         f"{tuple(m_shape)} has {want} {kind}")
    return [-1, 1] if per_row else None


def channel_param_shape(p_shape: Sequence[Any], channels: Any, trailing: int, op: str,
                        name: str) -> list[int]:
    """The reshape of a ConvInteger / QLinearConv scale or zero point: one value ([]), or
    with ``channels`` given, one per output channel ([-1] + [1] * trailing, to broadcast
    against w or against y's channel axis)."""
    size = math.prod(p_shape) if _known(*p_shape) else None
    if size == 1:
        return []
    if channels is not None and len(p_shape) == 1 and (
            not _known(p_shape[0], channels) or p_shape[0] == channels):
        return [-1] + [1] * trailing
    allowed = "a scalar" if channels is None else f"a scalar or a vector of {channels} values"
    raise ValueError(f"{op}: {name} must be {allowed} (one per output channel), got shape "
                     f"{tuple(p_shape)}")
