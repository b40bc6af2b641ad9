"""ir/axis_math.py against independent computations: numpy indexing and broadcasting,
Python's list / slice semantics, and onnxruntime / onnx.reference on one-node models."""

from __future__ import annotations

import itertools

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from numpy.lib.array_utils import normalize_axis_index
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

from tensorbridge.ir.axis_math import (
    broadcast_shape,
    flatten_dims,
    legacy_broadcast_shape,
    legacy_trailing_ones,
    norm_axes,
    norm_axis,
    norm_index,
    python_slice,
    sequence_position,
    slice_bounds,
    unsqueeze_axes,
    unsqueeze_shape,
)

I64 = TensorProto.INT64


def _ort(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def _model(node: onnx.NodeProto, shape: list[int], opset: int,
           inits: list[onnx.TensorProto] = (), extra: list[onnx.ValueInfoProto] = ()) -> onnx.ModelProto:
    graph = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape), *extra],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], list(inits))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return model


# ---------------------------------------------------------------------------- norm_axis

@pytest.mark.parametrize("rank", [1, 2, 4])
def test_norm_axis_matches_numpy(rank: int) -> None:
    for axis in range(-rank, rank):
        assert norm_axis(axis, rank, "Gather") == normalize_axis_index(axis, rank)
    for axis in (-rank - 1, rank, rank + 3):
        with pytest.raises(np.exceptions.AxisError):
            normalize_axis_index(axis, rank)
        with pytest.raises(ValueError, match=rf"Gather: axis {axis} is out of range"):
            norm_axis(axis, rank, "Gather")


def test_norm_axis_out_of_range_names_op_attribute_and_values() -> None:
    with pytest.raises(ValueError, match=r"^Gather: axis 3 is out of range for a rank-2 input; "
                                         r"expected -2 <= axis < 2$"):
        norm_axis(3, 2, "Gather")
    with pytest.raises(ValueError, match=r"Softmax: axis -3 is out of range"):
        norm_axis(-3, 2, "Softmax")


def test_norm_axis_allow_rank_is_flattens_range() -> None:
    assert norm_axis(2, 2, "Flatten", allow_rank=True) == 2
    assert norm_axis(-2, 2, "Flatten", allow_rank=True) == 0
    with pytest.raises(ValueError, match=r"expected -2 <= axis <= 2"):
        norm_axis(3, 2, "Flatten", allow_rank=True)


def test_norm_axis_unknown_rank() -> None:
    assert norm_axis(5, None, "Squeeze") == 5  # unchecked: the rank is not known statically
    with pytest.raises(ValueError, match=r"Squeeze: axis -1 counts from the back"):
        norm_axis(-1, None, "Squeeze")


def test_norm_axes_range_and_duplicates() -> None:
    assert norm_axes([-1, 0], 3, "ReduceSum") == [2, 0]
    with pytest.raises(ValueError, match=r"ReduceSum: axes \[1, -2\] name an axis more than once"):
        norm_axes([1, -2], 3, "ReduceSum")
    with pytest.raises(ValueError, match=r"ReduceSum: axes 3 is out of range"):
        norm_axes([3], 3, "ReduceSum")


def test_norm_index_matches_python_list_indexing() -> None:
    items = list("abcd")
    for i in range(-4, 4):
        assert items[norm_index(i, 4, "Gather")] == items[i]
    for bad in (4, -5):
        with pytest.raises(ValueError, match=rf"Gather: index {bad} is out of range"):
            norm_index(bad, 4, "Gather")


# ---------------------------------------------------------------------------- Unsqueeze

@pytest.mark.parametrize("axes", [[0], [-1], [1, -1], [-3, 0], [2, 0, -1], [-4, -1]])
def test_unsqueeze_shape_matches_onnxruntime_and_reference(axes: list[int]) -> None:
    shape = [2, 3]
    node = helper.make_node("Unsqueeze", ["x", "axes"], ["y"])
    model = _model(node, shape, 13, [helper.make_tensor("axes", I64, [len(axes)], axes)])
    x = np.zeros(shape, np.float32)
    assert list(_ort(model, {"x": x})[0].shape) == unsqueeze_shape(shape, axes)
    assert list(ReferenceEvaluator(model).run(None, {"x": x})[0].shape) == unsqueeze_shape(shape, axes)
    # numpy's expand_dims takes the same output-rank axes
    assert list(np.expand_dims(x, tuple(axes)).shape) == unsqueeze_shape(shape, axes)


