"""Kernels: matrix products, Einsum, cumulative ops, Det, Softmax family, TopK, Trilu.

Float products go straight to ``np.matmul`` (BLAS). numpy has no BLAS path for float16 or
bfloat16, so those are computed in float32 and converted back, which is also how
accelerated runtimes accumulate them. The integer products (MatMulInteger) are in
:mod:`quantization`.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tensorbridge.ir.axis_math import norm_axis
from tensorbridge.runtime.kernels.cast import HALF_FLOATS
from tensorbridge.runtime.registry import kernel


def _matmul(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    if A.dtype in HALF_FLOATS:
        return np.matmul(A.astype(np.float32), B.astype(np.float32)).astype(A.dtype)
    return np.matmul(A, B)


@kernel("MatMul", since=1)
def matmul(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """MatMul-1/9/13: numpy.matmul semantics (1-D operands promoted, batch dims broadcast)."""
    return _matmul(A, B)


def _gemm(A: np.ndarray, B: np.ndarray, C: np.ndarray | None, alpha: float, beta: float,
          transA: int, transB: int) -> np.ndarray:
    Y = _matmul(A.T if transA else A, B.T if transB else B)
    bias = None if C is None or beta == 0.0 else C
    if Y.dtype.kind in "iu" and (alpha != 1.0 or (bias is not None and beta != 1.0)):
        # Integer Gemm with real coefficients: combine in float64 and truncate once.
        out = Y * alpha
        if bias is not None:
            out += bias * beta
        return out.astype(Y.dtype)
    # Y is a fresh array we own: scale and accumulate in place (C broadcasts to it).
    if alpha != 1.0:
        Y *= alpha
    if bias is not None:
        Y += bias if beta == 1.0 else bias * beta
    return Y


@kernel("Gemm", since=1)
def gemm_1(A: np.ndarray, B: np.ndarray, C: np.ndarray, *, alpha: float = 1.0,
           beta: float = 1.0, broadcast: int = 0, transA: int = 0, transB: int = 0) -> np.ndarray:
    """Gemm-1/6: alpha * A' @ B' + beta * C; C broadcasts only when ``broadcast`` is set."""
    m = A.shape[1] if transA else A.shape[0]
    n = B.shape[0] if transB else B.shape[1]
    if not broadcast and C.shape != (m, n):
        raise ValueError(f"Gemm C has shape {C.shape}, expected {(m, n)} (broadcast=0)")
    return _gemm(A, B, C, alpha, beta, transA, transB)


@kernel("Gemm", since=7)
def gemm(A: np.ndarray, B: np.ndarray, C: np.ndarray | None = None, *, alpha: float = 1.0,
         beta: float = 1.0, transA: int = 0, transB: int = 0) -> np.ndarray:
    """Gemm-7/9/11/13: Y = alpha * A' @ B' + beta * C (C optional from 11)."""
    return _gemm(A, B, C, alpha, beta, transA, transB)


@kernel("Einsum", since=12)
def einsum(*Inputs: np.ndarray, equation: str) -> np.ndarray:
    """Einsum-12/28: Einstein summation (explicit or implicit form, ellipsis allowed)."""
    eq = equation.replace(" ", "")
    dtype = Inputs[0].dtype
    ops = [x.astype(np.float32) for x in Inputs] if dtype in HALF_FLOATS else Inputs
    # optimize=True picks a contraction order and routes pairwise products through BLAS.
    out = np.einsum(eq, *ops, optimize=len(ops) > 1)
    return np.asarray(out).astype(dtype, copy=False)


def _axis_of(axis: np.ndarray, ndim: int, op: str) -> int:
    # A scalar's running sum is itself: axis 0 (or -1) is accepted for rank 0.
    return norm_axis(int(np.asarray(axis).reshape(-1)[0]), max(ndim, 1), op)


def _cumulative(x: np.ndarray, axis: int, exclusive: int, reverse: int, op: np.ufunc,
                identity: int) -> np.ndarray:
    if reverse:
        x = np.flip(x, axis)
    if exclusive:
        # Shift by one: out[0] = identity, out[i] = op(x[0..i-1]).
        out = np.full_like(x, identity)
        head = [slice(None)] * x.ndim
        tail = [slice(None)] * x.ndim
        head[axis], tail[axis] = slice(1, None), slice(None, -1)
        op.accumulate(x[tuple(tail)], axis=axis, dtype=x.dtype, out=out[tuple(head)])
    else:
        out = op.accumulate(x, axis=axis, dtype=x.dtype)
    return np.flip(out, axis) if reverse else out


@kernel("CumSum", since=11)
def cum_sum(x: np.ndarray, axis: np.ndarray, *, exclusive: int = 0, reverse: int = 0) -> np.ndarray:
    """CumSum-11/14: running sum along ``axis``, optionally exclusive and/or reversed."""
    return _cumulative(x, _axis_of(axis, x.ndim, "CumSum"), exclusive, reverse, np.add, 0)


@kernel("CumProd", since=26)
def cum_prod(x: np.ndarray, axis: np.ndarray, *, exclusive: int = 0, reverse: int = 0) -> np.ndarray:
    """CumProd-26: running product along ``axis``, optionally exclusive and/or reversed."""
    return _cumulative(x, _axis_of(axis, x.ndim, "CumProd"), exclusive, reverse, np.multiply, 1)


@kernel("Det", since=11)
def det(X: np.ndarray) -> np.ndarray:
    """Det-11/22: determinant of each trailing square matrix."""
    if X.dtype in HALF_FLOATS:
        return np.linalg.det(X.astype(np.float32)).astype(X.dtype)
    return np.asarray(np.linalg.det(X)).astype(X.dtype, copy=False)


# --------------------------------------------------------------------------------------
# Softmax family. Opsets < 13 flatten the input to 2-D at ``axis`` and normalise each row;
# opset 13 normalises along the single ``axis``. Unlike the matrix products these compute in
# the input's own type, float16/bfloat16 included: the conformance data (e.g. the expanded
# bf16 Attention cases) encode that rounding, and a float32 detour differs by an ulp.


# exp(-80) is far above float32's smallest normal (exp(-87.3)): shifting every row by one
# global maximum cannot underflow a row's sum when the tensor's values span less than this.
_GLOBAL_SHIFT_SPAN = 80.0


def _shift(x: np.ndarray, axis: int) -> np.ndarray | np.generic:
    """What to subtract before exp: the global max when that is safe (a full contiguous
    reduction is ~10x cheaper than a per-row one), else each row's max."""
    if x.dtype in (np.float32, np.float64) and x.size:
        hi, lo = x.max(), x.min()
        if np.isfinite(hi) and np.isfinite(lo) and hi - lo < _GLOBAL_SHIFT_SPAN:
            return hi
    return np.max(x, axis=axis, keepdims=True)


