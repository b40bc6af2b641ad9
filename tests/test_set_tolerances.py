"""Each generated input set is judged against its own float32 noise floor, never below the
example inputs' (tensorbridge.reference.set_tolerances), against an independent numpy
computation of that floor: float32 vs float64 evaluation of the same formula."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper

import tensorbridge as tb
from tensorbridge.reference import (
    MAX_TOL,
    MIN_TOL,
    NOISE_FACTOR,
    Runners,
    noise_tolerance,
    set_tolerances,
)


def _model() -> onnx.ModelProto:
    """Y = (X * X + 0.1) - X * X: 0.1 whatever X, with a float32 rounding error that grows
    with X's magnitude (the ulp of X * X), so large inputs are far noisier than small ones."""
    nodes = [helper.make_node("Mul", ["x", "x"], ["sq"]),
             helper.make_node("Add", ["sq", "one"], ["sq1"]),
             helper.make_node("Sub", ["sq1", "sq"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [64])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [64])],
                              [helper.make_tensor("one", TensorProto.FLOAT, [], [0.1])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def _graph() -> tb.ir.Graph:
    return tb.load(_model())


def _numpy_noise(x: np.ndarray) -> float:
    y32 = (x * x + np.float32(0.1)) - x * x
    x64 = x.astype(np.float64)
    y64 = (x64 * x64 + np.float64(np.float32(0.1))) - x64 * x64
    return float(np.max(np.abs(y32 - y64)) / np.max(np.abs(y64)))


def _expected_tol(x: np.ndarray, cap: bool = True) -> float:
    """The example's tolerance is clamped to [MIN_TOL, MAX_TOL]; a generated set's only from below."""
    return float(np.clip(NOISE_FACTOR * _numpy_noise(x), MIN_TOL, MAX_TOL if cap else np.inf))


def test_a_noisier_set_gets_its_own_floor_and_the_example_keeps_its_own():
    x = np.random.default_rng(0).uniform(0.5, 1.5, 64).astype(np.float32)
    sets = {"example": [x], "large": [x * np.float32(100)], "negative": [-x]}
    runners = Runners(_graph())
    base = noise_tolerance(runners, sets["example"], None, None)
    assert np.isclose(base.rtol, _expected_tol(x))
    own = set_tolerances(runners, sets, base, None)
    assert set(own) == {"large"}  # -x has exactly x's rounding: not raised
    assert np.isclose(own["large"].rtol, _expected_tol(sets["large"][0], cap=False))
    assert own["large"].rtol > 10 * base.rtol and "own float32 noise floor" in own["large"].reason


def test_a_set_noisier_than_the_cap_is_judged_at_its_own_floor_and_says_so():
    """x * 100: the ulp of x * x (~1e4) is ~4e-3 of the 0.1 result, so 20x that is far above
    the 1e-3 cap. A correct float32 runtime is off by about the floor itself there: clamped
    to the cap, the set would refuse a correct result."""
    x = np.random.default_rng(5).uniform(0.5, 1.5, 64).astype(np.float32)
    large = x * np.float32(100)
    runners = Runners(_graph())
    base = noise_tolerance(runners, [x], None, None)
    own = set_tolerances(runners, {"example": [x], "large": [large]}, base, None)
    assert base.rtol <= MAX_TOL < own["large"].rtol
    assert np.isclose(own["large"].rtol, NOISE_FACTOR * _numpy_noise(large))
    assert "above the 0.001 cap" in own["large"].reason
    # the set's own float32 error against float64 (the runtime's, as onnxruntime's would be)
    # is above the cap and within its own tolerance
    assert MAX_TOL < _numpy_noise(large) < own["large"].rtol


def test_nothing_is_raised_when_the_tolerance_was_given():
    x = np.random.default_rng(1).uniform(0.5, 1.5, 64).astype(np.float32)
    sets = {"example": [x], "large": [x * np.float32(100)]}
    runners = Runners(_graph())
    given = noise_tolerance(runners, sets["example"], 1e-5, None)
    assert set_tolerances(runners, sets, given, 1e-5) == {}


def test_check_reports_the_set_judged_at_its_own_floor(tmp_path):
    path = tmp_path / "m.onnx"
    onnx.save(_model(), path)
    x = np.random.default_rng(2).uniform(0.5, 1.5, 64).astype(np.float32)
    rep = tb.check(str(path), (x,))
    assert rep.ok
    large = [c for c in rep.comparisons if c.input_set == "large"]
    assert large and any("'large' judged at rtol" in n for n in rep.notes)


def test_the_report_names_each_sets_tolerance_and_a_recheck_keeps_them(tmp_path):
    from tensorbridge.check import validate
    from tensorbridge.route import build

    path = tmp_path / "m.onnx"
    onnx.save(_model(), path)
    x = np.random.default_rng(3).uniform(0.5, 1.5, 64).astype(np.float32)
    first = validate(build(str(path), None, "onnx"), (x,), generated=True)
    assert first.ok and set(first.set_tolerances) == {"large"}
    assert first.tolerance_for("large").rtol > first.tolerance_for("example").rtol
    assert "rtol=" in first.rule("large") and first.rule("large") != first.rule("example")
    # as `tensorbridge convert --check` re-validates the written file with the first tolerances
    again = validate(build(str(path), None, "onnx"), (x,), generated=True, tolerance=first.tolerance,
                     own_tolerances=first.set_tolerances)
    assert again.ok and again.set_tolerances == first.set_tolerances


def test_a_float64_graph_keeps_its_default_tolerance_on_every_set():
    """Only a tolerance calibrated on the float32 noise floor is raised: a float64 graph's
    default (1e-9) must not become the 1e-6 floor clamp on a generated set."""
    from tensorbridge.runtime.parity.compare import default_tolerance

    model = _model()
    for t in (*model.graph.input, *model.graph.output):
        t.type.tensor_type.elem_type = TensorProto.DOUBLE
    model.graph.initializer[0].data_type = TensorProto.DOUBLE
    del model.graph.initializer[0].float_data[:]
    model.graph.initializer[0].double_data.append(0.1)
    runners = Runners(tb.load(model))
    x = np.random.default_rng(4).uniform(0.5, 1.5, 64)
    base = noise_tolerance(runners, [x], None, None)
    assert base == default_tolerance("float64")
    assert set_tolerances(runners, {"example": [x], "large": [x * 100]}, base, None) == {}


def test_an_example_noisier_than_the_cap_keeps_the_cap_and_says_what_to_do():
    """The example inputs' tolerance stays at the 1e-3 cap however noisy the model is (a
    check that loose would pass wrong conversions), and its reason names the model's own
    noise and the rtol that would judge it there."""
    x = np.random.default_rng(6).uniform(0.5, 1.5, 64).astype(np.float32) * np.float32(100)
    tol = noise_tolerance(Runners(_graph()), [x], None, None)
    assert tol.rtol == MAX_TOL
    assert f"moves its outputs by {_numpy_noise(x):.1e}" in tol.reason and "pass rtol" in tol.reason
