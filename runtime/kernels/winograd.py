"""Winograd F(2x2, 3x3) convolution (Lavin & Gray, "Fast Algorithms for Convolutional
Neural Networks", 2015) for 2-D 3x3 convs with stride 1 and dilation 1.

Each 2x2 block of outputs is ``A^T [(G g G^T) * (B^T d B)] A`` for the 4x4 input tile ``d``
the block reads: 16 multiplications instead of 36. Summed over input channels, the 16
elementwise products become 16 GEMMs ``U[k] @ V[k]`` -- one batched matmul -- with
``U = G g G^T`` (the weights, transformed once: :func:`winograd_weights`) and
``V = B^T d B`` (the input, transformed per call). The GEMMs do 4/9 of im2col's
multiply-adds; the transforms are additions only.

Layout trick: the padded input is split into its four (row, column) parity phases, each
flattened. A tile's 16 inputs are then 16 *contiguous* slices of those flat phases (tile
(i, j) sits at flat index ``i * (tw + 1) + j``; the ``+ 1`` column is padding whose tiles
are computed and dropped), so every transform step is one ufunc over a long contiguous
run -- no strided inner loops, no tile gather. With numba, the input transform is a
compiled loop instead (``_compiled.winograd_input_transform``: the same additions in the
same order, no scratch array), and an image is transformed, multiplied and transformed
back in bands of tile rows small enough to stay in cache (:data:`BAND_TILES`).

Accuracy: the transforms' coefficients are 0, +-1/2 and +-1, and the weights are
transformed in float64; measured max|diff| / max|ref| against float64 convolution is
2-6e-7 in float32 on ResNet/VGG/DenseNet layer sizes (tests/runtime/test_conv_fast_paths.py).
"""

from __future__ import annotations

import numpy as np

from tensorbridge.runtime.kernels import _compiled
from tensorbridge.runtime.kernels._spatial import Window

_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])
_AT = np.array([[1.0, 1.0, 1.0, 0.0], [0.0, 1.0, -1.0, -1.0]])
# The output transform of all four outputs of a tile at once: Y[2a+b] = sum A^T[a,r] A^T[b,c] M[4r+c].
_AT_PAIRS = np.kron(_AT, _AT)
_G_PAIRS = np.kron(_G, _G)  # (16, 9): the weight transform of a flattened 3x3 filter
_ROW_SKEW = 16  # elements added between the rows of the transformed input (64 bytes in float32)

# Below these sizes the transforms' costs beat the GEMM savings (measured against im2col
# with OpenBLAS, one thread, before the input transform was compiled: 32->32 ch at 28x28
# 0.90x, 16->64 at 55x55 0.96x; 32->128 at 27x27 1.17x, 128->32 at 28x28 1.55x, 256->256 at
# 14x14 1.51x, 64->64 at 56x56 1.31x). 16->64 at 55x55 still lost with the compiled
# transform (0.40 vs 0.37 ms): its 16 GEMMs have K = 16.
MIN_CHANNELS = 16  # of input channels per group, and of output channels per group
MIN_CHANNEL_MEAN = 20  # C*M/(C+M) per group: GEMM work per unit of transform work
# With the compiled input transform small images pay too (SkylakeX OpenBLAS, one thread,
# im2col -> Winograd: 128->32 ch at 7x7 0.085 -> 0.055 ms, 160->224 at 7x7 0.26 -> 0.18,
# 224->224 at 7x7 0.35 -> 0.30, 160->320 at 6x6 0.26 -> 0.20, 192->384 at 5x5 0.35 -> 0.27),
# down to 5x5 outputs, unless the transformed weights (16 C M) are too big to be read once
# per image for so few tiles: 512->512 at 7x7 1.89 -> 1.98 ms, at 6x6 1.40 -> 1.93, 1024->256
# at 7x7 1.97 -> 2.19, where 256->256 (C M = 65,536) still won, 0.42 -> 0.36.
MIN_TILES = 9  # 2x2 output tiles per image (an output of at least 5x5)
FEW_TILES = 25  # below this many tiles (an output under 9x9) ...
FEW_TILES_MAX_WEIGHTS = 65_536  # ... C*M per group must not exceed this

