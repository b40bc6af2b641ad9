"""MaxPool / AveragePool / LpPool (runtime/kernels/pool.py: pad once, then one separable
pass per spatial axis) against a brute-force loop over every output cell and the input
cells of its window, on random geometries: pads up to the kernel's extent (windows partly or
wholly in padding), strides, dilations, ceil_mode, count_include_pad. Also the global means
(GlobalAveragePool, ReduceMean over trailing axes) against float64."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tensorbridge.runtime.kernels import _compiled, pool
from tensorbridge.runtime.kernels._spatial import make_window
from tensorbridge.runtime.kernels.pool import (
    _average_pool,
    _lp_pool,
    _max_pool,
    global_average_pool,
)
from tensorbridge.runtime.kernels.reduce import reduce_mean


def _brute(x: np.ndarray, win, kind: str, include_pad: bool = False) -> np.ndarray:
    n, c = x.shape[:2]
    out = np.zeros((n, c, *win.out_shape), dtype=np.float64)
    size = x.shape[2:]
    for pos in itertools.product(*(range(o) for o in win.out_shape)):
        cells, count = [], 0
        for tap in itertools.product(*(range(k) for k in win.kernel)):
            idx = [p * s + t * d - b for p, s, t, d, b in
                   zip(pos, win.strides, tap, win.dilations, win.pads_begin, strict=True)]
            # a padded cell counts for count_include_pad; a cell past the end padding
            # (only there because ceil_mode stretched the last window) never does
            if all(-b <= i < sz + e for i, b, sz, e in zip(idx, win.pads_begin, size, win.pads_end, strict=True)):
                count += 1
            if all(0 <= i < sz for i, sz in zip(idx, size, strict=True)):
                cells.append(x[(slice(None), slice(None), *idx)].astype(np.float64))
        vals = np.stack(cells, axis=-1) if cells else np.zeros((n, c, 0))
        at = (slice(None), slice(None), *pos)
        if kind == "max":
            out[at] = vals.max(axis=-1) if cells else -np.inf
        elif kind == "lp2":
            out[at] = np.sqrt((vals ** 2).sum(axis=-1))
        else:
            out[at] = vals.sum(axis=-1) / max(count if include_pad else len(cells), 1)
    return out


def _geometries(seed: int, count: int):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        nsp = int(rng.integers(1, 3))
        kernel = [int(rng.integers(1, 4)) for _ in range(nsp)]
        dil = [int(rng.integers(1, 3)) for _ in range(nsp)]
        ext = [(k - 1) * d + 1 for k, d in zip(kernel, dil)]
        pads = [int(rng.integers(0, e)) for e in ext] + [int(rng.integers(0, e)) for e in ext]
        strides = [int(rng.integers(1, 4)) for _ in range(nsp)]
        size = [int(rng.integers(e, e + 7)) for e in ext]
        yield size, kernel, dil, pads, strides, int(rng.integers(0, 2))


@pytest.fixture(params=["numpy", "compiled"])
def pool_path(request, monkeypatch):
    """Run a test on the numpy passes and (numba installed) on the compiled 2-D loop, which
    small images would not take otherwise."""
    if request.param == "compiled":
        if not _compiled.AVAILABLE:
            pytest.skip("numba is not installed")
        monkeypatch.setattr(pool, "COMPILED_MIN_OUTPUTS", 0)
    else:
        monkeypatch.setattr(_compiled, "AVAILABLE", False)
    return request.param


@pytest.mark.parametrize("seed", range(6))
def test_pools_match_a_brute_force_window_loop(seed, pool_path):
    rng = np.random.default_rng(100 + seed)
    for size, kernel, dil, pads, strides, ceil in _geometries(seed, 12):
        x = rng.standard_normal((2, 3, *size)).astype(np.float32)
        win = make_window(size, kernel, strides=strides, dilations=dil, pads=pads, ceil_mode=ceil, op="MaxPool")
        where = f"size {size} kernel {kernel} dilations {dil} pads {pads} strides {strides} ceil {ceil}"
        np.testing.assert_array_equal(_max_pool(x, win), _brute(x, win, "max").astype(np.float32), err_msg=where)
        for include in (0, 1):
            np.testing.assert_allclose(_average_pool(x, win, include), _brute(x, win, "avg", bool(include)),
                                       rtol=1e-5, atol=1e-6, err_msg=f"{where} include_pad {include}")
        np.testing.assert_allclose(_lp_pool(x, win, 2), _brute(x, win, "lp2"), rtol=1e-5, atol=1e-6, err_msg=where)


def test_integer_max_pool_pads_with_the_lowest_value():
    x = np.full((1, 1, 3, 3), -128, dtype=np.int8)
    win = make_window((3, 3), (3, 3), strides=[2, 2], pads=[1, 1, 1, 1], op="MaxPool")
    got = _max_pool(x, win)
    assert got.dtype == np.int8 and np.all(got == -128)


@pytest.mark.parametrize(("size", "kernel", "pads", "ceil"), [
    ((7, 7), (7, 7), [0, 0, 0, 0], 0),  # a network's final pool (ResNet's 7x7 AveragePool)
    ((5, 6), (6, 7), [1, 0, 0, 1], 0),  # one window over the padded image
    ((5,), (5,), [0, 0], 1),  # 1-D, ceil_mode
])
def test_one_window_over_the_whole_image(size, kernel, pads, ceil, pool_path):
    rng = np.random.default_rng(len(size))
    x = rng.standard_normal((2, 5, *size)).astype(np.float32)
    x[1, 2, 0] = np.nan
    win = make_window(size, kernel, pads=pads, ceil_mode=ceil, op="AveragePool")
    np.testing.assert_array_equal(_max_pool(x, win), _brute(x, win, "max").astype(np.float32))
    for include in (0, 1):
        np.testing.assert_allclose(_average_pool(x, win, include), _brute(x, win, "avg", bool(include)),
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.skipif(not _compiled.AVAILABLE, reason="numba is not installed")
@pytest.mark.parametrize(("kernel", "strides", "dilations", "pads", "ceil"), [
    ((3, 3), (2, 2), (1, 1), [0, 0, 0, 0], 1),  # SqueezeNet / Inception: ceil-mode max pool
    ((3, 3), (2, 2), (1, 1), [1, 1, 1, 1], 0),  # ResNet / ShuffleNet stem pool
    ((3, 3), (1, 1), (1, 1), [1, 1, 1, 1], 0),  # Inception branch pool
    ((2, 3), (1, 2), (2, 1), [1, 0, 2, 2], 1),  # anisotropic, dilated, asymmetric pads
    ((3, 3), (3, 2), (2, 3), [2, 1, 0, 2], 0),  # column taps at odd and even offsets of stride 2
    ((4, 2), (3, 3), (1, 2), [0, 2, 3, 1], 1),  # stride 3, edge rows on both sides
])
def test_compiled_pool_is_bit_for_bit_the_numpy_path(kernel, strides, dilations, pads, ceil, monkeypatch):
    """Same values in the same order: NaN and inf propagate, -0.0 becomes 0.0 in a padded sum."""
    rng = np.random.default_rng(sum(kernel) + sum(pads))
    x = rng.standard_normal((2, 64, 23, 19)).astype(np.float32)
    x[0, 3, 5, 7] = np.nan
    x[1, 4, :3, :3] = np.inf
    x[1, 5] = -0.0
    win = make_window(x.shape[2:], kernel, strides=strides, dilations=dilations, pads=pads,
                      ceil_mode=ceil, op="MaxPool")
    monkeypatch.setattr(pool, "COMPILED_MIN_OUTPUTS", 0)
    got = [_max_pool(x, win), _average_pool(x, win, 0), _average_pool(x, win, 1)]
    monkeypatch.setattr(_compiled, "AVAILABLE", False)
    want = [_max_pool(x, win), _average_pool(x, win, 0), _average_pool(x, win, 1)]
    for g, w in zip(got, want, strict=True):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)
        np.testing.assert_array_equal(np.signbit(g), np.signbit(w))


@pytest.mark.parametrize(("shape", "axes", "keepdims"), [
    ((1, 72, 28, 28), (2, 3), 1),  # squeeze-excite's ReduceMean
    ((2, 1000, 13, 13), (-2, -1), 0),  # negative axes, batch 2, dropped
    ((3, 40, 50), None, 1),  # all axes
    ((4, 6, 5), (2,), 1),  # too few elements per mean: numpy's own path
    ((2, 3, 20), (1, 2), 1),
])
def test_trailing_means_match_float64(shape, axes, keepdims):
    """ReduceMean over trailing axes and GlobalAveragePool run as a matrix-vector product:
    equal to float64 means within float32 rounding, NaN and inf propagated."""
    rng = np.random.default_rng(len(shape))
    x = (rng.standard_normal(shape) * 3 + 100).astype(np.float32)
    x.flat[7] = np.nan
    x.flat[-1] = np.inf
    got = reduce_mean(x, None if axes is None else np.array(axes), keepdims=keepdims)
    want = x.astype(np.float64).mean(axis=axes, keepdims=bool(keepdims))
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-6)
    if len(shape) == 4:
        np.testing.assert_allclose(global_average_pool(x), x.astype(np.float64).mean(axis=(2, 3), keepdims=True),
                                   rtol=1e-6)


def test_reduce_mean_rejects_out_of_range_axes():
    with pytest.raises(np.exceptions.AxisError):
        reduce_mean(np.ones((2, 3, 40), np.float32), np.array([5]))
