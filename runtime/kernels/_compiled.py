"""Compiled loops for the few kernels numpy cannot run in a handful of passes.

- A depthwise convolution does a multiply-add per kernel tap on every output; under numpy
  that is two passes over the output per tap (or an im2col copy and one tiny GEMM per
  channel), and MLAS's dedicated depthwise kernel runs 5-10x faster than either. A loop
  that keeps one output pixel's channels in cache does the arithmetic in one pass.
- A fused conv's epilogue (bias, residual, Relu/Clip/HardSwish) and densenet's pre-activation
  BatchNormalization + Relu are one numpy pass each; here they are one pass in all (for a
  conv, in its own output buffer).
- A 2-D max or average pool is a pass per kernel row and column under numpy (six for 3x3);
  here each output row is built from its input rows in one cached row buffer.

These loops are compiled by numba when it is installed (the ``fast`` extra); without it
:data:`AVAILABLE` is False and callers keep their numpy path, which computes the same
thing. Compilation happens on first use, per dtype (0.4-1 s each; pools also per window
geometry), and nothing is cached on disk.

Floating-point semantics are kept: only ``contract`` (fused multiply-add) is allowed, no
reassociation, and NaN/inf propagate as in the numpy path.
"""

from __future__ import annotations

import importlib.util
from functools import cache, lru_cache
from typing import Any

import numpy as np

# numba is imported on first use (importing it takes ~0.23 s), so only plans that run a
# compiled loop pay for it.
AVAILABLE = importlib.util.find_spec("numba") is not None


@cache
def _compiled(name: str, *variant: Any) -> Any:
    """The compiled version of loop function ``name`` of this module; with ``variant``,
    ``name`` is a factory and the loop compiled is ``name(*variant)`` (its arguments are
    compile-time constants, so branches on them are pruned)."""
    if not AVAILABLE:
        raise RuntimeError(f"{name} needs numba (pip install 'tensorbridge[fast]'); callers "
                           "check _compiled.AVAILABLE first")
    import numba  # type: ignore[import-untyped]

    fn = globals()[name](*variant) if variant else globals()[name]
    return numba.njit(fastmath={"contract"}, boundscheck=False, cache=False, nogil=True)(fn)


def takes(dtype: np.dtype) -> bool:
    """Whether the compiled loops run on data of ``dtype`` (numba installed; float32 or
    float64)."""
    return AVAILABLE and dtype in (np.float32, np.float64)


# Which loop suits a depthwise layer (measured per layer, 1 thread, against the numpy paths
# and each other): wide outputs vectorise along whole rows (NCHW), narrow maps along the
# channels (channels-last).
ROWS_MIN_WIDTH = 28  # output width from which the wide-row loop wins whatever the channels
CHANNELS_LAST_MIN_CHANNELS = 64  # the channels-last loop needs this many to fill its vectors


def depthwise_applies(channels: int, out_shape: tuple[int, ...]) -> bool:
    """Whether :func:`depthwise_conv2d` beats the numpy paths on this 2-D layer."""
    if not AVAILABLE or len(out_shape) != 2:
        return False
    return out_shape[1] >= ROWS_MIN_WIDTH or channels >= CHANNELS_LAST_MIN_CHANNELS


def _depthwise_rows_loops(xph: np.ndarray, w: np.ndarray, tap_phase: np.ndarray,
                          tap_offset: np.ndarray, wq: int, block_rows: int, acc: np.ndarray,
                          y: np.ndarray) -> None:
    """y (C, Ho, Wo) = depthwise cross-correlation of a padded image given as its flat
    (row, column) stride phases xph (P, C, Hq * Wq), with w (C, T) for the T taps in
    row-major order; tap t reads phase tap_phase[t] from flat offset tap_offset[t] on.

    Each output row is computed Wq wide (the last Wq - Wo columns read into the next row and
    are dropped), so the rows of a block are one run of contiguous multiply-adds per tap,
    into ``acc`` (block_rows * Wq, cache-sized). Every array is read through a view indexed
    by the loop counter, which the vectoriser can prove is in bounds."""
    c, ho, wo = y.shape
    taps = w.shape[1]
    for ch in range(c):
        out = y[ch]
        for r0 in range(0, ho, block_rows):
            r1 = min(ho, r0 + block_rows)
            a = acc[:(r1 - r0) * wq]
            for t in range(taps):
                src = xph[tap_phase[t], ch][r0 * wq + tap_offset[t]:]
                wt = w[ch, t]
                if t == 0:
                    for p in range(a.shape[0]):
                        a[p] = wt * src[p]
                else:
                    for p in range(a.shape[0]):
                        a[p] += wt * src[p]
            for r in range(r1 - r0):
                row, dst = a[r * wq:], out[r0 + r]
                for q in range(wo):
                    dst[q] = row[q]


