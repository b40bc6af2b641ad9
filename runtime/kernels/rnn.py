"""Kernels: recurrent layers (RNN, GRU, LSTM).

All three share one driver: the input projection ``X @ W^T + Wb`` is computed for every time
step in a single matmul, then a Python loop over time applies the op's cell, vectorised over
the batch. ``sequence_lens`` is honoured by masking: past a sequence's end its state is frozen
and its ``Y`` rows are zero; a reverse pass reverses each sequence within its own length, so
it starts at that sequence's last valid step. float16/bfloat16 are computed in float32.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from tensorbridge.ir.rnn_activations import bind_activations
from tensorbridge.ir.rnn_math import gru_update, lstm_update
from tensorbridge.runtime.registry import kernel

Array = np.ndarray
# (xw_t, state) -> new state; state[0] is the hidden state H.
Step = Callable[[Array, tuple[Array, ...]], tuple[Array, ...]]


def _sigmoid(x: Array) -> Array:
    # tanh form: no overflow warning for large negative inputs, one transcendental call.
    return 0.5 * (np.tanh(0.5 * x) + 1.0)


def _softplus(x: Array) -> Array:
    return np.logaddexp(0, x).astype(x.dtype, copy=False)


# name -> (function(x, alpha, beta), default alpha or None if unused, default beta or None)
_ACTIVATIONS: dict[str, tuple[Callable[[Array, float, float], Array], float | None, float | None]] = {
    "relu": (lambda x, a, b: np.maximum(x, 0), None, None),
    "tanh": (lambda x, a, b: np.tanh(x), None, None),
    "sigmoid": (lambda x, a, b: _sigmoid(x), None, None),
    "affine": (lambda x, a, b: a * x + b, 1.0, 0.0),
    "leakyrelu": (lambda x, a, b: np.where(x >= 0, x, a * x), 0.01, None),
    "thresholdedrelu": (lambda x, a, b: np.where(x >= a, x, 0), 1.0, None),
    "scaledtanh": (lambda x, a, b: a * np.tanh(b * x), 1.0, 1.0),
    "hardsigmoid": (lambda x, a, b: np.clip(a * x + b, 0, 1), 0.2, 0.5),
    "elu": (lambda x, a, b: np.where(x >= 0, x, a * np.expm1(np.minimum(x, 0))), 1.0, None),
    "softsign": (lambda x, a, b: x / (1 + np.abs(x)), None, None),
    "softplus": (lambda x, a, b: _softplus(x), None, None),
}


def _activations(names: Sequence[str] | None, defaults: Sequence[str], num_directions: int,
                 alphas: Sequence[float] | None, betas: Sequence[float] | None,
                 op: str) -> list[list[Callable[[Array], Array]]]:
    return bind_activations(_ACTIVATIONS, names, defaults, num_directions, alphas, betas, op)


def _num_directions(direction: str, W: Array, op: str) -> int:
    n = {"forward": 1, "reverse": 1, "bidirectional": 2}.get(direction)
    if n is None:
        raise ValueError(f"{op} direction must be forward, reverse or bidirectional, got {direction!r}")
    if W.shape[0] != n:
        raise ValueError(f"{op}: W has {W.shape[0]} directions but direction={direction!r}")
    return n


def _work_dtype(x: Array) -> np.dtype:
    return np.dtype(np.float32) if x.dtype.itemsize < 4 else x.dtype


def _reverse_index(seq: int, lens: Array | None) -> tuple[Array, Array] | None:
    """Index pair reversing each batch entry within its own length (an involution)."""
    if lens is None:
        return None
    t = np.arange(seq)[:, None]
    src = np.where(t < lens[None, :], lens[None, :] - 1 - t, t)
    return src, np.broadcast_to(np.arange(lens.size)[None, :], src.shape)


def _scan(xw: Array, state: tuple[Array, ...], step: Step, lens: Array | None) -> tuple[Array, tuple[Array, ...]]:
    """Run ``step`` over time. Returns Y [seq, batch, hidden] and the final state."""
    seq = xw.shape[0]
    y = np.empty((seq,) + state[0].shape, dtype=state[0].dtype)
    for t in range(seq):
        new = step(xw[t], state)
        if lens is None:
            state, y[t] = new, new[0]
        else:
            live = (t < lens)[:, None]
            state = tuple(np.where(live, n, s) for n, s in zip(new, state, strict=True))
            y[t] = np.where(live, new[0], 0)
    return y, state


def _run(X: Array, W: Array, sequence_lens: Array | None, initial: Sequence[Array | None],
         direction: str, layout: int, hidden: int,
         make_step: Callable[[int, np.dtype], Step]) -> tuple[Array, list[Array]]:
    """Drive all directions. Returns Y and the final states, both in the op's ``layout``."""
    if layout not in (0, 1):
        raise ValueError(f"layout must be 0 or 1, got {layout}")
    dt = _work_dtype(X)
    x = X.astype(dt, copy=False)
    if layout == 1:
        x = x.swapaxes(0, 1)
        initial = [None if s is None else s.swapaxes(0, 1) for s in initial]
    seq, batch = x.shape[0], x.shape[1]
    lens = None if sequence_lens is None else sequence_lens.astype(np.int64).reshape(-1)
    if lens is not None and np.all(lens == seq):
        lens = None  # full-length sequences need no masking
    rev = _reverse_index(seq, lens)
    ys, finals = [], []
    for d in range(W.shape[0]):
        backwards = d == 1 or direction == "reverse"
        xd = (x[rev] if rev is not None else x[::-1]) if backwards else x
        xw = xd @ W[d].astype(dt, copy=False).T  # every time step's input projection at once
        state = tuple(np.zeros((batch, hidden), dt) if s is None else s[d].astype(dt, copy=False)
                      for s in initial)
        y, state = _scan(xw, state, make_step(d, dt), lens)
        if backwards:
            y = y[rev] if rev is not None else y[::-1]
        ys.append(y)
        finals.append(np.stack(state, axis=0))  # [n_state, batch, hidden]
    y_all = np.stack(ys, axis=1).astype(X.dtype, copy=False)  # [seq, dir, batch, hidden]
    final = np.stack(finals, axis=1).astype(X.dtype, copy=False)  # [n_state, dir, batch, hidden]
    if layout == 1:
        return y_all.transpose(2, 0, 1, 3), list(final.swapaxes(1, 2))
    return y_all, list(final)


