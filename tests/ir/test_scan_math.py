"""The shared Scan plumbing (ir/scan_math.py) through all three layers: small Scan models
built with onnx.helper (two states, two scanned inputs, negative and non-zero scan axes,
reverse input and output directions, a zero-length scan, Scan-8 with a batch and
sequence_lens) run on tensorbridge's runtime and through the PyTorch and TensorFlow
emitters, compared with onnxruntime (and onnx.reference where it implements the case) and
an independent numpy loop; then the errors each bad attribute or input raises."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper
from onnx.reference import ReferenceEvaluator

import tensorbridge as tb
from tensorbridge.ir.errors import TensorbridgeError
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.scan_math import ScanPlan, scan8_plan, scan_plan

RNG = np.random.default_rng(0)
F = TensorProto.FLOAT
STEPS, WIDTH = 3, 2


def _vi(name: str, shape: Sequence[Any] | None, dtype: int = F) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, dtype, shape)


def _body() -> onnx.GraphProto:
    """States s1, s2 and elements a, b (all [WIDTH]) -> s1 + a, s2 * b, then the scan
    outputs s1 + a - b and a * s2 (per step, from the old s2)."""
    nodes = [helper.make_node("Add", ["s1", "a"], ["s1_next"]),
             helper.make_node("Mul", ["s2", "b"], ["s2_next"]),
             helper.make_node("Sub", ["s1_next", "b"], ["y1"]),
             helper.make_node("Mul", ["a", "s2"], ["y2"])]
    ins = [_vi(n, [WIDTH]) for n in ("s1", "s2", "a", "b")]
    outs = [_vi(n, [WIDTH]) for n in ("s1_next", "s2_next", "y1", "y2")]
    return helper.make_graph(nodes, "body", ins, outs)


def _element_step(s1: np.ndarray, s2: np.ndarray, a: np.ndarray, b: np.ndarray) -> tuple[Any, ...]:
    return s1 + a, s2 * b, s1 + a - b, a * s2


def _scanned_shape(axis: int, steps: int = STEPS) -> list[int]:
    """A rank-2 scanned input with ``steps`` on ``axis`` and WIDTH on the other."""
    return [steps, WIDTH] if axis % 2 == 0 else [WIDTH, steps]


def _scan9(in_axes: list[int], in_dirs: list[int], out_axes: list[int], out_dirs: list[int],
           steps: int | str = STEPS, opset: int = 16) -> onnx.ModelProto:
    attrs = {"scan_input_axes": in_axes, "scan_input_directions": in_dirs,
             "scan_output_axes": out_axes, "scan_output_directions": out_dirs}
    node = helper.make_node("Scan", ["s1", "s2", "xa", "xb"], ["f1", "f2", "y1", "y2"],
                            name="scan", body=_body(), num_scan_inputs=2, **attrs)
    ins = [_vi("s1", [WIDTH]), _vi("s2", [WIDTH])]
    ins += [_vi(n, _scanned_shape(a, steps)) for n, a in zip(("xa", "xb"), in_axes, strict=True)]  # type: ignore[arg-type]
    outs = [_vi("f1", [WIDTH]), _vi("f2", [WIDTH]), _vi("y1", [None, None]), _vi("y2", [None, None])]
    graph = helper.make_graph([node], "scan9", ins, outs)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])


def _numpy_scan9(inputs: list[np.ndarray], in_axes: list[int], in_dirs: list[int],
                 out_axes: list[int], out_dirs: list[int]) -> list[np.ndarray]:
    """The spec's Scan written out directly: move the scan axis first, flip reverse inputs,
    loop, flip reverse outputs, stack on the output axis."""
    s1, s2, *xs = inputs
    seqs = [np.moveaxis(x, a, 0)[::-1 if d else 1] for x, a, d in zip(xs, in_axes, in_dirs, strict=True)]
    ys: list[list[np.ndarray]] = [[], []]
    for a, b in zip(*seqs, strict=True):
        s1, s2, y1, y2 = _element_step(s1, s2, a, b)
        ys[0].append(y1)
        ys[1].append(y2)
    outs = [np.stack(acc[::-1 if d else 1], axis=ax) for acc, ax, d in zip(ys, out_axes, out_dirs, strict=True)]
    return [s1, s2, *outs]


def _ort(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    ort = pytest.importorskip("onnxruntime")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return list(sess.run(None, feeds))


def _through_torch(model: onnx.ModelProto, inputs: list[np.ndarray]) -> list[np.ndarray]:
    torch = pytest.importorskip("torch")
    from tensorbridge.converters.pytorch.from_ir import from_ir

    module = from_ir(tb.load(model))
    with torch.no_grad():
        outs = module(*[torch.from_numpy(x) for x in inputs])
    return [o.detach().numpy() for o in (outs if isinstance(outs, tuple) else (outs,))]


def _through_tf(model: onnx.ModelProto, inputs: list[np.ndarray]) -> list[np.ndarray]:
    tf = pytest.importorskip("tensorflow")
    from tensorbridge.converters.tensorflow.from_ir import from_ir

    module = from_ir(tb.load(model))
    outs = module(*[tf.constant(x) for x in inputs])
    return [o.numpy() for o in (outs if isinstance(outs, tuple) else (outs,))]


LAYERS = {
    "runtime": lambda model, inputs: tb.run(model, *inputs),
    "torch": _through_torch,
    "tf": _through_tf,
}


def _assert_outputs(got: Sequence[np.ndarray], want: Sequence[np.ndarray]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.shape == w.shape and g.dtype == w.dtype
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-6)


def _scan9_inputs(in_axes: list[int], steps: int = STEPS) -> list[np.ndarray]:
    states = [RNG.standard_normal(WIDTH).astype(np.float32) for _ in range(2)]
    return states + [RNG.standard_normal(_scanned_shape(a, steps)).astype(np.float32) for a in in_axes]


# ------------------------------------------------------------------------ Scan 9+

SCAN9_CASES = {
    "defaults": ([0, 0], [0, 0], [0, 0], [0, 0]),
    "negative_input_axis": ([0, -1], [0, 0], [0, 0], [0, 0]),
    "input_axis_1_reverse_inputs": ([1, -2], [1, 0], [0, 0], [0, 0]),
    "reverse_outputs": ([0, 0], [0, 1], [0, 0], [1, 0]),
    "output_axes_1_and_minus_1": ([-1, 0], [1, 1], [1, -1], [0, 1]),
    "output_axis_minus_2": ([0, 1], [0, 0], [-2, 1], [1, 1]),
}


@pytest.mark.parametrize("layer", sorted(LAYERS))
@pytest.mark.parametrize("case", sorted(SCAN9_CASES))
def test_scan9_matches_onnxruntime_and_the_spec(case, layer):
    in_axes, in_dirs, out_axes, out_dirs = SCAN9_CASES[case]
    model = _scan9(in_axes, in_dirs, out_axes, out_dirs)
    onnx.checker.check_model(model, full_check=True)
    inputs = _scan9_inputs(in_axes)
    want = _ort(model, dict(zip(("s1", "s2", "xa", "xb"), inputs, strict=True)))
    _assert_outputs(_numpy_scan9(inputs, in_axes, in_dirs, out_axes, out_dirs), want)
    _assert_outputs(LAYERS[layer](model, inputs), want)


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_default_scan9_matches_onnx_reference(layer):
    """onnx.reference implements Scan with the default axes and directions only."""
    model = _scan9([0, 0], [0, 0], [0, 0], [0, 0])
    inputs = _scan9_inputs([0, 0])
    want = ReferenceEvaluator(model).run(None, dict(zip(("s1", "s2", "xa", "xb"), inputs, strict=True)))
    _assert_outputs(LAYERS[layer](model, inputs), want)


@pytest.mark.parametrize("layer", sorted(LAYERS))
@pytest.mark.parametrize("steps", [0, "n"])
@pytest.mark.parametrize(("out_axes", "shapes"), [([0, 0], [(0, WIDTH)] * 2),
                                                  ([1, -1], [(WIDTH, 0)] * 2),
                                                  ([-2, 1], [(0, WIDTH), (WIDTH, 0)])])
def test_zero_length_scan_keeps_the_states_and_gives_empty_outputs(layer, steps, out_axes, shapes):
    """No step runs: the final states are the initial ones and each scan output has a 0 at
    its output axis (the body output's declared shape elsewhere). onnxruntime and
    onnx.reference both refuse a zero-length Scan, so the expectation is the spec's."""
    model = _scan9([0, 0], [0, 1], out_axes, [1, 0], steps=steps)
    inputs = _scan9_inputs([0, 0], steps=0)
    got = LAYERS[layer](model, inputs)
    _assert_outputs(got, [inputs[0], inputs[1], *(np.zeros(s, np.float32) for s in shapes)])


# ------------------------------------------------------------------------ Scan-8

BATCH, TIME = 2, 3


def _scan8(directions: list[int], with_lens: bool, time: int | str = TIME) -> onnx.ModelProto:
    """Batched Scan-8 of the same body: states [BATCH, WIDTH], scanned [BATCH, time, WIDTH]
    (``time`` a symbol: known only at run time)."""
    names = ["lens" if with_lens else "", "s1", "s2", "xa", "xb"]
    node = helper.make_node("Scan", names, ["f1", "f2", "y1", "y2"], name="scan8", body=_body(),
                            num_scan_inputs=2, directions=directions)
    ins = [_vi("lens", [BATCH], TensorProto.INT64)] if with_lens else []
    ins += [_vi("s1", [BATCH, WIDTH]), _vi("s2", [BATCH, WIDTH])]
    ins += [_vi(n, [BATCH, time, WIDTH]) for n in ("xa", "xb")]
    outs = [_vi("f1", [BATCH, WIDTH]), _vi("f2", [BATCH, WIDTH]),
            _vi("y1", [BATCH, time, WIDTH]), _vi("y2", [BATCH, time, WIDTH])]
    graph = helper.make_graph([node], "scan8", ins, outs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 8)])
    model.ir_version = 3
    return model


