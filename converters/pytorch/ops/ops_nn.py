"""Neural-network layers: convolution and pooling -> ONNX Conv, ConvTranspose, MaxPool,
AveragePool and the Global* pools. Also the small helpers the other layer modules
(``ops_norm``, ``ops_resize``, ``ops_rnn``) share. Each function's docstring is the ATen schema."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import numpy as np

from tensorbridge.converters.pytorch.context import Ctx
from tensorbridge.converters.pytorch.registry import aten
from tensorbridge.ir.node import Value


# ---------------------------------------------------------------- shared helpers
def spatial(ctx: Ctx, v: Any, n: int) -> list[int]:
    """An ATen ``int[n]`` argument (an int, or a 1-element list that broadcasts) as n ints."""
    xs = [v] if isinstance(v, int) else list(v)
    if len(xs) == 1:
        xs = xs * n
    if len(xs) != n or any(isinstance(x, Value) for x in xs):
        raise ctx.fail(f"expected {n} static ints (kernel, stride, padding or dilation), got {v!r}")
    return [int(x) for x in xs]


def spatial_loose(v: Any, n: int) -> list[Any]:
    """Like ``spatial`` but keeps SymInt Values (sizes that may be dynamic)."""
    xs = [v] if not isinstance(v, list | tuple) else list(v)
    return xs * n if len(xs) == 1 else xs


def n_spatial_from_name(ctx: Ctx) -> int:
    """1, 2 or 3, from the op's name (``max_pool2d`` ...): the kernel list may be one int."""
    name = str(ctx.node.target) if ctx.node is not None else ""
    for n in (1, 2, 3):
        if f"{n}d" in name:
            return n
    raise ctx.fail("cannot tell the number of spatial dims from the op name")


def static_shape(ctx: Ctx, v: Value, what: str) -> list[int]:
    """The shape of ``v`` as ints, or a clear failure naming ``what`` needed it."""
    shape = v.shape
    if shape is None or not all(isinstance(d, int) for d in shape):
        raise ctx.fail(f"{what} needs a static shape, got {shape}")
    return [int(d) for d in shape]


def output_used(ctx: Ctx, i: int) -> bool:
    """Whether output ``i`` of the current multi-output ATen node is read by anything."""
    node = ctx.node
    if node is None:
        return True
    # torch.export keeps getitem nodes for unread outputs too: count only those with readers
    return any(u.target is operator.getitem and u.args[1] == i and len(u.users) > 0 for u in node.users)


def require_unused(ctx: Ctx, outputs: Sequence[int], what: str) -> None:
    for i in outputs:
        if output_used(ctx, i):
            raise ctx.fail(f"output {i} ({what}) of this op is used; only the main result is translated")


def batched(ctx: Ctx, x: Value, n_spatial: int) -> tuple[Value, bool]:
    """Give an unbatched ``(C, *spatial)`` input the batch dim ONNX ops need."""
    if ctx.rank(x) == n_spatial + 1:
        return ctx.unsqueeze(x, [0]), True
    return x, False


def unbatched(ctx: Ctx, y: Value, was_unbatched: bool) -> Value:
    return ctx.squeeze(y, [0]) if was_unbatched else y


def channel_view(ctx: Ctx, v: Value, rank: int) -> Value:
    """A per-channel ``(C,)`` vector shaped ``(C, 1, ..., 1)`` to broadcast over an NC... tensor.
    An Unsqueeze rather than a reshaped copy, so the named parameter stays the one in use."""
    return ctx.unsqueeze(v, list(range(1, rank - 1))) if rank > 2 else v


