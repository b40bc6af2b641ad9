"""Translation validation of the IR passes (tests/ir/pass_harness.py): every pass alone and
the named pipelines (``ir.passes.pipeline``: clean, deploy, migrate) and the migration's
channels-last rewrite (``tensorbridge.migrate.channels_last``), on the ONNX node
conformance models, the repo's fixtures, a Keras RNN model and seeded random graphs
(tests/ir/random_graphs.py): the runtime must compute the same before and after. A failure
names the pass and prints a shrunk graph.

The fast slice (``make test``) takes every other multi-op conformance model and every 16th
one-op one (about 300), 50 random graphs, the fixtures and the Keras RNN; the ``slow``
sweep takes all 1800+ conformance models and 600 more random graphs. Regression tests
(against PyTorch eager) for the bugs the harness found follow."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tensorbridge.ir import DType, Graph, Role
from tests.ir import pass_harness as H
from tests.ir import pass_sources as S
from tests.ir.random_graphs import random_case

FAST_RANDOM = range(50)
SLOW_RANDOM = range(50, 650)
SPECS = sorted(H.ALL)


_REFERENCES: dict[int, H.Reference | None] = {}  # by id of the (session-cached) source graph


def _validate_all(spec_name: str, cases: list[tuple[str, Graph, dict[str, Any]]]) -> int:
    """Validate ``spec_name`` on every runnable case; returns how many ran. The first failure
    raises with its shrunk graph and lists the other failing cases."""
    spec = H.ALL[spec_name]
    failures: list[str] = []
    first: AssertionError | None = None
    ran = 0
    for name, graph, feeds in cases:
        if id(graph) not in _REFERENCES:  # computed once, shared by every pass's test
            _REFERENCES[id(graph)] = H.reference(graph, feeds)
        ref = _REFERENCES[id(graph)]
        if ref is None:
            continue
        ran += 1
        try:
            H.validate(spec, graph, feeds, name, ref)
        except AssertionError as e:
            failures.append(name)
            first = first or e
    if first is not None:
        raise AssertionError(f"{len(failures)} case(s) broken by {spec_name}: {failures[:20]}\n{first}")
    return ran


# ------------------------------------------------------------------ the fast slice
@pytest.mark.parametrize("spec", SPECS)
def test_pass_keeps_random_graphs(spec):
    assert _validate_all(spec, S.random_graphs(FAST_RANDOM)) == len(FAST_RANDOM)


# the conformance data divides by zero, takes logs of negatives, ... on purpose
CONFORMANCE_WARNINGS = pytest.mark.filterwarnings("ignore::RuntimeWarning")


@CONFORMANCE_WARNINGS
@pytest.mark.parametrize("spec", SPECS)
def test_pass_keeps_conformance_models(spec):
    assert _validate_all(spec, S.conformance(fast=True)) > 250


@pytest.mark.parametrize("spec", SPECS)
@pytest.mark.parametrize("fixture", S.FIXTURE_FILES)
def test_pass_keeps_fixtures(spec, fixture):
    assert _validate_all(spec, [S.fixture(fixture)]) == 1


@pytest.mark.parametrize("spec", SPECS)
def test_pass_keeps_keras_rnn(spec):
    assert _validate_all(spec, [S.keras_rnn()]) == 1


# ------------------------------------------------------------------ the full sweep
@pytest.mark.slow
@CONFORMANCE_WARNINGS
@pytest.mark.parametrize("spec", SPECS)
def test_pass_keeps_all_conformance_models(spec):
    assert _validate_all(spec, S.conformance()) > 1700


@pytest.mark.slow
@pytest.mark.parametrize("spec", SPECS)
def test_pass_keeps_many_random_graphs(spec):
    assert _validate_all(spec, S.random_graphs(SLOW_RANDOM)) == len(SLOW_RANDOM)


# ------------------------------------------------------------------ the harness itself
def test_random_graphs_are_deterministic_and_varied():
    from tensorbridge.ir import format_graph

    a, b = random_case(7), random_case(7)
    assert format_graph(a.graph) == format_graph(b.graph)
    assert all(np.array_equal(a.feeds[k], b.feeds[k]) for k in a.feeds)
    ops = {n.op_type for seed in FAST_RANDOM for n in random_case(seed).graph.nodes()}
    assert {"Transpose", "Reshape", "Unsqueeze", "Gather", "Conv", "Pad", "MatMul", "Softmax",
            "BatchNormalization", "Slice"} <= ops


def _broken_pass(graph: Graph) -> None:
    """A deliberately wrong 'pass': turns every Sub into an Add."""
    for node in graph.nodes():
        if node.op_type == "Sub":
            node.op_type = "Add"


def test_harness_names_the_pass_and_shrinks_the_graph():
    g = Graph("demo", opset_imports={"": 20})
    x = g.add_input("x", DType.FLOAT, (2, 3))
    y = g.add_op("Relu", [x])[0]
    y = g.add_op("Transpose", [y], {"perm": [1, 0]})[0]
    z = g.add_op("Sub", [y, g.add_constant("c", np.ones((3, 1), np.float32))])[0]
    z = g.add_op("Tanh", [z])[0]
    w = g.add_op("Exp", [x])[0]
    g.set_outputs([z, w])
    spec = H.PassSpec("broken", _broken_pass)
    with pytest.raises(AssertionError) as err:
        H.validate(spec, g, {"x": np.arange(6, dtype=np.float32).reshape(2, 3)}, "demo")
    text = str(err.value)
    assert "pass broken breaks demo (mismatch)" in text
    minimal = text.split("before broken:")[1].split("--- after")[0]
    assert "Sub(" in minimal and "Exp" not in minimal and "Tanh" not in minimal and "Relu" not in minimal


def test_harness_catches_stale_declared_shapes():
    g = Graph("stale", opset_imports={"": 20})
    x = g.add_input("x", DType.FLOAT, (2, 3))
    g.set_outputs([g.add_op("Relu", [x], output_types=[None])[0]])

    def stale(graph: Graph) -> None:
        from tensorbridge.ir import TensorType

        graph.outputs[0].type = TensorType(DType.FLOAT, (2, 4))

    f = H.check(H.PassSpec("stale", stale), g, {"x": np.ones((2, 3), np.float32)})
    assert f is not None and f.kind == "types" and "(2, 4)" not in f.detail and "2,4" in f.detail


def test_harness_catches_merged_weights():
    g = Graph("tied", opset_imports={"": 20})
    x = g.add_input("x", DType.FLOAT, (3,))
    a = g.add_constant("a.bias", np.zeros(3, np.float32), role=Role.PARAMETER, source_name="a.bias")
    b = g.add_constant("b.bias", np.zeros(3, np.float32), role=Role.PARAMETER, source_name="b.bias")
    g.set_outputs([g.add_op("Add", [g.add_op("Add", [x, a])[0], b])[0]])

    def merge(graph: Graph) -> None:
        graph.replace_all_uses(graph.value("b.bias"), graph.value("a.bias"))
        graph.remove(graph.value("b.bias"))

    f = H.check(H.PassSpec("merge", merge), g, {"x": np.ones(3, np.float32)})
    assert f is not None and f.kind == "weights" and "b.bias" in f.detail


# ------------------------------------------------------------------ found by the harness
def _relpos_module(window: int, heads: int, dim: int):
    """Attention with a timm Swin/BEiT-style relative-position bias: a parameter table of
    ((2W-1)^2, heads) indexed by a constant buffer, .view(N, N, heads).permute(2, 0, 1)
    .unsqueeze(0) added to the scores (B, heads, N, N), N = W * W tokens."""
    torch = pytest.importorskip("torch")

    class RelPosAttention(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.table = torch.nn.Parameter(torch.randn((2 * window - 1) ** 2, heads))
            coords = torch.stack(torch.meshgrid(torch.arange(window), torch.arange(window), indexing="ij"))
            coords = coords.flatten(1)
            rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0) + (window - 1)
            index = rel[..., 0] * (2 * window - 1) + rel[..., 1]
            self.register_buffer("index", index.reshape(-1), persistent=False)
            self.qkv = torch.nn.Linear(dim, 3 * dim)

        def forward(self, x):
            b, n, c = x.shape
            qkv = self.qkv(x).reshape(b, n, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            n_tok = window * window
            bias = self.table[self.index].view(n_tok, n_tok, heads).permute(2, 0, 1).unsqueeze(0)
            attn = (q @ k.transpose(-2, -1) + bias).softmax(-1)
            return (attn @ v).transpose(1, 2).reshape(b, n, c)

    torch.manual_seed(0)
    return RelPosAttention().eval(), torch.randn(2, window * window, dim)


@pytest.mark.parametrize(("window", "heads"), [(2, 4), (2, 3), (3, 9), (4, 3)])
def test_relative_position_bias_matches_pytorch_eager(window, heads):
    """heads == tokens (2, 4) and (3, 9): (1, N, N, H) -> (1, H, N, N) has the same shape as
    an Unsqueeze of the (N, N, H) bias, which remove_no_ops took for one (off by 0.6 here,
    5e-3 in timm's Swin with its small table init)."""
    import tensorbridge as tb

    model, x = _relpos_module(window, heads, dim=4 * heads)
    expected = model(x).detach().numpy()
    for optimize in (False, True):
        got = tb.run(tb.load(model, (x,), optimize=optimize), x.numpy())[0]
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5, err_msg=f"optimize={optimize}")
    onnx_model = tb.convert(model, (x,))
    np.testing.assert_allclose(tb.run(onnx_model, x.numpy())[0], expected, rtol=1e-5, atol=1e-5)


