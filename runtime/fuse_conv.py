"""Plan-time fusion of per-channel chains: ``[Conv ->] affine* [-> Add/Sum residual] [-> Relu/Clip/HardSwish]``.

The affine ops are inference BatchNormalization and Mul/Add/Sub/Div by a constant that is a
scalar or one value per channel (``(C, 1, ..., 1)``, as Unsqueeze of a vector gives; the
planner has folded such constants already). However an exporter spells them -- torch's
legacy exporter folds BN into the Conv, the Model Zoo keeps BatchNormalization and adds a
Mul/Add pair, TF lowers BN to Mul/Add -- the chain collapses into one scale ``a`` and one
shift ``b`` per channel, composed once at plan time in float64:

- after a Conv with constant weights, ``a`` and ``b`` go into the weights and bias
  (``W' = W * a``, ``B' = B * a + b``: what onnxruntime's Conv+BN fusion does), so the chain
  costs nothing beyond the convolution;
- otherwise (e.g. densenet's pre-activation BN + Mul + Add + Relu after a Concat) the data is
  multiplied once into a fresh buffer and everything else happens in that buffer.

The residual Add and the activation then run in place in the Conv's (or the affine's)
output buffer. Only chains whose inner values nobody else reads are fused.

Average pooling and a plain 1x1 Conv commute (both linear; the bias too, when padding
never counts in the divisor), so a chain moves an AveragePool across its 1x1 Conv where
that saves work (equal up to float rounding): a pool whose only reader is a Conv to fewer
channels (an Inception branch's pool projection) runs after the Conv, on its M < C output
channels (inception_v2's pooling 1.38 -> 0.54 ms per run); a downsampling pool that is the
only reader of the Conv's output (DenseNet's transitions: Conv 1x1, AveragePool 2x2 stride
2) runs before it, and the Conv multiplies 4x fewer pixels.

A MaxPool that is the only reader of a Conv chain without residual or HardSwish (the stems
of ResNet, DenseNet, SqueezeNet, ShuffleNet) joins it and pools the Conv's raw output: bias
and clip are non-decreasing, so they commute with the max exactly, and the epilogue then
runs on the pooled quarter (squeezenet's stem + pool 0.72 -> 0.67 ms, resnet50's 2.29 ->
2.23 ms).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tensorbridge.ir.node import Node, Value
from tensorbridge.runtime.kernels import _compiled
from tensorbridge.runtime.kernels.activation import hard_swish as hard_swish_kernel
from tensorbridge.runtime.kernels.conv import add_bias, conv_into, winograd_for
from tensorbridge.runtime.kernels.pool import (
    average_pool,
    max_pool_of,
    max_pool_window,
    windows_read_the_image,
)
from tensorbridge.runtime.plan_view import Fusion, PlanView

_AFFINE = frozenset({"BatchNormalization", "Mul", "Add", "Sub", "Div"})


class _Affine:
    """y = x * scale + shift, scale/shift scalars or per-channel vectors (float64)."""

    def __init__(self) -> None:
        self.scale: np.ndarray = np.ones(())
        self.shift: np.ndarray = np.zeros(())

    def then(self, mul: np.ndarray | float = 1.0, add: np.ndarray | float = 0.0) -> bool:
        """Compose ``y * mul + add``; False when the per-channel sizes disagree."""
        try:
            scale = np.broadcast_arrays(self.scale * mul, np.zeros(()))[0]
            shift = self.shift * mul + add
            np.broadcast_shapes(scale.shape, shift.shape)
        except ValueError:
            return False
        self.scale, self.shift = np.asarray(scale, np.float64), np.asarray(shift, np.float64)
        return self.scale.ndim <= 1 and self.shift.ndim <= 1

    def channels(self) -> int | None:
        sizes = {a.size for a in (self.scale, self.shift) if a.ndim == 1}
        return sizes.pop() if len(sizes) == 1 else None if sizes else 0


def _channel_vector(c: np.ndarray, rank: int) -> np.ndarray | None:
    """A constant operand as a per-channel vector (or a scalar) for data of ``rank``."""
    if c.dtype.kind != "f":
        return None
    if c.size == 1:
        return np.asarray(c, np.float64).reshape(())
    shape = c.shape[1:] if c.ndim == rank else c.shape
    if rank < 2 or len(shape) != rank - 1 or any(d != 1 for d in shape[1:]):
        return None
    if c.ndim == rank and c.shape[0] != 1:
        return None
    return np.asarray(c, np.float64).reshape(-1)


def _affine_step(view: PlanView, node: Node, x: Value, rank: int, aff: _Affine) -> bool:
    """Fold ``node`` (reading ``x`` as its data) into ``aff``; False when it is not affine."""
    ins = view.operands(node)
    if node.op_type == "BatchNormalization":
        return _bn_step(view, node, ins, aff)
    if len(ins) != 2 or ins[0] is None or ins[1] is None:
        return False
    data_first = ins[0] is x
    other = ins[1] if data_first else ins[0]
    c = view.const(other)
    vec = _channel_vector(c, rank) if c is not None else None
    if vec is None or (not data_first and node.op_type in ("Sub", "Div")):
        return False
    if node.op_type == "Mul":
        return aff.then(mul=vec)
    if node.op_type == "Add":
        return aff.then(add=vec)
    if node.op_type == "Sub":
        return aff.then(add=-vec)
    return bool(np.all(vec != 0)) and aff.then(mul=1.0 / vec)


def _bn_step(view: PlanView, bn: Node, ins: list[Value | None], aff: _Affine) -> bool:
    outs = view.g.node_outputs(bn)
    if any(o is not None for o in outs[1:]) or bn.attr("training_mode", 0) or bn.attr("spatial", 1) != 1:
        return False
    params = [view.const(v) for v in ins[1:5]]
    if len(params) != 4 or any(p is None or p.ndim != 1 or p.dtype.kind != "f" for p in params):
        return False
    scale, bias, mean, var = (np.asarray(p, np.float64) for p in params)  # type: ignore[arg-type]
    a = scale / np.sqrt(var + float(bn.attr("epsilon", 1e-5)))
    return aff.then(mul=a, add=bias - mean * a)


def _follow(view: PlanView, v: Value, taken: set[Node] | frozenset[Node]) -> Node | None:
    """The sole standard-domain consumer of ``v`` (private: nobody else reads it), unless
    another fusion has it already."""
    if not view.private(v):
        return None
    node, _ = view.g.consumers(v)[0]  # type: ignore[misc]
    return None if node.domain or node in taken else node


def conv_chain(view: PlanView, head: Node, taken: set[Node] | frozenset[Node] = frozenset()) -> Fusion | None:
    """The longest chain starting at ``head`` (a Conv, or the first affine op) that stops
    before the nodes of ``taken`` (e.g. the residual Add of a ResNet projection block, which
    the other branch's chain has fused: this branch's Conv + BN still fold together)."""
    is_conv = head.op_type == "Conv"
    x = view.operands(head)[0]
    if x is None:
        return None
    conv_w = conv_b = None
    if is_conv:
        ins = view.operands(head)
        conv_w = view.const(ins[1]) if len(ins) > 1 else None
        conv_b = view.const(ins[2]) if len(ins) > 2 and ins[2] is not None else None
        if (conv_w is None or conv_w.dtype.kind != "f" or (len(ins) > 2 and ins[2] is not None and conv_b is None)
                or len(view.g.node_outputs(head)) != 1):
            return None
        rank = conv_w.ndim
    else:
        rank = view.rank(x)
    nodes, aff = ([head] if is_conv else []), _Affine()
    pool = _pool_before_projection(view, head, conv_w, x, taken) if conv_w is not None else None
    pool_in = view.operands(pool)[0] if pool is not None else None
    if pool is not None and pool_in is not None:
        nodes.insert(0, pool)
        x = pool_in
    cur: Value = view.out(head) if is_conv else x
    node = _follow(view, cur, taken) if is_conv else head
    while node is not None and node.op_type in _AFFINE:
        if not _affine_step(view, node, cur, rank, aff):
            break
        nodes.append(node)
        cur = view.out(node)
        node = _follow(view, cur, taken)
    if pool is None and node is not None and conv_w is not None and _pool_after_projection(view, head, conv_w, node):
        nodes.append(node)  # ... and the Conv runs on the pooled input: see _pool_after_projection
        cur = view.out(node)
        node = _follow(view, cur, taken)
    residual: Value | None = None
    if node is not None and node.op_type in ("Add", "Sum") and len(view.operands(node)) == 2:
        a, b = view.operands(node)
        other = b if a is cur else a
        if other is not None and other is not cur and view.const(other) is None and (is_conv or len(nodes) > 0):
            nodes.append(node)
            residual, cur = other, view.out(node)
            node = _follow(view, cur, taken)
    act = _activation(view, node) if node is not None else None
    if act is not None and node is not None:
        nodes.append(node)
        cur = view.out(node)
        node = _follow(view, cur, taken)
    if (node is not None and node.op_type == "MaxPool" and conv_w is not None and conv_w.ndim == 4
            and residual is None and not (act or {}).get("hard_swish") and len(view.g.node_outputs(node)) == 1
            and not any(n.op_type == "AveragePool" for n in nodes)):
        nodes.append(node)  # pools before the bias and activation: see conv_affine
        cur = view.out(node)
    return _make(view, head, nodes, aff, conv_w, conv_b, residual, act, cur, x)


_POOL_ATTRS = ("auto_pad", "ceil_mode", "count_include_pad", "dilations", "kernel_shape", "pads", "strides")
_MAX_POOL_ATTRS = ("auto_pad", "ceil_mode", "dilations", "kernel_shape", "pads", "strides")


def _pointwise(conv: Node, w: np.ndarray) -> bool:
    """Whether ``conv`` is a plain 1x1 Conv (stride 1, no padding, one group) on 2-D images
    with float weights ``w``: it then commutes with average pooling, both being linear."""
    attrs = _conv_attrs(conv)
    return (w.ndim == 4 and w.shape[2:] == (1, 1) and w.dtype in (np.float32, np.float64)
            and int(attrs.get("group", 1)) == 1 and all(int(v) == 1 for v in attrs.get("strides", [1, 1]))
            and all(int(v) == 0 for v in attrs.get("pads", [0, 0, 0, 0]))
            and attrs.get("auto_pad", "NOTSET") in ("NOTSET", "VALID"))


def _pool_before_projection(view: PlanView, conv: Node, w: np.ndarray, x: Value,
                            taken: set[Node] | frozenset[Node]) -> Node | None:
    """The AveragePool that only feeds ``conv``, when ``conv`` is a 1x1 projection to fewer
    channels (an Inception branch's pool projection): the chain runs the Conv first and
    pools its M < C output channels instead of the C input ones. The sums are taken in
    another order (float rounding, not the exact same values)."""
    pool = view.made_by(x, "AveragePool")
    if (pool is None or pool in taken or not _pointwise(conv, w) or w.shape[0] >= w.shape[1]
            or len(view.g.node_outputs(pool)) != 1 or view.rank(view.operands(pool)[0]) != 4):
        return None
    return pool


def _pool_after_projection(view: PlanView, conv: Node, w: np.ndarray, pool: Node) -> bool:
    """Whether ``pool``, the sole reader of 1x1 ``conv``'s output (after per-channel affine
    ops, folded into its weights and bias), downsamples and can run first: DenseNet's
    transitions (Conv 1x1 -> AveragePool 2x2 stride 2) then multiply 4x fewer pixels. The
    bias commutes with the average only when padding never counts in the divisor."""
    if pool.op_type != "AveragePool" or pool.domain or not _pointwise(conv, w):
        return False
    strides = [int(v) for v in pool.attr("strides", None) or ()]
    pads = [int(v) for v in pool.attr("pads", None) or ()]
    padded = any(pads) or pool.attr("auto_pad", "NOTSET") not in ("NOTSET", "VALID")
    return (len(strides) == 2 and math.prod(strides) > 1 and len(view.g.node_outputs(pool)) == 1
            and not (padded and int(pool.attr("count_include_pad", 0))))


def _activation(view: PlanView, node: Node) -> dict[str, Any] | None:
    if node.op_type == "Relu":
        return {"lo": 0.0}
    if node.op_type == "HardSwish":  # MobileNetV3's: x * clip(x / 6 + 0.5, 0, 1)
        return {"hard_swish": True}
    if node.op_type == "Clip":
        ins = view.operands(node)
        lo = view.scalar(ins[1]) if len(ins) > 1 and ins[1] is not None else node.attr("min", None)
        hi = view.scalar(ins[2]) if len(ins) > 2 and ins[2] is not None else node.attr("max", None)
        if (len(ins) > 1 and ins[1] is not None and lo is None) or (len(ins) > 2 and ins[2] is not None and hi is None):
            return None
        out: dict[str, Any] = {}
        if lo is not None:
            out["lo"] = float(lo)
        if hi is not None:
            out["hi"] = float(hi)
        return out
    return None


def _make(view: PlanView, head: Node, nodes: list[Node], aff: _Affine, conv_w: np.ndarray | None,
          conv_b: np.ndarray | None, residual: Value | None, act: dict[str, Any] | None,
          out: Value, x: Value) -> Fusion | None:
    # AveragePools that the chain moves across its 1x1 Conv (see conv_chain): one before it
    # in the graph pools the Conv's output, one after it pools the Conv's input.
    pool_output = nodes[0] if nodes and nodes[0].op_type == "AveragePool" else None
    pool_input = next((n for n in nodes[1:] if n.op_type == "AveragePool"), None)
    max_pool = nodes[-1] if nodes and nodes[-1].op_type == "MaxPool" else None
    n_affine = (len(nodes) - (conv_w is not None) - (residual is not None) - (act is not None)
                - (pool_output is not None) - (pool_input is not None) - (max_pool is not None))
    if conv_w is None and (len(nodes) < 2 or n_affine == 0):
        return None
    inputs = (x,) if residual is None else (x, residual)
    attrs: dict[str, Any] = dict(act or {})
    if conv_w is not None:
        m = conv_w.shape[0]
        ch = aff.channels()
        if ch not in (0, m):
            return None
        scale = np.broadcast_to(aff.scale, (m,))
        shift = np.broadcast_to(aff.shift, (m,))
        w = conv_w if n_affine == 0 else (conv_w * scale.reshape(-1, *([1] * (conv_w.ndim - 1)))).astype(conv_w.dtype)
        # A lone Conv is planned as a step of its own only to keep its Winograd weights.
        winograd = winograd_for(w, **_conv_attrs(head))
        if len(nodes) < 2 and winograd is None:
            return None
        b = conv_b.astype(np.float64) if conv_b is not None else np.zeros(m)
        bias = (b * scale + shift).astype(conv_w.dtype) if n_affine or conv_b is not None else None
        attrs.update(weight=w, bias=bias, conv=_conv_attrs(head), winograd=winograd)
        for key, pool in (("pool_output", pool_output), ("pool_input", pool_input)):
            if pool is not None:
                attrs[key] = _kernel_attrs(pool, _POOL_ATTRS)
        if max_pool is not None:
            attrs["max_pool"] = _kernel_attrs(max_pool, _MAX_POOL_ATTRS)
        return Fusion(tuple(nodes), inputs, out, conv_affine, attrs)
    rank = view.rank(x)
    if rank < 3:  # per-channel chains are a CNN's (N, C, spatial...): leave 2-D data to BLAS fusions
        return None
    attrs.update(scale=aff.scale, shift=aff.shift, rank=rank)
    return Fusion(tuple(nodes), inputs, out, channel_affine, attrs)


def _kernel_attrs(node: Node, names: tuple[str, ...]) -> dict[str, Any]:
    """The attributes ``names`` that ``node`` sets, as its kernel takes them (lists, not tuples)."""
    out: dict[str, Any] = {}
    for k in names:
        v = node.attr(k, None)
        if v is not None:
            out[k] = list(v) if isinstance(v, tuple) else v
    return out


def _conv_attrs(conv: Node) -> dict[str, Any]:
    return _kernel_attrs(conv, ("auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"))


def _finish(y: np.ndarray, residual: np.ndarray | None, lo: float | None, hi: float | None,
            hard_swish: bool = False) -> np.ndarray:
    """Residual add and activation, in ``y``'s buffer when shapes allow."""
    if residual is not None:
        if residual.shape == y.shape and np.result_type(y, residual) == y.dtype:
            y += residual
        else:
            y = y + residual
    if lo is not None or hi is not None:
        # Both bounds: np.clip's SIMD loop needs them (Relu as clip(y, 0, None) or
        # np.maximum(y, 0) measured ~3x slower; see runtime/kernels/activation.py).
        np.clip(y, -np.inf if lo is None else lo, np.inf if hi is None else hi, out=y)
    if hard_swish:
        y = hard_swish_kernel(y)
    return y