def _numpy_scan8(lens: list[int], inputs: list[np.ndarray], directions: list[int]) -> list[np.ndarray]:
    """Each batch entry scanned over its first lens[b] steps (a reverse input read from
    lens[b] - 1 down), the scan outputs zero-padded to TIME."""
    per_entry = []
    for b, n in enumerate(lens):
        one = [x[b] for x in inputs]
        outs = _numpy_scan9([one[0], one[1], one[2][:n], one[3][:n]], [0, 0], directions, [0, 0], [0, 0])
        outs[2:] = [np.pad(y, [(0, TIME - n), (0, 0)]) for y in outs[2:]]
        per_entry.append(outs)
    return [np.stack([e[k] for e in per_entry]) for k in range(4)]


def _scan8_inputs() -> list[np.ndarray]:
    return [RNG.standard_normal(s).astype(np.float32)
            for s in ([BATCH, WIDTH],) * 2 + ([BATCH, TIME, WIDTH],) * 2]


@pytest.mark.parametrize("layer", sorted(LAYERS))
@pytest.mark.parametrize("lens", [None, [3, 2], [1, 3]])
@pytest.mark.parametrize(("directions", "time"), [([0, 0], TIME), ([1, 0], TIME), ([1, 1], TIME),
                                                  ([0, 1], "t")])
