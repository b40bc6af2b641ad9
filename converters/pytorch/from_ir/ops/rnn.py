"""Recurrent emitters (RNN, GRU, LSTM).

The plain cases run torch's fused kernels (``torch.rnn_tanh`` / ``torch.gru`` /
``torch.lstm``, the functions ``nn.RNN``/``nn.GRU``/``nn.LSTM`` call). Their weights are
the ONNX tensors with the gate blocks re-ordered on every call (``index_select``: ONNX
LSTM gates are i, o, f, c and torch's i, f, g, o; GRU z, r, h and torch's r, z, n), so
gradients reach the ONNX-layout parameters. What torch's kernels cannot express --
GRU's default linear_before_reset=0 cell, other activations, clip, peepholes,
input_forget, sequence_lens -- runs the cell equations in a Python loop over time."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.pytorch.from_ir.host import T, tracing
from tensorbridge.converters.pytorch.from_ir.ops.shape import info
from tensorbridge.converters.pytorch.from_ir.registry import emits
from tensorbridge.ir.errors import UnsupportedOpError
from tensorbridge.ir.rnn_activations import bind_activations
from tensorbridge.ir.rnn_math import gru_update, lstm_update

LAYER = "PyTorch emitter"
Act = Callable[[Any], Any]
# state -> new state, given one time step's input projection; state[0] is H
Cell = Callable[[Any, tuple[Any, ...]], tuple[Any, ...]]

# name -> (function(x, alpha, beta), default alpha or None if unused, default beta or None)
_ACTIVATIONS: dict[str, tuple[Callable[[Any, float, float], Any], float | None, float | None]] = {
    "relu": (lambda x, a, b: torch.relu(x), None, None),
    "tanh": (lambda x, a, b: torch.tanh(x), None, None),
    "sigmoid": (lambda x, a, b: torch.sigmoid(x), None, None),
    "affine": (lambda x, a, b: a * x + b, 1.0, 0.0),
    "leakyrelu": (lambda x, a, b: F.leaky_relu(x, a), 0.01, None),
    "thresholdedrelu": (lambda x, a, b: torch.where(x >= a, x, torch.zeros_like(x)), 1.0, None),
    "scaledtanh": (lambda x, a, b: a * torch.tanh(b * x), 1.0, 1.0),
    "hardsigmoid": (lambda x, a, b: (a * x + b).clamp(0, 1), 0.2, 0.5),
    "elu": (lambda x, a, b: F.elu(x, a), 1.0, None),
    "softsign": (lambda x, a, b: F.softsign(x), None, None),
    "softplus": (lambda x, a, b: F.softplus(x), None, None),
}
# torch's fused kernels: gate order as indices of ONNX gate blocks, default activations
_LSTM_ORDER, _GRU_ORDER = (0, 2, 3, 1), (1, 0, 2)


@dataclass(frozen=True)
class _Rnn:
    """One node's inputs in time-major float form plus the shared attributes."""

    x: Any  # [seq, batch, input]
    W: Any
    R: Any
    B: Any
    lens: Any  # [batch] int64, or None
    initial: tuple[Any, ...]  # per state: [dirs, batch, hidden] or None
    n_dir: int
    hidden: int
    direction: str
    layout: int
    seq: int  # static: the loop over time runs in Python
    batch: Any
    dtype: torch.dtype | None  # the op's dtype (results are cast back to it)
    ct: torch.dtype | None  # the compute dtype (float32 for half types)


def _prepare(X: Any, W: Any, R: Any, B: Any, sequence_lens: Any, initial: Sequence[Any],
             direction: str, hidden_size: int | None, layout: int, op: str,
             ctx: EmitContext | None) -> _Rnn:
    n_dir = {"forward": 1, "reverse": 1, "bidirectional": 2}.get(direction)
    if n_dir is None or layout not in (0, 1):
        raise UnsupportedOpError(LAYER, op, hint=f"direction {direction!r} / layout {layout} "
                                 "is not forward/reverse/bidirectional and 0/1")
    x = T(X)
    xi = info(x, ctx)
    ct = torch.float32 if xi.dtype in (torch.float16, torch.bfloat16) else xi.dtype
    w, r = T(W).to(ct), T(R).to(ct)
    states = tuple(None if s is None else T(s).to(ct) for s in initial)
    xt = x.to(ct)
    seq, batch = xi.shape[0], xi.shape[1]
    if layout == 1:  # batch-major: [batch, seq, input] and states [batch, dirs, hidden]
        xt, seq, batch = xt.transpose(0, 1), batch, seq
        states = tuple(None if s is None else s.transpose(0, 1) for s in states)
    lens = None if sequence_lens is None else T(sequence_lens).long().reshape(-1)
    hidden = hidden_size or info(r, ctx, 2).shape[-1]
    return _Rnn(xt, w, r, None if B is None else T(B).to(ct), lens, states, n_dir,
                hidden, direction, layout, seq, batch, xi.dtype, ct)


