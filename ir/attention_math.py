"""The ONNX Attention rules written once: work and softmax precision, the default scale,
3-D <-> 4-D head layouts, grouped-query head counts, the key mask (boolean or additive, a
mask shorter than the keys padded as "not attended", the causal frontier shifted by the
past length, sliding windows, key padding), the softmax whose fully masked rows give zeros,
and the spec's function body from Q·K^T to P·V with the qk_matmul_output stages.

The runtime kernel and both emitters run this code with their own array operations (an
object following :class:`AttentionOps`); the batched matmul that folds query heads into
their K/V group, and framework shortcuts such as torch's SDPA, stay in each layer.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

from tensorbridge.ir.dtypes import DType

# qk_matmul_output_mode: which intermediate the 4th output returns
QK_STAGES = ("Q·K^T scaled", "after softcap", "after the mask", "after softmax")


class AttentionOps(Protocol):
    """The array operations the Attention maths calls (numpy, torch or TF spellings).
    ``dt`` arguments are the framework's own dtype objects."""

    def arange(self, n: Any) -> Any:
        """0, 1, ..., n - 1 as int64."""
    def reshape(self, x: Any, shape: list[int]) -> Any: ...
    def to_int64(self, x: Any) -> Any: ...
    def cast(self, x: Any, dt: Any) -> Any: ...
    def const(self, value: float, dt: Any) -> Any:
        """A scalar in dt, to multiply a tensor of dt without promoting it."""
    def pad_keys(self, mask: Any, short: Any, fill: Any) -> Any:
        """``mask`` with ``short`` (>= 0, possibly a scalar tensor) entries of ``fill``
        appended on its last axis."""
    def blocked(self, allowed: Any, dt: Any) -> Any:
        """0 where ``allowed``, -inf elsewhere, in dt."""
    def where(self, cond: Any, a: Any, b: Any) -> Any:
        """Elementwise choice; ``a`` may be a Python number (in ``b``'s type)."""
    def isneginf(self, x: Any) -> Any: ...
    def exp(self, x: Any) -> Any: ...
    def tanh(self, x: Any) -> Any: ...
    def row_max(self, x: Any) -> Any:
        """Max over the last axis, keeping it."""
    def row_sum(self, x: Any) -> Any:
        """Sum over the last axis, keeping it (rounded as the framework's reference does)."""
    def swap_last(self, x: Any) -> Any:
        """Transpose the last two axes."""
    def sqrt_scale(self, scale: float, dt: Any) -> Any:
        """sqrt(scale) computed in float32, then cast to dt."""
    def matmul(self, a: Any, b: Any, heads: tuple[int, int]) -> Any:
        """a[B, Hq, L, X] @ b[B, Hkv, X, Y], query head h using K/V head h // (Hq // Hkv)."""
    def half_matmul(self, a: Any, b: Any, heads: tuple[int, int], dt: Any) -> Any:
        """:meth:`matmul` of half-precision operands accumulated in float32, rounded once
        to dt (as a low-precision MatMul does)."""
    def interleave(self, a: Any, b: Any) -> Any:
        """[..., n] and [..., n] -> [..., 2n] as a0, b0, a1, b1, ..."""
    def concat_last(self, a: Any, b: Any) -> Any:
        """Concatenate on the last axis."""


# ------------------------------------------------------------------ types and shapes


def precision(half: bool, any_double: bool,
              softmax_precision: int | None) -> tuple[DType | None, DType | None]:
    """(work type, softmax type), None meaning the input type T. float16 / bfloat16 inputs
    compute in T where the function body does (matmuls still accumulate in float32);
    otherwise the work precision is never below float32, DOUBLE if any input is. The
    softmax runs in softmax_precision when given (spec: "if not provided, the same
    precision as the input of softmax"); only a DOUBLE one raises a float32 work type."""
    if half:
        return None, (DType(softmax_precision) if softmax_precision is not None else None)
    work = DType.DOUBLE if any_double else DType.FLOAT
    soft = DType(softmax_precision) if softmax_precision is not None else work
    return (DType.DOUBLE if soft == DType.DOUBLE else work), soft