def test_scan8_matches_onnxruntime(layer, lens, directions, time):
    model = _scan8(directions, with_lens=lens is not None, time=time)
    onnx.checker.check_model(model, full_check=True)
    inputs = _scan8_inputs()
    if lens is not None:
        inputs = [np.array(lens, np.int64), *inputs]
    names = [i.name for i in model.graph.input]
    want = _ort(model, dict(zip(names, inputs, strict=True)))
    _assert_outputs(_numpy_scan8(lens or [TIME] * BATCH, inputs[-4:], directions), want)
    _assert_outputs(LAYERS[layer](model, inputs), want)


# ------------------------------------------------------------------------ errors


def _plan(body: Graph, shapes: list[list[Any]], **attrs: Any) -> ScanPlan:
    return scan_plan(body, shapes, **{"num_scan_inputs": 2, **attrs})


@pytest.fixture(scope="module")
def ir_body() -> Graph:
    """The IR of the test body (the Scan node's body attribute after loading)."""
    graph = tb.load(_scan9([0, 0], [0, 0], [0, 0], [0, 0]))
    (node,) = [n for n in graph.nodes() if n.op_type == "Scan"]
    return node.attrs["body"].value


def test_plan_normalises_axes_and_counts_steps(ir_body):
    plan = _plan(ir_body, [[2], [2], [2, 5], [5, 2]], scan_input_axes=[-1, 0],
                 scan_output_axes=[-1, -2], scan_input_directions=[1, 0])
    assert (plan.n_state, plan.n_scan, plan.n_out, plan.steps) == (2, 2, 2, 5)
    assert plan.in_axes == (1, 0) and plan.in_dirs == (1, 0)
    assert [plan.out_axis(k, 1) for k in range(2)] == [1, 0]
    assert [plan.index(0, t) for t in range(5)] == [4, 3, 2, 1, 0]
    assert [plan.index(1, t) for t in range(5)] == [0, 1, 2, 3, 4]
    # a length known only at run time does not count; the known ones must agree
    assert _plan(ir_body, [[2], [2], ["n", 2], [4, 2]]).steps == 4
    assert _plan(ir_body, [[2], [2], ["n", 2], [None, 2]]).steps is None


