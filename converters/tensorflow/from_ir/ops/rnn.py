"""Recurrent emitters (RNN, GRU, LSTM).

All three share one driver: the input projection ``X @ W^T + Wb`` of every time step is one
matmul, then ``tf.scan`` runs the op's cell over time (a graph loop, so the sequence length
may be dynamic and gradients reach W, R, B and P). ``sequence_lens`` is honoured by masking:
past a sequence's end its state is frozen and its ``Y`` rows are zero; a reverse pass
reverses each sequence within its own length (``tf.reverse_sequence``), so it starts at that
sequence's last valid step. float16/bfloat16 are computed in float32."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import tensorflow as tf

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.converters.tensorflow.from_ir.registry import emits
from tensorbridge.ir.rnn_activations import bind_activations
from tensorbridge.ir.rnn_math import gru_update, lstm_update

Fn = Callable[[Any], Any]
# (xw_t, state) -> new state; state[0] is the hidden state H.
Step = Callable[[Any, tuple[Any, ...]], tuple[Any, ...]]

# name -> (function(x, alpha, beta), default alpha or None if unused, default beta or None)
_ACTIVATIONS: dict[str, tuple[Callable[[Any, float, float], Any], float | None, float | None]] = {
    "relu": (lambda x, a, b: tf.nn.relu(x), None, None),
    "tanh": (lambda x, a, b: tf.tanh(x), None, None),
    "sigmoid": (lambda x, a, b: tf.sigmoid(x), None, None),
    "affine": (lambda x, a, b: a * x + b, 1.0, 0.0),
    "leakyrelu": (lambda x, a, b: tf.where(x >= 0, x, a * x), 0.01, None),
    "thresholdedrelu": (lambda x, a, b: tf.where(x > a, x, tf.zeros_like(x)), 1.0, None),
    "scaledtanh": (lambda x, a, b: a * tf.tanh(b * x), 1.0, 1.0),
    "hardsigmoid": (lambda x, a, b: tf.clip_by_value(a * x + b, 0.0, 1.0), 0.2, 0.5),
    "elu": (lambda x, a, b: tf.where(x >= 0, x, a * tf.math.expm1(tf.minimum(x, 0.0))), 1.0, None),
    "softsign": (lambda x, a, b: tf.nn.softsign(x), None, None),
    "softplus": (lambda x, a, b: tf.nn.softplus(x), None, None),
}


def _activations(names: Sequence[str] | None, defaults: Sequence[str], num_directions: int,
                 alphas: Sequence[float] | None, betas: Sequence[float] | None,
                 op: str) -> list[list[Fn]]:
    return bind_activations(_ACTIVATIONS, names, defaults, num_directions, alphas, betas, op)


def _num_directions(direction: str, op: str) -> int:
    n = {"forward": 1, "reverse": 1, "bidirectional": 2}.get(direction)
    if n is None:
        raise ValueError(f"{op} direction must be forward, reverse or bidirectional, "
                         f"got {direction!r}")
    return n


def _clipper(clip: float | None) -> Fn:
    """Bound a gate pre-activation to [-clip, clip] (identity when clip is unset)."""
    if clip is None:
        return lambda v: v
    return lambda v: tf.clip_by_value(v, -clip, clip)


def _bias(B: Any, d: int, n: int, dt: Any) -> tuple[Any, Any]:
    """(Wb, Rb) of direction d for n stacked gate rows; zeros when B is absent."""
    if B is None:
        return tf.zeros([n], dt), tf.zeros([n], dt)
    b = tf.cast(B[d], dt)
    return b[:n], b[n:]


def _scan(xw: Any, state: tuple[Any, ...], step: Step, live: Any) -> tuple[Any, tuple[Any, ...]]:
    """Run ``step`` over time. Returns Y [seq, batch, hidden] and the final state."""
    if live is None:
        states = tf.scan(lambda s, x: step(x, s), xw, initializer=state)
        return states[0], tuple(s[-1] for s in states)

    def masked(s: tuple[Any, ...], elems: tuple[Any, Any]) -> tuple[Any, ...]:
        x, alive = elems
        new = step(x, s)
        return tuple(tf.where(alive, n, o) for n, o in zip(new, s))

    states = tf.scan(masked, (xw, live), initializer=state)
    return states[0] * tf.cast(live, xw.dtype), tuple(s[-1] for s in states)


def _run(X: Any, W: Any, sequence_lens: Any, initial: Sequence[Any], direction: str,
         layout: int, hidden: int, make_step: Callable[[int, Any], Step],
         op: str) -> tuple[Any, list[Any]]:
    """Drive all directions. Returns Y and the final states, both in the op's ``layout``."""
    n_dir = _num_directions(direction, op)
    dt = tf.float32 if X.dtype in (tf.float16, tf.bfloat16) else X.dtype
    x = tf.cast(X, dt)
    if layout == 1:
        x = tf.transpose(x, [1, 0, 2])
        initial = [None if s is None else tf.transpose(s, [1, 0, 2]) for s in initial]
    shape = tf.shape(x)
    seq, batch = shape[0], shape[1]
    lens = live = None
    if sequence_lens is not None:
        lens = tf.cast(sequence_lens, tf.int32)
        live = (tf.range(seq)[:, None] < lens[None, :])[:, :, None]  # [seq, batch, 1]
    ys, finals = [], []
    for d in range(n_dir):
        backwards = d == 1 or direction == "reverse"
        xd = x
        if backwards:
            xd = tf.reverse(x, [0]) if lens is None else \
                tf.reverse_sequence(x, lens, seq_axis=0, batch_axis=1)
        xw = tf.einsum("tbi,gi->tbg", xd, tf.cast(W[d], dt))  # every step's projection at once
        state = tuple(tf.zeros(tf.stack([batch, hidden]), dt) if s is None else tf.cast(s[d], dt)
                      for s in initial)
        y, state = _scan(xw, state, make_step(d, dt), live)
        if backwards:
            y = tf.reverse(y, [0]) if lens is None else \
                tf.reverse_sequence(y, lens, seq_axis=0, batch_axis=1)
        ys.append(y)
        finals.append(tf.stack(state, axis=0))  # [n_state, batch, hidden]
    y_all = tf.cast(tf.stack(ys, axis=1), X.dtype)  # [seq, dir, batch, hidden]
    final = tf.cast(tf.stack(finals, axis=1), X.dtype)  # [n_state, dir, batch, hidden]
    if layout == 1:
        return tf.transpose(y_all, [2, 0, 1, 3]), list(tf.unstack(
            tf.transpose(final, [0, 2, 1, 3]), num=len(initial)))
    return y_all, list(tf.unstack(final, num=len(initial)))