def conv_affine(x: np.ndarray, residual: np.ndarray | None = None, *, weight: np.ndarray,
                bias: np.ndarray | None, conv: dict[str, Any], lo: float | None = None,
                hi: float | None = None, hard_swish: bool = False,
                winograd: np.ndarray | None = None, pool_output: dict[str, Any] | None = None,
                pool_input: dict[str, Any] | None = None, max_pool: dict[str, Any] | None = None) -> np.ndarray:
    """Conv(x, weight, bias) [+ residual] [clipped to lo/hi: Relu is lo=0] [HardSwish], one buffer;
    ``winograd``: weight's Winograd transform, made at plan time. ``pool_output`` /
    ``pool_input``: the attributes of an AveragePool that the graph applies before / after
    the (1x1) Conv, run here on the Conv's output / input instead (see conv_chain). With the
    compiled loops the bias, residual, clip and HardSwish are one pass over the output.
    ``max_pool``: the attributes of the MaxPool that reads the chain's output. Bias and
    clip are non-decreasing per channel, so max(clip(x_i + b)) == clip(max(x_i) + b) bit
    for bit (float rounding is monotonic too): the pool runs on the conv's output and the
    epilogue on the 4x smaller pooled one. Not when a window would read padding only (its
    max is -inf either way, but clip(-inf) is not): then the epilogue runs first."""
    late_bias = _compiled.takes(x.dtype)  # else in compute dtype
    if pool_input is not None:
        x = average_pool(x, **pool_input)
    if pool_output is not None:
        y = average_pool(conv_into(x, weight, None, **conv), **pool_output)
        if not late_bias:
            y = add_bias(y, bias)
    else:
        y = conv_into(x, weight, None if late_bias else bias, winograd=winograd, **conv)
    late = bias if late_bias else None  # the bias still to add (else already in y)
    if max_pool is None:
        return _epilogue(y, late, residual, lo, hi, hard_swish)
    win = max_pool_window(y, **max_pool)
    if windows_read_the_image(win):
        return _epilogue(max_pool_of(y, win), late, residual, lo, hi, hard_swish)
    return max_pool_of(_epilogue(y, late, residual, lo, hi, hard_swish), win)


