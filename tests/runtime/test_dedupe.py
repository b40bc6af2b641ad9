"""Plan-time common-subexpression elimination: repeated computations run once, equal small
constants share a slot, results match numpy, every value name stays readable (capture,
stream, subgraphs), random ops and graph outputs keep their own steps, the IR is untouched."""

from __future__ import annotations

import copy

import ml_dtypes
import numpy as np
import pytest

from tensorbridge.ir import DType, Graph, verify
from tensorbridge.ir.printer import format_graph
from tensorbridge.runtime.dedupe import SMALL_BYTES, Dedupe
from tensorbridge.runtime.session import Session

X = np.array([[0.5, -1.0, 2.0], [1.5, 0.0, -0.25]], np.float32)
C = np.array([1.0, 2.0, 3.0], np.float32)


def _repeated_layers() -> Graph:
    """Two "layers" that each build the same constant (separate Constant nodes / equal
    initializers) and the same ops on it, then use the results differently."""
    g = Graph(opset_imports={"": 17})
    x = g.add_input("x", DType.FLOAT, (2, 3))
    outs = []
    for i in range(2):
        c = g.add_op("Constant", [], {"value": C.copy()}, outputs=[f"c{i}"])[0]
        w = g.add_constant(f"w{i}", np.full(3, 0.5, np.float32))
        a = g.add_op("Add", [x, c], outputs=[f"a{i}"])[0]
        e = g.add_op("Exp", [g.add_op("Mul", [a, w], outputs=[f"m{i}"])[0]], outputs=[f"e{i}"])[0]
        outs.append(e)
    y = g.add_op("Sub", [outs[0], g.add_op("Neg", [outs[1]], outputs=["n"])[0]], outputs=["y"])[0]
    g.set_outputs([y])
    verify(g)
    return g


def _expected() -> dict[str, np.ndarray]:
    x = X.astype(np.float64)
    a = x + C
    e = np.exp(a * 0.5)
    return {"a0": a, "a1": a, "m0": a * 0.5, "m1": a * 0.5, "e0": e, "e1": e, "n": -e, "y": 2 * e,
            "c0": C, "c1": C}


@pytest.mark.parametrize("fold", [True, False])
def test_repeated_expressions_run_once_and_match_numpy(fold):
    s = Session(_repeated_layers(), fold_constants=fold)
    ops = [st.node.op_type for st in s.steps]
    # each distinct expression once (the Constants are steps only when not folded)
    assert ops == (["Add", "Mul", "Exp", "Neg", "Sub"] if fold else ["Constant", "Add", "Mul", "Exp", "Neg", "Sub"])
    assert len(s._fast_plan) == len(ops)  # noqa: SLF001 - the plan that runs
    np.testing.assert_allclose(s.run([X])[0], _expected()["y"], rtol=1e-6)
    unmerged = Session(_repeated_layers(), fold_constants=fold, fuse=False)
    assert len(unmerged.steps) == (8 if fold else 10)
    np.testing.assert_allclose(unmerged.run([X])[0], _expected()["y"], rtol=1e-6)


def test_a_merged_value_lives_until_the_last_use_of_any_of_its_names():
    s = Session(_repeated_layers())
    slot = s._slot  # noqa: SLF001 - white-box check of the plan
    assert slot["e0"] == slot["e1"] and slot["a0"] == slot["a1"]
    freed_at = {k: i for i, st in enumerate(s.steps) for k in st.free}
    ops = [st.node.op_type for st in s.steps]
    assert ops[freed_at[slot["e1"]]] == "Sub"  # e0 is read last by Sub, e1 by Neg before it
    # the duplicate constants are not kept twice
    kept = {k for k, _ in s._constants()}  # noqa: SLF001
    assert slot["w0"] == slot["w1"] and slot["w0"] in kept


@pytest.mark.parametrize("fold", [True, False])
def test_capture_and_stream_return_every_node_output(fold):
    g = _repeated_layers()
    s = Session(g, fold_constants=fold)
    s.run([X], capture=True)
    produced = {v.name for n in g.nodes() for v in g.node_outputs(n) if v is not None}
    expected = _expected()
    # folded constants are plan-time values, not computed by the run
    want = produced - ({"c0", "c1"} if fold else set())
    assert set(s.captured) == want
    for name in want:
        np.testing.assert_allclose(s.captured[name], expected[name], rtol=1e-6, err_msg=name)
    streamed = dict(s.stream([X], {"e1", "a0", "c1", "w1"}))
    assert set(streamed) == {"e1", "a0", "c1", "w1"}
    np.testing.assert_allclose(streamed["e1"], expected["e1"], rtol=1e-6)
    np.testing.assert_allclose(streamed["w1"], 0.5)


def test_a_subgraph_reads_a_merged_value_by_its_own_name():
    g = Graph("main")
    c = g.add_input("c", DType.BOOL, ())
    x = g.add_input("x", DType.FLOAT, (2, 3))
    a = g.add_op("Exp", [x], outputs=["a"])[0]
    g.add_op("Exp", [x], outputs=["b"])  # a duplicate only the branches read
    then = g.subgraph("then")
    then.set_outputs(then.add_op("Neg", [then.add_outer_ref("b")]))
    other = g.subgraph("else")
    other.set_outputs(other.add_op("Sqrt", [other.add_outer_ref("b")]))
    (y,) = g.add_op("If", [c], {"then_branch": then, "else_branch": other})
    g.set_outputs([g.add_op("Add", [a, y])[0]])
    verify(g)
    s = Session(g)
    assert [st.node.op_type for st in s.steps] == ["Exp", "If", "Add"]
    e = np.exp(X.astype(np.float64))
    np.testing.assert_allclose(s.run([np.array(True), X])[0], e - e, atol=1e-6)
    np.testing.assert_allclose(s.run([np.array(False), X])[0], e + np.sqrt(e), rtol=1e-6)