def _used(outputs: tuple[Any, ...], ctx: EmitContext) -> Any:
    """The outputs a node declares: one value alone, else the tuple."""
    return outputs[0] if ctx.n_outputs == 1 else outputs


def _hidden(hidden_size: int | None, R: Any) -> int:
    return hidden_size or int(R.shape[-1])


# --------------------------------------------------------------------------------------- RNN


def _rnn(X: Any, W: Any, R: Any, B: Any, sequence_lens: Any, initial_h: Any,
         activation_alpha: Sequence[float] | None, activation_beta: Sequence[float] | None,
         activations: Sequence[str] | None, clip: float | None, direction: str,
         hidden_size: int | None, layout: int, ctx: EmitContext) -> Any:
    hidden = _hidden(hidden_size, R)
    acts = _activations(activations, ["Tanh"], _num_directions(direction, "RNN"),
                        activation_alpha, activation_beta, "RNN")
    clipped = _clipper(clip)

    def make_step(d: int, dt: Any) -> Step:
        rt = tf.transpose(tf.cast(R[d], dt))
        wb, rb = _bias(B, d, hidden, dt)
        bias = wb + rb
        f = acts[d][0]
        return lambda xw, s: (f(clipped(xw + tf.matmul(s[0], rt) + bias)),)

    y, (y_h,) = _run(X, W, sequence_lens, [initial_h], direction, layout, hidden, make_step,
                     "RNN")
    return _used((y, y_h), ctx)


@emits("RNN", since=1)
def rnn(X: Any, W: Any, R: Any, B: Any = None, sequence_lens: Any = None,
        initial_h: Any = None, *, activation_alpha: tuple[float, ...] | None = None,
        activation_beta: tuple[float, ...] | None = None,
        activations: tuple[str, ...] | None = None, clip: float | None = None,
        direction: str = "forward", hidden_size: int | None = None, layout: int = 0,
        output_sequence: int = 0, ctx: EmitContext) -> Any:
    """RNN-1/7/14/22: X, W, R, B?, sequence_lens?, initial_h? -> Y, Y_h. RNN-1's
    output_sequence only says whether Y may be omitted (7 removed it); layout (14) 0 or 1."""
    return _rnn(X, W, R, B, sequence_lens, initial_h, activation_alpha, activation_beta,
                activations, clip, direction, hidden_size, layout, ctx)


# --------------------------------------------------------------------------------------- GRU


def _gru_step(R: Any, B: Any, d: int, dt: Any, hidden: int, acts: list[Fn], clipped: Fn,
              linear_before_reset: int) -> Step:
    """One GRU direction's cell; gates are stacked z, r, h."""
    H = hidden
    wb, rb = _bias(B, d, 3 * H, dt)
    # Rbz, Rbr fold into the input bias; Rbh must stay inside the reset-gated term
    xbias = wb + tf.concat([rb[:2 * H], tf.zeros([H], dt)], 0)
    rbh = rb[2 * H:]
    r_all = tf.transpose(tf.cast(R[d], dt))  # [H, 3H]

    def step(xw: Any, s: tuple[Any, ...]) -> tuple[Any, ...]:
        return (gru_update(xw + xbias, s[0], r_all, rbh, H, acts, clipped, linear_before_reset),)

    return step


