"""IR -> PyTorch: shape arithmetic flows as host values, so a graph that computes a shape
from its input (Shape -> Gather -> Concat -> Reshape) runs at any batch size, exports with a
dynamic batch dim and traces with torch.fx; a tensor-conditioned If exports via torch.cond."""

from __future__ import annotations

import numpy as np
import pytest

from tensorbridge.ir import DType, Graph, TensorType, verify

pytest.importorskip("torch")

import torch  # noqa: E402

from tensorbridge.converters.pytorch.from_ir import from_ir  # noqa: E402


def reshape_by_own_shape() -> Graph:
    """y = Reshape(x, Concat(Gather(Shape(x), [0]), [-1])): x [batch, 3, 4] -> [batch, 12]."""
    g = Graph("reshape_by_shape")
    x = g.add_input("x", DType.FLOAT, ("batch", 3, 4))
    (shape,) = g.add_op("Shape", [x])
    (batch,) = g.add_op("Gather", [shape, g.add_constant("first", np.array([0], np.int64))],
                        {"axis": 0})
    (target,) = g.add_op("Concat", [batch, g.add_constant("rest", np.array([-1], np.int64))],
                         {"axis": 0})
    (y,) = g.add_op("Reshape", [x, target])
    g.set_outputs([y])
    verify(g)
    return g


def _x(batch: int) -> torch.Tensor:
    return torch.arange(batch * 12, dtype=torch.float32).reshape(batch, 3, 4)


def test_reshape_by_shape_runs_at_two_batch_sizes():
    module = from_ir(reshape_by_own_shape())
    for batch in (2, 5):
        x = _x(batch)
        np.testing.assert_array_equal(module(x).numpy(), x.numpy().reshape(batch, -1))


def test_reshape_by_shape_exports_with_a_dynamic_batch():
    module = from_ir(reshape_by_own_shape())
    exported = torch.export.export(module, (_x(2),),
                                   dynamic_shapes=({0: torch.export.Dim("batch")},))
    # The shape was computed on the host: the program reads no tensor data.
    assert "_local_scalar_dense" not in str(exported.graph)
    x = _x(7)
    np.testing.assert_array_equal(exported.module()(x).numpy(), x.numpy().reshape(7, -1))


def test_reshape_by_shape_traces_with_fx():
    traced = torch.fx.symbolic_trace(from_ir(reshape_by_own_shape()))
    x = _x(3)
    np.testing.assert_array_equal(traced(x).numpy(), x.numpy().reshape(3, -1))


def if_on_tensor() -> Graph:
    """y = If(c) then x + x else x * x, reading x from the enclosing graph."""
    g = Graph("if_on_tensor")
    c = g.add_input("c", DType.BOOL, ())
    x = g.add_input("x", DType.FLOAT, ("batch", 3))
    out_type = TensorType(DType.FLOAT, ("batch", 3))
    branches = []
    for name, op in (("then", "Add"), ("else", "Mul")):
        sub = g.subgraph(name)
        sx = sub.add_outer_ref(x.name, x.type)
        sub.set_outputs(sub.add_op(op, [sx, sx], output_types=[out_type]))
        branches.append(sub)
    (y,) = g.add_op("If", [c], {"then_branch": branches[0], "else_branch": branches[1]})
    g.set_outputs([y])
    verify(g)
    return g


def test_if_on_a_tensor_runs_eagerly_and_exports_with_torch_cond():
    module = from_ir(if_on_tensor())
    x = torch.arange(6, dtype=torch.float32).reshape(2, 3)
    yes, no = torch.tensor(True), torch.tensor(False)
    np.testing.assert_array_equal(module(yes, x).numpy(), (x + x).numpy())
    np.testing.assert_array_equal(module(no, x).numpy(), (x * x).numpy())
    exported = torch.export.export(module, (yes, x))
    assert "torch.ops.higher_order.cond" in exported.graph_module.code
    np.testing.assert_array_equal(exported.module()(no, x).numpy(), (x * x).numpy())
