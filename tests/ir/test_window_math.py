"""ir/window_math against onnx itself: shape inference, onnx.reference's pool / conv /
ConvTranspose, and onnxruntime, on a grid of 1-D / 2-D / 3-D windows (every auto_pad,
ceil_mode 0 / 1, strides, dilations, asymmetric pads, the ceil-mode dropped window). The
pads are checked through values: MaxPool / AveragePool / ConvTranspose outputs of the
reference evaluator against a small numpy pooling written here from the resolved window."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from tensorbridge.ir.window_math import (
    SlidingWindow,
    TransposeWindow,
    conv_transpose_window,
    sliding_window,
    window_attrs,
)

OPSET = 22


def _model(op: str, x_shape: list[int], attrs: dict[str, Any],
           w_shape: list[int] | None = None) -> onnx.ModelProto:
    inputs = ["X"] if w_shape is None else ["X", "W"]
    vis = [helper.make_tensor_value_info("X", TensorProto.FLOAT, x_shape)]
    if w_shape is not None:
        vis.append(helper.make_tensor_value_info("W", TensorProto.FLOAT, w_shape))
    node = helper.make_node(op, inputs, ["Y"], **attrs)
    graph = helper.make_graph([node], "window", vis,
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])


def _inferred(model: onnx.ModelProto) -> list[int]:
    out = onnx.shape_inference.infer_shapes(model, strict_mode=True).graph.output[0]
    return [d.dim_value for d in out.type.tensor_type.shape.dim]


def _feeds(model: onnx.ModelProto, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    feeds = {}
    for vi in model.graph.input:
        shape = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        feeds[vi.name] = rng.standard_normal(shape).astype(np.float32)
    return feeds


def _reference(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> np.ndarray:
    return np.asarray(ReferenceEvaluator(model).run(None, feeds)[0])


def _onnxruntime(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> np.ndarray:
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so,
                                providers=["CPUExecutionProvider"])
    return np.asarray(sess.run(None, feeds)[0])


# ------------------------------------------------------------------------------ grid


def _case(op: str, size: tuple[int, ...], kernel: tuple[int, ...], *, strides: Any = None,
          dilations: Any = None, pads: Any = None, auto_pad: str = "NOTSET",
          ceil_mode: int = 0) -> dict[str, Any]:
    return {"op": op, "size": size, "kernel": kernel, "strides": strides,
            "dilations": dilations, "pads": pads, "auto_pad": auto_pad, "ceil_mode": ceil_mode}


def _grid_1d() -> list[dict[str, Any]]:
    cases = []
    for size, k, s, d, auto_pad, ceil in itertools.product(
            (5, 6, 7, 8), (2, 3), (1, 2, 3), (1, 2), ("NOTSET", "SAME_UPPER", "SAME_LOWER",
                                                      "VALID"), (0, 1)):
        pads = (1, 0) if (size + k) % 2 else (0, 1)
        if auto_pad != "NOTSET":
            pads = None
        cases.append(_case("MaxPool", (size,), (k,), strides=(s,), dilations=(d,), pads=pads,
                           auto_pad=auto_pad, ceil_mode=ceil))
    return cases


def _grid_nd() -> list[dict[str, Any]]:
    cases = []
    for op, auto_pad, ceil in itertools.product(
            ("MaxPool", "AveragePool"), ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"), (0, 1)):
        pads2 = (0, 2, 1, 1) if auto_pad == "NOTSET" else None
        pads3 = (1, 0, 2, 0, 1, 1) if auto_pad == "NOTSET" else None
        cases.append(_case(op, (9, 7), (3, 4), strides=(2, 3), dilations=(1, 2), pads=pads2,
                           auto_pad=auto_pad, ceil_mode=ceil))
        cases.append(_case(op, (6, 5, 7), (2, 3, 3), strides=(2, 1, 3), dilations=(2, 1, 1),
                           pads=pads3, auto_pad=auto_pad, ceil_mode=ceil))
    for auto_pad in ("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"):
        pads = (2, 0, 1, 3) if auto_pad == "NOTSET" else None
        cases.append(_case("Conv", (8, 9), (3, 2), strides=(3, 2), dilations=(2, 3), pads=pads,
                           auto_pad=auto_pad))
        cases.append(_case("Conv", (5,), (3,), strides=(2,), pads=(0, 2)[: 2] if pads else None,
                           auto_pad=auto_pad))
    return cases


# the ceil-mode window that would start inside the end padding is dropped: 3 windows
# without the rule, 2 with it
DROPPED = [_case(op, (4,), (2,), strides=(2,), pads=(0, 1), ceil_mode=1)
           for op in ("MaxPool", "AveragePool")]
DROPPED += [_case("MaxPool", (6, 4), (3, 2), strides=(3, 2), pads=(0, 0, 2, 1), ceil_mode=1)]

GRID = _grid_1d() + _grid_nd() + DROPPED


def _window(case: dict[str, Any]) -> SlidingWindow:
    return sliding_window(case["op"], case["size"], case["kernel"], strides=case["strides"],
                          dilations=case["dilations"], pads=case["pads"],
                          auto_pad=case["auto_pad"], ceil_mode=case["ceil_mode"])


def _onnx_model(case: dict[str, Any]) -> onnx.ModelProto:
    attrs: dict[str, Any] = {"kernel_shape": list(case["kernel"]), "auto_pad": case["auto_pad"]}
    for name in ("strides", "dilations", "pads"):
        if case[name] is not None:
            attrs[name] = list(case[name])
    x_shape = [1, 2, *case["size"]]
    if case["op"] == "Conv":
        return _model("Conv", x_shape, attrs, [3, 2, *case["kernel"]])
    attrs["ceil_mode"] = case["ceil_mode"]
    return _model(case["op"], x_shape, attrs)


def _fits(case: dict[str, Any]) -> bool:
    try:
        _window(case)
    except ValueError:
        return False
    return True


VALID_GRID = [c for c in GRID if _fits(c)]
IDS = [f"{c['op']}-{'x'.join(map(str, c['size']))}-k{'x'.join(map(str, c['kernel']))}-"
       f"{c['auto_pad']}-ceil{c['ceil_mode']}-{i}" for i, c in enumerate(VALID_GRID)]


def test_grid_covers_the_cases() -> None:
    assert len(VALID_GRID) > 150
    assert {len(c["size"]) for c in VALID_GRID} == {1, 2, 3}
    assert {(c["auto_pad"], c["ceil_mode"]) for c in VALID_GRID} == set(
        itertools.product(("NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"), (0, 1)))


@pytest.mark.parametrize("case", VALID_GRID, ids=IDS)
def test_output_shape_matches_onnx_shape_inference(case: dict[str, Any]) -> None:
    out = _window(case).out_shape
    channels = 3 if case["op"] == "Conv" else 2
    assert _inferred(_onnx_model(case)) == [1, channels, *out]


def _reference_runs(case: dict[str, Any]) -> bool:
    """Whether onnx.reference follows the spec (and onnx shape inference) for this window.

    Its pools have known defects, each seen here as a disagreement with shape inference
    and onnxruntime: ceil_mode with auto_pad is ignored (MaxPool) or refused
    (AveragePool); MaxPool with unit strides and dilations goes through a generic path
    that mishandles any padding; MaxPool's strided path gets SAME_LOWER wrong;
    AveragePool ignores dilations under VALID.
    """
    op, nsp = case["op"], len(case["size"])
    unit = all(v == 1 for v in (*(case["strides"] or ()), *(case["dilations"] or ())))
    padded = case["auto_pad"] in ("SAME_UPPER", "SAME_LOWER") or any(case["pads"] or ())
    dilated = any(d != 1 for d in case["dilations"] or (1,) * nsp)
    return not ((case["ceil_mode"] and case["auto_pad"] != "NOTSET")
                or (op == "MaxPool" and unit and padded)
                or (op == "MaxPool" and not unit and case["auto_pad"] == "SAME_LOWER")
                or (op == "AveragePool" and case["auto_pad"] == "VALID" and dilated))


def _onnxruntime_runs(case: dict[str, Any]) -> bool:
    # onnxruntime sizes the SAME padding of a dilated pool from the undilated kernel
    dilated = any(d != 1 for d in case["dilations"] or ())
    return not (case["auto_pad"] in ("SAME_UPPER", "SAME_LOWER") and dilated)


@pytest.mark.parametrize("case", [c for c in VALID_GRID if _reference_runs(c)],
                         ids=[i for c, i in zip(VALID_GRID, IDS, strict=True) if _reference_runs(c)])
def test_output_shape_matches_onnx_reference(case: dict[str, Any]) -> None:
    model = _onnx_model(case)
    y = _reference(model, _feeds(model))
    channels = 3 if case["op"] == "Conv" else 2
    assert list(y.shape) == [1, channels, *_window(case).out_shape]


def test_ceil_mode_drops_a_window_starting_in_the_end_padding() -> None:
    for case in DROPPED:
        model = _onnx_model(case)
        feeds = _feeds(model)
        win = _window(case)
        assert list(_reference(model, feeds).shape[2:]) == list(win.out_shape)
        assert list(_onnxruntime(model, feeds).shape[2:]) == list(win.out_shape)
    assert _window(DROPPED[0]).out_shape == (2,)  # (4 + 1 - 2) / 2 rounded up + 1 would be 3


# ------------------------------------------------------------------ pads through values


def _numpy_pool(x: np.ndarray, win: SlidingWindow, kind: str) -> np.ndarray:
    """Max, or average with count_include_pad=1, over each window of the resolved window:
    pad by pads_begin / fit_end, then visit every output position."""
    fill = -np.inf if kind == "max" else 0.0
    xp = x
    for a, (b, e) in enumerate(zip(win.pads_begin, win.fit_end, strict=True)):
        axis = 2 + a
        xp = np.moveaxis(xp, axis, -1)
        if e < 0:
            xp = xp[..., : xp.shape[-1] + e]
        widths = [(0, 0)] * (xp.ndim - 1) + [(b, max(e, 0))]
        xp = np.moveaxis(np.pad(xp, widths, constant_values=fill), -1, axis)
    y = np.empty((*x.shape[:2], *win.out_shape), dtype=np.float64)
    limit = [i + b + e for i, b, e in zip(win.in_shape, win.pads_begin, win.pads_end, strict=True)]
    for pos in np.ndindex(*win.out_shape):
        cells = [[p * s + t * d for t in range(k)] for p, s, k, d in
                 zip(pos, win.strides, win.kernel, win.dilations, strict=True)]
        block = xp[np.ix_(range(x.shape[0]), range(x.shape[1]), *cells)]
        if kind == "max":
            y[(slice(None), slice(None), *pos)] = block.reshape(*x.shape[:2], -1).max(-1)
        else:
            count = np.prod([sum(c < lim for c in cs) for cs, lim in zip(cells, limit, strict=True)])
            y[(slice(None), slice(None), *pos)] = block.reshape(*x.shape[:2], -1).sum(-1) / count
    return y




def _same_overshoots(case: dict[str, Any]) -> bool:
    """SAME with a stride past the kernel: the unclamped total padding is negative.
    onnxruntime refuses it and onnx.reference crops cells; the window pads nothing, as
    TensorFlow's SAME (where the mode comes from) does. Only the shape is compared."""
    if case["auto_pad"] not in ("SAME_UPPER", "SAME_LOWER"):
        return False
    attrs = window_attrs(case["op"], len(case["size"]), case["kernel"], strides=case["strides"],
                         dilations=case["dilations"])
    return any((-(-i // s) - 1) * s + e < i for i, s, e in
               zip(case["size"], attrs.strides, attrs.extents, strict=True))


VALUE_CASES = [c for c in VALID_GRID if c["op"] == "MaxPool" and not _same_overshoots(c)
               and (_reference_runs(c) or _onnxruntime_runs(c))]
VALUE_CASES += [
    _case("AveragePool", size, kernel, strides=st, auto_pad=auto_pad)
    for size, kernel, st in (((7,), (4,), (3,)), ((8, 9), (3, 4), (2, 3)), ((5, 6), (4, 3), (1, 2)))
    for auto_pad in ("SAME_UPPER", "SAME_LOWER")
]


@pytest.mark.parametrize("case", VALUE_CASES, ids=range(len(VALUE_CASES)))
def test_pads_give_the_reference_values(case: dict[str, Any]) -> None:
    model = _onnx_model(case)
    if case["op"] == "AveragePool":
        model.graph.node[0].attribute.append(helper.make_attribute("count_include_pad", 1))
    feeds = _feeds(model)
    kind = "max" if case["op"] == "MaxPool" else "avg"
    expected = _numpy_pool(feeds["X"].astype(np.float64), _window(case), kind)
    oracles = [f for f, runs in ((_reference, _reference_runs), (_onnxruntime, _onnxruntime_runs))
               if runs(case)]
    for oracle in oracles:
        np.testing.assert_allclose(oracle(model, feeds), expected, rtol=1e-5, atol=1e-6)


def test_same_split_puts_the_odd_cell_at_the_end_for_upper() -> None:
    upper = sliding_window("Conv", (7,), (4,), auto_pad="SAME_UPPER")
    lower = sliding_window("Conv", (7,), (4,), auto_pad="SAME_LOWER")
    assert (upper.pads_begin, upper.pads_end) == ((1,), (2,))
    assert (lower.pads_begin, lower.pads_end) == ((2,), (1,))


def test_attrs_keep_explicit_pads_and_defaults() -> None:
    attrs = window_attrs("MaxPool", 2, (3, 3), pads=(1, 0, 2, 1))
    assert attrs.strides == (1, 1) and attrs.dilations == (1, 1)
    assert attrs.pads_begin == (1, 0) and attrs.pads_end == (2, 1)
    assert window_attrs("MaxPool", 2, (3, 3), auto_pad="VALID", pads=(1, 1, 1, 1)).pads == (0,) * 4
    assert window_attrs("MaxPool", 2, (3, 3), auto_pad="SAME_LOWER").same


# ------------------------------------------------------------------------ ConvTranspose


def _ct_case(size: tuple[int, ...], kernel: tuple[int, ...], **attrs: Any) -> dict[str, Any]:
    return {"size": size, "kernel": kernel, **attrs}


CT_CASES = [
    _ct_case((5,), (3,), strides=(2,)),
    _ct_case((5,), (3,), strides=(2,), pads=(1, 0), output_padding=(1,)),
    _ct_case((4,), (4,), strides=(3,), dilations=(2,), pads=(2, 3)),
    _ct_case((5,), (3,), strides=(2,), auto_pad="SAME_UPPER"),
    _ct_case((5,), (4,), strides=(2,), auto_pad="SAME_LOWER"),
    _ct_case((5,), (4,), strides=(3,), auto_pad="SAME_UPPER", output_padding=(1,)),
    _ct_case((5,), (3,), strides=(2,), output_shape=(12,)),  # more than full: zeros added
    _ct_case((5,), (3,), strides=(2,), output_shape=(8,), auto_pad="SAME_UPPER"),
    _ct_case((4, 3), (3, 2), strides=(2, 3), pads=(1, 0, 0, 1), output_padding=(1, 2)),
    _ct_case((4, 3), (3, 3), strides=(2, 2), dilations=(1, 2), auto_pad="SAME_LOWER"),
    _ct_case((3, 4), (2, 3), strides=(3, 1), output_shape=(7, 5), auto_pad="SAME_LOWER"),
    _ct_case((2, 3, 2), (2, 2, 3), strides=(2, 1, 2), pads=(0, 1, 1, 1, 0, 1)),
    _ct_case((4,), (3,), auto_pad="VALID"),
]


def _ct_window(case: dict[str, Any]) -> TransposeWindow:
    kw = {k: case[k] for k in ("strides", "dilations", "pads", "auto_pad", "output_padding",
                              "output_shape") if k in case}
    return conv_transpose_window("ConvTranspose", case["size"], case["kernel"], **kw)


def _ct_model(case: dict[str, Any]) -> onnx.ModelProto:
    attrs = {k: (list(v) if isinstance(v, tuple) else v) for k, v in case.items()
             if k not in ("size", "kernel")}
    return _model("ConvTranspose", [1, 2, *case["size"]], attrs, [2, 1, *case["kernel"]])


def _numpy_conv_transpose(x: np.ndarray, w: np.ndarray, case: dict[str, Any],
                          win: TransposeWindow) -> np.ndarray:
    """Scatter every input cell times the kernel into the full output, then crop (or
    zero-extend) by the window's crops."""
    nsp = len(case["size"])
    st = case.get("strides") or (1,) * nsp
    dl = case.get("dilations") or (1,) * nsp
    full = np.zeros((x.shape[0], w.shape[1], *win.full))
    for pos in np.ndindex(*case["size"]):
        for tap in np.ndindex(*case["kernel"]):
            cell = tuple(p * s + t * d for p, s, t, d in zip(pos, st, tap, dl, strict=True))
            contrib = np.einsum("nc,cm->nm", x[(slice(None), slice(None), *pos)],
                                w[(slice(None), slice(None), *tap)])
            full[(slice(None), slice(None), *cell)] += contrib
    widths = [(0, 0), (0, 0)] + [(max(-b, 0), max(-e, 0)) for b, e in
                                 zip(win.crop_begin, win.crop_end, strict=True)]
    full = np.pad(full, widths)
    keep = tuple(slice(max(b, 0), max(b, 0) + o) for b, o in
                 zip(win.crop_begin, win.out_shape, strict=True))
    return full[(slice(None), slice(None), *keep)]


@pytest.mark.parametrize("case", CT_CASES, ids=range(len(CT_CASES)))
def test_conv_transpose_matches_onnx(case: dict[str, Any]) -> None:
    win = _ct_window(case)
    model = _ct_model(case)
    if not (case.get("auto_pad", "").startswith("SAME") and case.get("output_padding")):
        # shape inference adds output_padding to SAME's in * stride; onnx.reference and
        # onnxruntime (checked below) do not
        assert _inferred(model) == [1, 1, *win.out_shape]
    feeds = _feeds(model)
    y = _reference(model, feeds)
    assert list(y.shape) == [1, 1, *win.out_shape]
    expected = _numpy_conv_transpose(feeds["X"].astype(np.float64),
                                     feeds["W"].astype(np.float64), case, win)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(_onnxruntime(model, feeds), expected, rtol=1e-4, atol=1e-4)


# ------------------------------------------------------------------------ bad attributes


BAD = [
    ({"kernel_shape": (3,)}, "kernel_shape"),
    ({"strides": (1, 2, 1)}, "strides has 3 values"),
    ({"dilations": (1,)}, "dilations has 1 values"),
    ({"pads": (1, 1)}, "pads has 2 values"),
    ({"pads": (1, -1, 0, 0)}, "non-negative"),
    ({"strides": (0, 1)}, "strides must be positive"),
    ({"dilations": (1, -2)}, "dilations must be positive"),
    ({"kernel_shape": (0, 3)}, "kernel_shape must be positive"),
    ({"auto_pad": "SAME"}, "auto_pad must be one of"),
    ({"ceil_mode": 2}, "ceil_mode must be 0 or 1"),
    ({"kernel_shape": (9, 3)}, "bigger than the padded input"),
    ({"kernel_shape": (3, 3), "dilations": (4, 1)}, "bigger than the padded input"),
]


@pytest.mark.parametrize(("attrs", "message"), BAD, ids=[m for _, m in BAD])
def test_bad_attributes_name_the_op(attrs: dict[str, Any], message: str) -> None:
    kw = {"kernel_shape": (3, 3), **attrs}
    kernel = kw.pop("kernel_shape")
    with pytest.raises(ValueError, match=message) as err:
        sliding_window("AveragePool", (6, 6), kernel, **kw)
    assert str(err.value).startswith("AveragePool: ")


def test_bad_conv_transpose_attributes_name_the_op() -> None:
    with pytest.raises(ValueError, match="ConvTranspose: output_padding has 2 values"):
        conv_transpose_window("ConvTranspose", (4,), (3,), output_padding=(1, 1))
    with pytest.raises(ValueError, match="ConvTranspose: output_shape"):
        conv_transpose_window("ConvTranspose", (4, 4), (3, 3), output_shape=(1, 2, 3))
    with pytest.raises(ValueError, match="ConvTranspose: pads .* crop the whole output"):
        conv_transpose_window("ConvTranspose", (2,), (2,), pads=(2, 1))
    with pytest.raises(ValueError, match="ConvTranspose: strides must be positive"):
        conv_transpose_window("ConvTranspose", (4,), (3,), strides=(0,))