@pytest.mark.parametrize(("shapes", "attrs", "message"), [
    ([[2, 2]], {}, r"num_scan_inputs is 2 but the node has 1"),
    ([[2], [2], [3, 2], [3, 2]], {"num_scan_inputs": 5}, r"num_scan_inputs is 5 .* \(1\.\.4\)"),
    ([[2], [2], [3, 2], [3, 2]], {"scan_input_axes": [0, 2]}, r"scan_input_axes\[1\] 2 is out of range for a rank-2"),
    ([[2], [2], [3, 2], [3, 2]], {"scan_input_axes": [-3, 0]}, r"scan_input_axes\[0\] -3 is out of range"),
    ([[2], [2], [3, 2], [3, 2]], {"scan_input_axes": [0]}, r"scan_input_axes has 1 entries \[0\] for 2"),
    ([[2], [2], [3, 2], [3, 2]], {"scan_output_axes": [0, 2]}, r"scan_output_axes\[1\] 2 is out of range for a rank-2"),
    ([[2], [2], [3, 2], [3, 2]], {"scan_output_directions": [0, 2]}, r"scan_output_directions is \[0, 2\]"),
    ([[2], [2], [3, 2], [4, 2]], {}, r"different lengths \[3, 4\]"),
    ([[2], [2], [3, 2], []], {}, r"scanned input 1 is a scalar"),
])
def test_bad_attributes_and_inputs_say_what_is_wrong(ir_body, shapes, attrs, message):
    with pytest.raises(ValueError, match="Scan: .*" + message):
        _plan(ir_body, shapes, **attrs)


@pytest.mark.parametrize(("shapes", "lens", "message"), [
    ([[2, 2], [2, 2], [2, 3, 2], [2, 4, 2]], None, r"different lengths \[3, 4\] on axis 1"),
    ([[2, 2], [3, 2], [2, 3, 2], [2, 3, 2]], None, r"different batch sizes \[2, 3, 2, 2\]"),
    ([[2, 2], [2, 2], [2, 3, 2], [2, 3, 2]], [3, 4], r"sequence_lens is \[3, 4\]; .* 1\.\.3"),
    ([[2, 2], [2, 2], [2, 3, 2], [2, 3, 2]], [0, 3], r"sequence_lens is \[0, 3\]"),
    ([[2, 2], [2, 2], [2, 3, 2], [2, 3, 2]], [3], r"sequence_lens has 1 entries \[3\] for a batch of 2"),
    ([[2, 2], [2, 2], [2, 3, 2], [2]], None, r"scanned input 1 has rank 1"),
])
def test_bad_scan8_inputs_say_what_is_wrong(ir_body, shapes, lens, message):
    with pytest.raises(ValueError, match="Scan: .*" + message):
        scan8_plan(ir_body, shapes, lens, num_scan_inputs=2)


def test_too_many_scan_inputs_are_refused_when_loading():
    """The IR's verifier sees num_scan_inputs against the node's inputs before any layer runs."""
    model = _scan9([0, 0], [0, 0], [0, 0], [0, 0])
    (attr,) = [a for a in model.graph.node[0].attribute if a.name == "num_scan_inputs"]
    attr.i = 5
    with pytest.raises(TensorbridgeError, match=r"Scan.*num_scan_inputs is 5"):
        tb.load(model)


def _bad_axis_model() -> onnx.ModelProto:
    model = _scan9([0, 0], [0, 0], [0, 0], [0, 0])
    for attr in model.graph.node[0].attribute:
        if attr.name == "scan_input_axes":
            attr.ints[:] = [0, 2]
    return model


def _unequal_lengths_model() -> onnx.ModelProto:
    model = _scan9([0, 0], [0, 0], [0, 0], [0, 0])
    model.graph.input[3].CopyFrom(_vi("xb", [STEPS + 1, WIDTH]))
    return model


@pytest.mark.parametrize("layer", sorted(LAYERS))
@pytest.mark.parametrize(("build", "xb_steps", "message"), [
    (_bad_axis_model, STEPS, r"scan_input_axes\[1\] 2 is out of range"),
    (_unequal_lengths_model, STEPS + 1, r"different lengths \[3, 4\]"),
])
def test_layers_report_the_scan_node(layer, build, xb_steps, message):
    """Each layer turns the plan's ValueError into its error naming the Scan node."""
    inputs = _scan9_inputs([0, 0])
    inputs[3] = RNG.standard_normal([xb_steps, WIDTH]).astype(np.float32)
    with pytest.raises(TensorbridgeError, match=r"'scan' \(Scan\).*" + message):
        LAYERS[layer](build(), inputs)


@pytest.mark.parametrize("layer", sorted(LAYERS))
@pytest.mark.parametrize("lens", [[3, 4], [0, 2]])
def test_scan8_sequence_lens_out_of_range_are_refused(layer, lens):
    """onnxruntime refuses them too ("Invalid entries in sequence_lens"); TensorFlow checks
    the run-time value in the graph it emits."""
    inputs = [np.array(lens, np.int64), *_scan8_inputs()]
    errors: tuple[type[BaseException], ...] = (TensorbridgeError,)
    if layer == "tf":
        import tensorflow as tf

        errors = (tf.errors.InvalidArgumentError,)
    with pytest.raises(errors, match=r"Scan.*sequence_lens"):
        LAYERS[layer](_scan8([0, 0], with_lens=True), inputs)