def test_random_ops_are_never_merged():
    g = Graph(opset_imports={"": 17})
    x = g.add_input("x", DType.FLOAT, (1000,))
    r0 = g.add_op("RandomUniformLike", [x])[0]
    r1 = g.add_op("RandomUniformLike", [x])[0]
    s0 = g.add_op("RandomNormalLike", [x], {"seed": 1.0})[0]
    s1 = g.add_op("RandomNormalLike", [x], {"seed": 1.0})[0]
    g.set_outputs([g.add_op("Sub", [r0, r1])[0], g.add_op("Sub", [s0, s1])[0]])
    s = Session(g)
    assert [st.node.op_type for st in s.steps].count("RandomUniformLike") == 2
    assert [st.node.op_type for st in s.steps].count("RandomNormalLike") == 2
    du, dn = s.run([np.zeros(1000, np.float32)])
    assert np.abs(du).max() > 0.1  # two independent draws
    np.testing.assert_array_equal(dn, 0)  # seeded: equal draws, but each node still ran


def test_graph_outputs_keep_their_own_values():
    g = Graph(opset_imports={"": 17})
    x = g.add_input("x", DType.FLOAT, (2, 3))
    a = g.add_op("Exp", [x])[0]
    b = g.add_op("Exp", [x])[0]
    k0 = g.add_op("Constant", [], {"value": C.copy()})[0]
    k1 = g.add_op("Constant", [], {"value": C.copy()})[0]
    g.set_outputs([a, b, a, k0, k1])
    outs = Session(g).run([X])
    e = np.exp(X.astype(np.float64))
    for y, want in zip(outs, [e, e, e, C, C]):
        np.testing.assert_allclose(y, want, rtol=1e-6)
    assert outs[0] is not outs[1]  # distinct outputs are distinct arrays


def test_an_output_one_duplicate_omits_is_not_borrowed():
    """LayerNormalization with only Y, then one that also wants Mean: not the same step."""
    g = Graph(opset_imports={"": 17})
    x = g.add_input("x", DType.FLOAT, (2, 3))
    sc = g.add_constant("scale", np.ones(3, np.float32))
    (y0,) = g.add_op("LayerNormalization", [x, sc], n_outputs=1)
    y1, mean = g.add_op("LayerNormalization", [x, sc], n_outputs=2)
    g.set_outputs([g.add_op("Add", [y0, y1])[0], mean])
    s = Session(g)
    assert [st.node.op_type for st in s.steps].count("LayerNormalization") == 2
    x64 = X.astype(np.float64)
    mu = x64.mean(-1, keepdims=True)
    ln = (x64 - mu) / np.sqrt(x64.var(-1, keepdims=True) + 1e-5)
    out, m = s.run([X])
    np.testing.assert_allclose(out, 2 * ln, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(m, mu, rtol=1e-6)


def test_building_and_running_a_session_leaves_the_graph_unchanged():
    g = _repeated_layers()
    text = format_graph(g)
    consts = {v.name: v.const_array().copy() for v in g.initializers()}
    attrs = {n.name: copy.deepcopy(dict(n.attrs)) for n in g.nodes()}
    s = Session(g)
    s.run([X])
    s.run([X], capture=True)
    assert format_graph(g) == text
    assert {n.name: dict(n.attrs) for n in g.nodes()}.keys() == attrs.keys()
    for n in g.nodes():
        for k, a in n.attrs.items():
            np.testing.assert_array_equal(np.asarray(a.value), np.asarray(attrs[n.name][k].value))
    for v in g.initializers():
        np.testing.assert_array_equal(v.const_array(), consts[v.name])
    verify(g)


def test_constants_are_keyed_by_dtype_object_shape_and_bytes_and_only_when_small():
    d = Dedupe(keep={9})
    raw = np.array([0x38, 0x40], np.uint8)
    d.constant(0, raw.view(ml_dtypes.float8_e4m3fn))
    d.constant(1, raw.view(ml_dtypes.float8_e4m3fnuz))  # same dtype.str ('<V1'), other type
    d.constant(2, raw.view(ml_dtypes.float8_e4m3fn).copy())
    d.constant(3, raw.reshape(2, 1).view(ml_dtypes.float8_e4m3fn))
    big = np.zeros(SMALL_BYTES // 4 + 1, np.float32)
    d.constant(4, big)
    d.constant(5, big.copy())
    d.constant(9, raw.view(ml_dtypes.float8_e4m3fn))  # a graph output keeps its slot
    assert d.alias == {2: 0}


def test_steps_are_keyed_by_exact_attribute_values():
    def f(*args, **kw):  # stands for a kernel
        return None

    d = Dedupe(keep=())
    assert not d.repeated(f, (0,), (1,), {"alpha": 0.0})
    assert not d.repeated(f, (0,), (2,), {"alpha": -0.0})
    assert not d.repeated(f, (0,), (3,), {"alpha": 1.0})
    assert not d.repeated(f, (0,), (4,), {"alpha": 1})
    assert not d.repeated(f, (0,), (5,), {"alpha": True})
    assert d.repeated(f, (0,), (6,), {"alpha": 1.0})
    big = np.zeros(SMALL_BYTES, np.float64)  # too big to hash: never merged
    assert not d.repeated(f, (), (7,), {"value": big})
    assert not d.repeated(f, (), (8,), {"value": big})
    assert d.alias == {6: 3}
