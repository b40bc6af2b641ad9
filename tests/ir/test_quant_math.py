"""ir/quant_math against onnx.reference: one-node QuantizeLinear / DequantizeLinear /
DynamicQuantizeLinear / QLinearMatMul models run by the ReferenceEvaluator, compared with
the shared maths run on numpy operations written here (plain ``astype`` casts: the maths
must do the saturation itself). Rows cover per-tensor, per-axis with a negative axis,
blocked with a ragged last block, int8 / uint8 / int16 / float8e4m3fn / int4 targets and
saturate 0 / 1; the error rows check the messages name the op and the shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import ml_dtypes
import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from tensorbridge.ir import quant_math as qm
from tensorbridge.ir.dtypes import DType

OPSET = 21
RNG = np.random.default_rng(3)
E4M3 = np.dtype(ml_dtypes.float8_e4m3fn)
INT4 = np.dtype(ml_dtypes.int4)


class _Ops:
    """numpy operations, independent of the runtime's: casts are bare ``astype``."""

    def cast(self, x: Any, dtype: DType, saturate: int = 1) -> np.ndarray:
        return np.asarray(x).astype(dtype.np_dtype)

    def reshape(self, x: Any, shape: list[int]) -> np.ndarray:
        return np.reshape(x, shape)

    def repeat(self, x: Any, repeats: int, axis: int) -> np.ndarray:
        return np.repeat(x, repeats, axis=axis)

    def narrow(self, x: Any, axis: int, length: Any) -> np.ndarray:
        return np.take(x, np.arange(length), axis=axis)

    def rint(self, x: Any) -> np.ndarray:
        return np.rint(x)

    def clip(self, x: Any, lo: float, hi: float) -> np.ndarray:
        return np.clip(x, lo, hi)

    def where(self, cond: Any, a: Any, b: Any) -> np.ndarray:
        return np.where(cond, a, b)

    def extent(self, x: Any) -> tuple[Any, Any]:
        return np.float32(min(x.min(initial=0), 0)), np.float32(max(x.max(initial=0), 0))


OPS = _Ops()