# Tiles per band of tile rows (compiled transform only): a band's transformed input (16 C
# tiles values) is still in cache when its 16 GEMMs read it. A whole 56x56 image at 128 ch
# is 6.6 MB of V, written to and read back from L3. Whole models, bands of 256 tiles
# against whole images: densenet121 1.12x faster, vgg19 1.08x, ResNet-18 1.055x, resnet50
# 1.02x, inception_v2 1.016x; against bands of 128 / 512: 1.03-1.06x / 1.03-1.05x.
BAND_TILES = 256


def winograd_applies(w_shape: tuple[int, ...], win: Window, group: int) -> bool:
    """Whether a conv of weights ``w_shape`` (M, C/group, kh, kw) over ``win`` takes the
    Winograd path: 3x3, stride 1, dilation 1, enough channels and output tiles."""
    if len(w_shape) != 4 or tuple(w_shape[2:]) != (3, 3) or win.strides != (1, 1) or win.dilations != (1, 1):
        return False
    m, cg = w_shape[:2]
    tiles = -(-win.out_shape[0] // 2) * -(-win.out_shape[1] // 2)
    mg = m // group
    return (min(cg, mg) >= MIN_CHANNELS and cg * mg >= MIN_CHANNEL_MEAN * (cg + mg)
            and tiles >= MIN_TILES and (tiles >= FEW_TILES or cg * mg <= FEW_TILES_MAX_WEIGHTS))


def winograd_weights(w: np.ndarray, group: int, dtype: np.dtype) -> np.ndarray:
    """U = G g G^T of every 3x3 filter of ``w`` (M, C/group, 3, 3), computed in float64:
    (16, group, M/group, C/group) in ``dtype``, the left operand of the batched GEMM."""
    m, cg = w.shape[:2]
    if w.shape[2:] != (3, 3) or m % group:
        raise ValueError(f"Winograd F(2x2, 3x3) needs (M, C/group, 3, 3) weights with M divisible by "
                         f"group={group}, got {w.shape}")
    # One GEMM (M*C, 9) @ (9, 16) with kron(G, G): U[a*4+b] = sum_ij G[a,i] G[b,j] g[i,j].
    u = np.matmul(w.reshape(m * cg, 9).astype(np.float64), _G_PAIRS.T)
    return np.ascontiguousarray(u.T.reshape(16, group, m // group, cg), dtype=dtype)


def _fill_phases(phases: np.ndarray, img: np.ndarray, top: int, left: int) -> None:
    """Write image ``img`` (C, H, W), placed at (top, left) of a zero canvas, into its four
    parity phases ``phases`` (2, 2, C, rows, cols): phases[pr, pc][:, i, j] = canvas[2i+pr, 2j+pc]."""
    h, w = img.shape[1:]
    for pr in range(2):
        h0 = (pr - top) % 2
        i0 = (h0 + top) // 2
        for pc in range(2):
            w0 = (pc - left) % 2
            j0 = (w0 + left) // 2
            src = img[:, h0::2, w0::2]
            phases[pr, pc, :, i0:i0 + src.shape[1], j0:j0 + src.shape[2]] = src


def _input_transform(flat: np.ndarray, v: np.ndarray, tc: np.ndarray, th: int, w1: int) -> None:
    """V = B^T d B of every tile into ``v`` (16, C, th * w1) from the flat phases ``flat``
    (2, 2, C, (th + 2) * w1); ``tc`` (2, 4, C, (th + 1) * w1) is scratch.

    B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]], applied to the
    tile's columns first (tile column q is phase q % 2 shifted by q // 2), then its rows.
    """
    lc, n = (th + 1) * w1, th * w1
    for pr in range(2):
        e0, e1 = flat[pr, 0, :, :lc], flat[pr, 1, :, :lc]
        e2, e3 = flat[pr, 0, :, 1:lc + 1], flat[pr, 1, :, 1:lc + 1]
        np.subtract(e0, e2, out=tc[pr, 0])
        np.add(e1, e2, out=tc[pr, 1])
        np.subtract(e2, e1, out=tc[pr, 2])
        np.subtract(e1, e3, out=tc[pr, 3])
    for b in range(4):
        r0, r1 = tc[0, b, :, :n], tc[1, b, :, :n]
        r2, r3 = tc[0, b, :, w1:w1 + n], tc[1, b, :, w1:w1 + n]
        np.subtract(r0, r2, out=v[b])
        np.add(r1, r2, out=v[4 + b])
        np.subtract(r2, r1, out=v[8 + b])
        np.subtract(r1, r3, out=v[12 + b])


def _output_transform(m: np.ndarray, out: np.ndarray, th: int, w1: int) -> None:
    """Y = A^T M A of every tile, (16, K, th * w1) -> the image ``out`` (K, Ho, Wo)."""
    k = m.shape[1]
    at = _AT_PAIRS.astype(m.dtype)
    y = np.matmul(at, m.reshape(16, -1)).reshape(2, 2, k, th, w1)
    for a in range(2):
        for b in range(2):
            dst = out[:, a::2, b::2]
            dst[...] = y[a, b, :, :dst.shape[1], :dst.shape[2]]


def winograd_conv(x: np.ndarray, u: np.ndarray, win: Window) -> np.ndarray:
    """Cross-correlate x (N, C, H, W) with the 3x3 filters whose transform is ``u``
    (16, group, M/group, C/group; from :func:`winograd_weights`) over ``win`` (stride 1,
    dilation 1, any pads): (N, M, *win.out_shape) in u's dtype, no bias."""
    n, c = x.shape[:2]
    _, group, mg, cg = u.shape
    if c != group * cg or tuple(win.kernel) != (3, 3) or win.strides != (1, 1) or win.dilations != (1, 1):
        raise ValueError(f"Winograd conv: X {x.shape}, transformed weights {u.shape} and window "
                         f"{win} do not fit (needs a 3x3 kernel, stride 1, dilation 1)")
    ho, wo = win.out_shape
    th, tw = -(-ho // 2), -(-wo // 2)
    w1 = tw + 1
    dt = u.dtype
    phases = np.zeros((2, 2, c, th + 2, w1), dtype=dt)
    flat = phases.reshape(2, 2, c, -1)
    compiled = _compiled.winograd_input_applies(phases)
    # Bands of tile rows: each band's transformed input is still cached when its GEMMs
    # read it (see BAND_TILES); without numba one band covers the image.
    band = max(1, BAND_TILES // w1) if compiled else th
    band = min(band, th)
    # The 16 rows of v sit at least one cache line off a multiple of 4 KiB apart: a multiple
    # (256ch@56x56, 512ch@28 unbanded) put every row the compiled transform writes at once
    # into the same L1 set.
    row = c * band * w1
    skew = _ROW_SKEW
    while (row + skew) * dt.itemsize % 4096 < 64 or (row + skew) * dt.itemsize % 4096 > 4096 - 64:
        skew += _ROW_SKEW
    vbuf = np.empty((16, row + skew), dtype=dt)
    tc = None if compiled else np.empty((2, 4, c, (th + 1) * w1), dtype=dt)
    pbuf = np.empty(16 * group * mg * band * w1, dtype=dt)
    y = np.empty((n, group * mg, ho, wo), dtype=dt)
    top, left = win.pads_begin
    for i in range(n):  # one image, one band at a time: the transformed input stays one band big
        _fill_phases(phases, x[i], top, left)
        for r0 in range(0, th, band):
            rows = min(band, th - r0)
            nb = rows * w1
            v = vbuf[:, :c * nb].reshape(16, c, nb)
            if tc is None:
                _compiled.winograd_input_transform(flat, v, w1, offset=r0 * w1)
            else:
                _input_transform(flat, v, tc, th, w1)
            prod = pbuf[:16 * group * mg * nb].reshape(16, group, mg, nb)
            np.matmul(u, v.reshape(16, group, cg, -1), out=prod)
            _output_transform(prod.reshape(16, group * mg, -1), y[i][:, 2 * r0:2 * (r0 + rows)], rows, w1)
    return y