def _depthwise_channels_last_loops(xp: np.ndarray, w: np.ndarray, geom: np.ndarray,
                                   row: np.ndarray, y: np.ndarray) -> None:
    """y (C, Ho, Wo) = depthwise cross-correlation of the padded channels-last image
    xp (Hp, Wp, C) with w (kh, kw, C); ``geom`` = (stride h, stride w, dilation h, dilation
    w). One output row at a time is built channels-last in ``row`` (Wo, C), tap by tap
    (row-major order, as in the wide-row loop):
    every inner loop runs over the contiguous channels, and successive ones write different
    pixels (accumulating one pixel's taps back to back waits on its own stores: 1.4x
    slower). The finished row is written out to y's channel-first layout from cache."""
    kh, kw = w.shape[0], w.shape[1]
    c, ho, wo = y.shape
    sh, sw, dh, dw = geom[0], geom[1], geom[2], geom[3]
    for oh in range(ho):
        for a in range(kh):
            src = xp[oh * sh + a * dh]
            for b in range(kw):
                wt = w[a, b]
                first = a == 0 and b == 0
                for ow in range(wo):
                    s = src[ow * sw + b * dw]
                    o = row[ow]
                    if first:
                        for ch in range(c):
                            o[ch] = wt[ch] * s[ch]
                    else:
                        for ch in range(c):
                            o[ch] += wt[ch] * s[ch]
        for ch in range(c):
            for ow in range(wo):
                y[ch, oh, ow] = row[ow, ch]