def test_unsqueeze_axes_errors() -> None:
    assert unsqueeze_axes([-1, 0], 2) == [0, 3]
    with pytest.raises(ValueError, match=r"Unsqueeze: axes 4 is out of range for a rank-4 input"):
        unsqueeze_axes([0, 4], 2)
    with pytest.raises(ValueError, match=r"Unsqueeze: axes \[2, -1\] name an axis more than once"):
        unsqueeze_axes([2, -1], 1)
    assert unsqueeze_axes([3, 0], None) == [0, 3]  # unknown rank: non-negative axes pass


# ---------------------------------------------------------------------------- sequences

def test_sequence_position_matches_list_semantics() -> None:
    items = [10, 11, 12]
    for p in range(-3, 3):
        assert items[sequence_position(p, 3, "SequenceAt")] == items[p]
    for p in range(-3, 4):
        want = list(items)
        want.insert(p if p != 3 else len(want), 99)  # list.insert counts negatives the same way
        got = list(items)
        got.insert(sequence_position(p, 3, "SequenceInsert", insert=True), 99)
        assert got == want
    with pytest.raises(ValueError, match=r"SequenceAt: position 3 is out of range for a sequence "
                                         r"of length 3; expected -3 <= position <= 2"):
        sequence_position(3, 3, "SequenceAt")
    with pytest.raises(ValueError, match=r"SequenceInsert: position -4 is out of range"):
        sequence_position(-4, 3, "SequenceInsert", insert=True)
    with pytest.raises(ValueError, match=r"SequenceErase: position 0 is out of range for a "
                                         r"sequence of length 0"):
        sequence_position(0, 0, "SequenceErase")


# -------------------------------------------------------------------------------- Slice

_BOUNDS = [-100, -7, -6, -5, -3, -1, 0, 1, 3, 4, 5, 6, 100]


@pytest.mark.parametrize("step", [1, 2, -1, -2])
def test_slice_bounds_match_onnxruntime(step: int) -> None:
    """Every start/end pair, out of range included, on a dim of 5; onnxruntime follows the
    spec's clamping literally (start into [0, dim-1] for negative steps)."""
    dim = 5
    x = np.arange(dim, dtype=np.float32)
    starts = helper.make_tensor_value_info("s", I64, [1])
    ends = helper.make_tensor_value_info("e", I64, [1])
    node = helper.make_node("Slice", ["x", "s", "e", "a", "t"], ["y"])
    model = _model(node, [dim], 13, [helper.make_tensor("a", I64, [1], [0]),
                                     helper.make_tensor("t", I64, [1], [step])], [starts, ends])
    for start, end in itertools.product(_BOUNDS, _BOUNDS):
        want = _ort(model, {"x": x, "s": np.array([start]), "e": np.array([end])})[0]
        got = x[python_slice(start, end, step, dim)]
        np.testing.assert_array_equal(got, want, err_msg=f"start {start} end {end} step {step}")


@pytest.mark.parametrize("step", [1, 3, -1, -3])
def test_slice_bounds_match_reference_and_python_slicing(step: int) -> None:
    """onnx.reference slices with Python's rules; they agree with the spec's except for a
    negative step whose start lies before the first element (Python: empty; the spec clamps
    the start to 0, as onnxruntime does: checked above)."""
    dim = 6
    x = np.arange(dim, dtype=np.float32)
    for start, end in itertools.product(_BOUNDS, _BOUNDS):
        if step < 0 and start < -dim:
            continue
        node = helper.make_node("Slice", ["x", "s", "e", "a", "t"], ["y"])
        inits = [helper.make_tensor(n, I64, [1], [v]) for n, v in
                 (("s", start), ("e", end), ("a", 0), ("t", step))]
        want = ReferenceEvaluator(_model(node, [dim], 13, inits)).run(None, {"x": x})[0]
        np.testing.assert_array_equal(x[python_slice(start, end, step, dim)], want)
        np.testing.assert_array_equal(x[python_slice(start, end, step, dim)], x[start:end:step])