def _activations(names: Sequence[str] | None, defaults: Sequence[str], n_dir: int,
                 alphas: Sequence[float] | None, betas: Sequence[float] | None,
                 op: str) -> list[list[Act]]:
    try:
        return bind_activations(_ACTIVATIONS, names, defaults, n_dir, alphas, betas, op)
    except ValueError as e:  # a model the emitter cannot express: say so as its own error
        raise UnsupportedOpError(LAYER, op, hint=str(e)) from e


def _plain(names: Sequence[str] | None, defaults: Sequence[str]) -> bool:
    """The activations are the defaults torch's fused kernel hard-codes."""
    return not names or [n.lower() for n in names] in (
        [d.lower() for d in defaults], [d.lower() for d in defaults] * 2)


def _outputs(s: _Rnn, y: Any, finals: Sequence[Any]) -> tuple[Any, ...]:
    """Y [seq, dirs, batch, hidden] and the final states [dirs, batch, hidden] -> the op's
    layout and dtype."""
    if s.layout == 1:
        y, finals = y.permute(2, 0, 1, 3), [f.transpose(0, 1) for f in finals]
    return (y.to(s.dtype), *(f.to(s.dtype) for f in finals))


# ------------------------------------------------------------------------------ fused


def _gate_rows(order: Sequence[int], hidden: int) -> Any:
    return torch.cat([torch.arange(g * hidden, (g + 1) * hidden) for g in order])


def _torch_params(s: _Rnn, order: Sequence[int]) -> list[Any]:
    """The ONNX weights as torch's fused kernels take them (gate blocks re-ordered, biases
    split), per direction."""
    rows = _gate_rows(order, s.hidden)
    gates = len(order) * s.hidden
    params = []
    for d in range(s.n_dir):
        params += [s.W[d].index_select(0, rows), s.R[d].index_select(0, rows)]
        if s.B is not None:
            params += [s.B[d, :gates].index_select(0, rows), s.B[d, gates:].index_select(0, rows)]
    return params


def _cached_params(s: _Rnn, order: Sequence[int]) -> list[Any]:
    """``_torch_params``, kept on the W tensor for inference: the module hands the same
    (cached, weight-only) W, R, B objects to every no-grad call until a weight changes, and
    re-ordering them is a third of an LSTM's time. Training and tracing recompute."""
    ws = [t for t in (s.W, s.R, s.B) if t is not None]
    if torch.is_grad_enabled() or tracing() or any(type(t) is not torch.Tensor for t in ws):
        return _torch_params(s, order)
    key = (tuple(order), *((id(t), t._version) for t in ws))
    memo = s.W.__dict__.get("_tensorbridge_rnn_params")
    if memo is None or memo[0] != key:
        memo = (key, _torch_params(s, order))
        s.W.__dict__["_tensorbridge_rnn_params"] = memo
    return memo[1]


def _fused(s: _Rnn, fn: Callable[..., Any], order: Sequence[int], n_state: int) -> tuple[Any, ...]:
    """Run torch's fused kernel with re-ordered ONNX weights."""
    params = _cached_params(s, order)
    hx = [s.x.new_zeros(s.n_dir, s.batch, s.hidden) if h is None else h
          for h in s.initial[:n_state]]
    # torch has no reverse-only direction: run forward over the time-reversed input
    x = s.x.flip(0) if s.direction == "reverse" else s.x
    res = fn(x, hx[0] if n_state == 1 else hx, params, s.B is not None, 1, 0.0, False,
             s.n_dir == 2, False)
    y = res[0].unflatten(-1, (s.n_dir, s.hidden))  # [seq, batch, dirs, hidden]
    if s.direction == "reverse":
        y = y.flip(0)
    # index the results: under fx tracing they are one proxy that cannot be sliced apart
    return _outputs(s, y.transpose(1, 2), [res[i] for i in range(1, n_state + 1)])


# ------------------------------------------------------------------------------- loop


def _reverse_index(s: _Rnn) -> Any:
    """[seq, batch] time index reversing each sequence within its own length."""
    t = torch.arange(s.seq)[:, None]
    return torch.where(t < s.lens[None, :], s.lens[None, :] - 1 - t, t)


def _reverse(v: Any, s: _Rnn, index: Any) -> Any:
    if index is None:
        return v.flip(0)
    return torch.gather(v, 0, index.unsqueeze(-1).expand_as(v))


