"""The IR's builder and query API."""

from __future__ import annotations

import numpy as np
import pytest

import tensorbridge.ir as ir
from tensorbridge.ir import Attr, AttrKind, DType, Graph, Role, TensorType, format_graph, verify


def small_graph() -> tuple[Graph, dict[str, ir.Value]]:
    g = Graph("g")
    x = g.add_input("x", DType.FLOAT, ("batch", 3))
    w = g.add_constant("w", np.ones((4, 3), np.float32), role=Role.PARAMETER, source_name="fc.weight")
    (y,) = g.add_op("Gemm", [x, w], {"transB": 1, "alpha": 2}, provenance=ir.Provenance("pytorch", "fc"))
    (z,) = g.add_op("Mul", [y, y])
    g.set_outputs([z])
    return g, {"x": x, "w": w, "y": y, "z": z}


def test_build_and_query():
    g, v = small_graph()
    verify(g)
    gemm, mul = g.nodes()
    assert [n.op_type for n in g.nodes()] == ["Gemm", "Mul"]
    assert g.node_inputs(gemm) == [v["x"], v["w"]]
    assert g.node_inputs(mul) == [v["y"], v["y"]]  # Mul(x, x): two edges, keyed by port
    assert g.consumers(v["y"]) == [(mul, 0), (mul, 1)]
    assert g.producer(v["z"]) is mul
    assert g.inputs == (v["x"],) and g.outputs == (v["z"],)
    assert v["x"].shape == ("batch", 3) and v["x"].dtype is DType.FLOAT
    assert v["w"].type == TensorType(DType.FLOAT, (4, 3))
    assert gemm.attrs["alpha"] == Attr(AttrKind.FLOAT, 2.0)  # int given, schema says FLOAT
    assert gemm.attr("transB") == 1 and gemm.attr("transA", 0) == 0
    assert g.initializers() == [v["w"]] and v["w"].source_name == "fc.weight"


def test_names_are_unique_and_deterministic():
    def build() -> list[str]:
        g = Graph()
        x = g.add_input("x", DType.FLOAT, (2,))
        a = g.add_op("Relu", [x])[0]
        b = g.add_op("Relu", [a])[0]
        c = g.add_op("Relu", [b], name="relu")[0]
        return [n.name for n in g.nodes()] + [a.name, b.name, c.name]

    first = build()
    assert first == build()
    assert len(set(first[:3])) == 3


def test_topological_order_breaks_ties_by_insertion():
    g = Graph()
    x = g.add_input("x", DType.FLOAT, (2,))
    outs = [g.add_op(op, [x])[0] for op in ("Relu", "Neg", "Abs", "Exp")]
    g.set_outputs(outs)
    assert [n.op_type for n in g.nodes()] == ["Relu", "Neg", "Abs", "Exp"]


def test_replace_all_uses_and_remove():
    g, v = small_graph()
    (r,) = g.add_op("Relu", [v["y"]])
    n = g.replace_all_uses(v["y"], r)
    assert n == 2
    mul = g.producer(v["z"])
    assert g.node_inputs(mul) == [r, r]
    # Relu still reads y (its own producer is skipped); Mul now reads Relu twice
    with pytest.raises(ValueError, match="still used"):
        g.remove(g.producer(v["y"]))
    verify(g)


def test_remove_refuses_used_values_and_drops_outputs():
    g, v = small_graph()
    mul = g.producer(v["z"])
    with pytest.raises(ValueError, match="graph outputs"):
        g.remove(mul)
    g.set_outputs([v["y"]])
    g.remove(mul)
    assert not g.has_value("z") and len(g) == 1
    verify(g)


def test_values_from_another_graph_are_refused():
    g1, v = small_graph()
    g2 = Graph("other")
    with pytest.raises(ValueError, match="does not belong"):
        g2.add_op("Relu", [v["x"]])


def test_subgraph_outer_reference_and_printer():
    g = Graph("main")
    c = g.add_input("c", DType.BOOL, ())
    x = g.add_input("x", DType.FLOAT, (2,))
    then = g.subgraph("then")
    tx = then.add_outer_ref(x.name, x.type)
    then.set_outputs(g_ := [then.add_op("Neg", [tx])[0]])
    other = g.subgraph("else")
    ox = other.add_outer_ref(x.name, x.type)
    other.set_outputs([other.add_op("Abs", [ox])[0]])
    (y,) = g.add_op("If", [c], {"then_branch": then, "else_branch": other})
    g.set_outputs([y])
    verify(g)
    text = format_graph(g)
    assert "if = If(c)" in text and "outer x" in text and "then_branch:" in text
    assert g_[0].name != y.name


def test_attr_kinds_are_checked():
    with pytest.raises(TypeError):
        Attr(AttrKind.INTS, (1.5,))
    assert Attr.infer([1, 2]).kind is AttrKind.INTS
    assert Attr.infer([1.0, 2]).kind is AttrKind.FLOATS
    with pytest.raises(TypeError, match="empty list"):
        Attr.infer([])


def test_dtype_enum_matches_onnx_codes():
    import onnx

    for d in DType:
        if d.name in onnx.TensorProto.DataType.keys():
            assert int(d) == onnx.TensorProto.DataType.Value(d.name)
    assert DType.BFLOAT16.np_dtype.name == "bfloat16"
    assert DType.from_numpy(np.float32) is DType.FLOAT


def test_ops_reading_a_value_through_a_subgraph_are_ordered_after_it():
    g = Graph("main")
    c = g.add_input("c", DType.BOOL, ())
    x = g.add_input("x", DType.FLOAT, (2,))
    then = g.subgraph("then")
    then.set_outputs(then.add_op("Neg", [then.add_outer_ref("late")]))
    other = g.subgraph("else")
    other.set_outputs(other.add_op("Abs", [other.add_outer_ref("late")]))
    (y,) = g.add_op("If", [c], {"then_branch": then, "else_branch": other})
    (late,) = g.add_op("Exp", [x], outputs=["late"])  # added after the If that reads it
    g.set_outputs([y])
    assert [n.op_type for n in g.nodes()] == ["Exp", "If"]
    verify(g)
