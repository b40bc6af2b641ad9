"""Attention (opset 23) as the MatMul/Softmax graph its ONNX schema defines:

    Q, K, V (3-D inputs split into q_num_heads / kv_num_heads heads)
    K, V <- Concat(past_key, K), Concat(past_value, V)   (present_key / present_value)
    K, V heads repeated (interleaved) to Q's head count (grouped-query attention)
    scores = (Q * sqrt(scale)) @ (K * sqrt(scale))^T          (scale default 1/sqrt(head size))
    scores = softcap * tanh(scores / softcap)                  (softcap > 0)
    bias   = attn_mask (bool: 0 where True, -inf where False; padded with -inf up to the
             key length) + causal bias (query i sees key j iff j <= i + past length)
    probs  = Softmax(scores + bias) in softmax_precision; rows whose bias is all -inf -> 0
    Y      = probs @ V (3-D: heads merged back)

qk_matmul_output (output 3) is the scores (mode 0), after softcap (1), with the bias (2)
or the probabilities (3)."""

from __future__ import annotations

import numpy as np

from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.node import Value
from tensorbridge.ir.passes.decompositions import unsupported
from tensorbridge.ir.passes.opset_builder import OpBuilder

_HEADS_PERM = (0, 2, 1, 3)
Lengths = tuple[int | None, int | None, int | None]  # query, keys (with the past), past: static or None


def attention(b: OpBuilder) -> None:
    ins = b.inputs() + [None] * 7
    q_in, k_in, v_in, mask, past_key, past_value, nonpad = ins[:7]
    if q_in is None or k_in is None or v_in is None or q_in.dtype is None:
        raise unsupported(b, "Q, K and V must be given with a known element type")
    if nonpad is not None:
        raise unsupported(b, "nonpad_kv_seqlen (Attention-24) has no opset-23 equivalent")
    if (past_key is None) != (past_value is None):
        raise unsupported(b, "past_key and past_value must be given together")
    dt = q_in.dtype
    rank = b.rank(q_in)
    if rank not in (3, 4):
        raise unsupported(b, f"Q must have a known rank of 3 or 4 (has {rank})")
    q, k, v = _split_heads(b, q_in, k_in, v_in, rank)
    if past_key is not None and past_value is not None:
        k = b.op("Concat", [past_key, k], {"axis": 2}, dtype=dt)
        v = b.op("Concat", [past_value, v], {"axis": 2}, dtype=v.dtype)
    present_key, present_value = k, v
    k, v = _repeat_kv_heads(b, q, k, v, rank)
    lengths = _static_lengths(b, q_in, k_in, past_key, rank)
    root_scale = _root_scale(b, q, _static_head_size(b, q_in, rank), dt)
    kt = b.op("Transpose", [b.op("Mul", [k, root_scale], dtype=dt)], {"perm": [0, 1, 3, 2]}, dtype=dt)
    raw = b.op("MatMul", [b.op("Mul", [q, root_scale], dtype=dt), kt], dtype=dt)
    capped = _softcap(b, raw, dt)
    bias = _bias(b, mask, q, k, past_key, lengths, dt)
    scores = capped if bias is None else b.op("Add", [capped, bias], dtype=dt)
    probs = _softmax(b, scores, bias if mask is not None else None, dt)
    y = b.op("MatMul", [probs, v], dtype=v.dtype)
    if rank == 3:
        merged = b.op("Transpose", [y], {"perm": list(_HEADS_PERM)}, dtype=v.dtype)
        y = b.op("Reshape", [merged, b.ints([0, 0, -1], "merge_heads")], dtype=v.dtype)
    mode = int(b.attr("qk_matmul_output_mode", 0))
    qk_out = {0: raw, 1: capped, 2: scores, 3: probs}.get(mode)
    if qk_out is None:
        raise unsupported(b, f"qk_matmul_output_mode={mode}")
    b.replace([y, present_key, present_value, qk_out])


def _split_heads(b: OpBuilder, q: Value, k: Value, v: Value, rank: int) -> tuple[Value, Value, Value]:
    """3-D (batch, seq, heads * size) inputs as 4-D (batch, heads, seq, size)."""
    if rank == 4:
        return q, k, v
    q_heads, kv_heads = b.attr("q_num_heads"), b.attr("kv_num_heads")
    if q_heads is None or kv_heads is None:
        raise unsupported(b, "3-D inputs need the q_num_heads and kv_num_heads attributes")

    def heads(x: Value, n: int) -> Value:
        split = b.op("Reshape", [x, b.ints([0, 0, int(n), -1], "split_heads")], dtype=x.dtype)
        return b.op("Transpose", [split], {"perm": list(_HEADS_PERM)}, dtype=x.dtype)

    return heads(q, q_heads), heads(k, kv_heads), heads(v, kv_heads)