def _clipper(clip: float | None) -> Callable[[Array], Array]:
    """Bound a gate pre-activation to [-clip, clip] (identity when clip is unset)."""
    if clip is None:
        return lambda v: v
    return lambda v: np.clip(v, -clip, clip)


def _bias(B: Array | None, d: int, n: int, dt: np.dtype) -> tuple[Array, Array]:
    """(Wb, Rb) of direction d for n stacked gate rows; zeros when B is absent."""
    if B is None:
        return np.zeros(n, dt), np.zeros(n, dt)
    b = B[d].astype(dt, copy=False)
    return b[:n], b[n:]


# --------------------------------------------------------------------------------------- RNN


def _rnn(X: Array, W: Array, R: Array, B: Array | None, sequence_lens: Array | None,
         initial_h: Array | None, activation_alpha: list[float] | None,
         activation_beta: list[float] | None, activations: list[str] | None, clip: float | None,
         direction: str, hidden_size: int | None, layout: int) -> tuple[Array, Array]:
    n_dir = _num_directions(direction, W, "RNN")
    hidden = hidden_size or R.shape[-1]
    acts = _activations(activations, ["Tanh"], n_dir, activation_alpha, activation_beta, "RNN")
    clipped = _clipper(clip)

    def make_step(d: int, dt: np.dtype) -> Step:
        rt = R[d].astype(dt, copy=False).T
        wb, rb = _bias(B, d, hidden, dt)
        bias = wb + rb
        f = acts[d][0]
        return lambda xw, s: (f(clipped(xw + s[0] @ rt + bias)),)

    y, (y_h,) = _run(X, W, sequence_lens, [initial_h], direction, layout, hidden, make_step)
    return y, y_h


@kernel("RNN", since=1)
def rnn(X: Array, W: Array, R: Array, B: Array | None = None,
        sequence_lens: Array | None = None, initial_h: Array | None = None, *,
        activation_alpha: list[float] | None = None, activation_beta: list[float] | None = None,
        activations: list[str] | None = None, clip: float | None = None,
        direction: str = "forward", hidden_size: int | None = None, layout: int = 0,
        output_sequence: int = 0) -> tuple[Array, Array]:
    """RNN-1/7/14/22: X, W, R, B?, sequence_lens?, initial_h? -> Y, Y_h; layout (14) 0 or 1.
    (RNN-1's output_sequence only says whether Y may be omitted; the session keeps the
    outputs the node declares.)"""
    return _rnn(X, W, R, B, sequence_lens, initial_h, activation_alpha, activation_beta,
                activations, clip, direction, hidden_size, layout)


# --------------------------------------------------------------------------------------- GRU


def _gru_step(R: Array, B: Array | None, d: int, dt: np.dtype, hidden: int,
              acts: list[Callable[[Array], Array]], clipped: Callable[[Array], Array],
              linear_before_reset: int) -> Step:
    """One GRU direction's cell; gates are stacked z, r, h."""
    H = hidden
    wb, rb = _bias(B, d, 3 * H, dt)
    # Rbz, Rbr fold into the input bias; Rbh must stay inside the reset-gated term.
    xbias = wb + np.concatenate((rb[:2 * H], np.zeros(H, dt)))
    rbh = rb[2 * H:]
    r_all = R[d].astype(dt, copy=False).T  # [H, 3H]

    def step(xw: Array, s: tuple[Array, ...]) -> tuple[Array, ...]:
        return (gru_update(xw + xbias, s[0], r_all, rbh, H, acts, clipped, linear_before_reset),)

    return step


