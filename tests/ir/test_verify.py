"""verify() finds structural and schema problems and says how to fix each."""

from __future__ import annotations

import numpy as np
import pytest

from tensorbridge.ir import Attr, AttrKind, DType, Graph, VerificationError, verify


def _graph() -> tuple[Graph, object]:
    g = Graph("t")
    x = g.add_input("x", DType.FLOAT, (2, 3))
    return g, x


def _problems(g: Graph) -> str:
    with pytest.raises(VerificationError) as e:
        verify(g)
    return str(e.value)


def test_unknown_op_suggests_close_matches():
    g, x = _graph()
    g.set_outputs(g.add_op("Rlu", [x]))
    msg = _problems(g)
    assert "no such operator" in msg and "Relu" in msg


def test_op_newer_than_opset():
    g = Graph("t", opset_imports={"": 13})
    x = g.add_input("x", DType.FLOAT, (2,))
    g.set_outputs(g.add_op("Gelu", [x]))
    assert "introduced in opset 20" in _problems(g)


def test_wrong_arity_and_missing_required_input():
    g, x = _graph()
    g.set_outputs(g.add_op("Relu", [x, x]))
    assert "has 2 inputs, but Relu" in _problems(g)
    g2, x2 = _graph()
    g2.set_outputs(g2.add_op("Gemm", [x2, None, x2]))
    assert "required input 1" in _problems(g2)


def test_attribute_name_and_kind():
    g, x = _graph()
    g.set_outputs(g.add_op("Softmax", [x], {"axis": Attr(AttrKind.FLOAT, 1.0), "axes": Attr(AttrKind.INT, 1)}))
    msg = _problems(g)
    assert "unknown attribute 'axes'" in msg and "requires INT" in msg


def test_missing_required_attribute():
    g, x = _graph()
    g.set_outputs(g.add_op("Cast", [x]))
    assert "required attribute 'to'" in _problems(g)


def test_type_constraint_mismatch():
    g, x = _graph()
    i = g.add_constant("i", np.ones((2, 3), np.int64))
    g.set_outputs(g.add_op("Add", [x, i]))
    assert "insert a Cast" in _problems(g)


def test_unproduced_intermediate_and_cycle():
    from tensorbridge.ir.node import Value

    g, x = _graph()
    node = g.add_node("Add", [x, x])
    (a,) = [g.add_node_output(node, 0, "a")]
    node2 = g.add_node("Relu", [a])
    b = g.add_node_output(node2, 0, "b")
    g.set_input(node, 1, b)  # a -> relu -> b -> add -> a
    g.set_outputs([b])
    assert "cycle" in _problems(g)
    assert isinstance(a, Value)


def test_unknown_domain():
    g, x = _graph()
    g.opset_imports["com.example"] = 1
    g.set_outputs(g.add_op("Thing", [x], domain="com.example"))
    assert "custom domain 'com.example'" in _problems(g)


def test_subgraph_problems_are_reported_with_their_path():
    g = Graph("main")
    c = g.add_input("c", DType.BOOL, ())
    then = g.subgraph("then")
    then.set_outputs(then.add_op("Nope", [then.add_outer_ref("c")]))
    other = g.subgraph("else")
    other.set_outputs([other.add_outer_ref("c")])
    g.set_outputs(g.add_op("If", [c], {"then_branch": then, "else_branch": other}))
    msg = _problems(g)
    assert "in subgraph 'then' of node 'if'" in msg


def test_all_problems_collected_at_once():
    g, x = _graph()
    a = g.add_op("Rlu", [x])[0]
    g.set_outputs(g.add_op("Cast", [a]))
    with pytest.raises(VerificationError) as e:
        verify(g)
    assert len(e.value.problems) == 2
