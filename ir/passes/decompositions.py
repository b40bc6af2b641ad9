"""Decompositions of the ONNX function ops newer than an export's opset into the ops they
are defined by (the equations of each op's ONNX schema): Gelu (20, exact and tanh forms),
LayerNormalization (17), RMSNormalization (23), GroupNormalization (18/21), Mish (18),
HardSwish (14) and Swish (24). Attention (23) lives in ``decompose_attention.py``.

Each function is a lowering rule: it receives an :class:`OpBuilder` on the op to replace
and builds the replacement at the builder's opset (13 or newer)."""

from __future__ import annotations

import math

from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import UnsupportedOpError
from tensorbridge.ir.node import Value
from tensorbridge.ir.passes.opset_builder import OpBuilder


def unsupported(b: OpBuilder, why: str) -> UnsupportedOpError:
    """The error a rule raises for a form of the op it cannot express at the target."""
    return UnsupportedOpError(f"lowering to opset {b.opset}", b.node.op_type, node=b.node.name,
                              domain=b.node.domain, source=b.node.provenance.location,
                              hint=f"{why}; keep a newer opset for this model")


def _x(b: OpBuilder) -> tuple[Value, DType]:
    x = b.inputs()[0]
    if x is None or x.dtype is None:
        raise unsupported(b, "the input's element type is unknown")
    return x, x.dtype


def _norm_axes(b: OpBuilder, x: Value, axis: int) -> list[int]:
    """``[axis, ..., rank - 1]`` as negative axes (no rank needed when ``axis`` < 0)."""
    if axis < 0:
        return list(range(axis, 0))
    rank = b.rank(x)
    if rank is None:
        raise unsupported(b, f"axis={axis} with an input of unknown rank")
    return list(range(axis - rank, 0))


def _stash(b: OpBuilder) -> DType:
    stash = DType(int(b.attr("stash_type", 1)))
    if not stash.is_float:
        raise unsupported(b, f"stash_type={int(stash)} is not a floating-point type")
    return stash


# ---------------------------------------------------------------- activations
def gelu(b: OpBuilder) -> None:
    """Gelu-20: ``0.5 x (1 + erf(x / sqrt 2))``, or with approximate="tanh"
    ``0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))``."""
    x, dt = _x(b)
    if b.attr("approximate", "none") == "tanh":
        cube = b.op("Mul", [b.op("Mul", [x, x], dtype=dt), x], dtype=dt)
        inner = b.op("Add", [x, b.op("Mul", [cube, b.scalar(0.044715, dt, "gelu_c")], dtype=dt)], dtype=dt)
        core = b.op("Tanh", [b.op("Mul", [inner, b.scalar(math.sqrt(2 / math.pi), dt, "sqrt_2_pi")], dtype=dt)],
                    dtype=dt)
    else:
        core = b.op("Erf", [b.op("Div", [x, b.scalar(math.sqrt(2.0), dt, "sqrt2")], dtype=dt)], dtype=dt)
    one_plus = b.op("Add", [core, b.scalar(1.0, dt, "one")], dtype=dt)
    half_x = b.op("Mul", [x, b.scalar(0.5, dt, "half")], dtype=dt)
    b.replace([b.op("Mul", [half_x, one_plus], dtype=dt)])


def mish(b: OpBuilder) -> None:
    """Mish-18: ``x tanh(softplus(x))``."""
    x, dt = _x(b)
    b.replace([b.op("Mul", [x, b.op("Tanh", [b.op("Softplus", [x], dtype=dt)], dtype=dt)], dtype=dt)])


def hard_swish(b: OpBuilder) -> None:
    """HardSwish-14: ``x HardSigmoid<alpha=1/6, beta=0.5>(x)``."""
    x, dt = _x(b)
    hs = b.op("HardSigmoid", [x], {"alpha": 1.0 / 6.0, "beta": 0.5}, dtype=dt)
    b.replace([b.op("Mul", [x, hs], dtype=dt)])


def swish(b: OpBuilder) -> None:
    """Swish-24: ``x sigmoid(alpha x)``."""
    x, dt = _x(b)
    alpha = float(b.attr("alpha", 1.0))
    ax = x if alpha == 1.0 else b.op("Mul", [x, b.scalar(alpha, dt, "alpha")], dtype=dt)
    b.replace([b.op("Mul", [x, b.op("Sigmoid", [ax], dtype=dt)], dtype=dt)])