def _depthwise_wide_rows(x: np.ndarray, w: np.ndarray, strides: tuple[int, ...],
                         dilations: tuple[int, ...], pads_begin: tuple[int, ...],
                         y: np.ndarray) -> None:
    """:func:`depthwise_conv2d` by :func:`_depthwise_rows_loops`: the padded image is
    split into its sh * sw stride phases (phase (ph, pw) holds padded cells (q * sh + ph,
    j * sw + pw)), so that every tap reads one phase at unit stride."""
    n, c = x.shape[:2]
    kh, kw = w.shape[2:]
    (sh, sw), (dh, dw), (pt, pl) = strides, dilations, pads_begin
    ho, wo = y.shape[2:]
    wq = wo + (kw - 1) * dw // sw  # phase columns any output row reads
    hq = ho + (kh - 1) * dh // sh + 1  # ... and rows, plus one the wide rows run into
    taps = [(a * dh, b * dw) for a in range(kh) for b in range(kw)]
    tap_phase = np.array([(r % sh) * sw + q % sw for r, q in taps], dtype=np.int64)
    tap_offset = np.array([(r // sh) * wq + q // sw for r, q in taps], dtype=np.int64)
    xph = np.zeros((sh * sw, c, hq, wq), dtype=x.dtype)
    block_rows = max(1, _ROW_BLOCK_BYTES // (wq * x.itemsize))
    acc = np.empty(min(ho, block_rows) * wq, dtype=x.dtype)
    wf = np.ascontiguousarray(w.reshape(c, kh * kw), dtype=x.dtype)
    loops = _compiled("_depthwise_rows_loops")
    for i in range(n):
        for ph in range(sh):
            r0 = (ph - pt) % sh  # the first image row in this phase, at phase row q0
            q0 = (r0 + pt) // sh
            for pw in range(sw):
                c0 = (pw - pl) % sw
                j0 = (c0 + pl) // sw
                src = x[i, :, r0::sh, c0::sw][:, :max(hq - q0, 0), :max(wq - j0, 0)]
                xph[ph * sw + pw, :, q0:q0 + src.shape[1], j0:j0 + src.shape[2]] = src
        loops(xph.reshape(sh * sw, c, hq * wq), wf, tap_phase, tap_offset, wq, block_rows, acc, y[i])


_ROW_BLOCK_BYTES = 16 * 1024  # the wide-row loop's accumulator: well inside L1


def depthwise_conv2d(x: np.ndarray, w: np.ndarray, strides: tuple[int, ...],
                     dilations: tuple[int, ...], pads_begin: tuple[int, ...],
                     out_shape: tuple[int, ...]) -> np.ndarray:
    """Depthwise 2-D conv (group == C == M) of unpadded x (N, C, H, W) with w (C, 1, kh, kw):
    (N, C, *out_shape) in x's dtype (float32 or float64), no bias. Needs :data:`AVAILABLE`.

    Wide outputs run the wide-row loop on the image's stride phases (for stride 1, the
    padded image itself); narrow ones with many channels move the image to channels-last
    (numpy's transposing copy into a zeroed, padded buffer) and back. Per layer against the
    numpy paths (AVX-512 machine, 1 thread): 16ch@112x112 0.11 against 0.31 ms, 64ch@112
    stride 2 0.35 against 0.75, 136ch@28 0.087 against 0.27, 272ch@14 0.066 against 0.21.
    onnxruntime's kernel is still faster (0.061, 0.12, 0.043, 0.024)."""
    if x.ndim != 4 or w.ndim != 4 or w.shape[:2] != (x.shape[1], 1):
        raise ValueError(f"depthwise conv: X {x.shape} and W {w.shape} are not (N, C, H, W) and (C, 1, kh, kw)")
    n, c, h, wd = x.shape
    kh, kw = w.shape[2:]
    (sh, sw), (dh, dw), (pt, pl) = strides, dilations, pads_begin
    ho, wo = out_shape
    y = np.empty((n, c, ho, wo), dtype=x.dtype)
    if wo >= ROWS_MIN_WIDTH:
        _depthwise_wide_rows(x, w, strides, dilations, pads_begin, y)
        return y
    hp = max((ho - 1) * sh + (kh - 1) * dh + 1, pt + h)
    wp = max((wo - 1) * sw + (kw - 1) * dw + 1, pl + wd)
    geom = np.array([sh, sw, dh, dw], dtype=np.int64)
    loops = _compiled("_depthwise_channels_last_loops")
    wl = np.ascontiguousarray(w[:, 0].transpose(1, 2, 0), dtype=x.dtype)
    xp = np.zeros((hp, wp, c), dtype=x.dtype)
    row = np.empty((wo, c), dtype=x.dtype)
    for i in range(n):
        xp[pt:pt + h, pl:pl + wd] = x[i].transpose(1, 2, 0)
        loops(xp, wl, geom, row, y[i])
    return y


def _channel_affine_loops(in_place: bool) -> Any:
    """The loop of :func:`channel_affine`; ``in_place``: it reads y itself and ignores x.
    (Reading and writing one buffer through two array arguments fails the vectorizer's
    overlap check, which made the loop 4x slower; one argument read and written does not.)"""

    def loops(x: np.ndarray, scale: np.ndarray, shift: np.ndarray, res: np.ndarray,
              has_res: bool, lo: float, hi: float, gate: np.ndarray, y: np.ndarray) -> None:
        """y (N, C, P) = act(clip(x * scale[c] + shift[c] [+ res], lo, hi)), where act is
        v * clip(gate[0] * v + gate[1], gate[2], gate[3]) (HardSwish) when gate[0] != 0,
        else the identity. NaN passes the clips unchanged, as in np.clip."""
        n, c, p = y.shape
        ga, gb, g0, g1 = gate[0], gate[1], gate[2], gate[3]
        gated = ga != 0
        for i in range(n):
            for ch in range(c):
                a, b = scale[ch], shift[ch]
                dst, r = y[i, ch], res[i if has_res else 0, ch if has_res else 0]
                src = dst if in_place else x[i, ch]
                for j in range(p):
                    v = src[j] * a + b
                    if has_res:
                        v = v + r[j]
                    if v < lo:
                        v = lo
                    elif v > hi:
                        v = hi
                    if gated:
                        t = v * ga + gb
                        if t < g0:
                            t = g0
                        elif t > g1:
                            t = g1
                        v = v * t
                    dst[j] = v

    return loops


def _pool2d_loops(is_max: bool, kh: int, kw: int, sh: int, sw: int, dh: int, dw: int) -> Any:
    """The loop of :func:`pool2d`: max (``is_max``) or sum pooling over this window. Its
    geometry is compiled in: with the kernel and strides as constants the loops vectorise
    (as arguments, 4-7x slower). Models use one to three pool windows."""

    def loops(x: np.ndarray, pt: int, pl: int, pad: float, divisor: np.ndarray,
              tmp: np.ndarray, y: np.ndarray) -> None:
        """y (C, Ho, Wo) = the windows of x (C, H, W) reduced as the separable numpy path
        does it, in the same order: each output row first combines its kernel's input rows
        into ``tmp`` (one row padded by ``pl`` cells on the left, and on the right as far
        as the windows reach; cells outside the image hold ``pad``), then every output
        combines its kernel's cells of ``tmp``. Sums are divided by ``divisor`` (Ho, Wo)
        when it is not empty. Max propagates NaN, as np.maximum does."""
        c, h, w = x.shape
        ho, wo = y.shape[1], y.shape[2]
        wn = tmp.shape[0]
        n_img = min(w, wn - pl)  # image columns the windows reach
        divide = divisor.shape[0] > 0
        for j in range(wn):
            tmp[j] = pad
        cells = tmp[pl:pl + n_img]
        # tmp as (cells / sw, sw): window b of output ow reads cols[ow + b*dw // sw, b*dw % sw],
        # an index the vectoriser sees as strided by sw (read as interleaved loads); written
        # as tmp[ow * sw + b * dw] the loop stayed scalar (1.1-1.5x slower at stride 2).
        cols = tmp.reshape((wn // sw, sw))
        for ch in range(c):
            img = x[ch]
            for oh in range(ho):
                top = oh * sh - pt
                if top >= 0 and top + (kh - 1) * dh < h:
                    # every kernel row inside the image: one pass combines them (2-3x fewer
                    # stores than a pass per row, which kept the column loop below memory-bound)
                    for k in range(n_img):
                        acc = img[top, k]
                        for a in range(1, kh):
                            v = img[top + a * dh, k]
                            if is_max:
                                acc = v if (v > acc or v != v) else acc
                            else:
                                acc += v
                        cells[k] = acc
                else:  # at the top or bottom edge: a pass per kernel row
                    for a in range(kh):
                        r = top + a * dh
                        if 0 <= r < h:
                            row = img[r]
                            if a == 0:
                                for k in range(n_img):
                                    cells[k] = row[k]
                            elif is_max:
                                for k in range(n_img):
                                    v, m = row[k], cells[k]
                                    cells[k] = v if (v > m or v != v) else m
                            else:
                                for k in range(n_img):
                                    cells[k] += row[k]
                        elif a == 0:
                            for k in range(n_img):
                                cells[k] = pad
                        elif not is_max:  # a padding row: + 0 still turns -0.0 into 0.0
                            for k in range(n_img):
                                cells[k] += pad
                out = y[ch, oh]
                for ow in range(wo):
                    acc = cols[ow, 0]
                    for b in range(1, kw):
                        v = cols[ow + b * dw // sw, b * dw % sw]
                        if is_max:
                            acc = v if (v > acc or v != v) else acc
                        else:
                            acc += v
                    out[ow] = acc / divisor[oh, ow] if divide else acc

    return loops


def pool2d_applies(x: np.ndarray) -> bool:
    """Whether :func:`pool2d` takes ``x``."""
    return takes(x.dtype) and x.ndim == 4


def pool2d(x: np.ndarray, kernel: tuple[int, ...], strides: tuple[int, ...],
           dilations: tuple[int, ...], pads_begin: tuple[int, ...], out_shape: tuple[int, ...],
           is_max: bool, divisor: np.ndarray | None = None) -> np.ndarray:
    """Max or average pooling of unpadded x (N, C, H, W) over 2-D windows, one pass per
    image with a single padded row in cache (padding is virtual: -inf for max, 0 for
    sums); ``divisor`` (Ho, Wo): the average's cell counts. Bit-for-bit what the numpy
    path computes. For arrays :func:`pool2d_applies` accepts."""
    n, c = x.shape[:2]
    (kh, kw), (sh, sw), (dh, dw), (pt, pl), (ho, wo) = (kernel, strides, dilations,
                                                         pads_begin, out_shape)
    if pl < 0 or pt < 0:
        raise ValueError(f"pool2d: pads must be >= 0, got {pads_begin}")
    # one padded row: (wo - 1) * sw + (kw - 1) * dw + 1 cells, rounded up to whole strides
    tmp = np.empty(sw * (wo + (kw - 1) * dw // sw), dtype=x.dtype)
    div = (np.zeros((0, 0), x.dtype) if divisor is None
           else np.ascontiguousarray(np.broadcast_to(divisor, (ho, wo)), dtype=x.dtype))
    pad = x.dtype.type(-np.inf if is_max else 0)
    y = np.empty((n, c, ho, wo), dtype=x.dtype)
    loops = _compiled("_pool2d_loops", is_max, kh, kw, sh, sw, dh, dw)
    for i in range(n):
        loops(x[i], pt, pl, pad, div, tmp, y[i])
    return y


def _winograd_input_loops(flat: np.ndarray, v: np.ndarray, w1: int) -> None:
    """winograd.py's input transform V = B^T d B in one pass: the same additions in the
    same order (so bit for bit the same), with the column-transformed rows kept in
    registers instead of a scratch array. flat (2, 2, C, L): the image's flat parity
    phases; v (16, C, n): tile p (row i, column j: p = i * w1 + j) reads phase (r, c) at
    p, p + 1, p + w1 and p + w1 + 1. Every read and write is through a view indexed by the
    loop counter itself, which the vectoriser can prove is in bounds; but with 16 output
    and 16 input views it needs more runtime alias checks than it allows (LLVM's
    vectorize-memory-check-threshold, 128), so this loop is scalar. It still wins on small
    images, where :func:`_winograd_input_passes` (vectorised) pays its 16 row arguments."""
    c, n = flat.shape[2], v.shape[2]
    for ch in range(c):
        f00, f01, f10, f11 = flat[0, 0, ch], flat[0, 1, ch], flat[1, 0, ch], flat[1, 1, ch]
        f00s, f01s, f10s, f11s = f00[1:], f01[1:], f10[1:], f11[1:]
        g00, g01, g10, g11 = f00[w1:], f01[w1:], f10[w1:], f11[w1:]
        g00s, g01s, g10s, g11s = f00[w1 + 1:], f01[w1 + 1:], f10[w1 + 1:], f11[w1 + 1:]
        v0, v1, v2, v3 = v[0, ch], v[1, ch], v[2, ch], v[3, ch]
        v4, v5, v6, v7 = v[4, ch], v[5, ch], v[6, ch], v[7, ch]
        v8, v9, v10, v11 = v[8, ch], v[9, ch], v[10, ch], v[11, ch]
        v12, v13, v14, v15 = v[12, ch], v[13, ch], v[14, ch], v[15, ch]
        for p in range(n):
            # Columns first (B^T applied along the tile's row), for its four input rows:
            # a, b = row-parity 0 and 1 at p; c, d = the same one tile row down (p + w1).
            e0, e1, e2, e3 = f00[p], f01[p], f00s[p], f01s[p]
            a0, a1, a2, a3 = e0 - e2, e1 + e2, e2 - e1, e1 - e3
            e0, e1, e2, e3 = f10[p], f11[p], f10s[p], f11s[p]
            b0, b1, b2, b3 = e0 - e2, e1 + e2, e2 - e1, e1 - e3
            e0, e1, e2, e3 = g00[p], g01[p], g00s[p], g01s[p]
            c0, c1, c2, c3 = e0 - e2, e1 + e2, e2 - e1, e1 - e3
            e0, e1, e2, e3 = g10[p], g11[p], g10s[p], g11s[p]
            d0, d1, d2, d3 = e0 - e2, e1 + e2, e2 - e1, e1 - e3
            # ... then rows.
            v0[p], v4[p], v8[p], v12[p] = a0 - c0, b0 + c0, c0 - b0, b0 - d0
            v1[p], v5[p], v9[p], v13[p] = a1 - c1, b1 + c1, c1 - b1, b1 - d1
            v2[p], v6[p], v10[p], v14[p] = a2 - c2, b2 + c2, c2 - b2, b2 - d2
            v3[p], v7[p], v11[p], v15[p] = a3 - c3, b3 + c3, c3 - b3, b3 - d3


def _winograd_input_passes(flat: np.ndarray, v: tuple[np.ndarray, ...], w1: int, offset: int) -> None:
    """winograd.py's input transform V = B^T d B of tiles ``offset`` to ``offset + n``, four
    passes per channel: the same additions in the same order as :func:`_winograd_input_loops`
    (so bit for bit the same). flat (2, 2, C, L): the image's flat parity phases; v: the 16
    rows of the transform, each (C, n) and C-contiguous (one (16, C, n) array whose rows are
    skewed apart is not C-contiguous as a whole: its rows' views would have a stride unknown
    at compile time). Every read and write is through a contiguous view indexed by the loop
    counter itself, which the vectoriser can prove is in bounds."""
    c, n = flat.shape[2], v[0].shape[1]
    for ch in range(c):
        f00, f01 = flat[0, 0, ch][offset:], flat[0, 1, ch][offset:]
        f10, f11 = flat[1, 0, ch][offset:], flat[1, 1, ch][offset:]
        f00s, f01s, f10s, f11s = f00[1:], f01[1:], f10[1:], f11[1:]
        g00, g01, g10, g11 = f00[w1:], f01[w1:], f10[w1:], f11[w1:]
        g00s, g01s, g10s, g11s = f00[w1 + 1:], f01[w1 + 1:], f10[w1 + 1:], f11[w1 + 1:]
        v0, v1, v2, v3 = v[0][ch], v[1][ch], v[2][ch], v[3][ch]
        v4, v5, v6, v7 = v[4][ch], v[5][ch], v[6][ch], v[7][ch]
        v8, v9, v10, v11 = v[8][ch], v[9][ch], v[10][ch], v[11][ch]
        v12, v13, v14, v15 = v[12][ch], v[13][ch], v[14][ch], v[15][ch]
        # One pass per column b of the tile (4 outputs each) rather than one pass writing
        # all 16: with 16 output and 16 input views the vectoriser needed more runtime
        # alias checks than it allows (LLVM's vectorize-memory-check-threshold, 128) and
        # left the loop scalar, 3.7x slower at 128ch@56x56. A pass re-reads the channel's
        # phases (13 KB at 56x56) from L1. Each output is the same expression as before:
        # column transform (index b of B^T d) of the four input rows, then the row one.
        for p in range(n):  # b = 0: e0 - e2
            ra, rb, rc, rd = f00[p] - f00s[p], f10[p] - f10s[p], g00[p] - g00s[p], g10[p] - g10s[p]
            v0[p], v4[p], v8[p], v12[p] = ra - rc, rb + rc, rc - rb, rb - rd
        for p in range(n):  # b = 1: e1 + e2
            ra, rb, rc, rd = f01[p] + f00s[p], f11[p] + f10s[p], g01[p] + g00s[p], g11[p] + g10s[p]
            v1[p], v5[p], v9[p], v13[p] = ra - rc, rb + rc, rc - rb, rb - rd
        for p in range(n):  # b = 2: e2 - e1
            ra, rb, rc, rd = f00s[p] - f01[p], f10s[p] - f11[p], g00s[p] - g01[p], g10s[p] - g11[p]
            v2[p], v6[p], v10[p], v14[p] = ra - rc, rb + rc, rc - rb, rb - rd
        for p in range(n):  # b = 3: e1 - e3
            ra, rb, rc, rd = f01[p] - f01s[p], f11[p] - f11s[p], g01[p] - g01s[p], g11[p] - g11s[p]
            v3[p], v7[p], v11[p], v15[p] = ra - rc, rb + rc, rc - rb, rb - rd


# Tiles per channel from which the vectorised passes win (per image, against the scalar
# single pass: 0.52x at 64ch@112x112, 0.57x at 128ch@28, 0.75x at 256ch@20 (110 tiles);
# 1.3-1.45x at 14x14 (56 tiles), 3x at 7x7: four short loops with scalar remainders per
# channel, and 16 row arguments to unbox).
WINOGRAD_PASSES_MIN_TILES = 100


def winograd_input_applies(v: np.ndarray) -> bool:
    """Whether :func:`winograd_input_transform` can fill ``v`` (16, C, tiles). Measured
    against numpy's passes, per image: 128ch@56x56 0.16-0.18 against 0.74-0.92 ms,
    256ch@56 0.54-0.56 against 2.3-2.7, 512ch@28 0.23-0.28 against 0.8-0.97, 256ch@14 0.062
    against 0.12. ``v``'s 16 rows must not lie a multiple of 4 KiB apart (see
    ``winograd.py``): then all 16 output streams fall in one L1 set and the loop ran 4-8x
    slower than numpy."""
    return takes(v.dtype)


def winograd_input_transform(flat: np.ndarray, v: np.ndarray, w1: int, offset: int = 0) -> None:
    """Fill ``v`` (16, C, n) with the Winograd input transform of tiles ``offset`` to
    ``offset + n`` of the flat phases ``flat`` (2, 2, C, >= offset + n + w1 + 1) of one
    image (see ``winograd.py``); needs :data:`AVAILABLE`."""
    if (offset < 0 or flat.shape[3] < offset + v.shape[2] + w1 + 1 or flat.shape[2] != v.shape[1]
            or flat.dtype != v.dtype):
        raise ValueError(f"Winograd input transform: phases {flat.shape} do not cover tiles {v.shape} "
                         f"from {offset} (w1={w1})")
    if v.shape[2] < WINOGRAD_PASSES_MIN_TILES and offset == 0:
        _compiled("_winograd_input_loops")(flat, v, w1)
        return
    rows = tuple(v[k] for k in range(16))
    if not all(r.flags.c_contiguous for r in rows):
        raise ValueError("Winograd input transform: each of v's 16 rows must be C-contiguous")
    _compiled("_winograd_input_passes")(flat, rows, w1, offset)


def channel_affine_applies(x: np.ndarray, residual: np.ndarray | None) -> bool:
    """Whether :func:`channel_affine` takes ``x`` (and ``residual``) as they are."""
    return (takes(x.dtype) and x.ndim >= 2
            and x.flags.c_contiguous
            and (residual is None or (residual.shape == x.shape and residual.dtype == x.dtype
                                      and residual.flags.c_contiguous)))


def _per_channel(v: np.ndarray | None, default: float, c: int, dt: np.dtype) -> np.ndarray:
    """``v`` (None, a scalar or (C,)) as a contiguous (C,) vector of dtype ``dt``. A plan's
    weights already are one (then it is used as it is: building a vector per call cost
    ~10 us, as much as a small conv's epilogue itself)."""
    if v is None:
        return _filled(default, c, dt)
    if type(v) is np.ndarray and v.shape == (c,) and v.dtype == dt and v.flags.c_contiguous:
        return v
    return np.ascontiguousarray(np.broadcast_to(np.asarray(v, dt), (c,)))


@lru_cache(maxsize=256)
def _filled(value: float, c: int, dt: np.dtype) -> np.ndarray:
    out = np.full(c, value, dt)
    out.flags.writeable = False
    return out


@cache
def _constant(dt: np.dtype, what: str) -> np.ndarray:
    """The loop's fixed arguments, made once per dtype (read-only)."""
    values = {"no residual": np.zeros((1, 1, 1)), "hard swish": np.array([1 / 6, 0.5, 0.0, 1.0]),
              "no gate": np.array([0.0, 0.0, 0.0, 1.0])}[what]
    out = values.astype(dt)
    out.flags.writeable = False
    return out


def channel_affine(x: np.ndarray, scale: np.ndarray | None, shift: np.ndarray | None,
                   residual: np.ndarray | None, lo: float | None, hi: float | None,
                   hard_swish: bool = False, *, in_place: bool = False) -> np.ndarray:
    """clip(x * scale + shift [+ residual], lo, hi) per channel (axis 1) [then HardSwish], in
    one pass into a fresh buffer, or into ``x`` itself with ``in_place`` (for a buffer the
    caller owns, such as a conv's fresh output); ``scale``/``shift``: (C,) or scalars or None
    (1 / 0). For arrays :func:`channel_affine_applies` accepts. A conv's bias, residual and
    Relu (three numpy passes) measured 2.5-3.6x faster this way, BN + Relu 3.6-4.8x (64-512
    channels, 28x28 to 111x111); in place, a conv's bias + Relu took a further 30-40% off
    (64-512 channels, 28x28 to 111x111: no second buffer to write)."""
    n, c = x.shape[:2]
    dt = x.dtype
    shape = (n, c, -1)
    res = residual.reshape(shape) if residual is not None else _constant(dt, "no residual")
    args = (_per_channel(scale, 1.0, c, dt), _per_channel(shift, 0.0, c, dt), res,
            residual is not None, dt.type(-np.inf if lo is None else lo),
            dt.type(np.inf if hi is None else hi),
            _constant(dt, "hard swish" if hard_swish else "no gate"))
    out = x if in_place else np.empty_like(x)
    _compiled("_channel_affine_loops", in_place)(x.reshape(shape), *args, out.reshape(shape))
    return out


__all__ = ["AVAILABLE", "channel_affine", "channel_affine_applies", "depthwise_applies", "depthwise_conv2d",
           "pool2d", "pool2d_applies", "winograd_input_applies", "winograd_input_transform"]