# ---------------------------------------------------------------- convolution
def _string_pads(ctx: Ctx, padding: str, kernel: list[int], dilation: list[int]) -> list[int]:
    if padding == "valid":
        return [0] * (2 * len(kernel))
    if padding != "same":
        raise ctx.fail(f"padding={padding!r} is not 'same' or 'valid'")
    total = [d * (k - 1) for k, d in zip(kernel, dilation)]
    # torch puts the odd element of 'same' padding at the end, like ONNX SAME_UPPER
    return [t // 2 for t in total] + [t - t // 2 for t in total]


def _conv(ctx: Ctx, x: Value, weight: Value, bias: Value | None, stride: Any, padding: Any,
          dilation: Any, groups: int, transposed: bool = False, output_padding: Any = 0) -> Value:
    kernel = static_shape(ctx, weight, "convolution weight")[2:]
    n = len(kernel)
    x, was_unbatched = batched(ctx, x, n)
    dil = spatial(ctx, dilation, n)
    attrs: dict[str, Any] = {"kernel_shape": kernel, "strides": spatial(ctx, stride, n), "dilations": dil,
                             "group": int(groups)}
    if isinstance(padding, str):
        attrs["pads"] = _string_pads(ctx, padding, kernel, dil)
    else:
        attrs["pads"] = spatial(ctx, padding, n) * 2
    if transposed and any(spatial(ctx, output_padding, n)):
        attrs["output_padding"] = spatial(ctx, output_padding, n)
    inputs = [x, weight] + ([bias] if bias is not None else [])
    y = ctx.op("ConvTranspose" if transposed else "Conv", inputs, attrs)
    return unbatched(ctx, y, was_unbatched)


@aten("aten::conv1d.default", "aten::conv2d.default", "aten::conv3d.default",
      "aten::conv1d.padding", "aten::conv2d.padding", "aten::conv3d.padding")
def aten_conv(ctx: Ctx, input: Value, weight: Value, bias: Value | None = None, stride: Any = 1,
              padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Value:
    """conv2d(Tensor input, Tensor weight, Tensor? bias=None, SymInt[2] stride=1, SymInt[2] padding=0, SymInt[2] dilation=1, SymInt groups=1) -> Tensor

    Also the ``.padding`` overloads, where ``padding`` is ``"same"`` or ``"valid"``."""
    return _conv(ctx, input, weight, bias, stride, padding, dilation, groups)


@aten("aten::conv_transpose1d.default", "aten::conv_transpose2d.input", "aten::conv_transpose3d.input")
def aten_conv_transpose(ctx: Ctx, input: Value, weight: Value, bias: Value | None = None, stride: Any = 1,
                        padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                        dilation: Any = 1) -> Value:
    """conv_transpose2d.input(Tensor input, Tensor weight, Tensor? bias=None, SymInt[2] stride=[1, 1], SymInt[2] padding=[0, 0], SymInt[2] output_padding=[0, 0], SymInt groups=1, SymInt[2] dilation=[1, 1]) -> Tensor"""
    return _conv(ctx, input, weight, bias, stride, padding, dilation, groups, True, output_padding)


@aten("aten::convolution.default")
def aten_convolution(ctx: Ctx, input: Value, weight: Value, bias: Value | None, stride: Any, padding: Any,
                     dilation: Any, transposed: bool, output_padding: Any, groups: int) -> Value:
    """convolution(Tensor input, Tensor weight, Tensor? bias, SymInt[] stride, SymInt[] padding, SymInt[] dilation, bool transposed, SymInt[] output_padding, SymInt groups) -> Tensor"""
    return _conv(ctx, input, weight, bias, stride, padding, dilation, groups, transposed, output_padding)


# ---------------------------------------------------------------- pooling
def _out_size(length: int, k: int, s: int, p: int, d: int, ceil: bool) -> int:
    span = length + 2 * p - d * (k - 1) - 1
    return (-(-span // s) if ceil else span // s) + 1


def _pool_attrs(ctx: Ctx, x: Value, n: int, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
                ceil_mode: bool, *, include_pad: bool = False) -> dict[str, Any]:
    """Kernel, strides, pads (and ceil_mode) for an n-d pool, matching torch's output size.

    torch's ceil_mode drops a last window that would start in the right padding; ONNX
    ceil_mode keeps it. When that happens, floor mode with a larger end pad gives torch's
    windows (the extra pad is -inf for MaxPool, uncounted for AveragePool without
    count_include_pad)."""
    k = spatial(ctx, kernel_size, n)
    s = spatial(ctx, stride, n) if stride else k
    p, d = spatial(ctx, padding, n), spatial(ctx, dilation, n)
    attrs: dict[str, Any] = {"kernel_shape": k, "strides": s, "pads": p + p}
    if any(di != 1 for di in d):
        attrs["dilations"] = d
    if not ceil_mode:
        return attrs
    ins, outs = x.shape[-n:] if x.shape else None, list(ctx.meta(0).shape[-n:])
    if ins is None or not all(isinstance(i, int) for i in [*ins, *outs]):
        return {**attrs, "ceil_mode": 1}  # dynamic: ONNX and torch agree except in rare corner cases
    floor = [_out_size(*a, False) for a in zip(ins, k, s, p, d)]
    ceil = [_out_size(*a, True) for a in zip(ins, k, s, p, d)]
    if outs == floor:
        return attrs
    if outs == ceil:
        return {**attrs, "ceil_mode": 1}
    if include_pad:
        raise ctx.fail(f"avg_pool with ceil_mode and count_include_pad on input {ins} (output {outs}) "
                       "has windows ONNX AveragePool cannot reproduce")
    ends = [(o - 1) * si + di * (ki - 1) + 1 - i - pi for o, si, di, ki, i, pi in zip(outs, s, d, k, ins, p)]
    return {**attrs, "pads": p + ends}


def _plane_indices(ctx: Ctx, indices: Value, x: Value, n: int) -> Value:
    """ONNX MaxPool indices are flat over N*C*spatial; torch's are flat per (n, c) plane."""
    dims = x.shape[-n:] if x.shape else None
    if dims is not None and all(isinstance(d, int) for d in dims):
        plane = ctx.const(np.int64(math.prod(dims)))
    else:
        shape = ctx.op("Shape", [x], {"start": -n})
        plane = ctx.reduce("ReduceProd", shape, [0], keepdims=False)
    return ctx.op("Mod", [indices, plane], {"fmod": 0})


def _max_pool(ctx: Ctx, x: Value, n: int, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
              ceil_mode: bool, with_indices: bool) -> Any:
    attrs = _pool_attrs(ctx, x, n, kernel_size, stride, padding, dilation, ceil_mode)
    xb, was_unbatched = batched(ctx, x, n)
    if not (with_indices and output_used(ctx, 1)):
        y = unbatched(ctx, ctx.op("MaxPool", [xb], attrs), was_unbatched)
        return (y, None) if with_indices else y
    y, idx = ctx.op("MaxPool", [xb], attrs, n_outputs=2)
    idx = _plane_indices(ctx, idx, x, n)
    return unbatched(ctx, y, was_unbatched), unbatched(ctx, idx, was_unbatched)


@aten("aten::max_pool1d.default", "aten::max_pool2d.default", "aten::max_pool3d.default")
def aten_max_pool(ctx: Ctx, self: Value, kernel_size: Any, stride: Any = (), padding: Any = 0,
                  dilation: Any = 1, ceil_mode: bool = False) -> Value:
    """max_pool2d(Tensor self, int[2] kernel_size, int[2] stride=[], int[2] padding=0, int[2] dilation=1, bool ceil_mode=False) -> Tensor"""
    return _max_pool(ctx, self, n_spatial_from_name(ctx), kernel_size, stride, padding, dilation, ceil_mode, False)


@aten("aten::max_pool1d_with_indices.default", "aten::max_pool2d_with_indices.default",
      "aten::max_pool3d_with_indices.default")
def aten_max_pool_with_indices(ctx: Ctx, self: Value, kernel_size: Any, stride: Any = (), padding: Any = 0,
                               dilation: Any = 1, ceil_mode: bool = False) -> tuple[Value, Value | None]:
    """max_pool2d_with_indices(Tensor self, int[2] kernel_size, int[2] stride=[], int[2] padding=0, int[2] dilation=1, bool ceil_mode=False) -> (Tensor, Tensor)"""
    return _max_pool(ctx, self, n_spatial_from_name(ctx), kernel_size, stride, padding, dilation, ceil_mode, True)


@aten("aten::avg_pool1d.default", "aten::avg_pool2d.default", "aten::avg_pool3d.default")
def aten_avg_pool(ctx: Ctx, self: Value, kernel_size: Any, stride: Any = (), padding: Any = 0,
                  ceil_mode: bool = False, count_include_pad: bool = True,
                  divisor_override: int | None = None) -> Value:
    """avg_pool2d(Tensor self, int[2] kernel_size, int[2] stride=[], int[2] padding=0, bool ceil_mode=False, bool count_include_pad=True, int? divisor_override=None) -> Tensor"""
    n = n_spatial_from_name(ctx)
    attrs = _pool_attrs(ctx, self, n, kernel_size, stride, padding, 1, ceil_mode,
                        include_pad=count_include_pad)
    attrs["count_include_pad"] = int(count_include_pad)
    if divisor_override is not None:
        if ceil_mode:
            raise ctx.fail("avg_pool with divisor_override and ceil_mode: clipped windows have no ONNX form")
        attrs["count_include_pad"] = 1  # every window is then full: the mean times the kernel size is the sum
    x, was_unbatched = batched(ctx, self, n)
    y = ctx.op("AveragePool", [x], attrs)
    if divisor_override is not None:
        factor = math.prod(attrs["kernel_shape"]) / divisor_override
        y = ctx.op("Mul", [y, ctx.const(factor, ctx.dtype(self))])
    return unbatched(ctx, y, was_unbatched)


def _adaptive(ctx: Ctx, x: Value, output_size: Any, n: int, kind: str, with_indices: bool) -> Any:
    out = [int(o) if not isinstance(o, Value) else None for o in spatial_loose(output_size, n)]
    ins = list(x.shape[-n:]) if x.shape else [None] * n
    static = all(isinstance(i, int) for i in ins)
    want_idx = with_indices and output_used(ctx, 1)
    xb, was_unbatched = batched(ctx, x, n)
    if all(o == 1 for o in out) and not want_idx:
        y = ctx.op(f"Global{kind}Pool", [xb])
    elif static and all(o is not None and o > 0 and i % o == 0 for i, o in zip(ins, out)):
        k = [i // o for i, o in zip(ins, out)]
        attrs = {"kernel_shape": k, "strides": k}
        if want_idx:
            y, idx = ctx.op("MaxPool", [xb], attrs, n_outputs=2)
            idx = unbatched(ctx, _plane_indices(ctx, idx, x, n), was_unbatched)
            return unbatched(ctx, y, was_unbatched), idx
        y = ctx.op(f"{kind}Pool", [xb], attrs)
    elif kind == "Average" and static and all(o is not None and o > 0 for o in out):
        y = _average_by_matmul(ctx, xb, [int(i) for i in ins], [int(o) for o in out])
    else:
        raise ctx.fail(f"adaptive {kind.lower()} pool from spatial size {ins} to {out}: only output 1 "
                       "or sizes that divide the input evenly map to ONNX pooling"
                       + ("" if kind == "Average" else " (average pools of static sizes map to MatMuls)"))
    y = unbatched(ctx, y, was_unbatched)
    return (y, None) if with_indices else y


def adaptive_average_matrix(size: int, out: int) -> np.ndarray:
    """(out, size): row i averages input cells floor(i * size / out) up to
    ceil((i + 1) * size / out) - 1, torch's adaptive windows (they overlap, or repeat a
    cell when upsampling, where out does not divide size)."""
    m = np.zeros((out, size))
    for i in range(out):
        start, end = (i * size) // out, -(-((i + 1) * size) // out)
        m[i, start:end] = 1.0 / (end - start)
    return m


def _average_by_matmul(ctx: Ctx, x: Value, ins: list[int], out: list[int]) -> Value:
    """Adaptive average pooling of static sizes as one averaging matrix per spatial axis: the
    last axis multiplied from the right, the one before from the left (MatMul broadcasts
    over N, C), any other swapped to the end and back."""
    dt = ctx.dtype(x)
    rank = 2 + len(ins)
    y = x
    for k, (size, o) in enumerate(zip(ins, out)):
        if size == o:
            continue
        a = adaptive_average_matrix(size, o)
        axis = 2 + k
        if axis == rank - 1:
            y = ctx.op("MatMul", [y, ctx.const(np.ascontiguousarray(a.T), dt)])
        elif axis == rank - 2:
            y = ctx.op("MatMul", [ctx.const(a, dt), y])
        else:
            perm = list(range(rank))
            perm[axis], perm[-1] = perm[-1], perm[axis]  # a swap is its own inverse
            t = ctx.op("MatMul", [ctx.op("Transpose", [y], {"perm": perm}), ctx.const(np.ascontiguousarray(a.T), dt)])
            y = ctx.op("Transpose", [t], {"perm": perm})
    return y


@aten("aten::adaptive_avg_pool1d.default", "aten::adaptive_avg_pool2d.default",
      "aten::adaptive_avg_pool3d.default", "aten::_adaptive_avg_pool2d.default",
      "aten::_adaptive_avg_pool3d.default")
def aten_adaptive_avg_pool(ctx: Ctx, self: Value, output_size: Any) -> Value:
    """adaptive_avg_pool2d(Tensor self, SymInt[2] output_size) -> Tensor"""
    return _adaptive(ctx, self, output_size, n_spatial_from_name(ctx), "Average", False)


@aten("aten::adaptive_max_pool1d.default", "aten::adaptive_max_pool2d.default",
      "aten::adaptive_max_pool3d.default")
def aten_adaptive_max_pool(ctx: Ctx, self: Value, output_size: Any) -> tuple[Value, Value | None]:
    """adaptive_max_pool2d(Tensor self, int[2] output_size) -> (Tensor, Tensor)"""
    return _adaptive(ctx, self, output_size, n_spatial_from_name(ctx), "Max", True)

