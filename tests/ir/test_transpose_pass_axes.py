"""optimize_transposes through axis-bearing ops (reductions, Pad, Slice, Concat...), fan-out,
merges, and the cases it must leave alone (checks in transpose_helpers)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from tensorbridge.ir import DType, Graph, Value, format_graph
from tensorbridge.ir.passes.transpose import RULES
from tests.ir.transpose_helpers import (
    NCHW,
    NHWC,
    SHAPE,
    _annotate,
    _const,
    _inputs,
    _nhwc_conv,
    _op,
    _residual,
    _t,
    count,
    optimize_checked,
    single,
)


# ----------------------------------------------------------------------------- axis-bearing ops
def _pushed(build: Callable[[Graph, Value], Value], opset: int = 21, shape: tuple = SHAPE) -> Graph:
    """x -> Transpose(NCHW) -> op(s) -> Transpose(NHWC) -> output."""
    g = Graph(opset_imports={"": opset})
    x = g.add_input("x", DType.FLOAT, shape)
    g.set_outputs([_t(g, build(g, _t(g, x, NCHW)), NHWC)])
    return g


def _i64(g: Graph, name: str, data: list[int]) -> Value:
    return g.add_constant(name, np.array(data, np.int64))


AXIS_CASES: dict[str, tuple[Callable[[Graph, Value], Value], int]] = {
    "pad_constant": (lambda g, x: _op(g, "Pad", x, _i64(g, "pads", [0, 0, 1, 2, 0, 1, 0, 3])), 21),
    "pad_reflect": (lambda g, x: _op(g, "Pad", x, _i64(g, "pads", [0, 0, 1, 2, 0, 0, 2, 1]),
                                     mode="reflect"), 21),
    "pad_axes_input": (lambda g, x: _op(g, "Pad", x, _i64(g, "pads", [1, 2, 0, 1]),
                                        _const(g, "v", 0.25), _i64(g, "pax", [1, 3])), 21),
    "slice_axes": (lambda g, x: _op(g, "Slice", x, _i64(g, "st", [1, 0]), _i64(g, "en", [3, 4]),
                                    _i64(g, "ax", [1, 3]), _i64(g, "sp", [1, 2])), 21),
    "pad_attribute": (lambda g, x: _op(g, "Pad", x, pads=[0, 1, 0, 1, 0, 0, 2, 1]), 2),
    "slice_attribute": (lambda g, x: _op(g, "Slice", x, starts=[1], ends=[3], axes=[-1]), 9),
    "slice_default_axes": (lambda g, x: _op(g, "Slice", x, _i64(g, "st", [0, 1, 1]),
                                            _i64(g, "en", [2, 3, 4])), 21),
    "split": (lambda g, x: _op(g, "Add", *g.add_op("Split", [x, _i64(g, "sz", [3, 3])],
                                                    {"axis": 3}, n_outputs=2)), 21),
    "softmax": (lambda g, x: _op(g, "Softmax", x, axis=1), 21),
    "log_softmax_last": (lambda g, x: _op(g, "LogSoftmax", x, axis=-1), 21),
    "reduce_keepdims": (lambda g, x: _op(g, "ReduceMax", x, _i64(g, "ax", [2, 3])), 21),
    "reduce_sum_attr_keepdims": (lambda g, x: _op(g, "ReduceSum", x, axes=[1], keepdims=1), 11),
    "argmax_keepdims": (lambda g, x: _op(g, "Cast", _op(g, "ArgMax", x, axis=2), to=1), 21),
    "unsqueeze_squeeze": (lambda g, x: _op(g, "Squeeze", _op(g, "Unsqueeze", x, _i64(g, "u", [0, 3])),
                                           _i64(g, "s", [3, 0])), 21),
    "concat_with_constant": (lambda g, x: _op(g, "Concat", x, _const(g, "k", np.ones((2, 3, 5, 1))),
                                              axis=3), 21),
    "clip_cast_chain": (lambda g, x: _op(g, "Cast", _op(g, "Clip", x, _const(g, "lo", 0.7)), to=11), 21),
}


@pytest.mark.parametrize("name", list(AXIS_CASES))
def test_axis_bearing_ops_are_rewritten_and_the_pair_cancels(name: str) -> None:
    build, opset = AXIS_CASES[name]
    g = _pushed(build, opset)
    optimize_checked(g)
    assert count(g) == 0, format_graph(g)


def test_argmax_without_keepdims_needs_no_transpose() -> None:
    g = Graph()
    x = g.add_input("x", DType.FLOAT, SHAPE)
    g.set_outputs([_op(g, "ArgMax", _t(g, _op(g, "Neg", x), NCHW), axis=1, keepdims=0)])
    optimize_checked(g)  # argmax over NCHW's C, i.e. over NHWC's last axis: [N, H, W] either way
    assert count(g) == 0 and single(g, "ArgMax").attr("axis") == 3


def test_pads_and_axes_are_permuted() -> None:
    g = _pushed(AXIS_CASES["pad_constant"][0])
    optimize_checked(g)
    # NCHW pads (N0 C0 H1 W2 | N0 C1 H0 W3) now pad NHWC: N0 H1 W2 C0 | N0 H0 W3 C1
    assert list(g.node_inputs(single(g, "Pad"))[1].const_array()) == [0, 1, 2, 0, 0, 0, 3, 1]
    g = _pushed(AXIS_CASES["slice_axes"][0])
    optimize_checked(g)
    assert list(g.node_inputs(single(g, "Slice"))[3].const_array()) == [3, 2]


REDUCTIONS = [(op, axes, keep, left, opset) for op in ("ReduceMean", "ReduceSum", "ReduceMax", "ReduceL2")
              for axes, keep, left in (
                  ([1, 2], 0, 0),  # [N, C]: same order in NCHW
                  ([1, 2], 1, 1),  # [N, 1, 1, C]: still needs its Transpose
                  ([3], 0, 0),  # [N, H, W]
                  ([2], 0, 1),  # [N, H, C] vs NCHW's [N, C, H]
                  ([-1, 0], 0, 0),  # [H, W]
                  ([], 0, 0),  # a scalar
                  ([], 1, 0),  # [1, 1, 1, 1]: no layout left
              ) for opset in (11, 18)]


@pytest.mark.parametrize(("op", "axes", "keep", "left", "opset"), REDUCTIONS)
def test_reductions_remap_axes_and_handle_keepdims(op: str, axes: list[int], keep: int, left: int,
                                                   opset: int) -> None:
    g = Graph(opset_imports={"": opset})
    x = g.add_input("x", DType.FLOAT, SHAPE)
    h = _op(g, "Exp", _nhwc_conv(g, x, 3, 4, 1))  # NHWC, computed in NCHW
    if op == "ReduceSum" and opset >= 13 or opset >= 18:  # axes is an input
        y = g.add_op(op, [h, _i64(g, "axes", axes)] if axes else [h], {"keepdims": keep})[0]
    else:
        y = g.add_op(op, [h], {"keepdims": keep, **({"axes": axes} if axes else {})})[0]
    g.set_outputs([y])
    optimize_checked(g)
    assert count(g) == 1 + left, format_graph(g)
    assert g.producer(g.outputs[0]).op_type == (op if not left else "Transpose")


# ----------------------------------------------------------------------------- fan-out
def test_shared_transpose_is_duplicated_when_every_branch_cancels() -> None:
    g = Graph()
    x = g.add_input("x", DType.FLOAT, SHAPE)
    h = _nhwc_conv(g, x, 3, 3, 1)  # shared by three users
    a = _nhwc_conv(g, _op(g, "Relu", h), 3, 2, 2)
    b = _nhwc_conv(g, _op(g, "Sigmoid", _op(g, "Abs", h)), 3, 2, 3)
    c = _nhwc_conv(g, h, 3, 2, 4)
    g.set_outputs([_op(g, "Concat", a, b, c, axis=3)])
    assert count(g) == 8
    optimize_checked(g)
    assert count(g) == 2


def test_shared_transpose_stays_when_one_user_needs_it() -> None:
    g = Graph()
    x = g.add_input("x", DType.FLOAT, SHAPE)
    tx = _t(g, x, NCHW)
    g.set_outputs([_op(g, "Relu", tx), _op(g, "GlobalAveragePool", tx)])
    report = optimize_checked(g)
    assert report.changed == 0 and count(g) == 1


def test_transposed_graph_output_keeps_one_transpose_and_its_name() -> None:
    g = Graph()
    x = g.add_input("x", DType.FLOAT, SHAPE)
    y = _op(g, "Relu", _t(g, x, NCHW))
    g.rename(y, "features")
    g.set_outputs([y, _t(g, _op(g, "Sigmoid", y), NHWC)])
    optimize_checked(g)
    assert count(g) == 1 and g.producer(g.value("features")).op_type == "Transpose"


# ----------------------------------------------------------------------------- must not change
def _mismatched(g: Graph) -> None:
    a, b = g.add_input("a", DType.FLOAT, SHAPE), g.add_input("b", DType.FLOAT, (2, 6, 5, 3))
    g.set_outputs([_op(g, "Add", _t(g, a, NCHW), _t(g, b, (0, 3, 2, 1)))])


def _rank5_constant(g: Graph) -> None:
    x = g.add_input("x", DType.FLOAT, SHAPE)
    g.set_outputs([_op(g, "Mul", _t(g, x, NCHW), _const(g, "k", np.ones((2, 1, 1, 1, 1))))])


def _untransposed_operand(g: Graph) -> None:
    a = g.add_input("a", DType.FLOAT, SHAPE)
    b = g.add_input("b", DType.FLOAT, (2, 3, 5, 6))
    g.set_outputs([_op(g, "Add", _t(g, a, NCHW), b)])


def _lower_rank_input(g: Graph) -> None:
    a = g.add_input("a", DType.FLOAT, SHAPE)
    b = g.add_input("b", DType.FLOAT, (5, 6))  # a non-constant that would need a reshape
    g.set_outputs([_t(g, _op(g, "Add", _t(g, a, NCHW), b), NHWC)])


def _nchw_specific(g: Graph) -> None:
    x = g.add_input("x", DType.FLOAT, SHAPE)
    g.set_outputs([_t(g, _op(g, "GlobalAveragePool", _t(g, x, NCHW)), NHWC)])


def _softmax_opset11(g: Graph) -> None:
    x = g.add_input("x", DType.FLOAT, SHAPE)
    g.set_outputs([_t(g, _op(g, "Softmax", _t(g, x, NCHW), axis=1), NHWC)])


def _dynamic_axes(g: Graph) -> None:
    x = g.add_input("x", DType.FLOAT, SHAPE)
    axes = _op(g, "Identity", _i64(g, "axes", [1]))  # computed: not known to the pass
    g.set_outputs([_t(g, _op(g, "ReduceMean", _t(g, x, NCHW), axes), NHWC)])


UNCHANGED = {
    "mismatched_perms": (_mismatched, 21),
    "rank5_constant": (_rank5_constant, 21),
    "untransposed_operand": (_untransposed_operand, 21),
    "lower_rank_non_constant": (_lower_rank_input, 21),
    "global_average_pool": (_nchw_specific, 21),
    "softmax_before_opset13": (_softmax_opset11, 11),
    "reduce_axes_not_constant": (_dynamic_axes, 21),
}


@pytest.mark.parametrize("name", list(UNCHANGED))
def test_cases_that_must_not_change(name: str) -> None:
    build, opset = UNCHANGED[name]
    g = Graph(opset_imports={"": opset})
    build(g)
    before = format_graph(g)
    report = optimize_checked(g)
    assert report.changed == 0 and format_graph(g) == before


# ----------------------------------------------------------------------------- merges, identities
def test_consecutive_transposes_merge_and_identities_go() -> None:
    g = Graph()
    x = g.add_input("x", DType.FLOAT, SHAPE)
    y = _t(g, _t(g, x, (0, 2, 1, 3)), (3, 1, 2, 0))  # merges into one
    z = _t(g, _op(g, "Relu", _t(g, x, (0, 1, 2, 3))), (0, 1, 2, 3))  # identities
    g.set_outputs([y, z])
    optimize_checked(g)
    assert count(g) == 1 and single(g, "Transpose").attr("perm") == (3, 2, 1, 0)
    assert [v.name for v in g.outputs] == ["transpose_1", "transpose_3"]


def test_identity_transpose_of_an_input_at_an_output_becomes_identity() -> None:
    g = Graph()
    x = g.add_input("x", DType.FLOAT, SHAPE)
    g.set_outputs([_t(g, _t(g, x, NCHW), NHWC)])
    optimize_checked(g)
    assert count(g) == 0 and count(g, "Identity") == 1


def test_default_perm_reverses() -> None:
    g = Graph()
    x = g.add_input("x", DType.FLOAT, (2, 3, 4))
    y = _op(g, "Neg", g.add_op("Transpose", [x])[0])
    g.set_outputs([g.add_op("Transpose", [y])[0]])
    optimize_checked(g)
    assert count(g) == 0


# ----------------------------------------------------------------------------- subgraphs
def test_recurses_into_if_branches_and_respects_outer_uses() -> None:
    g = Graph()
    c = g.add_input("c", DType.BOOL, ())
    x = g.add_input("x", DType.FLOAT, SHAPE)
    shared = _op(g, "Relu", _t(g, x, NCHW))  # read by both branches by name
    branches = []
    for name, op in (("then", "Sigmoid"), ("else", "Tanh")):
        sub = g.subgraph(name)
        inner = sub.add_outer_ref(shared.name)
        y = sub.add_op(op, [sub.add_op("Transpose", [inner], {"perm": list(NHWC)})[0]])[0]
        sub.set_outputs([sub.add_op("Transpose", [sub.add_op("Abs", [y])[0]], {"perm": list(NCHW)})[0]])
        branches.append(sub)
    (out,) = g.add_op("If", [c], {"then_branch": branches[0], "else_branch": branches[1]})
    g.set_outputs([out, _t(g, shared, NHWC)])
    optimize_checked(g)
    for sub in branches:
        assert count(sub) == 0
    # what the branches read by name is left as is: an op added upstream of it could be
    # scheduled after the If (those reads are not edges of the graph)
    assert count(g) == 2 and g.producer(g.value(shared.name)).op_type == "Relu"


def test_recurses_into_loop_body() -> None:
    g = Graph()
    x = g.add_input("x", DType.FLOAT, SHAPE)
    body = g.subgraph("body")
    body.add_input("i", DType.INT64, ())
    cond = body.add_input("cond", DType.BOOL, ())
    v = body.add_input("v", DType.FLOAT, SHAPE)
    h = body.add_op("Transpose", [v], {"perm": list(NCHW)})[0]
    h = body.add_op("Mul", [body.add_op("Sin", [h])[0], body.add_constant("k", np.float32(0.9))])[0]
    h = body.add_op("Transpose", [h], {"perm": list(NHWC)})[0]
    body.set_outputs([body.add_op("Identity", [cond])[0], h])
    trips = g.add_constant("trips", np.array(3, np.int64))
    (y,) = g.add_op("Loop", [trips, None, x], {"body": body})
    g.set_outputs([y])
    optimize_checked(g)
    assert count(body) == 0


# ----------------------------------------------------------------------------- random graphs
def _random_step(g: Graph, rng: np.random.Generator, pool: list[Value], step: int) -> Value:
    """One random op on a random earlier value (shapes are those of SHAPE, permuted)."""
    v = pool[-1] if rng.random() < 0.5 else pool[rng.integers(len(pool))]
    same = [w for w in pool if w.shape == v.shape]
    k, r = rng.random(), len(v.shape or ())
    if k < 0.35:
        return _t(g, v, tuple(int(a) for a in rng.permutation(r)))
    if k < 0.5:
        return _op(g, str(rng.choice(["Relu", "Neg", "Sigmoid", "Tanh"])), v)
    if k < 0.7:
        shape = [d if rng.random() < 0.4 else 1 for d in v.shape or ()][int(rng.integers(r + 1)):]
        vector = _op(g, "Neg", _const(g, f"v{step}", rng.normal(size=(v.shape or (1,))[-1:])))
        other = [same[rng.integers(len(same))], _const(g, f"c{step}", rng.normal(size=shape)), vector]
        return _op(g, str(rng.choice(["Add", "Mul", "Max"])), v, other[int(rng.integers(3))])
    if k < 0.78:
        return _op(g, "Concat", v, same[rng.integers(len(same))], axis=int(rng.integers(-r, r)))
    if k < 0.86:
        axes = _i64(g, f"ax{step}", sorted(int(a) for a in rng.choice(r, 2, replace=False)))
        return _op(g, "ReduceMean", v, axes, keepdims=1)
    if k < 0.92:
        return _op(g, "Softmax", v, axis=int(rng.integers(-r, r)))
    if k < 0.96:  # an If whose branches read v by name
        branches = []
        for name in ("then", "else"):
            sub = g.subgraph(f"{name}{step}")
            ref = sub.add_outer_ref(v.name)
            flip = sub.add_op("Transpose", [ref], {"perm": list(range(r))[::-1]})[0]
            sub.set_outputs([sub.add_op("Transpose", [sub.add_op("Neg", [flip])[0]],
                                        {"perm": list(range(r))[::-1]})[0]])
            branches.append(sub)
        cond = g.add_input(f"cond{step}", DType.BOOL, ())
        return g.add_op("If", [cond], {"then_branch": branches[0], "else_branch": branches[1]})[0]
    return _op(g, "Reshape", v, _i64(g, f"shape{step}", [int(d) for d in v.shape or ()]))  # opaque


@pytest.mark.parametrize("seed", range(40))
def test_random_graphs_keep_numerics_and_never_gain_transposes(seed: int) -> None:
    rng = np.random.default_rng(seed)
    g = Graph()
    pool = [g.add_input("x", DType.FLOAT, SHAPE)]
    for step in range(int(rng.integers(4, 14))):
        pool.append(_random_step(g, rng, pool, step))
        if pool[-1].type is None:  # the shape the next step needs, declared as a front-end would
            _annotate(g, _inputs(g))
    outs = [pool[-1]] + [v for v in pool[1:-1] if rng.random() < 0.2]
    g.set_outputs(list(dict.fromkeys(outs)))
    before = count(g)
    optimize_checked(g, seed)
    assert count(g) <= before


# ----------------------------------------------------------------------------- determinism, registry
def test_deterministic() -> None:
    texts = []
    for _ in range(2):
        g = Graph()
        _residual(g)
        optimize_checked(g)
        texts.append(format_graph(g))
    assert texts[0] == texts[1]


def test_layout_specific_ops_are_not_registered() -> None:
    for op in ("GlobalAveragePool", "Conv", "BatchNormalization", "Reshape", "Flatten", "MaxPool"):
        assert op not in RULES
    for op in ("Relu", "Add", "Concat", "Pad", "ReduceMean", "Slice", "Squeeze", "Where"):
        assert op in RULES