def _softmax(x: np.ndarray, axis: int) -> np.ndarray:
    y = x - _shift(x, axis)
    return _normalized_exp(y, axis)


def softmax_inplace(y: np.ndarray, axis: int) -> np.ndarray:
    """Softmax of ``y`` written over ``y`` (a buffer the caller owns)."""
    y -= _shift(y, axis)
    return _normalized_exp(y, axis)


def _normalized_exp(y: np.ndarray, axis: int) -> np.ndarray:
    np.exp(y, out=y)
    y /= np.sum(y, axis=axis, keepdims=True)
    return y


def _log_softmax(x: np.ndarray, axis: int) -> np.ndarray:
    y = x - _shift(x, axis)
    y -= np.log(np.sum(np.exp(y), axis=axis, keepdims=True))
    return y


def _hardmax(x: np.ndarray, axis: int) -> np.ndarray:
    out = np.zeros_like(x)
    first_max = np.expand_dims(np.argmax(x, axis=axis), axis)
    np.put_along_axis(out, first_max, 1, axis=axis)
    return out


def _coerced_2d(fn: Callable[[np.ndarray, int], np.ndarray], x: np.ndarray,
                axis: int, op: str) -> np.ndarray:
    rows = int(np.prod(x.shape[:norm_axis(axis, x.ndim, op)], dtype=np.int64))
    return fn(x.reshape(rows, -1), 1).reshape(x.shape)


@kernel("Softmax", since=1)
def softmax_1(input: np.ndarray, *, axis: int = 1) -> np.ndarray:
    """Softmax-1/11: softmax over the input flattened to 2-D at ``axis``."""
    return _coerced_2d(_softmax, input, axis, "Softmax")


@kernel("Softmax", since=13)
def softmax(input: np.ndarray, *, axis: int = -1) -> np.ndarray:
    """Softmax-13: exp(x) / sum(exp(x)) along ``axis``."""
    return _softmax(input, axis)


@kernel("LogSoftmax", since=1)
def log_softmax_1(input: np.ndarray, *, axis: int = 1) -> np.ndarray:
    """LogSoftmax-1/11: log-softmax over the input flattened to 2-D at ``axis``."""
    return _coerced_2d(_log_softmax, input, axis, "LogSoftmax")