def _epilogue(y: np.ndarray, bias: np.ndarray | None, residual: np.ndarray | None, lo: float | None,
              hi: float | None, hard_swish: bool) -> np.ndarray:
    """Bias [+ residual] [clip] [HardSwish] in ``y``'s own buffer (a fresh conv output)."""
    if _compiled.channel_affine_applies(y, residual):
        return _compiled.channel_affine(y, None, bias, residual, lo, hi, hard_swish, in_place=True)
    return _finish(add_bias(y, bias), residual, lo, hi, hard_swish)


def channel_affine(x: np.ndarray, residual: np.ndarray | None = None, *, scale: np.ndarray,
                   shift: np.ndarray, rank: int, lo: float | None = None,
                   hi: float | None = None, hard_swish: bool = False) -> np.ndarray:
    """x * scale + shift (per channel, axis 1) [+ residual] [clipped], one fresh buffer."""
    if x.ndim != rank and (scale.ndim or shift.ndim):
        raise ValueError(f"per-channel affine chain planned for rank {rank}, got data of shape {x.shape}")
    if _compiled.channel_affine_applies(x, residual) and scale.ndim <= 1 and shift.ndim <= 1:
        return _compiled.channel_affine(x, scale, shift, residual, lo, hi, hard_swish)
    bshape = (-1, *([1] * (x.ndim - 2)))
    dt = x.dtype
    y = np.multiply(x, scale.astype(dt).reshape(bshape) if scale.ndim else dt.type(scale))
    y += shift.astype(dt).reshape(bshape) if shift.ndim else dt.type(shift)
    return _finish(y, residual, lo, hi, hard_swish)


def find_conv_chains(view: PlanView, taken: set[Node]) -> list[Fusion]:
    found: list[Fusion] = []
    for node in view.g.nodes():
        if node.domain or node in taken or (node.op_type != "Conv" and node.op_type not in _AFFINE):
            continue
        f = conv_chain(view, node, taken)
        if f is not None and not taken.intersection(f.nodes):
            found.append(f)
            taken.update(f.nodes)
    return found
