"""Neural-network ops: convolutions (2D/3D, depthwise, transposed), pooling, fused batch
norm, softmax and LRN. TF's channels-last (NHWC) ops become ONNX's channels-first ops
between two Transposes (a layout pass cancels them later); filters are re-laid out as new
initializers that keep their Keras weight names. Each docstring is the TF op signature."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from tensorbridge.converters.tensorflow.context import TfCtx
from tensorbridge.converters.tensorflow.registry import tf_op
from tensorbridge.ir.node import Value


def channels_last(data_format: str) -> bool:
    return not data_format.startswith("NC")


def _spatial(values: Sequence[int], n: int, cl: bool) -> list[int]:
    """The spatial entries of a per-dimension list (strides, ksize, dilations ...)."""
    vals = list(values)
    if len(vals) == n:
        return vals
    return vals[1:n + 1] if cl else vals[2:n + 2]


def same_pads(in_sizes: Sequence[int], k: Sequence[int], s: Sequence[int], d: Sequence[int]) -> list[int]:
    """TF's SAME padding as ONNX pads: total = max((ceil(in/s)-1)*s + (k-1)*d + 1 - in, 0),
    the smaller half before."""
    before, after = [], []
    for size, kk, ss, dd in zip(in_sizes, k, s, d):
        total = max((math.ceil(size / ss) - 1) * ss + (kk - 1) * dd + 1 - size, 0)
        before.append(total // 2)
        after.append(total - total // 2)
    return before + after


def _padding_attrs(ctx: TfCtx, padding: str, explicit: Sequence[int], x_cf: Value, k: list[int],
                   s: list[int], d: list[int], cl: bool) -> dict[str, Any]:
    n = len(k)
    if padding == "VALID":
        return {"pads": [0] * (2 * n)}
    if padding == "EXPLICIT":
        pairs = list(explicit)
        axes = range(1, n + 1) if cl else range(2, n + 2)
        return {"pads": [pairs[2 * a] for a in axes] + [pairs[2 * a + 1] for a in axes]}
    if padding != "SAME":
        raise ctx.fail(f"padding {padding!r} is not one of SAME, VALID, EXPLICIT")
    shape = x_cf.shape
    sizes = list(shape[2:]) if shape is not None else []
    if len(sizes) == n and all(isinstance(v, int) for v in sizes):
        return {"pads": same_pads(sizes, k, s, d)}
    return {"auto_pad": "SAME_UPPER"}  # dynamic spatial size: ONNX computes TF's split at run time


# ---------------------------------------------------------------- convolutions
def _conv(ctx: TfCtx, x: Value, weight: Value, group: int, k: list[int], attrs: dict[str, Any],
          cl: bool, padding: str, explicit: Sequence[int]) -> Value:
    xin = ctx.to_channels_first(x) if cl else x
    s, d = attrs["strides"], attrs["dilations"]
    attrs = {"kernel_shape": k, **attrs, "group": group,
             **_padding_attrs(ctx, padding, explicit, xin, k, s, d, cl)}
    y = ctx.op("Conv", [xin, weight], attrs)
    return ctx.to_channels_last(y, len(k) + 2) if cl else y


def _channels(x: Value, cl: bool) -> int | None:
    shape = x.shape
    if shape is None:
        return None
    c = shape[-1] if cl else shape[1]
    return c if isinstance(c, int) else None


def _tf_conv(ctx: TfCtx, input: Value, filter: Value, strides: Sequence[int], padding: str,
             explicit: Sequence[int], data_format: str, dilations: Sequence[int]) -> Value:
    fshape = ctx.static_dims(filter, "the convolution filter")
    n, cl = len(fshape) - 2, channels_last(data_format)
    c_in = _channels(input, cl)
    group = c_in // fshape[-2] if c_in else 1  # TF infers grouped convolution from the shapes
    weight = ctx.permuted_weight(filter, [n + 1, n, *range(n)])  # (k..., I, O) -> (O, I, k...)
    attrs = {"strides": _spatial(strides, n, cl), "dilations": _spatial(dilations, n, cl)}
    return _conv(ctx, input, weight, group, fshape[:n], attrs, cl, padding, explicit)


@tf_op("Conv2D")
def tf_conv2d(ctx: TfCtx, input: Value, filter: Value, *, strides: Sequence[int], padding: str,
              explicit_paddings: Sequence[int] = (), data_format: str = "NHWC",
              dilations: Sequence[int] = (1, 1, 1, 1), **_: Any) -> Value:
    """Conv2D(input: T, filter: T, *, strides, use_cudnn_on_gpu=true, padding, explicit_paddings=[], data_format="NHWC", dilations=[1, 1, 1, 1]) -> output: T"""
    return _tf_conv(ctx, input, filter, strides, padding, explicit_paddings, data_format, dilations)


@tf_op("Conv3D")
def tf_conv3d(ctx: TfCtx, input: Value, filter: Value, *, strides: Sequence[int], padding: str,
              data_format: str = "NDHWC", dilations: Sequence[int] = (1, 1, 1, 1, 1), **_: Any) -> Value:
    """Conv3D(input: T, filter: T, *, strides, padding, data_format="NDHWC", dilations=[1, 1, 1, 1, 1]) -> output: T"""
    return _tf_conv(ctx, input, filter, strides, padding, (), data_format, dilations)


@tf_op("DepthwiseConv2dNative")
def tf_depthwise_conv2d_native(ctx: TfCtx, input: Value, filter: Value, *, strides: Sequence[int],
                               padding: str, explicit_paddings: Sequence[int] = (),
                               data_format: str = "NHWC", dilations: Sequence[int] = (1, 1, 1, 1),
                               **_: Any) -> Value:
    """DepthwiseConv2dNative(input: T, filter: T, *, strides, padding, explicit_paddings=[], data_format="NHWC", dilations=[1, 1, 1, 1]) -> output: T

    Filter (kh, kw, C, M) -> ONNX weight (C*M, 1, kh, kw) with group = C (output channel
    c*M + m, as in TF)."""
    kh, kw, c, m = ctx.static_dims(filter, "the depthwise filter")
    cl = channels_last(data_format)
    flat = ctx.reshaped_weight(filter, [kh, kw, 1, c * m])
    weight = ctx.permuted_weight(flat, [3, 2, 0, 1])
    attrs = {"strides": _spatial(strides, 2, cl), "dilations": _spatial(dilations, 2, cl)}
    return _conv(ctx, input, weight, c, [kh, kw], attrs, cl, padding, explicit_paddings)


def _transpose_pads(ctx: TfCtx, padding: str, explicit: Sequence[int], in_sizes: list[int], target: list[int],
                    k: list[int], s: list[int], d: list[int], cl: bool) -> dict[str, Any]:
    """Pads (and output_padding) making ONNX ConvTranspose produce exactly ``target``."""
    n = len(k)
    if padding == "SAME":
        before = same_pads(target, k, s, d)[:n]
    elif padding == "EXPLICIT":
        before = _padding_attrs(ctx, padding, explicit, None, k, s, d, cl)["pads"][:n]  # type: ignore[arg-type]
    else:
        before = [0] * n
    after, extra = [], []
    for i in range(n):
        full = (in_sizes[i] - 1) * s[i] + (k[i] - 1) * d[i] + 1
        end = full - target[i] - before[i]
        after.append(max(end, 0))
        extra.append(max(-end, 0))
    attrs: dict[str, Any] = {"pads": before + after}
    if any(extra):
        attrs["output_padding"] = extra
    return attrs


def _tf_conv_transpose(ctx: TfCtx, input_sizes: Value, filter: Value, out_backprop: Value,
                       strides: Sequence[int], padding: str, explicit: Sequence[int],
                       data_format: str, dilations: Sequence[int]) -> Value:
    fshape = ctx.static_dims(filter, "the transposed-convolution filter")
    n, cl = len(fshape) - 2, channels_last(data_format)
    out_shape = ctx.out_shape()
    target = _spatial(out_shape, n, cl) if out_shape is not None else []
    if not all(isinstance(t, int) for t in target) or len(target) != n:
        sizes = ctx.static_value(input_sizes)
        if sizes is None:
            raise ctx.fail("the output size of a transposed convolution must be static")
        target = _spatial([int(v) for v in sizes], n, cl)
    x = ctx.to_channels_first(out_backprop) if cl else out_backprop
    in_sizes = list(x.shape[2:]) if x.shape is not None else []
    if len(in_sizes) != n or not all(isinstance(v, int) for v in in_sizes):
        raise ctx.fail(f"a transposed convolution needs static spatial input dims, got {x.shape}")
    s, d = _spatial(strides, n, cl), _spatial(dilations, n, cl)
    weight = ctx.permuted_weight(filter, [n + 1, n, *range(n)])  # (k..., C_out, C_in) -> (C_in, C_out, k...)
    attrs = {"kernel_shape": fshape[:n], "strides": s, "dilations": d,
             **_transpose_pads(ctx, padding, explicit, in_sizes, target, fshape[:n], s, d, cl)}
    y = ctx.op("ConvTranspose", [x, weight], attrs)
    return ctx.to_channels_last(y, n + 2) if cl else y


@tf_op("Conv2DBackpropInput")
def tf_conv2d_backprop_input(ctx: TfCtx, input_sizes: Value, filter: Value, out_backprop: Value, *,
                             strides: Sequence[int], padding: str, explicit_paddings: Sequence[int] = (),
                             data_format: str = "NHWC", dilations: Sequence[int] = (1, 1, 1, 1),
                             **_: Any) -> Value:
    """Conv2DBackpropInput(input_sizes: int32, filter: T, out_backprop: T, *, strides, use_cudnn_on_gpu=true, padding, explicit_paddings=[], data_format="NHWC", dilations=[1, 1, 1, 1]) -> output: T

    The gradient of Conv2D with respect to its input, i.e. a transposed convolution
    (Keras Conv1DTranspose/Conv2DTranspose) -> ONNX ConvTranspose."""
    return _tf_conv_transpose(ctx, input_sizes, filter, out_backprop, strides, padding,
                              explicit_paddings, data_format, dilations)


@tf_op("Conv3DBackpropInputV2")
def tf_conv3d_backprop_input_v2(ctx: TfCtx, input_sizes: Value, filter: Value, out_backprop: Value, *,
                                strides: Sequence[int], padding: str, data_format: str = "NDHWC",
                                dilations: Sequence[int] = (1, 1, 1, 1, 1), **_: Any) -> Value:
    """Conv3DBackpropInputV2(input_sizes: Tshape, filter: T, out_backprop: T, *, strides, padding, data_format="NDHWC", dilations=[1, 1, 1, 1, 1]) -> output: T"""
    return _tf_conv_transpose(ctx, input_sizes, filter, out_backprop, strides, padding, (),
                              data_format, dilations)


# ---------------------------------------------------------------- pooling
def _pool(ctx: TfCtx, op_type: str, x: Value, ksize: Sequence[int], strides: Sequence[int],
          padding: str, data_format: str, explicit: Sequence[int] = ()) -> Value:
    n, cl = len(ksize) - 2, channels_last(data_format)
    k, s = _spatial(ksize, n, cl), _spatial(strides, n, cl)
    if len(ksize) == n + 2 and (ksize[0], ksize[-1] if cl else ksize[1]) != (1, 1):
        raise ctx.fail(f"pooling over the batch or channel dim (ksize {list(ksize)}) has no ONNX pool")
    xin = ctx.to_channels_first(x) if cl else x
    attrs = {"kernel_shape": k, "strides": s,
             **_padding_attrs(ctx, padding, explicit, xin, k, s, [1] * n, cl)}
    y = ctx.op(op_type, [xin], attrs)  # AveragePool's default count_include_pad=0 is TF's SAME rule
    return ctx.to_channels_last(y, n + 2) if cl else y


@tf_op("MaxPool", "MaxPool3D")
def tf_max_pool(ctx: TfCtx, input: Value, *, ksize: Sequence[int], strides: Sequence[int], padding: str,
                explicit_paddings: Sequence[int] = (), data_format: str = "NHWC", **_: Any) -> Value:
    """MaxPool(input: T, *, ksize, strides, padding, explicit_paddings=[], data_format="NHWC") -> output: T  (and MaxPool3D)"""
    return _pool(ctx, "MaxPool", input, ksize, strides, padding, data_format, explicit_paddings)


@tf_op("MaxPoolV2")
def tf_max_pool_v2(ctx: TfCtx, input: Value, ksize: Value, strides: Value, *, padding: str,
                   data_format: str = "NHWC", **_: Any) -> Value:
    """MaxPoolV2(input: T, ksize: int32, strides: int32, *, padding, data_format="NHWC") -> output: T"""
    return _pool(ctx, "MaxPool", input, ctx.static_ints(ksize, "ksize"), ctx.static_ints(strides, "strides"),
                 padding, data_format)


@tf_op("AvgPool", "AvgPool3D")
def tf_avg_pool(ctx: TfCtx, value: Value, *, ksize: Sequence[int], strides: Sequence[int], padding: str,
                data_format: str = "NHWC", **_: Any) -> Value:
    """AvgPool(value: T, *, ksize, strides, padding, data_format="NHWC") -> output: T  (and AvgPool3D)"""
    return _pool(ctx, "AveragePool", value, ksize, strides, padding, data_format)


# ---------------------------------------------------------------- normalization
@tf_op("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3")
def tf_fused_batch_norm(ctx: TfCtx, x: Value, scale: Value, offset: Value, mean: Value, variance: Value, *,
                        epsilon: float = 0.0001, data_format: str = "NHWC", is_training: bool = True,
                        **_: Any) -> list[Value | None]:
    """FusedBatchNormV3(x: T, scale: U, offset: U, mean: U, variance: U, *, epsilon=0.0001, exponential_avg_factor=1, data_format="NHWC", is_training=true) -> (y: T, batch_mean: U, batch_variance: U, reserve_space_1: U, reserve_space_2: U, reserve_space_3: U)"""
    if is_training:
        raise ctx.fail("is_training=True normalises with batch statistics; trace the model in "
                       "inference mode (model(x, training=False))")
    cl = channels_last(data_format)
    xin = ctx.to_channels_first(x) if cl else x
    y = ctx.op("BatchNormalization", [xin, scale, offset, mean, variance], {"epsilon": float(epsilon)})
    if cl:
        y = ctx.to_channels_last(y, ctx.rank(x))
    return [y, mean, variance, mean, variance, None][: ctx.n_outputs()]


@tf_op("LRN")
def tf_lrn(ctx: TfCtx, input: Value, *, depth_radius: int = 5, bias: float = 1.0, alpha: float = 1.0,
           beta: float = 0.5, **_: Any) -> Value:
    """LRN(input: T, *, depth_radius=5, bias=1, alpha=1, beta=0.5) -> output: T  (NHWC)

    TF sums alpha * x^2 over the window; ONNX divides alpha by the window size."""
    size = 2 * depth_radius + 1
    y = ctx.op("LRN", [ctx.to_channels_first(input)],
               {"size": size, "alpha": float(alpha) * size, "beta": float(beta), "bias": float(bias)})
    return ctx.to_channels_last(y, 4)


@tf_op("Softmax", "LogSoftmax")
def tf_softmax(ctx: TfCtx, logits: Value, **_: Any) -> Value:
    """Softmax(logits: T) -> softmax: T  (last axis; and LogSoftmax)"""
    return ctx.op(ctx.op_type, [logits], {"axis": -1})