def _gru(X: Any, W: Any, R: Any, B: Any, sequence_lens: Any, initial_h: Any,
         activation_alpha: Sequence[float] | None, activation_beta: Sequence[float] | None,
         activations: Sequence[str] | None, clip: float | None, direction: str,
         hidden_size: int | None, layout: int, linear_before_reset: int,
         ctx: EmitContext) -> Any:
    hidden = _hidden(hidden_size, R)
    acts = _activations(activations, ["Sigmoid", "Tanh"], _num_directions(direction, "GRU"),
                        activation_alpha, activation_beta, "GRU")
    clipped = _clipper(clip)

    def make_step(d: int, dt: Any) -> Step:
        return _gru_step(R, B, d, dt, hidden, acts[d], clipped, linear_before_reset)

    y, (y_h,) = _run(X, W, sequence_lens, [initial_h], direction, layout, hidden, make_step,
                     "GRU")
    return _used((y, y_h), ctx)


@emits("GRU", since=1)
def gru(X: Any, W: Any, R: Any, B: Any = None, sequence_lens: Any = None,
        initial_h: Any = None, *, activation_alpha: tuple[float, ...] | None = None,
        activation_beta: tuple[float, ...] | None = None,
        activations: tuple[str, ...] | None = None, clip: float | None = None,
        direction: str = "forward", hidden_size: int | None = None, layout: int = 0,
        linear_before_reset: int = 0, output_sequence: int = 0, ctx: EmitContext) -> Any:
    """GRU-1/3/7/14/22: X, W, R, B?, sequence_lens?, initial_h? -> Y, Y_h; each version adds
    with a default that keeps the earlier meaning: linear_before_reset (3, reset before the
    linear map by default), layout (14); output_sequence (1/3) only says whether Y may be
    omitted."""
    return _gru(X, W, R, B, sequence_lens, initial_h, activation_alpha, activation_beta,
                activations, clip, direction, hidden_size, layout, linear_before_reset, ctx)


# -------------------------------------------------------------------------------------- LSTM


def _lstm_step(R: Any, B: Any, P: Any, d: int, dt: Any, hidden: int, acts: list[Fn],
               clipped: Fn, input_forget: int) -> Step:
    """One LSTM direction's cell; gates are stacked i, o, f, c and peepholes i, o, f."""
    H = hidden
    wb, rb = _bias(B, d, 4 * H, dt)
    bias = wb + rb
    r_t = tf.transpose(tf.cast(R[d], dt))  # [H, 4H]
    p = None if P is None else tf.cast(P[d], dt)

    def step(xw: Any, s: tuple[Any, ...]) -> tuple[Any, ...]:
        h, c = s
        return lstm_update(xw + tf.matmul(h, r_t) + bias, c, p, H, acts, clipped, input_forget)

    return step


def _lstm(X: Any, W: Any, R: Any, B: Any, sequence_lens: Any, initial_h: Any, initial_c: Any,
          P: Any, activation_alpha: Sequence[float] | None,
          activation_beta: Sequence[float] | None, activations: Sequence[str] | None,
          clip: float | None, direction: str, hidden_size: int | None, input_forget: int,
          layout: int, ctx: EmitContext) -> Any:
    hidden = _hidden(hidden_size, R)
    acts = _activations(activations, ["Sigmoid", "Tanh", "Tanh"],
                        _num_directions(direction, "LSTM"), activation_alpha, activation_beta,
                        "LSTM")
    clipped = _clipper(clip)

    def make_step(d: int, dt: Any) -> Step:
        return _lstm_step(R, B, P, d, dt, hidden, acts[d], clipped, input_forget)

    y, (y_h, y_c) = _run(X, W, sequence_lens, [initial_h, initial_c], direction, layout,
                         hidden, make_step, "LSTM")
    return _used((y, y_h, y_c), ctx)


@emits("LSTM", since=1)
def lstm(X: Any, W: Any, R: Any, B: Any = None, sequence_lens: Any = None,
         initial_h: Any = None, initial_c: Any = None, P: Any = None, *,
         activation_alpha: tuple[float, ...] | None = None,
         activation_beta: tuple[float, ...] | None = None,
         activations: tuple[str, ...] | None = None, clip: float | None = None,
         direction: str = "forward", hidden_size: int | None = None, input_forget: int = 0,
         layout: int = 0, output_sequence: int = 0, ctx: EmitContext) -> Any:
    """LSTM-1/7/14/22: X, W, R, B?, sequence_lens?, initial_h?, initial_c?, P? -> Y, Y_h,
    Y_c; output_sequence (1) only says whether Y may be omitted; layout (14) 0 or 1."""
    return _lstm(X, W, R, B, sequence_lens, initial_h, initial_c, P, activation_alpha,
                 activation_beta, activations, clip, direction, hidden_size, input_forget, layout,
                 ctx)
