"""runtime/kernels/_compiled.py's per-channel affine loop (a fused conv's bias, residual,
clip and HardSwish; densenet's pre-activation BN + Relu) against numpy computing the same
chain in float64."""

from __future__ import annotations

import numpy as np
import pytest

from tensorbridge.runtime.kernels import _compiled


def _numpy_chain(x, scale, shift, residual, lo, hi, hard_swish=False):
    bshape = (-1, *([1] * (x.ndim - 2)))
    y = x.astype(np.float64) * np.asarray(1.0 if scale is None else scale, np.float64).reshape(bshape)
    y = y + np.asarray(0.0 if shift is None else shift, np.float64).reshape(bshape)
    if residual is not None:
        y = y + residual
    y = np.clip(y, -np.inf if lo is None else lo, np.inf if hi is None else hi)
    return y * np.clip(y / 6 + 0.5, 0, 1) if hard_swish else y


@pytest.mark.parametrize("hard_swish", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("shape", "per_channel", "with_residual", "lo", "hi"), [
    ((2, 16, 7, 5), True, True, 0.0, None),  # ResNet: bias + residual + Relu
    ((1, 24, 9, 9), True, False, 0.0, 6.0),  # MobileNet: bias + Relu6
    ((1, 8, 4, 4, 3), False, False, None, None),  # 3-D image, scalar affine, no clip
    ((3, 5, 11), True, True, -1.0, 1.0),  # 1-D image, Clip(-1, 1)
])
def test_channel_affine_matches_numpy(dtype, shape, per_channel, with_residual, lo, hi, hard_swish):
    rng = np.random.default_rng(len(shape))
    c = shape[1]
    x = (4 * rng.standard_normal(shape)).astype(dtype)  # reaches HardSwish's knees at -3 and 3
    x.flat[::17] = np.nan
    x.flat[5] = np.inf
    scale = rng.uniform(0.5, 2.0, c).astype(dtype) if per_channel else np.asarray(1.5, dtype)
    shift = rng.standard_normal(c).astype(dtype) if per_channel else np.asarray(-0.25, dtype)
    residual = rng.standard_normal(shape).astype(dtype) if with_residual else None
    assert _compiled.channel_affine_applies(x, residual)
    ref = _numpy_chain(x, scale, shift, residual, lo, hi, hard_swish)
    y = _compiled.channel_affine(x, scale, shift, residual, lo, hi, hard_swish)
    assert y.dtype == dtype and y.shape == x.shape and not np.shares_memory(y, x)
    # In place (a conv's own output buffer): the same values, written into x.
    x_own = x.copy()
    assert _compiled.channel_affine(x_own, scale, shift, residual, lo, hi, hard_swish, in_place=True) is x_own
    np.testing.assert_array_equal(x_own, y)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
    # float rounding of a few operations (multiply-adds, the residual add, the gate's product)
    eps = float(np.finfo(dtype).eps)
    scale_of = float(np.abs(ref[np.isfinite(ref)]).max())
    np.testing.assert_allclose(y, ref, rtol=8 * eps, atol=8 * eps * scale_of)


def test_channel_affine_bias_only_is_exact():
    # A conv's epilogue: scale 1, so x * 1 + b (one fused multiply-add) rounds as x + b does.
    rng = np.random.default_rng(0)
    y = rng.standard_normal((1, 32, 6, 6)).astype(np.float32)
    b = rng.standard_normal(32).astype(np.float32)
    r = rng.standard_normal(y.shape).astype(np.float32)
    ref = np.clip(y + b.reshape(-1, 1, 1) + r, 0, np.inf)
    np.testing.assert_array_equal(_compiled.channel_affine(y, None, b, r, 0.0, None), ref)


@pytest.mark.parametrize(("x", "residual"), [
    (np.zeros((2, 3, 4), np.float16), None),  # narrow float: numpy path computes in float32
    (np.zeros((2, 3, 4), np.int32), None),
    (np.zeros((2, 3, 4), np.float32)[:, :, ::2], None),  # not contiguous
    (np.zeros((2, 3, 4), np.float32), np.zeros((1, 3, 4), np.float32)),  # broadcast residual
    (np.zeros((2, 3, 4), np.float32), np.zeros((2, 3, 4), np.float64)),  # mixed dtypes
])
def test_channel_affine_leaves_other_arrays_to_numpy(x, residual):
    assert not _compiled.channel_affine_applies(x, residual)