def needs_split(rank: int, num_heads: int | None, hidden: Any, name: str) -> bool:
    """True for a 3-D [B, S, H*D] input (split it into [B, H, S, D]); False for 4-D.
    Anything else, or a 3-D input without its head-count attribute, is an error."""
    if rank == 4:
        return False
    if rank != 3 or not num_heads or (isinstance(hidden, int) and hidden % num_heads):
        raise ValueError(f"Attention {name} must be 4-D, or 3-D with a hidden size divisible by "
                         f"the head-count attribute (q_num_heads / kv_num_heads); got rank "
                         f"{rank}, hidden size {hidden}, heads={num_heads}")
    return True


def kv_group_size(hq: int, hkv: int) -> int:
    """Query heads per K/V head in grouped-query attention."""
    if hkv == 0 or hq % hkv:
        raise ValueError(f"Attention: q_num_heads ({hq}) must be a multiple of kv_num_heads "
                         f"({hkv})")
    return hq // hkv


def work_types(half: bool, any_double: bool, softmax_precision: int | None, input_type: Any,
               to_framework: Callable[[DType], Any]) -> tuple[Any, Any]:
    """:func:`precision` as the framework's dtype objects: (work type, softmax type), the
    input type where :func:`precision` says T."""
    work, soft = precision(half, any_double, softmax_precision)
    return (input_type if work is None else to_framework(work),
            input_type if soft is None else to_framework(soft))


def default_scale(head_size: Any, scale: float | None = None) -> float:
    """The scale attribute when given, else the spec's default 1 / sqrt(head_size)."""
    return 1.0 / math.sqrt(head_size) if scale is None else scale


def check_qk_mode(mode: int) -> None:
    if not 0 <= mode < len(QK_STAGES):
        raise ValueError(f"Attention qk_matmul_output_mode must be 0..3 ({', '.join(QK_STAGES)}),"
                         f" got {mode}")


# -------------------------------------------------------------------------- the mask


def query_offset(past_len: Any, nonpad_kv_seqlen: Any, q_len: Any, xp: AttentionOps) -> Any:
    """Keys that precede the query block: the internal cache's length, or (per batch entry,
    shaped [B, 1, 1, 1]) the valid part of an external cache minus the queries themselves."""
    if past_len is not None:
        return past_len
    if nonpad_kv_seqlen is not None:
        return xp.reshape(xp.to_int64(nonpad_kv_seqlen), [-1, 1, 1, 1]) - q_len
    return 0


def pad_mask(mask: Any, mask_len: Any, kv_len: Any, is_bool: bool, xp: AttentionOps) -> Any:
    """A mask shorter than the keys (past + new) is padded with "not attended": False for
    a boolean mask, -inf for an additive one."""
    short = kv_len - mask_len
    if isinstance(short, int) and short <= 0:
        return mask
    return xp.pad_keys(mask, short, False if is_bool else -math.inf)


def attention_bias(mask: Any, mask_len: Any, is_bool: bool, q_len: Any, kv_len: Any,
                   offset: Any, is_causal: int, left: int, right: int, nonpad: Any, dt: Any,
                   xp: AttentionOps) -> Any:
    """Additive bias broadcastable to [B, Hq, L, S], or None: a float mask is added as it
    is; a boolean mask (True = attend), the causal frontier (key j <= offset + row i), the
    sliding window (offset + i - left <= j <= offset + i + right, -1 = unbounded) and key
    padding (j < nonpad_kv_seqlen) block keys with -inf. ``mask_len`` is the mask's last
    dimension (see :func:`pad_mask`)."""
    bias = allowed = None
    if mask is not None:
        mask = pad_mask(mask, mask_len, kv_len, is_bool, xp)
        if is_bool:
            allowed = mask
        else:
            bias = xp.cast(mask, dt)
    j = xp.arange(kv_len)
    pos = xp.arange(q_len)[:, None] + offset  # absolute position of each query row
    rules = []
    if is_causal:
        rules.append(j <= pos)
    if left >= 0:
        rules.append(j >= pos - left)
    if right >= 0:
        rules.append(j <= pos + right)
    if nonpad is not None:
        rules.append(j < xp.reshape(xp.to_int64(nonpad), [-1, 1, 1, 1]))
    for rule in rules:
        allowed = rule if allowed is None else allowed & rule
    if allowed is not None:
        blocked = xp.blocked(allowed, dt)
        bias = blocked if bias is None else bias + blocked
    return bias


