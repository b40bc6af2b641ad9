"""The runtime's fast conv paths (Winograd F(2x2, 3x3), the compiled depthwise loop) against
independent references:
torch.nn.functional.conv2d in float64, and onnxruntime on whole Conv(+Relu) graphs."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from tensorbridge.converters.onnx import to_ir
from tensorbridge.runtime.kernels import _compiled
from tensorbridge.runtime.kernels import conv as conv_module
from tensorbridge.runtime.kernels._spatial import make_window
from tensorbridge.runtime.kernels.conv import (
    DEPTHWISE_TAPS_MAX_PIXELS,
    conv_float,
    conv_nd,
    winograd_for,
)
from tensorbridge.runtime.kernels.winograd import (
    _input_transform,
    winograd_applies,
    winograd_conv,
    winograd_weights,
)
from tensorbridge.runtime.session import Session


def _torch_ref(x: np.ndarray, w: np.ndarray, pads: list[int], group: int) -> np.ndarray:
    """float64 conv2d with ONNX pads [top, left, bottom, right]."""
    xt = torch.nn.functional.pad(torch.from_numpy(x).double(), (pads[1], pads[3], pads[0], pads[2]))
    return torch.nn.functional.conv2d(xt, torch.from_numpy(w).double(), groups=group).numpy()


def _rel(y: np.ndarray, ref: np.ndarray) -> float:
    return float(np.abs(y - ref).max() / np.abs(ref).max())


# (N, C, M, H, W, pads, group): odd and even sizes, asymmetric and zero pads, batch 2, groups.
WINOGRAD_CASES = [
    (1, 64, 64, 56, 56, [1, 1, 1, 1], 1),  # ResNet stage 1
    (1, 256, 256, 14, 14, [1, 1, 1, 1], 1),  # ResNet stage 3
    (1, 128, 32, 28, 28, [1, 1, 1, 1], 1),  # DenseNet growth layer
    (1, 16, 64, 55, 55, [1, 1, 1, 1], 1),  # SqueezeNet expand (odd size)
    (2, 48, 40, 13, 17, [0, 2, 1, 0], 1),  # batch 2, asymmetric pads, odd H/W
    (1, 40, 48, 10, 9, [0, 0, 0, 0], 1),  # no padding
    (2, 64, 96, 12, 11, [2, 1, 0, 2], 2),  # grouped
    (1, 512, 512, 14, 14, [1, 1, 1, 1], 1),  # VGG conv5 (largest channel count)
    (1, 128, 32, 7, 7, [1, 1, 1, 1], 1),  # DenseNet's last block (16 tiles, one padded row)
    (1, 160, 320, 6, 6, [1, 1, 1, 1], 1),  # GoogLeNet's 6x6 inception (9 tiles)
    (1, 32, 48, 5, 5, [1, 1, 1, 1], 1),  # the smallest image it takes
    (2, 24, 20, 41, 37, [2, 0, 1, 1], 1),  # two bands of tile rows, the last one shorter
]


@pytest.mark.parametrize(("n", "c", "m", "h", "w", "pads", "group"), WINOGRAD_CASES)
def test_winograd_matches_float64_conv(n: int, c: int, m: int, h: int, w: int, pads: list[int],
                                       group: int) -> None:
    rng = np.random.default_rng(c * 1000 + m + h)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    wt = (rng.standard_normal((m, c // group, 3, 3)) / np.sqrt(9 * c / group)).astype(np.float32)
    win = make_window((h, w), (3, 3), pads=pads)
    y = winograd_conv(x, winograd_weights(wt, group, np.dtype(np.float32)), win)
    ref = _torch_ref(x, wt, pads, group)
    assert y.shape == ref.shape and y.dtype == np.float32
    assert _rel(y, ref) < 1e-6


def test_winograd_float64_is_float64_accurate() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((1, 32, 15, 15))
    w = rng.standard_normal((32, 32, 3, 3))
    win = make_window((15, 15), (3, 3), pads=[1, 1, 1, 1])
    y = winograd_conv(x, winograd_weights(w, 1, np.dtype(np.float64)), win)
    assert y.dtype == np.float64 and _rel(y, _torch_ref(x, w, [1, 1, 1, 1], 1)) < 1e-13


@pytest.mark.skipif(not _compiled.AVAILABLE, reason="numba is not installed")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("c", "th", "tw"), [(3, 1, 1), (16, 7, 4), (256, 7, 7), (8, 10, 9), (40, 28, 28)])
def test_compiled_winograd_input_transform_is_the_numpy_one(dtype, c: int, th: int, tw: int) -> None:
    """Same additions in the same order: bit for bit, into rows that are not contiguous."""
    rng = np.random.default_rng(c + th)
    w1 = tw + 1
    flat = rng.standard_normal((2, 2, c, (th + 2) * w1)).astype(dtype)
    flat[0, 1, 0, 3] = np.nan
    want = np.empty((16, c, th * w1), dtype)
    _input_transform(flat, want, np.empty((2, 4, c, (th + 1) * w1), dtype), th, w1)
    got = np.full((16, c * th * w1 + 16), 7.0, dtype)[:, :c * th * w1].reshape(16, c, th * w1)
    _compiled.winograd_input_transform(flat, got, w1)
    np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match="do not cover"):
        _compiled.winograd_input_transform(flat[..., :th * w1 + w1], got, w1)  # one short
    if th > 2:  # a band of tile rows: the same values as the whole image's transform there
        rows = th // 2
        band = np.empty((16, c, rows * w1), dtype)
        _compiled.winograd_input_transform(flat, band, w1, offset=w1)
        np.testing.assert_array_equal(band, want[:, :, w1:w1 + rows * w1])


@pytest.mark.parametrize(("shape", "strides", "dilations", "group", "applies"), [
    ((64, 64, 3, 3), (1, 1), (1, 1), 1, True),
    ((64, 64, 3, 3), (2, 2), (1, 1), 1, False),  # stride 2: im2col
    ((64, 64, 3, 3), (1, 1), (2, 2), 1, False),  # dilated: im2col
    ((64, 64, 5, 5), (1, 1), (1, 1), 1, False),  # 5x5: im2col
    ((64, 1, 3, 3), (1, 1), (1, 1), 64, False),  # depthwise: im2col + batched matmul
    ((32, 32, 3, 3), (1, 1), (1, 1), 1, False),  # too few channels to pay
])
def test_winograd_selection(shape: tuple[int, ...], strides: tuple[int, int], dilations: tuple[int, int],
                            group: int, applies: bool) -> None:
    win = make_window((28, 28), shape[2:], strides=strides, dilations=dilations, pads=[1, 1, 1, 1])
    assert winograd_applies(shape, win, group) is applies
    w = np.zeros(shape, np.float32)
    assert (winograd_for(w, strides=list(strides), dilations=list(dilations), group=group) is not None) is applies


@pytest.mark.parametrize(("shape", "size", "applies"), [
    ((512, 512, 3, 3), 7, False),  # 16 tiles and 16 * 512 * 512 transformed weights: im2col wins
    ((256, 256, 3, 3), 7, True),  # weights small enough for 16 tiles
    ((32, 128, 3, 3), 5, True),  # 9 tiles
    ((128, 128, 3, 3), 4, False),  # 4 tiles: not measured as paying
])
def test_winograd_on_small_images(shape: tuple[int, ...], size: int, applies: bool) -> None:
    win = make_window((size, size), (3, 3), pads=[1, 1, 1, 1])
    assert winograd_applies(shape, win, 1) is applies


@pytest.mark.parametrize(("h", "pads", "strides", "dilations", "group"), [
    (20, [1, 1, 1, 1], [1, 1], [1, 1], 1),  # Winograd with a per-call transform
    (33, [1, 0, 2, 1], [1, 1], [1, 1], 1),  # asymmetric pads, odd size, per-call transform
    (20, [1, 1, 1, 1], [2, 2], [1, 1], 1),  # stride 2: im2col
    (20, [2, 2, 2, 2], [1, 1], [2, 2], 1),  # dilation 2: im2col
    (20, [1, 1, 1, 1], [1, 1], [1, 1], 48),  # depthwise, large output: GEMM path
    (7, [1, 1, 1, 1], [1, 1], [1, 1], 48),  # depthwise 7x7: channels-last tap loop
    (14, [1, 0, 1, 1], [2, 2], [1, 1], 48),  # depthwise stride 2, asymmetric pads: tap loop
    (9, [2, 2, 2, 2], [1, 1], [2, 2], 48),  # depthwise dilation 2: tap loop
])
def test_conv_float_paths(h: int, pads: list[int], strides: list[int], dilations: list[int],
                          group: int) -> None:
    rng = np.random.default_rng(h + group)
    x = rng.standard_normal((2, 48, h, h)).astype(np.float32)
    w = rng.standard_normal((48, 48 // group, 3, 3)).astype(np.float32)
    win = make_window((h, h), (3, 3), pads=pads, strides=strides, dilations=dilations)
    y = conv_float(x, w, win, group)
    xt = torch.nn.functional.pad(torch.from_numpy(x).double(), (pads[1], pads[3], pads[0], pads[2]))
    ref = torch.nn.functional.conv2d(xt, torch.from_numpy(w).double(), stride=strides,
                                     dilation=dilations, groups=group).numpy()
    assert _rel(y, ref) < 1e-6


@pytest.mark.parametrize(("c", "kernel", "strides", "pads"), [
    (3, 7, 2, [3, 3, 3, 3]),  # ResNet stem
    (3, 3, 2, [0, 0, 1, 1]),  # SqueezeNet-style stem, asymmetric pads
    (5, 3, 1, [1, 1, 1, 1]),
])
def test_im2col_in_row_blocks_matches_float64_conv(c: int, kernel: int, strides: int, pads: list[int],
                                                    monkeypatch) -> None:
    # Blocks of at least 57 output pixels (2-4 rows here; every case ends on a shorter
    # block) instead of the production sizes.
    monkeypatch.setattr(conv_module, "IM2COL_BLOCK_BYTES", 1)
    monkeypatch.setattr(conv_module, "IM2COL_BLOCK_MIN_PIXELS", 3 * 19)
    rng = np.random.default_rng(c + kernel)
    x = rng.standard_normal((2, c, 37, 37)).astype(np.float32)
    w = rng.standard_normal((16, c, kernel, kernel)).astype(np.float32)
    win = make_window((37, 37), (kernel, kernel), pads=pads, strides=[strides] * 2)
    y = conv_nd(x, w, win, 1)
    xt = torch.nn.functional.pad(torch.from_numpy(x).double(), (pads[1], pads[3], pads[0], pads[2]))
    ref = torch.nn.functional.conv2d(xt, torch.from_numpy(w).double(), stride=strides).numpy()
    assert y.shape == ref.shape and _rel(y, ref) < 1e-6


@pytest.mark.parametrize(("spatial", "kernel", "strides"), [
    ((9,), (5,), (1,)),  # 1-D depthwise
    ((5, 6, 3), (3, 3, 3), (1, 1, 1)),  # 3-D depthwise
    ((8, 8), (3, 3), (1, 1)),  # batch 3 below
])
def test_depthwise_tap_loop_any_rank(spatial: tuple[int, ...], kernel: tuple[int, ...],
                                     strides: tuple[int, ...]) -> None:
    rng = np.random.default_rng(len(spatial))
    x = rng.standard_normal((3, 24, *spatial)).astype(np.float32)
    w = rng.standard_normal((24, 1, *kernel)).astype(np.float32)
    pads = [k // 2 for k in kernel] * 2
    win = make_window(spatial, kernel, pads=pads, strides=list(strides))
    assert np.prod(win.out_shape) <= DEPTHWISE_TAPS_MAX_PIXELS  # the tap loop is what is tested
    y = conv_float(x, w, win, 24)
    conv = {1: torch.nn.functional.conv1d, 2: torch.nn.functional.conv2d,
            3: torch.nn.functional.conv3d}[len(spatial)]
    ref = conv(torch.from_numpy(x).double(), torch.from_numpy(w).double(), stride=strides,
               padding=[k // 2 for k in kernel], groups=24).numpy()
    assert y.shape == ref.shape and y.dtype == np.float32 and y.flags.c_contiguous
    assert _rel(y, ref) < 1e-6


def _conv_model(x_shape: tuple[int, ...], w: np.ndarray, b: np.ndarray | None, relu: bool,
                **attrs: object) -> onnx.ModelProto:
    inputs = ["x", "w"] + (["b"] if b is not None else [])
    nodes = [helper.make_node("Conv", inputs, ["c" if relu else "y"], **attrs)]
    if relu:
        nodes.append(helper.make_node("Relu", ["c"], ["y"]))
    inits = [numpy_helper.from_array(w, "w")] + ([numpy_helper.from_array(b, "b")] if b is not None else [])
    graph = helper.make_graph(nodes, "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _ort(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, {"x": x})[0]


@pytest.mark.parametrize(("relu", "bias", "attrs"), [
    (True, True, {"pads": [1, 1, 1, 1]}),  # fused Conv + Relu, Winograd weights from the plan
    (False, False, {"pads": [0, 1, 1, 0]}),  # a lone Conv: planned as its own step to keep them
    (False, True, {"auto_pad": "SAME_UPPER"}),
    (True, False, {"auto_pad": "SAME_LOWER", "group": 2}),
])
def test_session_conv_matches_onnxruntime(relu: bool, bias: bool, attrs: dict[str, object]) -> None:
    rng = np.random.default_rng(7)
    group = int(attrs.get("group", 1))  # type: ignore[call-overload]
    x = rng.standard_normal((2, 96, 17, 16)).astype(np.float32)
    w = (rng.standard_normal((96, 96 // group, 3, 3)) / 24).astype(np.float32)
    b = rng.standard_normal(96).astype(np.float32) if bias else None
    model = _conv_model(x.shape, w, b, relu, kernel_shape=[3, 3], **attrs)
    session = Session(to_ir(model))
    fused = [st for st in session.steps if st.fused]
    assert fused and fused[0].attrs["winograd"] is not None  # the Winograd path is the one tested
    y = session.run({"x": x})[0]
    ref = _ort(model, x)
    assert y.shape == ref.shape and _rel(y, ref) < 1e-5


def test_session_conv_float16_uses_float32_compute() -> None:
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1, 48, 24, 24)).astype(np.float16)
    w = (rng.standard_normal((40, 48, 3, 3)) / 21).astype(np.float16)
    win = make_window((24, 24), (3, 3), pads=[1, 1, 1, 1])
    u = winograd_for(w)
    assert u is not None and u.dtype == np.float32
    y = conv_float(x.astype(np.float32), w.astype(np.float32), win, 1, u)
    ref = _torch_ref(x.astype(np.float32), w.astype(np.float32), [1, 1, 1, 1], 1)
    assert _rel(y, ref) < 1e-6


# (N, C, H, W, kernel, pads, strides, dilations): ShuffleNet/MobileNet layers, odd sizes,
# asymmetric and zero pads, stride 2, dilation, 5x5, batch 2; channels-last loop first, then
# the row loop (wide outputs), with strides and dilations that make phases and offsets odd.
COMPILED_DEPTHWISE_CASES = [
    (1, 272, 14, 14, (3, 3), [1, 1, 1, 1], [1, 1], [1, 1]),
    (1, 112, 56, 56, (3, 3), [1, 1, 1, 1], [2, 2], [1, 1]),
    (2, 64, 13, 17, (3, 3), [0, 2, 1, 0], [1, 1], [1, 1]),
    (1, 96, 15, 15, (3, 3), [0, 0, 0, 0], [2, 1], [1, 1]),
    (1, 64, 12, 12, (3, 3), [2, 2, 2, 2], [1, 1], [2, 2]),
    (1, 80, 11, 11, (5, 5), [2, 2, 2, 2], [2, 2], [1, 1]),
    (1, 16, 20, 112, (3, 3), [1, 1, 1, 1], [1, 1], [1, 1]),  # rows: MobileNetV3's first
    (2, 24, 9, 115, (5, 5), [2, 1, 2, 3], [2, 2], [1, 1]),  # rows, stride 2, odd width
    (1, 8, 10, 180, (3, 3), [0, 1, 2, 0], [1, 3], [1, 2]),  # rows, stride 3, dilation 2
    (1, 40, 28, 28, (3, 3), [1, 1, 1, 1], [1, 1], [1, 1]),  # rows: few channels at 28
    (1, 16, 112, 112, (3, 3), [1, 1, 1, 1], [1, 1], [1, 1]),  # rows in 4 blocks, the last short
    (1, 8, 21, 60, (3, 3), [1, 0, 0, 1], [2, 1], [2, 1]),  # rows: vertical stride and dilation
]


@pytest.mark.parametrize(("n", "c", "h", "w", "kernel", "pads", "strides", "dilations"),
                         COMPILED_DEPTHWISE_CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_compiled_depthwise_matches_float64_conv(n: int, c: int, h: int, w: int, kernel: tuple[int, int],
                                                 pads: list[int], strides: list[int],
                                                 dilations: list[int], dtype: type) -> None:
    rng = np.random.default_rng(c + h)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    wt = rng.standard_normal((c, 1, *kernel)).astype(dtype)
    win = make_window((h, w), kernel, pads=pads, strides=strides, dilations=dilations)
    y = _compiled.depthwise_conv2d(x, wt, win.strides, win.dilations, win.pads_begin, win.out_shape)
    xt = torch.nn.functional.pad(torch.from_numpy(x).double(), (pads[1], pads[3], pads[0], pads[2]))
    ref = torch.nn.functional.conv2d(xt, torch.from_numpy(wt).double(), stride=strides,
                                     dilation=dilations, groups=c).numpy()
    assert y.shape == ref.shape and y.dtype == dtype and y.flags.c_contiguous
    assert _rel(y, ref) < (1e-6 if dtype == np.float32 else 1e-13)
    # conv_float takes this path for these layers, and agrees with the numpy path
    assert _compiled.depthwise_applies(c, win.out_shape)
    np.testing.assert_array_equal(conv_float(x, wt, win, c), y)
    assert _rel(conv_nd(x, wt, win, c), ref) < (1e-6 if dtype == np.float32 else 1e-13)


@pytest.mark.parametrize("width", [6, 60])  # the channels-last loop, the row loop
def test_compiled_depthwise_propagates_nan_and_inf(width: int) -> None:
    x = np.ones((1, 64, 6, width), np.float32)
    x[0, 3, 2, 2] = np.nan
    x[0, 5, 0, 0] = np.inf
    w = np.ones((64, 1, 3, 3), np.float32)
    win = make_window((6, width), (3, 3), pads=[1, 1, 1, 1])
    y = _compiled.depthwise_conv2d(x, w, win.strides, win.dilations, win.pads_begin, win.out_shape)
    ref = conv_nd(x, w, win, 64)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(ref))
    np.testing.assert_array_equal(y[np.isfinite(ref)], ref[np.isfinite(ref)])
    assert np.isnan(y[0, 3, 1:4, 1:4]).all() and np.isposinf(y[0, 5, :2, :2]).all()


def test_compiled_depthwise_rejects_non_depthwise_weights() -> None:
    with pytest.raises(ValueError, match="depthwise conv"):
        _compiled.depthwise_conv2d(np.zeros((1, 64, 5, 5), np.float32), np.zeros((64, 2, 3, 3), np.float32),
                                   (1, 1), (1, 1), (1, 1), (5, 5))


def test_compiled_depthwise_selection() -> None:
    assert _compiled.depthwise_applies(16, (112, 112))  # wide: the row loop
    assert _compiled.depthwise_applies(32, (28, 28))  # few channels at 28: the row loop
    assert _compiled.depthwise_applies(272, (14, 14))  # many channels: channels-last
    assert not _compiled.depthwise_applies(48, (20, 20))  # narrow, few channels: numpy
    assert not _compiled.depthwise_applies(64, (5, 5, 5))  # 3-D: numpy


def test_dev_install_has_the_compiled_loops() -> None:
    # The fast extra is part of dev: without numba every test above would exercise nothing.
    assert _compiled.AVAILABLE
