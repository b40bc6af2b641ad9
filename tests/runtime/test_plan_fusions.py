"""The planner's CNN and exporter-spelling fusions (runtime/fuse_conv.py, concat_chain.py,
the Gelu-op merge, plan-time folding of in-graph weights): each fused plan is compared with
the unfused plan of the same graph and with onnxruntime, on randomized inputs."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import tensorbridge as tb
from tensorbridge.runtime.kernels.pool import max_pool
from tensorbridge.runtime.registry import KernelContext
from tensorbridge.runtime.session import Session

ort = pytest.importorskip("onnxruntime")

from tensorbridge.ort import ort_run  # noqa: E402

RNG = np.random.default_rng(7)


@pytest.fixture(autouse=True, params=["compiled", "numpy"])
def _epilogue(request, monkeypatch):
    """Every fused plan both ways: with the compiled per-channel loops and with numpy's passes."""
    from tensorbridge.runtime.kernels import _compiled

    if request.param == "numpy":
        monkeypatch.setattr(_compiled, "AVAILABLE", False)
    elif not _compiled.AVAILABLE:
        pytest.skip("numba is not installed")


def _f32(*shape: int, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    return RNG.uniform(low, high, shape).astype(np.float32)


def _model(nodes, inputs, outputs, inits, opset: int = 17) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, [numpy_helper.from_array(v, k) for k, v in inits.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True)


def _io(name: str, shape) -> onnx.ValueInfoProto:
    if shape is None:  # an output: name only, its type left to shape inference
        return helper.make_empty_tensor_value_info(name)
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def _bn(prefix: str, c: int) -> dict[str, np.ndarray]:
    return {f"{prefix}_s": _f32(c, low=0.5, high=1.5), f"{prefix}_b": _f32(c), f"{prefix}_m": _f32(c),
            f"{prefix}_v": _f32(c, low=0.5, high=1.5)}


def _bn_node(prefix: str, x: str, y: str) -> onnx.NodeProto:
    return helper.make_node("BatchNormalization", [x, f"{prefix}_s", f"{prefix}_b", f"{prefix}_m", f"{prefix}_v"],
                            [y], epsilon=1e-5)


def _compare(model: onnx.ModelProto, feeds: list[np.ndarray], fused_kernels: set[str], runs: int = 2) -> Session:
    """Fused plan == unfused plan == onnxruntime (1e-5 relative to the output's scale),
    on every one of ``runs`` runs; the fused plan holds ``fused_kernels``."""
    graph = tb.load(model)
    fused, plain = Session(graph), Session(graph, fuse=False)
    names = {getattr(st.fn, "__name__", "") for st in fused.steps}
    assert fused_kernels <= names, names
    theirs = ort_run(model, feeds)
    for _ in range(runs):
        ours, unfused = fused.run(feeds), plain.run(feeds)
        for a, b, c in zip(ours, unfused, theirs):
            scale = float(np.max(np.abs(c))) or 1.0
            np.testing.assert_allclose(a, c, rtol=1e-5, atol=1e-5 * scale)
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * scale)
    return fused