def _head_counts(b: OpBuilder, q: Value, k: Value, rank: int) -> tuple[int | None, int | None]:
    if rank == 3:
        return int(b.attr("q_num_heads")), int(b.attr("kv_num_heads"))
    return b.static_dim(q, 1), b.static_dim(k, 1)


def _repeat_kv_heads(b: OpBuilder, q: Value, k: Value, v: Value, rank: int) -> tuple[Value, Value]:
    """Grouped-query attention: each K/V head repeated for the Q heads it serves
    ([h0, h0, h1, h1, ...]). Head counts not known statically are read from the shapes."""
    q_heads, kv_heads = _head_counts(b, q, k, rank)
    if q_heads is not None and kv_heads is not None:
        if q_heads == kv_heads:
            return k, v
        if q_heads % kv_heads:
            raise unsupported(b, f"{q_heads} query heads are not a multiple of {kv_heads} key/value heads")
        reps: Value = b.ints([q_heads // kv_heads], "head_reps")
        q_count: Value = b.ints([q_heads], "q_heads")
    else:
        q_count = b.dim(q, 1)
        reps = b.op("Div", [q_count, b.dim(k, 1)], dtype=DType.INT64, shape=(1,))
    expand = b.op("Concat", [b.ints([1, 1], "ones"), reps, b.ints([1, 1], "ones")], {"axis": 0},
                  dtype=DType.INT64, shape=(5,))
    return _repeat(b, k, q_count, expand), _repeat(b, v, q_count, expand)


def _repeat(b: OpBuilder, x: Value, q_count: Value, expand: Value) -> Value:
    shape = b.op("Shape", [x], dtype=DType.INT64, shape=(4,))
    batch = b.op("Gather", [shape, b.ints([0], "batch_axis")], {"axis": 0}, dtype=DType.INT64, shape=(1,))
    rest = b.op("Gather", [shape, b.ints([2, 3], "seq_axes")], {"axis": 0}, dtype=DType.INT64, shape=(2,))
    target = b.op("Concat", [batch, q_count, rest], {"axis": 0}, dtype=DType.INT64, shape=(4,))
    tiled = b.op("Expand", [b.unsqueeze(x, [2]), expand], dtype=x.dtype)
    return b.op("Reshape", [tiled, target], dtype=x.dtype)


def _static_lengths(b: OpBuilder, q: Value, k: Value, past_key: Value | None,
                    rank: int) -> tuple[int | None, int | None, int | None]:
    """(query length, key length with the past, past length), each None when not static."""
    seq = 2 if rank == 4 else 1
    q_len, new_keys = b.static_dim(q, seq), b.static_dim(k, seq)
    past = 0 if past_key is None else b.static_dim(past_key, 2)
    keys = new_keys + past if new_keys is not None and past is not None else None
    return q_len, keys, past


def _static_head_size(b: OpBuilder, q: Value, rank: int) -> int | None:
    if rank == 4:
        return b.static_dim(q, 3)
    hidden, heads = b.static_dim(q, 2), int(b.attr("q_num_heads"))
    return hidden // heads if hidden is not None else None


def _root_scale(b: OpBuilder, q: Value, size: int | None, dt: DType) -> Value:
    """sqrt(scale), applied to Q and to K as the spec does (the default scale is
    1/sqrt(head size): a head size the IR does not know is read from Q's shape)."""
    scale = b.attr("scale")
    if scale is not None:
        return b.scalar(float(np.sqrt(float(scale))), dt, "root_scale")
    if size is not None:
        return b.scalar(float(np.sqrt(1.0 / np.sqrt(size))), dt, "root_scale")
    head = b.op("Cast", [b.dim(q, 3)], {"to": int(dt)}, dtype=dt, shape=(1,))
    inv = b.op("Reciprocal", [b.op("Sqrt", [head], dtype=dt)], dtype=dt)
    return b.op("Sqrt", [inv], dtype=dt)


def _softcap(b: OpBuilder, scores: Value, dt: DType) -> Value:
    cap = float(b.attr("softcap", 0.0) or 0.0)
    if cap <= 0:
        return scores
    c = b.scalar(cap, dt, "softcap")
    return b.op("Mul", [b.op("Tanh", [b.op("Div", [scores, c], dtype=dt)], dtype=dt), c], dtype=dt)


def _bias(b: OpBuilder, mask: Value | None, q: Value, k: Value, past_key: Value | None,
          lengths: Lengths, dt: DType) -> Value | None:
    """The additive bias: the mask's (padded to the key length) plus the causal one."""
    mask_bias = None if mask is None else _pad_to_keys(b, _mask_bias(b, mask, dt), k, lengths[1], dt)
    if not int(b.attr("is_causal", 0)):
        return mask_bias
    causal = _causal_bias(b, q, k, past_key, lengths, dt)
    return causal if mask_bias is None else b.op("Add", [mask_bias, causal], dtype=dt)


def _mask_bias(b: OpBuilder, mask: Value, dt: DType) -> Value:
    if mask.dtype is DType.BOOL:
        return b.op("Where", [mask, b.scalar(0.0, dt, "zero"), b.scalar(-np.inf, dt, "neg_inf")],
                    dtype=dt, shape=mask.shape)
    if mask.dtype != dt:
        raise unsupported(b, f"a float attn_mask must have Q's type ({dt.name}), not "
                          f"{mask.dtype.name if mask.dtype else 'unknown'}")
    return mask


def _pad_to_keys(b: OpBuilder, bias: Value, k: Value, keys: int | None, dt: DType) -> Value:
    """A mask shorter than the keys (past + new) is padded with -inf on its last axis."""
    width = b.static_dim(bias, -1)
    if width is not None and keys is not None and width >= keys:
        return bias
    rank = b.rank(bias)
    if rank is None:
        raise unsupported(b, "an attn_mask of unknown rank")
    if width is not None and keys is not None:
        pads: Value = b.ints([0] * (2 * rank - 1) + [keys - width], "mask_pads")
    else:
        missing = b.op("Sub", [b.dim(k, 2), b.dim(bias, -1)], dtype=DType.INT64, shape=(1,))
        pads = b.op("Concat", [b.ints([0] * (2 * rank - 1), "mask_pads"), missing], {"axis": 0},
                    dtype=DType.INT64, shape=(2 * rank,))
    return b.op("Pad", [bias, pads, b.scalar(-np.inf, dt, "neg_inf")], dtype=dt)


def _causal_bias(b: OpBuilder, q: Value, k: Value, past_key: Value | None, lengths: Lengths,
                 dt: DType) -> Value:
    """(q_len, kv_len): 0 where key j <= query i + past length, else -inf (bottom-right)."""
    q_len, kv_len, offset = lengths
    if q_len is not None and kv_len is not None and offset is not None:
        allowed = np.arange(kv_len)[None, :] <= np.arange(q_len)[:, None] + offset
        return b.const(np.where(allowed, 0.0, -np.inf).astype(dt.np_dtype), name="causal_bias")
    zero, one = b.const(np.array(0, np.int64), name="zero"), b.const(np.array(1, np.int64), name="one")

    def length(x: Value, axis: int) -> Value:  # a scalar, as Range takes it
        return b.op("Squeeze", [b.dim(x, axis)], dtype=DType.INT64, shape=())

    rows = b.unsqueeze(b.op("Range", [zero, length(q, 2), one], dtype=DType.INT64), [1])
    if past_key is not None:
        rows = b.op("Add", [rows, length(past_key, 2)], dtype=DType.INT64)
    cols = b.op("Range", [zero, length(k, 2), one], dtype=DType.INT64)
    if b.opset >= 12:
        allowed = b.op("LessOrEqual", [cols, rows], dtype=DType.BOOL)
    else:
        allowed = b.op("Not", [b.op("Greater", [cols, rows], dtype=DType.BOOL)], dtype=DType.BOOL)
    return b.op("Where", [allowed, b.scalar(0.0, dt, "zero"), b.scalar(-np.inf, dt, "neg_inf")], dtype=dt)


def _softmax(b: OpBuilder, scores: Value, mask_bias: Value | None, dt: DType) -> Value:
    """Softmax over the keys in softmax_precision, back in Q's type; rows that the mask
    leaves no key to attend (the bias all -inf) are zero, as the spec requires."""
    precision = b.attr("softmax_precision")
    wide = DType(int(precision)) if precision is not None else dt
    probs = b.op("Softmax", [b.cast(scores, wide)], {"axis": -1}, dtype=wide)
    if mask_bias is not None:
        row_max = b.reduce("ReduceMax", mask_bias, [-1], dtype=dt)
        masked = b.op("Equal", [row_max, b.scalar(-np.inf, dt, "neg_inf")], dtype=DType.BOOL)
        probs = b.op("Where", [masked, b.scalar(0.0, wide, "zero"), probs], dtype=wide)
    return b.cast(probs, dt)