# ---------------------------------------------------------------- normalizations
def layer_normalization(b: OpBuilder) -> None:
    """LayerNormalization-17, stage one in ``stash_type``: mean, centred, variance,
    ``centred / sqrt(var + eps)`` (InvStdDev = Reciprocal of the deviation when used), cast
    back to X's type, then ``* Scale + B``."""
    x, dt = _x(b)
    ins = b.inputs()
    scale, bias = ins[1], ins[2] if len(ins) > 2 else None
    stash = _stash(b)
    axes = _norm_axes(b, x, int(b.attr("axis", -1)))
    eps = float(b.attr("epsilon", 1e-5))
    xs = b.cast(x, stash)
    mean = b.reduce("ReduceMean", xs, axes, dtype=stash)
    centred = b.op("Sub", [xs, mean], dtype=stash)
    var = b.reduce("ReduceMean", b.op("Mul", [centred, centred], dtype=stash), axes, dtype=stash)
    std = b.op("Sqrt", [b.op("Add", [var, b.scalar(eps, stash, "epsilon")], dtype=stash)], dtype=stash)
    outs = b.outputs()
    inv_std = None
    if len(outs) > 2 and outs[2] is not None:
        inv_std = b.op("Reciprocal", [std], dtype=stash)
    normalized = b.cast(b.op("Div", [centred, std], dtype=stash), dt)
    y = b.op("Mul", [normalized, scale], dtype=dt)
    if bias is not None:
        y = b.op("Add", [y, bias], dtype=dt)
    b.replace([y, mean, inv_std])


def rms_normalization(b: OpBuilder) -> None:
    """RMSNormalization-23: ``X / sqrt(mean(X^2) + eps)`` in ``stash_type``, cast back, ``* scale``."""
    x, dt = _x(b)
    scale = b.inputs()[1]
    out_dt = scale.dtype if scale is not None and scale.dtype is not None else dt
    stash = _stash(b)
    axes = _norm_axes(b, x, int(b.attr("axis", -1)))
    xs = b.cast(x, stash)
    mean_sq = b.reduce("ReduceMean", b.op("Mul", [xs, xs], dtype=stash), axes, dtype=stash)
    rms = b.op("Sqrt", [b.op("Add", [mean_sq, b.scalar(float(b.attr("epsilon", 1e-5)), stash, "epsilon")],
                             dtype=stash)], dtype=stash)
    normalized = b.cast(b.op("Div", [xs, rms], dtype=stash), out_dt)
    b.replace([b.op("Mul", [normalized, scale], dtype=out_dt)])


def group_normalization(b: OpBuilder) -> None:
    """GroupNormalization: X (N, C, ...) viewed as (N, G, C/G * spatial), normalized per
    group in ``stash_type``, reshaped back; then the affine per channel (opset 21) or per
    group (opset 18, where scale and bias have G elements)."""
    x, dt = _x(b)
    scale, bias = b.inputs()[1], b.inputs()[2]
    if scale is None or bias is None:
        raise unsupported(b, "scale and bias are required")
    rank = b.rank(x)
    if rank is None or rank < 3:
        raise unsupported(b, "needs an input of known rank >= 3")
    groups = int(b.attr("num_groups"))
    per_channel = b.source_since >= 21  # GroupNormalization-18's affine is per group
    stash = _stash(b) if per_channel else dt
    eps = float(b.attr("epsilon", 1e-5))
    grouped = b.op("Reshape", [b.cast(x, stash), b.ints([0, groups, -1], "grouped")], dtype=stash)
    mean = b.reduce("ReduceMean", grouped, [2], dtype=stash)
    centred = b.op("Sub", [grouped, mean], dtype=stash)
    var = b.reduce("ReduceMean", b.op("Mul", [centred, centred], dtype=stash), [2], dtype=stash)
    std = b.op("Sqrt", [b.op("Add", [var, b.scalar(eps, stash, "epsilon")], dtype=stash)], dtype=stash)
    normalized = b.cast(b.op("Div", [centred, std], dtype=stash), dt)
    if not per_channel:  # opset 18: the affine is per group, applied before the reshape back
        g_scale = b.op("Reshape", [scale, b.ints([groups, 1], "group_vec")], dtype=dt)
        g_bias = b.op("Reshape", [bias, b.ints([groups, 1], "group_vec")], dtype=dt)
        normalized = b.op("Add", [b.op("Mul", [normalized, g_scale], dtype=dt), g_bias], dtype=dt)
    y = b.op("Reshape", [normalized, b.op("Shape", [x], dtype=DType.INT64)], dtype=dt, shape=x.shape)
    if per_channel:
        c_shape = b.ints([-1] + [1] * (rank - 2), "channel_vec")
        y = b.op("Add", [b.op("Mul", [y, b.op("Reshape", [scale, c_shape], dtype=dt)], dtype=dt),
                         b.op("Reshape", [bias, c_shape], dtype=dt)], dtype=dt)
    b.replace([y])