@pytest.mark.parametrize("group", [1, 4, 8])
def test_conv_bn_relu_and_residual_fold_into_the_conv(group):
    c = 8
    inits = {"w1": _f32(c, c // group, 3, 3), "w2": _f32(c, c // group, 3, 3), "b2": _f32(c),
             **_bn("bn1", c), **_bn("bn2", c)}
    nodes = [
        helper.make_node("Conv", ["x", "w1"], ["c1"], pads=[1, 1, 1, 1], group=group),
        _bn_node("bn1", "c1", "n1"),
        helper.make_node("Relu", ["n1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], group=group),
        _bn_node("bn2", "c2", "n2"),
        helper.make_node("Add", ["n2", "x"], ["s"]),
        helper.make_node("Relu", ["s"], ["y"]),
    ]
    model = _model(nodes, [_io("x", [2, c, 9, 7])], [_io("y", None)], inits)
    s = _compare(model, [_f32(2, c, 9, 7)], {"conv_affine"})
    assert [st.node.op_type for st in s.steps] == ["Relu", "Relu"]  # two steps, each ending a chain


def test_projection_block_folds_both_branches_bn():
    """ResNet's projection block: Conv+BN on the shortcut and Conv+BN on the main branch meet
    in one Add. One chain takes the Add and the Relu; the other branch's BN must still fold
    into its Conv (it used to stay a Conv step plus a BatchNormalization step)."""
    c, m = 8, 16
    inits = {"wa": _f32(m, c, 1, 1), "wb": _f32(m, c, 3, 3), **_bn("bna", m), **_bn("bnb", m)}
    nodes = [
        helper.make_node("Conv", ["x", "wa"], ["ca"], strides=[2, 2]),
        _bn_node("bna", "ca", "na"),
        helper.make_node("Conv", ["x", "wb"], ["cb"], pads=[1, 1, 1, 1], strides=[2, 2]),
        _bn_node("bnb", "cb", "nb"),
        helper.make_node("Add", ["nb", "na"], ["s"]),
        helper.make_node("Relu", ["s"], ["y"]),
    ]
    model = _model(nodes, [_io("x", [2, c, 10, 9])], [_io("y", None)], inits)
    s = _compare(model, [_f32(2, c, 10, 9)], {"conv_affine"})
    assert [getattr(st.fn, "__name__", "") for st in s.steps] == ["conv_affine", "conv_affine"]


def test_mobilenetv3_conv_hardswish_and_depthwise_fuse():
    """dynamo's MobileNetV3 spelling (BN folded into the Conv): Conv -> HardSwish, a depthwise
    Conv -> HardSwish, and a BatchNormalization -> HardSwish without a conv. Inputs reach
    the -3..3 knees of the gate (values scaled by 4)."""
    c = 64
    inits = {"w1": _f32(c, 8, 1, 1), "b1": _f32(c), "w2": _f32(c, 1, 3, 3), "b2": _f32(c), **_bn("bn", c)}
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"]),
        helper.make_node("HardSwish", ["c1"], ["h1"]),
        helper.make_node("Conv", ["h1", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1], group=c),
        helper.make_node("HardSwish", ["c2"], ["h2"]),
        _bn_node("bn", "h2", "n"),
        helper.make_node("HardSwish", ["n"], ["y"]),
    ]
    model = _model(nodes, [_io("x", [1, 8, 6, 60])], [_io("y", None)], inits, opset=18)
    s = _compare(model, [4 * _f32(1, 8, 6, 60)], {"conv_affine", "channel_affine"})
    assert [st.node.op_type for st in s.steps] == ["HardSwish"] * 3  # three chains, each ending in one


@pytest.mark.parametrize(("pool_attrs", "size"), [
    ({"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [1, 1]}, 14),  # Inception's pool branch
    ({"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "strides": [1, 1], "count_include_pad": 1}, 9),
    ({"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1}, 11),  # a transition-style pool
])
def test_average_pool_runs_after_its_channel_reducing_projection(pool_attrs, size):
    c, m = 48, 12
    inits = {"w": _f32(m, c, 1, 1), "b": _f32(m)}
    nodes = [helper.make_node("AveragePool", ["x"], ["p"], **pool_attrs),
             helper.make_node("Conv", ["p", "w", "b"], ["c"]), helper.make_node("Relu", ["c"], ["y"])]
    model = _model(nodes, [_io("x", [1, c, size, size])], [_io("y", None)], inits)
    s = _compare(model, [_f32(1, c, size, size)], {"conv_affine"})
    assert [getattr(st.fn, "__name__", "") for st in s.steps] == ["conv_affine"]  # the pool is inside


@pytest.mark.parametrize(("pool_attrs", "size"), [
    ({"kernel_shape": [2, 2], "strides": [2, 2]}, 12),  # DenseNet's transition
    ({"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}, 13),  # padding not counted
    ({"kernel_shape": [2, 2], "strides": [2, 2], "ceil_mode": 1, "count_include_pad": 1}, 11),
])
def test_downsampling_average_pool_after_a_projection_runs_first(pool_attrs, size):
    c, m = 16, 24
    inits = {"w": _f32(m, c, 1, 1), "b": _f32(m), **_bn("bn", m)}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"]), _bn_node("bn", "c", "n"),
             helper.make_node("AveragePool", ["n"], ["p"], **pool_attrs), helper.make_node("Relu", ["p"], ["y"])]
    model = _model(nodes, [_io("x", [1, c, size, size])], [_io("y", None)], inits)
    s = _compare(model, [_f32(1, c, size, size)], {"conv_affine"})
    assert [getattr(st.fn, "__name__", "") for st in s.steps] == ["conv_affine"]
    assert "pool_input" in s.steps[0].attrs


@pytest.mark.parametrize(("between", "pool_attrs"), [
    ("Relu", {"kernel_shape": [2, 2], "strides": [2, 2]}),  # nonlinear in between
    (None, {"kernel_shape": [3, 3], "strides": [1, 1], "pads": [1, 1, 1, 1]}),  # does not downsample
    (None, {"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1], "count_include_pad": 1}),
])
def test_average_pool_after_a_projection_stays_after_it_when_it_must(between, pool_attrs):
    c = 8
    inits = {"w": _f32(c, c, 1, 1), "b": _f32(c)}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"])]
    if between:
        nodes.append(helper.make_node(between, ["c"], ["c2"]))
    nodes.append(helper.make_node("AveragePool", ["c2" if between else "c"], ["y"], **pool_attrs))
    model = _model(nodes, [_io("x", [1, c, 10, 10])], [_io("y", None)], inits)
    s = _compare(model, [_f32(1, c, 10, 10)], set())
    assert "average_pool" in [getattr(st.fn, "__name__", "") for st in s.steps]


def test_average_pool_before_a_widening_or_shared_conv_stays_a_pool():
    c = 8
    inits = {"w_wide": _f32(2 * c, c, 1, 1), "w_narrow": _f32(c // 2, c, 1, 1)}
    pool = {"kernel_shape": [3, 3], "pads": [1, 1, 1, 1]}
    wide = [helper.make_node("AveragePool", ["x"], ["p"], **pool), helper.make_node("Conv", ["p", "w_wide"], ["y"])]
    shared = [helper.make_node("AveragePool", ["x"], ["p"], **pool), helper.make_node("Conv", ["p", "w_narrow"], ["c"]),
              helper.make_node("Relu", ["c"], ["y"])]
    for nodes, outputs in ((wide, ["y"]), (shared, ["y", "p"])):  # more channels out; the pool is observed
        model = _model(nodes, [_io("x", [1, c, 10, 10])], [_io(o, None) for o in outputs], inits)
        s = _compare(model, [_f32(1, c, 10, 10)], set())
        assert "average_pool" in [getattr(st.fn, "__name__", "") for st in s.steps]


def test_conv_is_not_fused_when_its_output_is_observable():
    inits = {"w": _f32(4, 3, 1, 1), **_bn("bn", 4)}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"]), _bn_node("bn", "c", "y")]
    model = _model(nodes, [_io("x", [1, 3, 5, 5])], [_io("y", None), _io("c", None)], inits)
    s = _compare(model, [_f32(1, 3, 5, 5)], set())
    assert [st.node.op_type for st in s.steps] == ["Conv", "BatchNormalization"]


def test_preactivation_bn_mul_add_relu_after_concat_is_one_affine():
    """densenet's spelling: Concat -> BatchNormalization -> Mul/Add by Unsqueezed vectors -> Relu."""
    c = 6
    inits = {**_bn("bn", c), "sw": _f32(c, low=0.5, high=2), "sb": _f32(c), "axes": np.array([1, 2], np.int64)}
    nodes = [
        helper.make_node("Concat", ["a", "b"], ["cat"], axis=1),
        _bn_node("bn", "cat", "n"),
        helper.make_node("Unsqueeze", ["sw", "axes"], ["sw3"]),
        helper.make_node("Mul", ["n", "sw3"], ["m"]),
        helper.make_node("Unsqueeze", ["sb", "axes"], ["sb3"]),
        helper.make_node("Add", ["sb3", "m"], ["p"]),
        helper.make_node("Relu", ["p"], ["y"]),
    ]
    model = _model(nodes, [_io("a", [1, 2, 4, 4]), _io("b", [1, 4, 4, 4])], [_io("y", None)], inits)
    s = _compare(model, [_f32(1, 2, 4, 4), _f32(1, 4, 4, 4)], {"channel_affine"})
    assert len(s.steps) == 2  # the Concat and one fused step (the Unsqueezes were folded)


def test_concat_chain_writes_into_one_preallocated_buffer():
    xs = [f"y{i}" for i in range(4)]
    nodes = [helper.make_node("Concat", ["x", xs[0]], ["c0"], axis=1)]
    nodes += [helper.make_node("Concat", [f"c{i - 1}", xs[i]], [f"c{i}"], axis=1) for i in range(1, 4)]
    nodes += [helper.make_node("Relu", [f"c{i}"], [f"r{i}"]) for i in range(3)]  # readers of the prefixes
    outs = ["c3", "r0", "r1", "r2"]
    model = _model(nodes, [_io("x", [1, 3, 4, 4])] + [_io(n, [1, 2, 4, 4]) for n in xs],
                   [_io(o, None) for o in outs], {})
    feeds = [_f32(1, 3, 4, 4) - 0.5] + [_f32(1, 2, 4, 4) for _ in xs]
    s = _compare(model, feeds, {"concat_into_slice"}, runs=3)
    out = s.run(feeds)[0]
    assert out.base is not None  # a view of the chain's buffer (learnt on the first run)


def test_concat_chain_falls_back_when_shapes_change():
    nodes = [helper.make_node("Concat", ["x", "y"], ["c0"], axis=1)]
    nodes += [helper.make_node("Concat", [f"c{i - 1}", "y"], [f"c{i}"], axis=1) for i in range(1, 3)]
    model = _model(nodes, [_io("x", [1, "c", 3]), _io("y", [1, "d", 3])], [_io("c2", None)], {})
    s = Session(tb.load(model))
    for cx, cy in [(2, 1), (2, 1), (5, 4), (2, 1), (1, 6)]:
        x, y = _f32(1, cx, 3), _f32(1, cy, 3)
        np.testing.assert_array_equal(s.run([x, y])[0], np.concatenate([x, y, y, y], axis=1))


def test_constant_of_shape_weights_are_folded_and_fused():
    """The Model Zoo's stored weights: built by ConstantOfShape at run time unless folded."""
    value = helper.make_tensor("v", TensorProto.FLOAT, [1], [0.02])
    inits = {"wshape": np.array([4, 3, 3, 3], np.int64), "bshape": np.array([4], np.int64)}
    nodes = [helper.make_node("ConstantOfShape", ["wshape"], ["w"], value=value),
             helper.make_node("ConstantOfShape", ["bshape"], ["b"], value=value),
             helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["y"])]
    model = _model(nodes, [_io("x", [1, 3, 6, 6])], [_io("y", None)], inits)
    s = _compare(model, [_f32(1, 3, 6, 6)], {"conv_affine"})
    assert [st.node.op_type for st in s.steps] == ["Relu"]


def test_gelu_op_after_matmul_bias_runs_in_the_product_buffer():
    inits = {"w": _f32(16, 32), "b": _f32(32)}
    nodes = [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node("Add", ["h", "b"], ["hb"]),
             helper.make_node("Gelu", ["hb"], ["y"], approximate="none")]
    model = _model(nodes, [_io("x", [2, 5, 16])], [_io("y", None)], inits, opset=20)
    _compare(model, [_f32(2, 5, 16, low=-3, high=3)], {"matmul_add_gelu"})


@pytest.mark.parametrize("opset", [17, 18])
@pytest.mark.parametrize("spelling", ["pow_div", "mul_reciprocal"])
def test_spelled_out_layer_norm_runs_as_one_kernel(opset, spelling):
    h = 24
    inits = {"gamma": _f32(h, low=0.5, high=1.5), "beta": _f32(h), "eps": np.array(1e-5, np.float32),
             "two": np.array(2.0, np.float32)}
    if opset >= 18:
        inits["axes"] = np.array([-1], np.int64)

    def mean(x: str, y: str) -> onnx.NodeProto:
        if opset >= 18:
            return helper.make_node("ReduceMean", [x, "axes"], [y], keepdims=1)
        return helper.make_node("ReduceMean", [x], [y], axes=[-1], keepdims=1)

    nodes = [mean("x", "m"), helper.make_node("Sub", ["x", "m"], ["d"])]
    if spelling == "pow_div":
        nodes += [helper.make_node("Pow", ["d", "two"], ["sq"])]
    else:
        nodes += [helper.make_node("Mul", ["d", "d"], ["sq"])]
    nodes += [mean("sq", "v"), helper.make_node("Add", ["v", "eps"], ["ve"]), helper.make_node("Sqrt", ["ve"], ["s"])]
    if spelling == "pow_div":
        nodes += [helper.make_node("Div", ["d", "s"], ["n"])]
    else:
        nodes += [helper.make_node("Reciprocal", ["s"], ["r"]), helper.make_node("Mul", ["d", "r"], ["n"])]
    nodes += [helper.make_node("Mul", ["n", "gamma"], ["g"]), helper.make_node("Add", ["g", "beta"], ["y"])]
    model = _model(nodes, [_io("x", [2, 7, h])], [_io("y", None)], inits, opset=opset)
    s = _compare(model, [_f32(2, 7, h, low=-3, high=5)], {"layer_norm_decomposed"})
    assert len(s.steps) == 1


def test_layer_norm_spelling_with_an_observed_mean_is_left_alone():
    inits = {"eps": np.array(1e-5, np.float32), "two": np.array(2.0, np.float32)}
    nodes = [helper.make_node("ReduceMean", ["x"], ["m"], axes=[-1]), helper.make_node("Sub", ["x", "m"], ["d"]),
             helper.make_node("Pow", ["d", "two"], ["sq"]), helper.make_node("ReduceMean", ["sq"], ["v"], axes=[-1]),
             helper.make_node("Add", ["v", "eps"], ["ve"]), helper.make_node("Sqrt", ["ve"], ["s"]),
             helper.make_node("Div", ["d", "s"], ["y"])]
    model = _model(nodes, [_io("x", [3, 8])], [_io("y", None), _io("m", None)], inits)
    s = _compare(model, [_f32(3, 8)], set())
    assert "layer_norm_decomposed" not in {getattr(st.fn, "__name__", "") for st in s.steps}


@pytest.mark.parametrize("opset", [17, 21])
@pytest.mark.parametrize("scaling", ["Div", "Mul"])
def test_attention_scores_scale_mask_and_softmax_run_in_one_buffer(opset, scaling):
    """q @ k^T / sqrt(d) + mask -> Softmax -> @ v, with the heads split by Reshape/Transpose."""
    b, t, heads, d = 2, 6, 2, 4
    inits = {"split": np.array([b, t, heads, d], np.int64), "merge": np.array([b, t, heads * d], np.int64),
             "c": np.array(np.sqrt(d) if scaling == "Div" else 1 / np.sqrt(d), np.float32)}
    nodes = []
    for n in ("q", "k", "v"):
        nodes += [helper.make_node("Reshape", [n, "split"], [f"{n}4"]),
                  helper.make_node("Transpose", [f"{n}4"], [f"{n}h"], perm=[0, 2, 3, 1] if n == "k" else [0, 2, 1, 3])]
    nodes += [helper.make_node("MatMul", ["qh", "kh"], ["s"]), helper.make_node(scaling, ["s", "c"], ["sc"]),
              helper.make_node("Add", ["mask", "sc"], ["sm"]), helper.make_node("Softmax", ["sm"], ["p"], axis=-1),
              helper.make_node("MatMul", ["p", "vh"], ["o"]), helper.make_node("Transpose", ["o"], ["ot"], perm=[0, 2, 1, 3]),
              helper.make_node("Reshape", ["ot", "merge"], ["y"])]
    ins = [_io(n, [b, t, heads * d]) for n in ("q", "k", "v")] + [_io("mask", [b, 1, 1, t])]
    model = _model(nodes, ins, [_io("y", None)], inits, opset=opset)
    mask = np.where(RNG.random((b, 1, 1, t)) < 0.3, -1e4, 0).astype(np.float32)
    s = _compare(model, [_f32(b, t, heads * d, low=-2, high=2) for _ in range(3)] + [mask], {"softmax_guarded"})
    fused = next(st for st in s.steps if getattr(st.fn, "__name__", "") == "softmax_guarded")
    assert ("divisor" if scaling == "Div" else "scale") in fused.attrs


@pytest.mark.parametrize(("pool_attrs", "act", "size"), [
    ({"kernel_shape": [3, 3], "strides": [2, 2], "ceil_mode": 1}, "Relu", 15),  # SqueezeNet's stem
    ({"kernel_shape": [3, 3], "strides": [2, 2], "pads": [1, 1, 1, 1]}, "Relu", 16),  # ResNet's stem
    ({"kernel_shape": [2, 3], "strides": [1, 2], "dilations": [2, 1], "pads": [0, 1, 1, 0]}, "Clip", 13),
    ({"kernel_shape": [2, 2], "strides": [2, 2]}, None, 12),  # bias only
])
def test_max_pool_runs_before_the_conv_epilogue(pool_attrs, act, size):
    """Bias and clip are non-decreasing per channel, so pooling first gives the very same
    values (NaN included) on a quarter of the pixels."""
    c, m = 3, 8
    inits = {"w": _f32(m, c, 3, 3), **_bn("bn", m)}
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]), _bn_node("bn", "c", "n")]
    if act == "Relu":
        nodes.append(helper.make_node("Relu", ["n"], ["a"]))
    elif act == "Clip":
        inits.update(lo=np.array(0.0, np.float32), hi=np.array(0.5, np.float32))
        nodes.append(helper.make_node("Clip", ["n", "lo", "hi"], ["a"]))
    nodes.append(helper.make_node("MaxPool", ["a" if act else "n"], ["y"], **pool_attrs))
    model = _model(nodes, [_io("x", [1, c, size, size])], [_io("y", None)], inits)
    x = _f32(1, c, size, size)
    s = _compare(model, [x], {"conv_affine"})
    assert [getattr(st.fn, "__name__", "") for st in s.steps] == ["conv_affine"] and "max_pool" in s.steps[0].attrs
    # bit for bit the fused chain without the pool, then the MaxPool kernel
    head = _model(nodes[:-1], [_io("x", [1, c, size, size])], [_io(nodes[-1].input[0], None)], inits)
    x[0, 1, 4, 5] = np.nan
    pooled = max_pool(Session(tb.load(head)).run([x])[0], ctx=KernelContext("MaxPool", 1, 17), **pool_attrs)
    np.testing.assert_array_equal(s.run([x])[0], pooled)


def test_max_pool_whose_window_reads_padding_only_pools_after_the_epilogue():
    """A window over padding alone is -inf, which the Relu would have turned into 0 had the
    pool gone first: this geometry keeps the graph's order."""
    inits = {"w": _f32(4, 2, 1, 1), "b": _f32(4)}
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"]), helper.make_node("Relu", ["c"], ["a"]),
             helper.make_node("MaxPool", ["a"], ["y"], kernel_shape=[1, 1], strides=[2, 2], pads=[0, 0, 2, 2])]
    model = _model(nodes, [_io("x", [1, 2, 3, 3])], [_io("y", None)], inits)
    graph = tb.load(model)
    s = Session(graph)
    assert "max_pool" in s.steps[0].attrs
    x = _f32(1, 2, 3, 3)
    got, want = s.run([x])[0], Session(graph, fuse=False).run([x])[0]
    assert np.isneginf(want[0, :, 2, 2]).all()  # the corner window reads only end padding
    np.testing.assert_array_equal(got, want)


def test_max_pool_after_hard_swish_a_residual_or_with_indices_stays_a_pool():
    c = 4
    inits = {"w": _f32(c, c, 1, 1)}
    graphs = {
        "hard swish": ([helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("HardSwish", ["c"], ["a"]),
                        helper.make_node("MaxPool", ["a"], ["y"], kernel_shape=[2, 2])], ["y"]),
        "residual": ([helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Add", ["c", "x"], ["a"]),
                      helper.make_node("MaxPool", ["a"], ["y"], kernel_shape=[2, 2])], ["y"]),
        "indices": ([helper.make_node("Conv", ["x", "w"], ["c"]), helper.make_node("Relu", ["c"], ["a"]),
                     helper.make_node("MaxPool", ["a"], ["y", "i"], kernel_shape=[2, 2])], ["y", "i"]),
    }
    for name, (nodes, outputs) in graphs.items():
        model = _model(nodes, [_io("x", [1, c, 6, 6])], [_io(o, None) for o in outputs], inits, opset=18)
        s = _compare(model, [_f32(1, c, 6, 6)], set())
        assert "MaxPool" in [st.node.op_type for st in s.steps], name
