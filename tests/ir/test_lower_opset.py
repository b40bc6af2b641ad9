"""ir.passes.lower_opset: one ONNX node at its own (newer) opset, lowered to an older one.

Each row runs the original node in onnxruntime (which implements opset 23) and the lowered
model in onnxruntime and in tensorbridge's runtime on the same random inputs; the lowered
model must pass onnx.checker's full check at the target opset. Ops that cannot be lowered
must be named, alone, in the error."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import tensorbridge as tb
from tensorbridge.converters.onnx import from_ir, to_ir
from tensorbridge.ir import ConversionError, verify
from tensorbridge.ir.passes.lower_opset import lower_opset
from tensorbridge.ort import ort_run

F32, F16, I64, BOOL = np.float32, np.float16, np.int64, np.bool_
_ONNX = {F32: TensorProto.FLOAT, F16: TensorProto.FLOAT16, I64: TensorProto.INT64, BOOL: TensorProto.BOOL}

Feeds = Callable[[np.random.Generator], list[np.ndarray]]


@dataclass(frozen=True)
class In:
    name: str
    dtype: Any
    shape: tuple[Any, ...]  # declared: ints or symbols
    size: tuple[int, ...] | None = None  # the fed array's shape, when the declared one has symbols


@dataclass(frozen=True)
class Case:
    id: str
    op: str
    inputs: tuple[In, ...]
    outputs: tuple[str, ...]
    source: int
    target: int
    attrs: dict[str, Any] = field(default_factory=dict)
    consts: dict[str, np.ndarray] = field(default_factory=dict)
    feeds: Feeds | None = None  # custom inputs (masks that leave every row a key to attend)
    tol: float = 2e-6
    out_shapes: dict[str, tuple[Any, ...]] = field(default_factory=dict)  # where inference has none
    oracle: str = "onnxruntime"  # or "onnx.reference" where onnxruntime does not implement the case
    reason: str = ""  # why the oracle is not onnxruntime


def _rows_with_a_key(shape: tuple[int, ...]) -> Feeds:
    def make(rng: np.random.Generator) -> np.ndarray:
        mask = rng.random(shape) < 0.6
        mask[..., 0] = True
        return mask

    return make  # type: ignore[return-value]


Q4 = In("Q", F32, (2, 4, 5, 8))
K4, V4 = In("K", F32, (2, 4, 6, 8)), In("V", F32, (2, 4, 6, 8))
K4_GQA, V4_GQA = In("K", F32, (2, 2, 6, 8)), In("V", F32, (2, 2, 6, 8))
X = In("X", F32, (2, 3, 8))


def _attn_mask_feeds(shape: tuple[int, ...], *qkv: In) -> Feeds:
    mask = _rows_with_a_key(shape)

    def make(rng: np.random.Generator) -> list[np.ndarray]:
        return [_random(rng, i) for i in qkv] + [mask(rng)]  # type: ignore[list-item]

    return make


CASES = [
    Case("gelu", "Gelu", (X,), ("Y",), 20, 17),
    Case("gelu_tanh", "Gelu", (X,), ("Y",), 20, 17, {"approximate": "tanh"}),
    Case("gelu_f16", "Gelu", (In("X", F16, (2, 3, 8)),), ("Y",), 20, 17, tol=2e-3),
    Case("layernorm_to_13", "LayerNormalization", (X, In("S", F32, (8,)), In("B", F32, (8,))),
         ("Y", "Mean", "InvStdDev"), 17, 13),
    Case("layernorm_axis1_to_16", "LayerNormalization", (X, In("S", F32, (3, 8))), ("Y",), 17, 16,
         {"axis": 1, "epsilon": 1e-3}),
    Case("layernorm_f16_stash_f32", "LayerNormalization", (In("X", F16, (2, 3, 8)), In("S", F16, (8,))),
         ("Y",), 17, 13, tol=2e-3),
    Case("layernorm_to_11", "LayerNormalization", (X, In("S", F32, (8,)), In("B", F32, (8,))), ("Y",), 17, 11),
    Case("rmsnorm", "RMSNormalization", (X, In("S", F32, (8,))), ("Y",), 23, 17),
    Case("rmsnorm_axis", "RMSNormalization", (X, In("S", F32, (3, 8))), ("Y",), 23, 17,
         {"axis": -2, "epsilon": 1e-2}),
    Case("attention_mha", "Attention", (Q4, K4, V4), ("Y",), 23, 17),
    Case("attention_gqa_causal", "Attention", (Q4, K4_GQA, V4_GQA), ("Y",), 23, 17, {"is_causal": 1}),
    Case("attention_3d_bool_mask", "Attention",
         (In("Q", F32, (2, 5, 32)), In("K", F32, (2, 6, 16)), In("V", F32, (2, 6, 16)), In("M", BOOL, (5, 6))),
         ("Y",), 23, 17, {"q_num_heads": 4, "kv_num_heads": 2, "scale": 0.3},
         feeds=_attn_mask_feeds((5, 6), In("Q", F32, (2, 5, 32)), In("K", F32, (2, 6, 16)),
                                In("V", F32, (2, 6, 16)))),
    Case("attention_past_float_mask_causal", "Attention",
         (In("Q", F32, (2, 4, 3, 8)), In("K", F32, (2, 4, 3, 8)), In("V", F32, (2, 4, 3, 8)),
          In("M", F32, (2, 1, 3, 7)), In("PK", F32, (2, 4, 4, 8)), In("PV", F32, (2, 4, 4, 8))),
         ("Y", "present_key", "present_value"), 23, 17, {"is_causal": 1}),
    Case("attention_softcap_qk_output", "Attention", (Q4, K4, V4, In("M", F32, (5, 6))),
         ("Y", "", "", "QK"), 23, 17, {"softcap": 2.0, "qk_matmul_output_mode": 1}),
    Case("attention_qk_output_probs", "Attention", (Q4, K4, V4), ("Y", "", "", "QK"), 23, 17,
         {"qk_matmul_output_mode": 3}),
    Case("attention_dynamic_shapes", "Attention",
         (In("Q", F32, ("B", "H", "S", "D"), (2, 4, 5, 8)), In("K", F32, ("B", "KH", "T", "D"), (2, 2, 6, 8)),
          In("V", F32, ("B", "KH", "T", "D"), (2, 2, 6, 8))), ("Y",), 23, 17, {"is_causal": 1}),
    Case("attention_short_mask_padded", "Attention", (Q4, K4, V4, In("M", F32, (5, 4))), ("Y",), 23, 17,
         oracle="onnx.reference", reason="onnxruntime 1.32 requires the mask to span every key"),
    Case("attention_dynamic_past_mask", "Attention",
         (In("Q", F32, ("B", 4, "S", 8), (2, 4, 3, 8)), In("K", F32, ("B", 4, "S", 8), (2, 4, 3, 8)),
          In("V", F32, ("B", 4, "S", 8), (2, 4, 3, 8)), In("M", F32, ("B", 1, "S", "T"), (2, 1, 3, 7)),
          In("PK", F32, ("B", 4, "P", 8), (2, 4, 4, 8)), In("PV", F32, ("B", 4, "P", 8), (2, 4, 4, 8))),
         ("Y", "present_key", "present_value"), 23, 17, {"is_causal": 1},
         out_shapes={"present_key": ("B", 4, "T", 8), "present_value": ("B", 4, "T", 8)}),
    Case("attention_dynamic_short_mask", "Attention",
         (In("Q", F32, ("B", 4, "S", 8), (2, 4, 5, 8)), In("K", F32, ("B", 4, "T", 8), (2, 4, 6, 8)),
          In("V", F32, ("B", 4, "T", 8), (2, 4, 6, 8)), In("M", F32, ("S", "U"), (5, 4))), ("Y",), 23, 17,
         oracle="onnx.reference", reason="onnxruntime 1.32 requires the mask to span every key"),
    Case("attention_to_11", "Attention", (Q4, K4_GQA, V4_GQA), ("Y",), 23, 11, {"is_causal": 1}),
    Case("mish", "Mish", (X,), ("Y",), 18, 17),
    Case("hardswish", "HardSwish", (X,), ("Y",), 14, 13),
    Case("split_num_outputs", "Split", (In("X", F32, (2, 6, 4)),), ("A", "B", "C"), 18, 17,
         {"axis": 1, "num_outputs": 3}),
    Case("split_uneven", "Split", (In("X", F32, (2, 7, 4)),), ("A", "B", "C"), 18, 13,
         {"axis": 1, "num_outputs": 3}),
    Case("split_to_11", "Split", (In("X", F32, (2, 7, 4)),), ("A", "B", "C", "D"), 18, 11,
         {"axis": 1, "num_outputs": 4}),
    Case("reducemean_axes_input", "ReduceMean", (In("X", F32, (2, 6, 4)), In("axes", I64, (1,))), ("Y",),
         18, 17, consts={"axes": np.array([1], np.int64)}),
    Case("reducemax_noop_empty", "ReduceMax", (In("X", F32, (2, 6, 4)),), ("Y",), 20, 13,
         {"noop_with_empty_axes": 1}),
    Case("shape_start_end", "Shape", (In("X", F32, (2, 6, 4, 3)),), ("Y",), 21, 13, {"start": 1, "end": -1}),
    Case("reshape_allowzero", "Reshape", (In("X", F32, (2, 6, 4)), In("shape", I64, (2,))), ("Y",), 21, 13,
         {"allowzero": 1}, consts={"shape": np.array([4, -1], np.int64)}),
    Case("pad_axes", "Pad", (In("X", F32, (2, 6, 4)), In("pads", I64, (2,)), In("", F32, ()),
                             In("axes", I64, (1,))), ("Y",), 23, 17,
         consts={"pads": np.array([1, 2], np.int64), "axes": np.array([-1], np.int64)}),
    Case("cast_saturate_default", "Cast", (In("X", F32, (2, 6)),), ("Y",), 23, 13, {"to": TensorProto.FLOAT16},
         tol=1e-3),
    Case("unsqueeze_to_11", "Unsqueeze", (In("X", F32, (2, 6)), In("axes", I64, (1,))), ("Y",), 13, 11,
         consts={"axes": np.array([1], np.int64)}),
]


def _random(rng: np.random.Generator, i: In) -> np.ndarray:
    shape = i.size or i.shape
    if i.dtype is BOOL:
        return rng.random(shape) < 0.5
    return rng.standard_normal(shape).astype(i.dtype)


def _model(case: Case) -> onnx.ModelProto:
    names = [i.name for i in case.inputs]
    node = helper.make_node(case.op, names, list(case.outputs), **case.attrs)
    inits = [numpy_helper.from_array(a, n) for n, a in case.consts.items()]
    graph_inputs = [helper.make_tensor_value_info(i.name, _ONNX[i.dtype], list(i.shape))
                    for i in case.inputs if i.name and i.name not in case.consts]
    outputs = [helper.make_tensor_value_info(o, TensorProto.UNDEFINED if o not in case.out_shapes else
                                             TensorProto.FLOAT, case.out_shapes.get(o)) for o in case.outputs if o]
    graph = helper.make_graph([node], case.id, graph_inputs, outputs, inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", case.source)])
    model = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    onnx.checker.check_model(model, full_check=True)
    return model


def _feeds(case: Case) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    if case.feeds is not None:
        return case.feeds(rng)  # type: ignore[return-value]
    return [_random(rng, i) for i in case.inputs if i.name and i.name not in case.consts]


def _run_oracle(case: Case, model: onnx.ModelProto, feeds: list[np.ndarray]) -> list[np.ndarray]:
    if case.oracle == "onnxruntime":
        return ort_run(model, feeds)
    from onnx.reference import ReferenceEvaluator

    names = [i.name for i in model.graph.input]
    return list(ReferenceEvaluator(model).run(None, dict(zip(names, feeds))))


def _lowered(model: onnx.ModelProto, target: int) -> tuple[onnx.ModelProto, Any]:
    graph = to_ir(model)
    report = lower_opset(graph, target)
    verify(graph)
    out = from_ir(graph)
    onnx.checker.check_model(out, full_check=True)
    return out, report


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_lowered_node_matches_onnxruntime(case: Case) -> None:
    model = _model(case)
    feeds = _feeds(case)
    expected = _run_oracle(case, model, feeds)
    lowered, report = _lowered(model, case.target)
    assert report.changed >= 1, report.details
    assert {(o.domain, o.version) for o in lowered.opset_import} == {("", case.target)}
    if case.source > case.target and case.op not in _SAME_OP_KEPT:
        assert case.op not in {n.op_type for n in lowered.graph.node}, "the op should have been decomposed"
    for name, got in (("onnxruntime", ort_run(lowered, feeds)), ("tensorbridge", tb.run(lowered, *feeds))):
        # an all-masked row is possible only where the oracle is onnx.reference
        assert len(got) == len(expected)
        for e, g in zip(expected, got):
            assert g.dtype == e.dtype and g.shape == e.shape, name
            np.testing.assert_allclose(g.astype(np.float64), e.astype(np.float64), rtol=case.tol,
                                       atol=case.tol, err_msg=f"{case.id} on {name}")


# ops whose older form is the same op with other inputs/attributes (not decomposed)
_SAME_OP_KEPT = {"Split", "ReduceMean", "Reshape", "Pad", "Cast", "Unsqueeze", "Shape"}


def test_lowering_reaches_into_subgraphs() -> None:
    """A Gelu inside an If branch is decomposed, and the branch imports the target opset."""
    branch = helper.make_graph([helper.make_node("Gelu", ["x"], ["g"])], "then", [],
                               [helper.make_tensor_value_info("g", TensorProto.FLOAT, [3])])
    other = helper.make_graph([helper.make_node("Relu", ["x"], ["r"])], "else", [],
                              [helper.make_tensor_value_info("r", TensorProto.FLOAT, [3])])
    node = helper.make_node("If", ["c"], ["y"], then_branch=branch, else_branch=other)
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("c", TensorProto.BOOL, []),
                                            helper.make_tensor_value_info("x", TensorProto.FLOAT, [3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    feeds = [np.array(True), np.array([-1.0, 0.5, 2.0], np.float32)]
    lowered, _ = _lowered(model, 17)
    then = lowered.graph.node[0].attribute[0].g if lowered.graph.node[0].attribute[0].name == "then_branch" \
        else lowered.graph.node[0].attribute[1].g
    assert "Gelu" not in {n.op_type for n in then.node}
    np.testing.assert_allclose(ort_run(lowered, feeds)[0], ort_run(model, feeds)[0], rtol=1e-6, atol=1e-7)


def _mixed_model() -> onnx.ModelProto:
    """Gelu (lowerable), BitwiseAnd (18, no decomposition) beside Cast, Reshape and Shape
    (whose schemas changed after 17 in types only)."""
    nodes = [
        helper.make_node("Gelu", ["x"], ["g"], name="act"),
        helper.make_node("Shape", ["g"], ["s"], name="shape"),
        helper.make_node("Reshape", ["g", "s"], ["r"], name="reshape"),
        helper.make_node("Cast", ["r"], ["y"], to=TensorProto.FLOAT, name="cast"),
        helper.make_node("BitwiseAnd", ["a", "b"], ["z"], name="bits"),
    ]
    graph = helper.make_graph(nodes, "mixed", [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3]),
        helper.make_tensor_value_info("a", TensorProto.INT32, [4]),
        helper.make_tensor_value_info("b", TensorProto.INT32, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3]),
         helper.make_tensor_value_info("z", TensorProto.INT32, [4])])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])


def test_error_names_exactly_the_ops_that_cannot_be_lowered() -> None:
    with pytest.raises(ConversionError) as err:
        lower_opset(to_ir(_mixed_model()), 17)
    assert len(err.value.errors) == 1
    msg = str(err.value)
    assert "BitwiseAnd" in msg and "'bits'" in msg and "from opset 18" in msg
    for fine in ("Gelu", "Cast", "Reshape", "Shape"):
        assert f"unsupported op {fine}" not in msg


def test_convert_route_lowers_and_names_the_blocking_op() -> None:
    """tb.convert(..., opset=17) of an opset-20 ONNX model: lowered and validated; with an
    op that has no opset-17 form, the error names it and only it."""
    model = _mixed_model()
    keep = [n for n in model.graph.node if n.op_type != "BitwiseAnd"]
    ok = helper.make_model(helper.make_graph(keep, "ok", list(model.graph.input[:1]), list(model.graph.output[:1])),
                           opset_imports=[helper.make_opsetid("", 20)])
    out = tb.convert(ok, None, to="onnx", opset=17)
    assert out.opset_import[0].version == 17 and "Gelu" not in {n.op_type for n in out.graph.node}
    with pytest.raises(ConversionError, match="BitwiseAnd") as err:
        tb.convert(model, None, to="onnx", opset=17)
    assert "unsupported op Cast" not in str(err.value) and "unsupported op Reshape" not in str(err.value)


def test_uneven_split_of_unknown_size_is_refused() -> None:
    case = Case("split_dynamic", "Split", (In("X", F32, (2, "n")),), ("A", "B", "C"), 18, 17,
                {"axis": 1, "num_outputs": 3})
    with pytest.raises(ConversionError, match=r"Split .*unknown size"):
        lower_opset(to_ir(_model(case)), 17)


def test_graph_at_or_below_target_is_unchanged() -> None:
    graph = to_ir(_model(CASES[0]))
    report = lower_opset(graph, 21)
    assert report.changed == 0 and graph.opset() == 20


def test_torch_model_exported_at_opset_17_and_16() -> None:
    """nn.GELU, nn.LayerNorm, nn.RMSNorm and scaled_dot_product_attention (causal):
    converted at opset 17 and 16 directly, and their opset-23 export (Gelu,
    LayerNormalization, RMSNormalization, Attention) lowered to 17 by the route; each result
    validated by tb.convert and compared with PyTorch eager in onnxruntime."""
    torch = pytest.importorskip("torch")
    import torch.nn.functional as fn

    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.norm, self.rms, self.act = torch.nn.LayerNorm(16), torch.nn.RMSNorm(16), torch.nn.GELU()
            self.q, self.kv = torch.nn.Linear(16, 16), torch.nn.Linear(16, 32)

        def forward(self, x: Any) -> Any:
            h = self.rms(self.act(self.norm(x)))
            q = self.q(h).view(2, 5, 4, 4).transpose(1, 2)
            k, v = self.kv(h).view(2, 5, 4, 8).transpose(1, 2).split(4, dim=-1)
            return fn.scaled_dot_product_attention(q, k, v, is_causal=True)

    torch.manual_seed(0)
    block, x = Block().eval(), torch.randn(2, 5, 16)
    expected = block(x).detach().numpy()
    at_23 = tb.convert(block, (x,), to="onnx", opset=23, validate=False)
    assert {"Gelu", "LayerNormalization", "RMSNormalization", "Attention"} <= {n.op_type for n in at_23.graph.node}
    for model in (tb.convert(block, (x,), to="onnx", opset=17), tb.convert(block, (x,), to="onnx", opset=16),
                  tb.convert(at_23, None, to="onnx", opset=17)):
        target = model.opset_import[0].version
        onnx.checker.check_model(model, full_check=True)
        ops = {n.op_type for n in model.graph.node}
        assert not ops & {"Gelu", "RMSNormalization", "Attention"}
        assert target == 17 or "LayerNormalization" not in ops
        np.testing.assert_allclose(ort_run(model, [x.numpy()])[0], expected, rtol=1e-4, atol=1e-5)