def key_bias(mask: Any, mask_len: Any, is_bool: bool, q_len: Any, kv_len: Any,
             past_len: Any, nonpad: Any, is_causal: int, left: int, right: int, dt: Any,
             xp: AttentionOps) -> Any:
    """:func:`attention_bias` for a node whose internal cache holds ``past_len`` keys (None
    without past_key) and whose external cache's valid lengths are ``nonpad`` (None without
    nonpad_kv_seqlen): the query rows are placed by :func:`query_offset`."""
    offset = query_offset(past_len, nonpad, q_len, xp)
    return attention_bias(mask, mask_len, is_bool, q_len, kv_len, offset, is_causal, left,
                          right, nonpad, dt, xp)


# -------------------------------------------------------------------------- the body


def safe_softmax(x: Any, xp: AttentionOps) -> Any:
    """Softmax over the last axis; a row that is entirely -inf (every key masked) yields
    zeros instead of NaN."""
    m = xp.row_max(x)
    m = xp.where(xp.isneginf(m), 0, m)
    e = xp.exp(x - m)
    s = xp.row_sum(e)
    return e / xp.where(s == 0, 1, s)


def attention_body(q: Any, k: Any, v: Any, bias: Any, scale: float, softcap: float,
                   heads: tuple[int, int], dt: Any, sm: Any, half: bool,
                   xp: AttentionOps) -> tuple[Any, list[Any]]:
    """The spec's function body on 4-D Q [B, Hq, L, D], K/V [B, Hkv, S, D]: scores =
    scale * Q·K^T, softcap * tanh(scores / softcap) when softcap > 0, + bias, softmax (in
    sm), P·V in dt. Returns (Y [B, Hq, L, Dv], the four qk_matmul_output stages)."""
    kt = xp.swap_last(xp.cast(k, dt))
    if half:
        # the body scales Q and K each by sqrt(scale) (computed in float32, cast to T)
        # before the MatMul, so both scaled operands are rounded to T
        s = xp.sqrt_scale(scale, dt)
        scores = xp.half_matmul(q * s, kt * s, heads, dt)
    else:
        # scaling Q (L*D values) is cheaper than scaling the L*S scores, and equivalent
        scores = xp.matmul(xp.cast(q, dt) * xp.const(scale, dt), kt, heads)
    stages = [scores]
    if softcap > 0:
        c = xp.const(softcap, dt)
        scores = c * xp.tanh(scores / c)
    stages.append(scores)
    if bias is not None:
        scores = scores + bias
    stages.append(scores)
    probs = safe_softmax(xp.cast(scores, sm), xp)
    stages.append(probs)
    p = xp.cast(probs, dt)
    y = xp.half_matmul(p, v, heads, dt) if half else xp.matmul(p, xp.cast(v, dt), heads)
    return y, stages


# --------------------------------------------------------------------- RotaryEmbedding


def rotate(xr: Any, rot: int, cos: Any, sin: Any, interleaved: int, xp: AttentionOps) -> Any:
    """RotaryEmbedding's rotation of the ``rot`` rotary features ``xr`` [..., rot] by
    ``cos`` / ``sin`` (broadcastable to [..., rot / 2]): the pairs are (x[2i], x[2i+1])
    when interleaved, else (x[i], x[i + rot/2]); each pair (a, b) becomes
    (cos a - sin b, sin a + cos b), written back to the same places."""
    half = rot // 2
    x1, x2 = (xr[..., 0::2], xr[..., 1::2]) if interleaved else (xr[..., :half], xr[..., half:])
    real, imag = cos * x1 - sin * x2, sin * x1 + cos * x2
    return xp.interleave(real, imag) if interleaved else xp.concat_last(real, imag)