def test_slice_bounds_values_and_errors() -> None:
    assert slice_bounds(-100, 100, 1, 5) == (0, 5)
    assert slice_bounds(100, -100, -1, 5) == (4, -1)  # -1: through index 0
    assert slice_bounds(-100, -100, -1, 5) == (0, -1)
    assert slice_bounds(-2, 7, 1, None) == (-2, 7)  # unknown dim: left to the framework
    with pytest.raises(ValueError, match=r"^Slice: steps must not be 0$"):
        slice_bounds(0, 1, 0, 5)
    seen: list[tuple[int, int, int]] = []

    def clamp(v: int, lo: int, hi: int) -> int:
        seen.append((v, lo, hi))
        return min(max(v, lo), hi)

    assert slice_bounds(-1, -6, -1, 5, clamp=clamp) == (4, -1)
    assert seen == [(4, 0, 4), (-1, -1, 4)]


# ---------------------------------------------------------------------------- broadcast

@pytest.mark.parametrize("a,b", [((2, 3), (3,)), ((1, 4), (5, 1)), ((), (2, 2)), ((3, 1, 2), (4, 1)),
                                 ((0, 1), (1, 7)), ((2, 1), (2, 1))])
def test_broadcast_shape_matches_numpy(a: tuple[int, ...], b: tuple[int, ...]) -> None:
    assert tuple(broadcast_shape(a, b, op="Expand")) == np.broadcast_shapes(a, b)
    assert tuple(broadcast_shape(b, a)) == np.broadcast_shapes(b, a)


def test_broadcast_shape_mismatch_and_unknown_dims() -> None:
    with pytest.raises(ValueError):
        np.broadcast_shapes((2, 3), (4,))
    with pytest.raises(ValueError, match=r"Expand: shapes \[2, 3\] and \[4\] do not broadcast "
                                         r"\(3 against 4\)"):
        broadcast_shape((2, 3), (4,), op="Expand")
    assert broadcast_shape([None, 1, 3], [4, 5, None]) == [4, 5, 3]
    assert broadcast_shape([1, None], [None, 1]) == [None, None]


@pytest.mark.parametrize("a_shape,b_shape,axis", [((2, 3, 4, 5), (3, 4), 1), ((2, 3, 4, 5), (3,), 1),
                                                  ((2, 3, 4, 5), (5,), -1), ((2, 3, 4, 5), (2,), 0),
                                                  ((2, 3, 4, 5), (4, 5), None), ((2, 3), (), 1),
                                                  ((2, 3, 4), (3, 4), -2)])
def test_legacy_broadcast_matches_add_6_definition(a_shape: tuple[int, ...],
                                                   b_shape: tuple[int, ...],
                                                   axis: int | None) -> None:
    """Add-6 with broadcast=1: element i of A meets B at A's index digits from ``axis`` on
    (onnx.reference and onnxruntime do not run the legacy axis, so the spec's definition is
    computed element by element)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal(a_shape).astype(np.float32)
    b = rng.standard_normal(b_shape).astype(np.float32)
    start = len(a_shape) - len(b_shape) if axis is None else axis % len(a_shape)
    want = np.empty_like(a)
    for idx in np.ndindex(*a_shape):
        want[idx] = a[idx] + b[idx[start:start + len(b_shape)]]
    got = a + b.reshape(legacy_broadcast_shape(len(a_shape), b_shape, axis, "Add"))
    np.testing.assert_array_equal(got, want)


def test_legacy_broadcast_errors() -> None:
    assert legacy_trailing_ones(4, 2, 1, "Add") == 1
    with pytest.raises(ValueError, match=r"^Mul: B of rank 2 does not fit in rank-4 A from axis 3; "
                                         r"expected axis <= 2$"):
        legacy_trailing_ones(4, 2, 3, "Mul")
    with pytest.raises(ValueError, match=r"Sub: axis 4 is out of range for a rank-4 input"):
        legacy_trailing_ones(4, 1, 4, "Sub")


# ------------------------------------------------------------------------------ Flatten

@pytest.mark.parametrize("axis", [-3, -1, 0, 1, 3])
def test_flatten_dims_match_onnxruntime(axis: int) -> None:
    shape = [2, 3, 4]
    model = _model(helper.make_node("Flatten", ["x"], ["y"], axis=axis), shape, 13)
    got = _ort(model, {"x": np.zeros(shape, np.float32)})[0].shape
    assert flatten_dims(shape, axis) == got
    assert flatten_dims([2, None, 4], 1) == (2, None)
    with pytest.raises(ValueError, match=r"Flatten: axis 4 is out of range"):
        flatten_dims(shape, 4)
