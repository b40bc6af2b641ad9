"""Recurrent layers: aten.lstm / gru / rnn_tanh / rnn_relu (``.input`` overloads, what
nn.LSTM / nn.GRU / nn.RNN export to) -> one ONNX LSTM / GRU / RNN per layer.

torch packs gates as LSTM (i, f, g, o) and GRU (r, z, n); ONNX wants LSTM (i, o, f, c) and
GRU (z, r, h). Weights are reordered here: constant weights become new constants, computed
when first read (the ONNX writer reads one at a time, so an export never holds a re-ordered
copy of every layer at once); computed ones get Split + Concat. Each function's docstring is
the ATen schema."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tensorbridge.converters.pytorch.context import Ctx
from tensorbridge.converters.pytorch.ops.ops_nn import static_shape
from tensorbridge.converters.pytorch.registry import aten
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.node import LazyTensor, Value

# ONNX gate k takes torch gate _GATE_ORDER[op][k]
_GATE_ORDER = {"LSTM": [0, 3, 1, 2], "GRU": [1, 0, 2], "RNN": [0]}

Part = np.ndarray | Value


def _gates(a: np.ndarray, order: Sequence[int]) -> list[np.ndarray]:
    """The per-gate row blocks of a stacked-gates weight/bias (views), in ONNX gate order."""
    chunks = np.split(a, len(order), axis=0)
    return [chunks[i] for i in order]


def _reorder(ctx: Ctx, w: Value, order: Sequence[int]) -> Part:
    """Rows of a stacked-gates weight/bias regrouped in ONNX gate order."""
    if w.is_const and ctx.fold_weights:
        return np.concatenate(_gates(w.const_array(), order), axis=0)
    rows = static_shape(ctx, w, "recurrent weight")[0] // len(order)
    parts = ctx.op("Split", [w, ctx.const(np.array([rows] * len(order), np.int64))], {"axis": 0},
                   n_outputs=len(order))
    parts = [parts] if len(order) == 1 else parts
    return ctx.op("Concat", [parts[i] for i in order], {"axis": 0})


def _join(ctx: Ctx, parts: Sequence[Part], axis: int) -> Part:
    if all(isinstance(p, np.ndarray) for p in parts):
        return np.concatenate(parts, axis=axis)  # type: ignore[arg-type]
    values = [ctx.const(p) if isinstance(p, np.ndarray) else p for p in parts]
    return ctx.op("Concat", values, {"axis": axis}) if len(values) > 1 else values[0]


def _stack_dirs(ctx: Ctx, parts: Sequence[Part], source: Value, what: str) -> Value:
    """Per-direction tensors stacked on a new leading num_directions axis. A folded result
    is named after its first source weight (``weight_ih_l0.LSTM_W``) and keeps its role and
    state_dict key as provenance."""
    if all(isinstance(p, np.ndarray) for p in parts):
        return ctx.graph.add_constant(f"{source.name}.{what}", np.stack(parts),  # type: ignore[arg-type]
                                      role=source.role, source_name=source.source_name)
    return ctx.op("Concat", [ctx.unsqueeze(ctx.const(p) if isinstance(p, np.ndarray) else p, [0])
                             for p in parts], {"axis": 0})


def _layer_weights(ctx: Ctx, kind: str, per_dir: Sequence[Sequence[Value]],
                   has_biases: bool) -> tuple[Value, Value, Value | None]:
    """ONNX W, R and B (bias of input and hidden projections concatenated) for one layer."""
    order, first = _GATE_ORDER[kind], per_dir[0]
    if ctx.fold_weights and all(v.is_const for p in per_dir for v in p):
        def folded(at: Sequence[int], what: str) -> Value:
            return _folded_weight(ctx, [[p[i] for i in at] for p in per_dir], order, f"{kind}_{what}")

        return folded([0], "W"), folded([1], "R"), folded([2, 3], "B") if has_biases else None
    w = _stack_dirs(ctx, [_reorder(ctx, p[0], order) for p in per_dir], first[0], f"{kind}_W")
    r = _stack_dirs(ctx, [_reorder(ctx, p[1], order) for p in per_dir], first[1], f"{kind}_R")
    if not has_biases:
        return w, r, None
    b = _stack_dirs(ctx, [_join(ctx, [_reorder(ctx, p[2], order), _reorder(ctx, p[3], order)], 0)
                          for p in per_dir], first[2], f"{kind}_B")
    return w, r, b


def _folded_weight(ctx: Ctx, per_dir: Sequence[Sequence[Value]], order: Sequence[int], what: str) -> Value:
    """ONNX W, R or B of constant torch weights: per direction, the gate blocks of each piece
    (B: the input then the hidden bias) in ONNX order, stacked on a leading direction axis.
    Computed when read, written once into the result (no per-direction intermediates);
    named, role and source key as ``_stack_dirs`` does."""
    arrays = [[v.const_array() for v in pieces] for pieces in per_dir]
    first = arrays[0][0]
    shape = (len(arrays), sum(a.shape[0] for a in arrays[0]), *first.shape[1:])

    def load() -> np.ndarray:
        out = np.empty(shape, first.dtype)
        for d, pieces in enumerate(arrays):
            np.concatenate([g for a in pieces for g in _gates(a, order)], axis=0, out=out[d])
        return out

    source = per_dir[0][0]
    data = LazyTensor(DType.from_numpy(first.dtype), shape, load, origin=f"{source.name} in ONNX gate order")
    return ctx.graph.add_constant(f"{source.name}.{what}", data, role=source.role, source_name=source.source_name)


def _layer_state(ctx: Ctx, h: Value, layer: int, dirs: int, num_layers: int) -> Value:
    """Rows [layer*dirs, (layer+1)*dirs) of a (num_layers*dirs, batch, hidden) state."""
    if num_layers == 1:
        return h
    c = ctx.const
    return ctx.op("Slice", [h, c(np.array([layer * dirs], np.int64)), c(np.array([(layer + 1) * dirs], np.int64)),
                            c(np.array([0], np.int64))])


def _recurrent(ctx: Ctx, kind: str, x: Value, states: Sequence[Value], params: Sequence[Value], has_biases: bool,
               num_layers: int, dropout: float, train: bool, bidirectional: bool, batch_first: bool,
               extra: dict[str, Any]) -> tuple[Value, ...]:
    """A stack of ``num_layers`` ONNX recurrent ops; returns (output, *final states)."""
    if train and dropout:
        raise ctx.fail("recurrent dropout in training mode is random; export the model in eval()")
    dirs = 2 if bidirectional else 1
    per = len(params) // (num_layers * dirs)
    if per != (4 if has_biases else 2):
        raise ctx.fail(f"{kind} with {per} weights per layer and direction (proj_size?): ONNX {kind} "
                       "has no output projection")
    hidden = static_shape(ctx, params[1], f"{kind} hidden weight")[1]
    attrs = {"hidden_size": hidden, "direction": "bidirectional" if bidirectional else "forward", **extra}
    if batch_first:
        x = ctx.op("Transpose", [x], {"perm": [1, 0, 2]})
    finals: list[list[Value]] = [[] for _ in states]
    for layer in range(num_layers):
        ps = params[layer * dirs * per:(layer + 1) * dirs * per]
        w, r, b = _layer_weights(ctx, kind, [ps[d * per:(d + 1) * per] for d in range(dirs)], has_biases)
        init = [_layer_state(ctx, s, layer, dirs, num_layers) for s in states]
        outs = ctx.op(kind, [x, w, r, b, None, *init], attrs, n_outputs=1 + len(states))
        for acc, out in zip(finals, outs[1:]):
            acc.append(out)
        # Y is (seq, num_directions, batch, hidden); torch wants (seq, batch, num_directions * hidden)
        y = ctx.op("Transpose", [outs[0]], {"perm": [0, 2, 1, 3]})
        x = ctx.op("Reshape", [y, ctx.const(np.array([0, 0, -1], np.int64))])
    if batch_first:
        x = ctx.op("Transpose", [x], {"perm": [1, 0, 2]})
    return (x, *[_join(ctx, acc, 0) for acc in finals])


@aten("aten::lstm.input")
def aten_lstm_input(ctx: Ctx, input: Value, hx: Sequence[Value], params: Sequence[Value], has_biases: bool,
                    num_layers: int, dropout: float, train: bool, bidirectional: bool,
                    batch_first: bool) -> tuple[Value, ...]:
    """lstm.input(Tensor input, Tensor[] hx, Tensor[] params, bool has_biases, int num_layers, float dropout, bool train, bool bidirectional, bool batch_first) -> (Tensor, Tensor, Tensor)"""
    return _recurrent(ctx, "LSTM", input, list(hx), params, has_biases, num_layers, dropout, train, bidirectional,
                      batch_first, {})


@aten("aten::gru.input")
def aten_gru_input(ctx: Ctx, input: Value, hx: Value, params: Sequence[Value], has_biases: bool, num_layers: int,
                   dropout: float, train: bool, bidirectional: bool, batch_first: bool) -> tuple[Value, ...]:
    """gru.input(Tensor input, Tensor hx, Tensor[] params, bool has_biases, int num_layers, float dropout, bool train, bool bidirectional, bool batch_first) -> (Tensor, Tensor)"""
    # torch applies the reset gate after the hidden projection: n = tanh(W_in x + r * (W_hn h + b_hn))
    return _recurrent(ctx, "GRU", input, [hx], params, has_biases, num_layers, dropout, train, bidirectional,
                      batch_first, {"linear_before_reset": 1})


def _rnn(ctx: Ctx, activation: str, input: Value, hx: Value, params: Sequence[Value], has_biases: bool,
         num_layers: int, dropout: float, train: bool, bidirectional: bool, batch_first: bool) -> tuple[Value, ...]:
    acts = [activation] * (2 if bidirectional else 1)
    return _recurrent(ctx, "RNN", input, [hx], params, has_biases, num_layers, dropout, train, bidirectional,
                      batch_first, {"activations": acts})


@aten("aten::rnn_tanh.input")
def aten_rnn_tanh_input(ctx: Ctx, input: Value, hx: Value, params: Sequence[Value], has_biases: bool,
                        num_layers: int, dropout: float, train: bool, bidirectional: bool,
                        batch_first: bool) -> tuple[Value, ...]:
    """rnn_tanh.input(Tensor input, Tensor hx, Tensor[] params, bool has_biases, int num_layers, float dropout, bool train, bool bidirectional, bool batch_first) -> (Tensor, Tensor)"""
    return _rnn(ctx, "Tanh", input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)


@aten("aten::rnn_relu.input")
def aten_rnn_relu_input(ctx: Ctx, input: Value, hx: Value, params: Sequence[Value], has_biases: bool,
                        num_layers: int, dropout: float, train: bool, bidirectional: bool,
                        batch_first: bool) -> tuple[Value, ...]:
    """rnn_relu.input(Tensor input, Tensor hx, Tensor[] params, bool has_biases, int num_layers, float dropout, bool train, bool bidirectional, bool batch_first) -> (Tensor, Tensor)"""
    return _rnn(ctx, "Relu", input, hx, params, has_biases, num_layers, dropout, train, bidirectional, batch_first)