def _loop(s: _Rnn, make_cell: Callable[[int], tuple[Cell, Any]], n_state: int) -> tuple[Any, ...]:
    """Drive every direction: the input projection of all steps in one matmul, then the
    cell per step; past a sequence's end its state is frozen and its Y rows are zero."""
    index = None if s.lens is None else _reverse_index(s)
    ys, finals = [], []
    for d in range(s.n_dir):
        backwards = d == 1 or s.direction == "reverse"
        xd = _reverse(s.x, s, index) if backwards else s.x
        cell, xbias = make_cell(d)
        xw = xd @ s.W[d].T + xbias
        state = tuple(s.x.new_zeros(s.batch, s.hidden) if h is None else h[d]
                      for h in s.initial[:n_state])
        steps = []
        for t in range(s.seq):
            new = cell(xw[t], state)
            if s.lens is None:
                state, out = new, new[0]
            else:
                live = (t < s.lens)[:, None]
                state = tuple(torch.where(live, n, o) for n, o in zip(new, state, strict=True))
                out = torch.where(live, new[0], torch.zeros_like(new[0]))
            steps.append(out)
        y = torch.stack(steps)
        ys.append(_reverse(y, s, index) if backwards else y)
        finals.append(state)
    return _outputs(s, torch.stack(ys, dim=1),
                    [torch.stack([f[i] for f in finals]) for i in range(n_state)])


def _clipper(clip: float | None) -> Act:
    if clip is None:
        return lambda v: v
    return lambda v: v.clamp(-clip, clip)


def _biases(s: _Rnn, d: int, n: int) -> tuple[Any, Any]:
    """(Wb, Rb) of direction d for n stacked gate rows (zeros when B is absent)."""
    if s.B is None:
        z = s.x.new_zeros(n)
        return z, z
    return s.B[d, :n], s.B[d, n:]


# -------------------------------------------------------------------------------- RNN


def _rnn(X: Any, W: Any, R: Any, B: Any, sequence_lens: Any, initial_h: Any,
         activation_alpha: Sequence[float] | None, activation_beta: Sequence[float] | None,
         activations: Sequence[str] | None, clip: float | None, direction: str,
         hidden_size: int | None, layout: int, ctx: EmitContext | None) -> tuple[Any, ...]:
    s = _prepare(X, W, R, B, sequence_lens, [initial_h], direction, hidden_size, layout, "RNN",
                 ctx)
    acts = _activations(activations, ["Tanh"], s.n_dir, activation_alpha, activation_beta, "RNN")
    if clip is None and s.lens is None:
        for name, fused in (("Tanh", torch.rnn_tanh), ("Relu", torch.rnn_relu)):
            if _plain(activations or ["Tanh"], [name]):
                return _fused(s, fused, (0,), 1)
    clipped = _clipper(clip)

    def make_cell(d: int) -> tuple[Cell, Any]:
        wb, rb = _biases(s, d, s.hidden)
        rt, f = s.R[d].T, acts[d][0]
        return (lambda xw, st: (f(clipped(xw + st[0] @ rt)),)), wb + rb

    return _loop(s, make_cell, 1)


@emits("RNN", since=1)
def rnn(X: Any, W: Any, R: Any, B: Any = None, sequence_lens: Any = None,
        initial_h: Any = None, *, activation_alpha: tuple[float, ...] | None = None,
        activation_beta: tuple[float, ...] | None = None,
        activations: tuple[str, ...] | None = None, clip: float | None = None,
        direction: str = "forward", hidden_size: int | None = None, layout: int = 0,
        output_sequence: int = 0, ctx: EmitContext | None = None) -> tuple[Any, ...]:
    """RNN-1/7/14/22: X, W, R, B?, sequence_lens?, initial_h? -> Y, Y_h; layout (14) 0 or 1.
    (RNN-1's output_sequence only says whether Y may be omitted; the module returns the
    outputs the node declares.)"""
    return _rnn(X, W, R, B, sequence_lens, initial_h, activation_alpha, activation_beta,
                activations, clip, direction, hidden_size, layout, ctx)


# -------------------------------------------------------------------------------- GRU


def _gru_cell(s: _Rnn, d: int, acts: list[Act], clipped: Act,
              linear_before_reset: int) -> tuple[Cell, Any]:
    """One GRU direction's cell (gates stacked z, r, h) and its input-projection bias."""
    H = s.hidden
    wb, rb = _biases(s, d, 3 * H)
    # Rbz and Rbr fold into the input bias; Rbh must stay inside the reset-gated term
    xbias = wb + torch.cat((rb[:2 * H], rb.new_zeros(H)))
    rbh, rt = rb[2 * H:], s.R[d].T  # rt: [H, 3H]

    def cell(xw: Any, st: tuple[Any, ...]) -> tuple[Any, ...]:
        return (gru_update(xw, st[0], rt, rbh, H, acts, clipped, linear_before_reset),)

    return cell, xbias


