"""Generated input sets: every named dynamic dim gets a second size (the same size wherever
the name appears), integer inputs stay inside the tables they index, and a source that
itself refuses the second size is noted, not failed."""

from __future__ import annotations

import numpy as np
import torch
from onnx import TensorProto, helper, numpy_helper

import tensorbridge as tb
from tensorbridge.converters.onnx import to_ir
from tensorbridge.inputs import RESIZED, input_sets


def _embedding_model():
    table = np.random.default_rng(0).standard_normal((7, 4)).astype(np.float32)
    nodes = [helper.make_node("Gather", ["table", "ids"], ["e"]),
             helper.make_node("Mul", ["e", "scale"], ["y0"]),
             helper.make_node("ReduceSum", ["y0"], ["y"], keepdims=0)]
    graph = helper.make_graph(
        nodes, "emb",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("scale", TensorProto.FLOAT, ["batch", "seq", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [])],
        initializer=[numpy_helper.from_array(table, "table")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_every_named_dynamic_dim_gets_a_second_size_consistently():
    graph = to_ir(_embedding_model())
    ids = np.array([[1, 2, 3], [4, 5, 6]], np.int64)
    scale = np.ones((2, 3, 4), np.float32)
    sets = input_sets(graph, [ids, scale])
    big_ids, big_scale = sets[RESIZED]
    assert big_ids.shape == (4, 6) and big_scale.shape == (4, 6, 4)
    assert big_ids.min() >= 0 and big_ids.max() < 7  # rows of the table it indexes
    # and the model runs on it, matching an independent numpy evaluation
    model = _embedding_model()
    table = numpy_helper.to_array(model.graph.initializer[0])
    (y,) = tb.run(model, big_ids, big_scale)
    np.testing.assert_allclose(y, (table[big_ids] * big_scale).sum(), rtol=1e-5)


def test_static_graphs_get_no_resized_set():
    x = np.ones((2, 3), np.float32)
    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    graph = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
    sets = input_sets(to_ir(helper.make_model(graph)), [x])
    assert RESIZED not in sets


class _Flatten(torch.nn.Module):
    def forward(self, x):
        return x.reshape(x.shape[0], -1).sum(1) * 2


def test_a_dynamic_batch_is_checked_at_a_second_size():
    rep = tb.check(_Flatten(), (torch.randn(3, 4),), dynamic_shapes={"x": {0: "batch"}})
    assert rep.ok and RESIZED in rep.input_sets
    sizes = {c.input_set: c.shape for c in rep.comparisons}
    assert sizes[RESIZED] == [6] and sizes["example"] == [3]


def test_a_source_that_refuses_the_second_size_is_noted(monkeypatch):
    from tensorbridge.reference import Reference

    real = Reference.run

    def refuses_big(self, feeds):
        if feeds[0].shape[0] > 4:
            raise RuntimeError("the model only takes batch <= 4")
        return real(self, feeds)

    monkeypatch.setattr(Reference, "run", refuses_big)  # as a model whose eager code says so
    rep = tb.check(_Flatten(), (torch.randn(3, 2),), dynamic_shapes={"x": {0: "batch"}})
    assert rep.ok and RESIZED not in rep.input_sets
    assert any("skipped" in n and RESIZED in n for n in rep.notes)
