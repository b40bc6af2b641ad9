"""tb.run's plan cache (runtime/plan_cache.py) and the session profiler (runtime/profile.py)."""

from __future__ import annotations

import numpy as np
import pytest

import tensorbridge as tb
from tensorbridge.ir import DType, Graph
from tensorbridge.ir.node import Attr, AttrKind
from tensorbridge.runtime.plan_cache import PlanCache
from tensorbridge.runtime.session import Session


def _graph() -> Graph:
    g = Graph(opset_imports={"": 17})
    x = g.add_input("x", DType.FLOAT, ("n", 3))
    w = g.add_constant("w", np.arange(3, dtype=np.float32))
    h = g.add_op("Mul", [x, w], name="mul")[0]
    g.set_outputs(g.add_op("Softmax", [h], {"axis": 1}, name="softmax"))
    return g


def _softmax(z: np.ndarray, axis: int) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


X = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)


def test_second_call_reuses_the_plan_and_matches():
    cache, g = PlanCache(), _graph()
    first = cache.session(g, [X])
    assert cache.session(g, [X]) is first and (cache.hits, cache.misses) == (1, 1)
    assert cache.session(g, [np.ones((5, 3), np.float32)]) is not first  # another input signature
    np.testing.assert_allclose(first.run([X])[0], _softmax(X * np.arange(3), 1), rtol=1e-6)


@pytest.mark.parametrize("edit", ["constant", "attribute", "attrs_update", "attrs_replaced", "rewire", "op_type",
                                  "outputs"])
def test_an_edited_graph_is_planned_again(edit):
    g = _graph()
    assert np.allclose(tb.run(g, X)[0], _softmax(X * np.arange(3), 1))
    mul, softmax = (n for n in g.nodes())
    w = g.node_inputs(mul)[1]
    if edit == "constant":
        w.const = np.full(3, 2.0, np.float32)
        want = _softmax(X * 2, 1)
    elif edit == "attribute":
        softmax.attrs["axis"] = Attr(AttrKind.INT, 0)
        want = _softmax(X * np.arange(3), 0)
    elif edit == "attrs_update":
        softmax.attrs.update(axis=Attr(AttrKind.INT, 0))
        want = _softmax(X * np.arange(3), 0)
    elif edit == "attrs_replaced":
        softmax.attrs = {"axis": Attr(AttrKind.INT, 0)}
        want = _softmax(X * np.arange(3), 0)
    elif edit == "outputs":
        g.set_outputs([g.node_outputs(mul)[0]])
        want = X * np.arange(3)
    elif edit == "rewire":
        g.set_input(softmax, 0, g.inputs[0])
        want = _softmax(X, 1)
    else:
        mul.op_type = "Add"
        want = _softmax(X + np.arange(3), 1)
    np.testing.assert_allclose(tb.run(g, X)[0], want, rtol=1e-6)
    np.testing.assert_allclose(tb.run(g, X)[0], Session(g).run([X])[0], rtol=0)


def _branching_graph() -> tuple[Graph, Graph]:
    g = Graph(opset_imports={"": 17})
    c = g.add_input("c", DType.BOOL, ())
    g.add_input("x", DType.FLOAT, (2, 3))
    then = g.subgraph("then")
    then.set_outputs(then.add_op("Neg", [then.add_outer_ref("x")], name="neg"))
    other = g.subgraph("else")
    other.set_outputs(other.add_op("Exp", [other.add_outer_ref("x")], name="exp"))
    g.set_outputs(g.add_op("If", [c], {"then_branch": then, "else_branch": other}))
    return g, then


@pytest.mark.parametrize("edit", ["op_type", "rewire"])
def test_an_edited_subgraph_is_planned_again(edit):
    g, then = _branching_graph()
    yes = np.array(True)
    np.testing.assert_allclose(tb.run(g, yes, X)[0], -X)
    (neg,) = then.nodes()
    if edit == "op_type":
        neg.op_type = "Abs"
        want = np.abs(X)
    else:  # a structural edit inside the branch: bumps the branch's version, not g's
        two = then.add_constant("two", np.float32(2))
        then.set_input(neg, 0, two)
        want = np.full_like(X, -2)
    np.testing.assert_allclose(tb.run(g, yes, X)[0], want)


def test_an_unedited_graph_is_not_walked_again(monkeypatch):
    from tensorbridge.runtime import plan_cache

    walks = []
    real = plan_cache._token
    monkeypatch.setattr(plan_cache, "_token", lambda graph, parts: walks.append(graph) or real(graph, parts))
    cache, g = PlanCache(), _graph()
    first = cache.session(g, [X])
    assert len(walks) == 1  # the new entry's token
    assert cache.session(g, [X]) is first and len(walks) == 1  # the edit clock did not move
    _graph()  # building another graph moves the clock: one walk re-validates the entry
    assert cache.session(g, [X]) is first and len(walks) == 2
    assert cache.session(g, [X]) is first and len(walks) == 2
    g.opset_imports["com.example"] = 1  # not seen by the clock: the outline check catches it
    assert cache.session(g, [X]) is not first


def test_every_attrs_change_ticks_the_edit_clock():
    import pickle

    from tensorbridge.ir.node import AttrDict, edit_ticks

    g = _graph()
    node = g.nodes()[1]
    assert type(node.attrs) is AttrDict
    one = Attr(AttrKind.INT, 1)
    edits = [lambda a: a.__setitem__("k", one), lambda a: a.update(k=one), lambda a: a.setdefault("j", one),
             lambda a: a.pop("j"), lambda a: a.__delitem__("k"), lambda a: a.__ior__({"k": one}),
             lambda a: a.popitem(), lambda a: a.clear()]
    for edit in edits:
        before = edit_ticks()
        edit(node.attrs)
        assert edit_ticks() > before, edit
    node.attrs = {"axis": one}
    assert type(node.attrs) is AttrDict and node.attr("axis") == 1
    again = pickle.loads(pickle.dumps(node.attrs))
    assert type(again) is AttrDict and again == node.attrs


def test_cache_is_bounded_and_least_recently_used_goes_first():
    cache = PlanCache(size=2)
    graphs = [_graph() for _ in range(3)]
    for g in graphs:
        cache.session(g, [X])
    assert len(cache) == 2
    cache.session(graphs[1], [X])
    assert cache.hits == 1
    cache.session(graphs[0], [X])  # evicted earlier: planned again
    assert cache.misses == 4


def test_profile_records_every_step_and_op_type():
    g = _graph()
    s = Session(g, profile=True)
    for _ in range(3):
        s.run([X])
    prof = s.profile()
    assert prof.runs == 3 and len(prof.by_step()) == len(s.steps)
    kinds = {r.op_type: r for r in prof.by_op_type()}
    assert set(kinds) == {st.node.op_type for st in s.steps}
    assert abs(sum(r.seconds for r in kinds.values()) - prof.total) < 1e-12
    assert abs(sum(r.share for r in kinds.values()) - 1.0) < 1e-9
    with pytest.raises(tb.TensorbridgeError, match="profile=True"):
        Session(g).profile()


def test_cli_run_profile_prints_op_types(tmp_path, capsys):
    from tensorbridge.cli import main

    g = _graph()
    model = tmp_path / "m.onnx"
    tb.save(g, model)
    np.savez(tmp_path / "in.npz", x=X)
    assert main(["run", str(model), "--inputs", str(tmp_path / "in.npz"), "--profile"]) == 0
    out = capsys.readouterr().out
    assert "time per op type" in out and "Softmax" in out and "slowest" in out