TIMM_RELPOS = {  # small configs with heads == window tokens, where the bug showed
    "swin_tiny_patch4_window7_224": dict(img_size=32, patch_size=4, embed_dim=16, depths=(2,),
                                         num_heads=(4,), window_size=2),
    "beit_base_patch16_224": dict(img_size=32, patch_size=16, embed_dim=20, depth=1, num_heads=5),
    "vit_relpos_base_patch16_224": dict(img_size=32, patch_size=16, embed_dim=16, depth=1, num_heads=4),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TIMM_RELPOS))
def test_timm_relative_position_models_match_pytorch_eager(name):
    torch = pytest.importorskip("torch")
    timm = pytest.importorskip("timm")
    import tensorbridge as tb

    torch.manual_seed(0)
    model = timm.create_model(name, pretrained=False, num_classes=5, **TIMM_RELPOS[name]).eval()
    with torch.no_grad():  # a bias big enough to matter (timm initialises it with std 0.02)
        for pname, p in model.named_parameters():
            if "relative_position" in pname or "rel_pos" in pname:
                p.normal_(0.0, 1.0)

    class Features(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.m = model

        def forward(self, x):
            return self.m.forward_features(x)

    features = Features().eval()
    x = torch.randn(2, 3, 32, 32)
    expected = features(x).detach().numpy()
    scale = float(np.abs(expected).max())
    got = tb.run(tb.load(features, (x,)), x.numpy())[0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * scale)
    got = tb.run(tb.convert(features, (x,)), x.numpy())[0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5 * scale)