def _gru(X: Any, W: Any, R: Any, B: Any, sequence_lens: Any, initial_h: Any,
         activation_alpha: Sequence[float] | None, activation_beta: Sequence[float] | None,
         activations: Sequence[str] | None, clip: float | None, direction: str,
         hidden_size: int | None, layout: int, linear_before_reset: int,
         ctx: EmitContext | None) -> tuple[Any, ...]:
    s = _prepare(X, W, R, B, sequence_lens, [initial_h], direction, hidden_size, layout, "GRU",
                 ctx)
    defaults = ["Sigmoid", "Tanh"]
    acts = _activations(activations, defaults, s.n_dir, activation_alpha, activation_beta, "GRU")
    # torch's GRU applies the reset gate after the recurrent matmul: linear_before_reset=1
    if linear_before_reset and clip is None and s.lens is None and _plain(activations, defaults):
        return _fused(s, torch.gru, _GRU_ORDER, 1)
    clipped = _clipper(clip)
    return _loop(s, lambda d: _gru_cell(s, d, acts[d], clipped, linear_before_reset), 1)


@emits("GRU", since=1)
def gru(X: Any, W: Any, R: Any, B: Any = None, sequence_lens: Any = None,
        initial_h: Any = None, *, activation_alpha: tuple[float, ...] | None = None,
        activation_beta: tuple[float, ...] | None = None,
        activations: tuple[str, ...] | None = None, clip: float | None = None,
        direction: str = "forward", hidden_size: int | None = None, layout: int = 0,
        linear_before_reset: int = 0, output_sequence: int = 0,
        ctx: EmitContext | None = None) -> tuple[Any, ...]:
    """GRU-1/3/7/14/22: X, W, R, B?, sequence_lens?, initial_h? -> Y, Y_h; linear_before_reset
    (3) defaults to GRU-1's reset before linear, layout (14) 0 or 1; output_sequence (1/3)
    as for RNN."""
    return _gru(X, W, R, B, sequence_lens, initial_h, activation_alpha, activation_beta,
                activations, clip, direction, hidden_size, layout, linear_before_reset, ctx)


# ------------------------------------------------------------------------------- LSTM


def _lstm_cell(s: _Rnn, d: int, P: Any, acts: list[Act], clipped: Act,
               input_forget: int) -> tuple[Cell, Any]:
    """One LSTM direction's cell (gates stacked i, o, f, c; peepholes i, o, f)."""
    H = s.hidden
    wb, rb = _biases(s, d, 4 * H)
    rt = s.R[d].T  # [H, 4H]
    p = None if P is None else T(P)[d].to(s.ct)

    def cell(xw: Any, st: tuple[Any, ...]) -> tuple[Any, ...]:
        h, c = st
        return lstm_update(xw + h @ rt, c, p, H, acts, clipped, input_forget)

    return cell, wb + rb


def _lstm(X: Any, W: Any, R: Any, B: Any, sequence_lens: Any, initial_h: Any, initial_c: Any,
          P: Any, activation_alpha: Sequence[float] | None,
          activation_beta: Sequence[float] | None, activations: Sequence[str] | None,
          clip: float | None, direction: str, hidden_size: int | None, input_forget: int,
          layout: int, ctx: EmitContext | None) -> tuple[Any, ...]:
    s = _prepare(X, W, R, B, sequence_lens, [initial_h, initial_c], direction, hidden_size,
                 layout, "LSTM", ctx)
    defaults = ["Sigmoid", "Tanh", "Tanh"]
    acts = _activations(activations, defaults, s.n_dir, activation_alpha, activation_beta, "LSTM")
    if (clip is None and s.lens is None and P is None and not input_forget
            and _plain(activations, defaults)):
        return _fused(s, torch.lstm, _LSTM_ORDER, 2)
    clipped = _clipper(clip)
    return _loop(s, lambda d: _lstm_cell(s, d, P, acts[d], clipped, input_forget), 2)


@emits("LSTM", since=1)
def lstm(X: Any, W: Any, R: Any, B: Any = None, sequence_lens: Any = None,
         initial_h: Any = None, initial_c: Any = None, P: Any = None, *,
         activation_alpha: tuple[float, ...] | None = None,
         activation_beta: tuple[float, ...] | None = None,
         activations: tuple[str, ...] | None = None, clip: float | None = None,
         direction: str = "forward", hidden_size: int | None = None, input_forget: int = 0,
         layout: int = 0, output_sequence: int = 0,
         ctx: EmitContext | None = None) -> tuple[Any, ...]:
    """LSTM-1/7/14/22: X, W, R, B?, sequence_lens?, initial_h?, initial_c?, P? -> Y, Y_h, Y_c;
    layout (14) 0 or 1; output_sequence (1) as for RNN."""
    return _lstm(X, W, R, B, sequence_lens, initial_h, initial_c, P, activation_alpha,
                 activation_beta, activations, clip, direction, hidden_size, input_forget, layout,
                 ctx)