def _gru(X: Array, W: Array, R: Array, B: Array | None, sequence_lens: Array | None,
         initial_h: Array | None, activation_alpha: list[float] | None,
         activation_beta: list[float] | None, activations: list[str] | None, clip: float | None,
         direction: str, hidden_size: int | None, layout: int,
         linear_before_reset: int) -> tuple[Array, Array]:
    n_dir = _num_directions(direction, W, "GRU")
    hidden = hidden_size or R.shape[-1]
    acts = _activations(activations, ["Sigmoid", "Tanh"], n_dir, activation_alpha,
                        activation_beta, "GRU")
    clipped = _clipper(clip)

    def make_step(d: int, dt: np.dtype) -> Step:
        return _gru_step(R, B, d, dt, hidden, acts[d], clipped, linear_before_reset)

    y, (y_h,) = _run(X, W, sequence_lens, [initial_h], direction, layout, hidden, make_step)
    return y, y_h


@kernel("GRU", since=1)
def gru(X: Array, W: Array, R: Array, B: Array | None = None,
        sequence_lens: Array | None = None, initial_h: Array | None = None, *,
        activation_alpha: list[float] | None = None, activation_beta: list[float] | None = None,
        activations: list[str] | None = None, clip: float | None = None,
        direction: str = "forward", hidden_size: int | None = None, layout: int = 0,
        linear_before_reset: int = 0, output_sequence: int = 0) -> tuple[Array, Array]:
    """GRU-1/3/7/14/22: X, W, R, B?, sequence_lens?, initial_h? -> Y, Y_h; linear_before_reset
    (3) defaults to GRU-1's reset before linear, layout (14) 0 or 1; output_sequence (1/3)
    as for RNN."""
    return _gru(X, W, R, B, sequence_lens, initial_h, activation_alpha, activation_beta,
                activations, clip, direction, hidden_size, layout, linear_before_reset)


# -------------------------------------------------------------------------------------- LSTM


def _lstm_step(R: Array, B: Array | None, P: Array | None, d: int, dt: np.dtype, hidden: int,
               acts: list[Callable[[Array], Array]], clipped: Callable[[Array], Array],
               input_forget: int) -> Step:
    """One LSTM direction's cell; gates are stacked i, o, f, c and peepholes i, o, f."""
    H = hidden
    wb, rb = _bias(B, d, 4 * H, dt)
    bias = wb + rb
    r_t = R[d].astype(dt, copy=False).T  # [H, 4H]
    p = None if P is None else P[d].astype(dt, copy=False)

    def step(xw: Array, s: tuple[Array, ...]) -> tuple[Array, ...]:
        h, c = s
        return lstm_update(xw + h @ r_t + bias, c, p, H, acts, clipped, input_forget)

    return step


def _lstm(X: Array, W: Array, R: Array, B: Array | None, sequence_lens: Array | None,
          initial_h: Array | None, initial_c: Array | None, P: Array | None,
          activation_alpha: list[float] | None, activation_beta: list[float] | None,
          activations: list[str] | None, clip: float | None, direction: str,
          hidden_size: int | None, input_forget: int, layout: int) -> tuple[Array, Array, Array]:
    n_dir = _num_directions(direction, W, "LSTM")
    hidden = hidden_size or R.shape[-1]
    acts = _activations(activations, ["Sigmoid", "Tanh", "Tanh"], n_dir, activation_alpha,
                        activation_beta, "LSTM")
    clipped = _clipper(clip)

    def make_step(d: int, dt: np.dtype) -> Step:
        return _lstm_step(R, B, P, d, dt, hidden, acts[d], clipped, input_forget)

    y, (y_h, y_c) = _run(X, W, sequence_lens, [initial_h, initial_c], direction, layout,
                         hidden, make_step)
    return y, y_h, y_c


@kernel("LSTM", since=1)
def lstm(X: Array, W: Array, R: Array, B: Array | None = None,
         sequence_lens: Array | None = None, initial_h: Array | None = None,
         initial_c: Array | None = None, P: Array | None = None, *,
         activation_alpha: list[float] | None = None, activation_beta: list[float] | None = None,
         activations: list[str] | None = None, clip: float | None = None,
         direction: str = "forward", hidden_size: int | None = None, input_forget: int = 0,
         layout: int = 0, output_sequence: int = 0) -> tuple[Array, Array, Array]:
    """LSTM-1/7/14/22: X, W, R, B?, sequence_lens?, initial_h?, initial_c?, P? -> Y, Y_h, Y_c;
    layout (14) 0 or 1; output_sequence (1) as for RNN."""
    return _lstm(X, W, R, B, sequence_lens, initial_h, initial_c, P, activation_alpha,
                 activation_beta, activations, clip, direction, hidden_size, input_forget, layout)
