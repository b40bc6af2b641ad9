"""The ONNX GRU and LSTM cell updates, written once with the operators every tensor type
has (``@``, slicing, ``+``, ``-``, ``*``): the runtime's numpy kernels and both emitters
(torch tensors, TF tensors) run this same code, each with its own activations and clip.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

Fn = Callable[[Any], Any]


def lstm_update(gates: Any, c: Any, p: Any, hidden: int, acts: Sequence[Fn], clipped: Fn,
                input_forget: int) -> tuple[Any, Any]:
    """(h', c') from one step's pre-activation ``gates`` [batch, 4H] (blocks i, o, f, c:
    input and recurrent projections and both biases already summed), the cell state ``c``
    and the peepholes ``p`` [3H] (i, o, f; or None)."""
    f, g, h_act = acts
    H = hidden
    gi, go, gf, gc = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    if p is not None:
        gi, gf = gi + p[:H] * c, gf + p[2 * H:] * c
    i = f(clipped(gi))
    # coupled gates (input_forget=1) tie the forget gate to the input gate
    forget = 1 - i if input_forget else f(clipped(gf))
    c_new = forget * c + i * g(clipped(gc))
    if p is not None:
        go = go + p[H:2 * H] * c_new
    # the clip bounds gate pre-activations only; like onnxruntime, h(C) sees the raw cell
    return f(clipped(go)) * h_act(c_new), c_new


def gru_update(xw: Any, h: Any, r_t: Any, rbh: Any, hidden: int, acts: Sequence[Fn], clipped: Fn,
               linear_before_reset: int) -> Any:
    """h' from one step's input projection ``xw`` [batch, 3H] (blocks z, r, h, with Wb and
    the recurrent biases Rbz, Rbr added), the state ``h``, ``r_t`` = R^T [H, 3H] and the
    recurrent bias of the candidate, ``rbh`` [H], which stays inside the reset-gated term."""
    f, g = acts
    H = hidden
    hr = h @ (r_t if linear_before_reset else r_t[:, :2 * H])
    z = f(clipped(xw[:, :H] + hr[:, :H]))
    r = f(clipped(xw[:, H:2 * H] + hr[:, H:2 * H]))
    if linear_before_reset:
        cand = g(clipped(xw[:, 2 * H:] + r * (hr[:, 2 * H:] + rbh)))
    else:
        cand = g(clipped(xw[:, 2 * H:] + (r * h) @ r_t[:, 2 * H:] + rbh))
    return cand + z * (h - cand)  # == (1 - z) * cand + z * h