@kernel("LogSoftmax", since=13)
def log_softmax(input: np.ndarray, *, axis: int = -1) -> np.ndarray:
    """LogSoftmax-13: x - log(sum(exp(x))) along ``axis``."""
    return _log_softmax(input, axis)


@kernel("Hardmax", since=1)
def hardmax_1(input: np.ndarray, *, axis: int = 1) -> np.ndarray:
    """Hardmax-1/11: one-hot of the first maximum of each row of the 2-D coerced input."""
    return _coerced_2d(_hardmax, input, axis, "Hardmax")


@kernel("Hardmax", since=13)
def hardmax(input: np.ndarray, *, axis: int = -1) -> np.ndarray:
    """Hardmax-13: one-hot of the first maximum along ``axis``."""
    return _hardmax(input, axis)


# --------------------------------------------------------------------------------------
# TopK. Equal values come out lowest index first. Small k (the common case) repeatedly takes
# the arg-max of each row and masks it out: k SIMD passes instead of a full sort, ~50x
# faster for k=10 of 4096. Other cases sort.

_SELECT_MAX_K = 64


def _top_k_sorted(x: np.ndarray, k: int, largest: int) -> np.ndarray:
    """Indices of the top k along the last axis, by a stable sort."""
    n = x.shape[-1]
    if not largest:
        return np.argsort(x, axis=-1, kind="stable")[..., :k]
    # A stable ascending sort of the reversed axis, read backwards, orders values
    # descending with ties by ascending index.
    order = np.argsort(x[..., ::-1], axis=-1, kind="stable")[..., ::-1][..., :k]
    return (n - 1) - order


def _top_k_selected(x: np.ndarray, k: int, largest: int) -> np.ndarray | None:
    """Indices of the top k along the last axis by k arg-max passes, or None when the
    masking value (-inf for largest) already occurs in the data or the type is unsuitable."""
    if x.dtype.kind in "iu" and x.dtype.itemsize <= 4:
        work = x.astype(np.float64)  # exact, and cannot hold the +-inf mask value
    elif x.dtype.kind == "f" or x.dtype in HALF_FLOATS:
        work = np.array(x, dtype=np.float32 if x.dtype in HALF_FLOATS else x.dtype, order="C")
        if (np.isneginf if largest else np.isposinf)(work).any():
            return None
    else:
        return None
    rows = work.reshape(-1, x.shape[-1])
    picked = np.empty((rows.shape[0], k), dtype=np.int64)
    row_ids = np.arange(rows.shape[0])
    find, mask = (np.argmax, -np.inf) if largest else (np.argmin, np.inf)
    for j in range(k):
        best = find(rows, axis=1)  # first occurrence: ties resolve to the lowest index
        picked[:, j] = best
        rows[row_ids, best] = mask
    return picked.reshape(x.shape[:-1] + (k,))


def _top_k(X: np.ndarray, k: int, axis: int, largest: int) -> tuple[np.ndarray, np.ndarray]:
    axis = norm_axis(axis, X.ndim, "TopK")
    n = X.shape[axis]
    if not 0 <= k <= n:
        raise ValueError(f"TopK k={k} is outside [0, {n}] (size of axis {axis})")
    x = np.moveaxis(X, axis, -1)
    indices = None
    if 0 < k <= min(_SELECT_MAX_K, n // 4):
        indices = _top_k_selected(x, k, largest)
    if indices is None:
        indices = _top_k_sorted(x, k, largest)
    values = np.take_along_axis(x, indices, axis=-1)
    return np.moveaxis(values, -1, axis), np.moveaxis(indices, -1, axis)


@kernel("TopK", since=10)
def top_k(X: np.ndarray, K: np.ndarray, *, axis: int = -1, largest: int = 1,
          sorted: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """TopK-10/11/24: the k largest (or, from 11, smallest) values along ``axis`` and their
    indices; always returned sorted, which the spec allows for sorted=0. TopK-1's k attribute
    is rewritten by ir/op_versions.py."""
    return _top_k(X, int(np.asarray(K).reshape(-1)[0]), axis, largest)


@kernel("Trilu", since=14)
def trilu(input: np.ndarray, k: np.ndarray | None = None, *, upper: int = 1) -> np.ndarray:
    """Trilu-14: keep the upper (or lower) triangle of the last two dims from diagonal k."""
    diag = 0 if k is None else int(np.asarray(k).reshape(-1)[0])
    return np.triu(input, diag) if upper else np.tril(input, diag)