def _run(op: str, inputs: dict[str, np.ndarray | None], n_out: int = 1,
         **attrs: Any) -> list[np.ndarray]:
    """``op`` on ``inputs`` (None: an omitted optional input) by onnx.reference; every
    input is an initializer so the model needs no value infos."""
    names = [k if v is not None else "" for k, v in inputs.items()]
    inits = [numpy_helper.from_array(v, k) for k, v in inputs.items() if v is not None]
    outs = [f"y{i}" for i in range(n_out)]
    node = helper.make_node(op, names, outs, **attrs)
    vis = [helper.make_value_info(o, onnx.TypeProto()) for o in outs]
    graph = helper.make_graph([node], "q", [], vis, initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    return list(ReferenceEvaluator(model).run(None, {}))


def _same(ours: Any, ref: np.ndarray) -> None:
    ours = np.asarray(ours)
    assert ours.dtype == ref.dtype, (ours.dtype, ref.dtype)
    assert ours.shape == ref.shape, (ours.shape, ref.shape)
    np.testing.assert_array_equal(ours.astype(np.float64), ref.astype(np.float64))


@dataclass
class Case:
    name: str
    x: np.ndarray
    scale: np.ndarray
    zero_point: np.ndarray | None
    attrs: dict[str, Any] = field(default_factory=dict)


def _x(*shape: int, spread: float = 40.0) -> np.ndarray:
    x = (RNG.standard_normal(shape) * spread).astype(np.float32)
    x.flat[:4] = [0.5, 1.5, -2.5, 1000.0][: x.size]  # ties, and an overflow to saturate
    return x


def _s(*shape: int) -> np.ndarray:
    return (RNG.uniform(0.5, 2.0, shape)).astype(np.float32)


def _zp(dtype: Any, *shape: int, lo: int = -3, hi: int = 4) -> np.ndarray:
    return RNG.integers(lo, hi, shape).astype(dtype)


CASES = [
    Case("ties_odd_zero_point", np.array([0.5, 1.5, 2.5, -0.5, -1.5, 3.5], np.float32),
         np.array(1.0, np.float32), np.array(3, np.int8)),
    Case("per_tensor_uint8", _x(3, 4), _s(), _zp(np.uint8, lo=120, hi=130)),
    Case("per_tensor_uint8_default", _x(5), np.array(0.5, np.float32), None),
    Case("per_tensor_one_element", _x(2, 3), _s(1), _zp(np.int8, 1)),
    Case("per_axis_negative_int8", _x(2, 3, 4), _s(3), _zp(np.int8, 3), {"axis": -2}),
    Case("per_axis_last_int16", _x(2, 5, spread=3e4), _s(5), _zp(np.int16, 5), {"axis": -1}),
    Case("blocked_ragged_int8", _x(3, 7), _s(3, 3), _zp(np.int8, 3, 3),
         {"axis": -1, "block_size": 3}),
    Case("blocked_axis0_uint8", _x(5, 2), _s(2, 2), _zp(np.uint8, 2, 2, lo=0, hi=9),
         {"axis": 0, "block_size": 4}),
    Case("int4_per_axis", _x(4, 3, spread=6.0), _s(3), _zp(INT4, 3, lo=-2, hi=2), {"axis": 1}),
    Case("int4_blocked_ragged", _x(2, 5, spread=6.0), _s(2, 3), _zp(INT4, 2, 3, lo=-2, hi=2),
         {"axis": 1, "block_size": 2}),
    Case("int4_output_dtype", _x(6, spread=9.0), _s(), None,
         {"output_dtype": onnx.TensorProto.INT4}),
    Case("float8e4m3fn_saturate", _x(3, 4, spread=300.0), _s(4),
         np.zeros(4, E4M3), {"axis": -1}),
    Case("float8e4m3fn_no_saturate", _x(3, 4, spread=300.0), _s(),
         np.zeros((), E4M3), {"saturate": 0}),
]


def _zp_pair(zp: np.ndarray | None) -> tuple[tuple[int, ...], DType] | None:
    return None if zp is None else (zp.shape, DType.from_numpy(zp.dtype))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_quantize_matches_reference(case: Case) -> None:
    (ref,) = _run("QuantizeLinear", {"x": case.x, "s": case.scale, "z": case.zero_point},
                  **case.attrs)
    spec = qm.quantize_spec(case.x.shape, (case.scale.shape, DType.FLOAT),
                            _zp_pair(case.zero_point), **case.attrs)
    _same(qm.quantize(case.x, case.scale, case.zero_point, spec, OPS), ref)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_dequantize_matches_reference(case: Case) -> None:
    attrs = {k: v for k, v in case.attrs.items() if k in ("axis", "block_size")}
    (q,) = _run("QuantizeLinear", {"x": case.x, "s": case.scale, "z": case.zero_point},
                **case.attrs)
    (ref,) = _run("DequantizeLinear", {"x": q, "s": case.scale, "z": case.zero_point}, **attrs)
    zp_shape = None if case.zero_point is None else case.zero_point.shape
    spec = qm.dequantize_spec(q.shape, (case.scale.shape, DType.FLOAT), zp_shape, **attrs)
    _same(qm.dequantize(q, case.scale, case.zero_point, spec, OPS), ref)


@pytest.mark.parametrize("x", [_x(3, 5), np.abs(_x(4)), -np.abs(_x(2, 2))],
                         ids=["mixed", "positive", "negative"])
def test_dynamic_quantize_matches_reference(x: np.ndarray) -> None:
    refs = _run("DynamicQuantizeLinear", {"x": x}, n_out=3)
    for ours, ref in zip(qm.dynamic_quantize(x, OPS), refs, strict=True):
        _same(np.asarray(ours, dtype=ref.dtype) if np.ndim(ours) == 0 else ours, ref)


def test_dynamic_quantize_all_zeros() -> None:
    # The spec's formula gives scale (0 - 0) / 255 = 0 and leaves the division undefined;
    # onnx.reference returns 1/255 and onnxruntime 1.0 there. y and the zero point agree.
    x = np.zeros(3, np.float32)
    y_ref, _, zp_ref = _run("DynamicQuantizeLinear", {"x": x}, n_out=3)
    y, scale, zp = qm.dynamic_quantize(x, OPS)
    _same(y, y_ref)
    _same(np.asarray(zp), zp_ref)
    assert float(scale) == 0.0


def _shaped(p: np.ndarray, m: np.ndarray, row: bool) -> np.ndarray:
    shape = qm.matmul_param_shape(p.shape, m.shape, row, "QLinearMatMul", "p")
    return p if shape is None else p.reshape(shape)


def test_qlinear_matmul_per_column_matches_reference() -> None:
    a = RNG.integers(0, 255, (3, 4)).astype(np.uint8)
    b = RNG.integers(0, 255, (2, 4, 5)).astype(np.uint8)
    a_s, a_zp = np.array(0.75, np.float32), np.array(131, np.uint8)
    b_s, b_zp = _s(5), _zp(np.uint8, 5, lo=100, hi=140)
    y_s, y_zp = np.array(900.0, np.float32), np.array(128, np.uint8)
    (ref,) = _run("QLinearMatMul", {"a": a, "as": a_s, "az": a_zp, "b": b, "bs": b_s,
                                    "bz": b_zp, "ys": y_s, "yz": y_zp})
    acc = (a.astype(np.int32) - _shaped(a_zp, a, True)) @ (b.astype(np.int32) - _shaped(b_zp, b, False))
    v = acc.astype(np.float32) * (_shaped(a_s, a, True) * _shaped(b_s, b, False) / y_s)
    _same(qm.round_saturate(v, np.float32(y_zp), DType.UINT8, 1, OPS), ref)


def test_per_row_zero_point_matches_explicit_sum() -> None:
    # Neither onnx.reference nor onnxruntime take MatMulInteger's per-row a_zero_point
    # (M,): check against the spec's sum written out in Python integers.
    a = RNG.integers(0, 255, (3, 4)).astype(np.uint8)
    b = RNG.integers(0, 255, (4, 2)).astype(np.uint8)
    a_zp, b_zp = _zp(np.uint8, 3, lo=0, hi=255), _zp(np.uint8, 2, lo=0, hi=255)
    ours = (a.astype(np.int32) - _shaped(a_zp, a, True)) @ (b.astype(np.int32) - _shaped(b_zp, b, False))
    want = [[sum((int(a[i, k]) - int(a_zp[i])) * (int(b[k, j]) - int(b_zp[j])) for k in range(4))
             for j in range(2)] for i in range(3)]
    np.testing.assert_array_equal(ours, np.array(want))


def test_round_half_even_before_zero_point() -> None:
    # 2.5 rounds to 2, then + 1 = 3; rounding 2.5 + 1 = 3.5 would give 4
    v = np.array([0.5, 1.5, 2.5, -0.5], np.float32)
    out = qm.round_saturate(v, np.float32(1), DType.INT8, 1, OPS)
    np.testing.assert_array_equal(out, np.array([1, 3, 3, 1], np.int8))


@pytest.mark.parametrize("dtype, bounds", [
    (DType.INT8, (-128, 127)), (DType.UINT8, (0, 255)), (DType.INT16, (-32768, 32767)),
    (DType.UINT16, (0, 65535)), (DType.INT4, (-8, 7)), (DType.UINT4, (0, 15)),
    (DType.INT2, (-2, 1)), (DType.UINT2, (0, 3)), (DType.FLOAT8E4M3FN, (-448, 448)),
    (DType.FLOAT8E5M2, (-57344, 57344)), (DType.FLOAT8E4M3FNUZ, (-240, 240)),
    (DType.FLOAT4E2M1, (-6, 6)),
])
def test_saturation_range_is_the_spec_range(dtype: DType, bounds: tuple[int, int]) -> None:
    assert qm.saturation_range(dtype) == bounds


def test_types() -> None:
    assert qm.quantize_target(None) == DType.UINT8
    assert qm.quantize_target(DType.INT8) == DType.INT8
    assert qm.quantize_target(None, onnx.TensorProto.INT4) == DType.INT4
    assert qm.dequantize_output(DType.FLOAT16) == DType.FLOAT16
    assert qm.dequantize_output(DType.FLOAT8E8M0) == DType.FLOAT
    assert qm.dequantize_output(DType.FLOAT, onnx.TensorProto.BFLOAT16) == DType.BFLOAT16
    assert qm.division_type(DType.FLOAT16) == DType.FLOAT
    assert qm.division_type(DType.DOUBLE) == DType.DOUBLE
    assert qm.division_type(DType.FLOAT, onnx.TensorProto.FLOAT16) == DType.FLOAT16


def test_symbolic_dims_skip_the_checks() -> None:
    lay = qm.layout(["batch", 6], ["batch", 2], axis=1, block_size=3)
    assert (lay.kind, lay.axis, lay.length) == (qm.BLOCKED, 1, 6)
    assert qm.layout(["n", 4], ["c"], axis=0).kind == qm.PER_AXIS


ERRORS = [
    ("per_axis_length", lambda: qm.layout((2, 3, 4), (4,), axis=-2),
     r"QuantizeLinear: per-axis the scale has 4 values but axis 1 .*\(2, 3, 4\) has 3"),
    ("axis_range", lambda: qm.layout((2, 3), (3,), axis=2), r"axis 2 is out of range.*rank 2"),
    ("blocked_count", lambda: qm.layout((3, 7), (3, 2), axis=1, block_size=3),
     r"shape \(3, 2\) does not fit input shape \(3, 7\).*dim 1 must be 3 \(ceil\(7 / 3\)"),
    ("blocked_other_dim", lambda: qm.layout((3, 7), (2, 3), axis=1, block_size=3),
     r"dim 0 must be 3"),
    ("blocked_rank", lambda: qm.layout((3, 7), (3,), axis=1, block_size=3),
     r"needs the scale of the input's rank 2; got shape \(3,\)"),
    ("negative_block", lambda: qm.layout((3,), (), block_size=-1), r"block_size must be >= 0"),
    ("matrix_without_block", lambda: qm.layout((3, 4), (3, 4)),
     r"shape \(3, 4\) is neither a scalar.*set block_size"),
    ("output_dtype_conflict", lambda: qm.quantize_target(DType.INT8, onnx.TensorProto.UINT8),
     r"output_dtype UINT8 differs from y_zero_point's type INT8"),
    ("not_quantizable", lambda: qm.quantize_target(DType.INT32), r"cannot quantize to INT32"),
    ("bad_code", lambda: qm.dequantize_output(DType.FLOAT, 99), r"output_dtype=99 is not"),
    ("dequantize_names_op", lambda: qm.dequantize_spec((4,), ((3,), DType.FLOAT), None, axis=0),
     r"^DequantizeLinear: per-axis x_scale has 3 values"),
    ("matmul_rows", lambda: qm.matmul_param_shape((3,), (4, 5), True, "MatMulInteger",
                                                  "a_zero_point"),
     r"MatMulInteger: a_zero_point has 3 values but its operand of shape \(4, 5\) has 4 rows"),
    ("conv_channels", lambda: qm.channel_param_shape((3,), 4, 3, "QLinearConv", "w_scale"),
     r"QLinearConv: w_scale must be a scalar or a vector of 4 values.*got shape \(3,\)"),
    ("conv_scalar", lambda: qm.channel_param_shape((2,), None, 0, "ConvInteger", "x_zero_point"),
     r"x_zero_point must be a scalar"),
]


@pytest.mark.parametrize("make, pattern", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors_name_op_and_shapes(make: Any, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        make()


def test_error_cases_agree_with_reference() -> None:
    # the reference evaluator also refuses the ragged block count we reject
    with pytest.raises(Exception):  # noqa: B017 - onnx.reference raises a bare ValueError/RuntimeError
        _run("QuantizeLinear", {"x": _x(3, 7), "s": _s(3, 2), "z": _zp(np.int8, 3, 2)},
             axis=1, block_size=3)
