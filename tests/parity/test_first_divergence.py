"""tb.check names the first diverging layer: a wrong translation injected into one module
of a multi-block model, code that only runs under export, a wrong GELU in BERT."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import tensorbridge as tb
import tensorbridge.converters.pytorch.ops  # noqa: F401  (translations registered before tests patch them)
from tensorbridge.converters.pytorch.registry import ATEN


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 8)
        self.norm = nn.LayerNorm(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x + self.fc2(self.act(self.fc1(x))))


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*[Block() for _ in range(4)])
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(x))


def _net() -> nn.Module:
    torch.manual_seed(0)
    return Net().eval()


def _wrong_in(monkeypatch, key: str, module: str, wrong) -> None:
    """Make the translation of ``key`` wrong only inside ``module``."""
    right = ATEN.lookup(key)

    def translate(ctx, *args, **kwargs):
        if ctx.provenance.module == module:
            return wrong(ctx, right, *args, **kwargs)
        return right(ctx, *args, **kwargs)

    monkeypatch.setitem(ATEN._fns, key, translate)


def test_correct_model_passes_on_every_input_set():
    rep = tb.check(_net(), (torch.randn(5, 8),))
    assert rep.ok and rep.first_divergence is None
    assert set(rep.input_sets) >= {"example", "seed1", "zeros", "negative", "large"}


@pytest.mark.parametrize("key,module,wrong,ops", [
    ("aten::gelu.default", "blocks.2.act",
     lambda ctx, right, x, approximate="none": right(ctx, x, approximate="tanh"), ["Gelu"]),
    ("aten::layer_norm.default", "blocks.1.norm",
     lambda ctx, right, x, shape, w=None, b=None, eps=1e-5, *a: right(ctx, x, shape, w, b, 1e-1, *a),
     ["LayerNormalization"]),
])
def test_injected_wrong_translation_is_named(monkeypatch, key, module, wrong, ops):
    _wrong_in(monkeypatch, key, module, wrong)
    rep = tb.check(_net(), (torch.randn(5, 8),))
    assert not rep.ok
    d = rep.first_divergence
    assert d is not None and d.module == module and d.ops == ops
    assert [layer.module for layer in rep.layers if not layer.ok][0] == module
    assert module in rep.verdict() and module in rep.to_html()


class ExportOnly(nn.Module):
    """Behaves differently under torch.export: eager and exported graphs disagree."""

    def __init__(self) -> None:
        super().__init__()
        self.pre, self.mid, self.post = nn.Linear(6, 6), Scale(), nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.post(self.mid(self.pre(x)))


class Scale(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.compiler.is_exporting():
            return x * 1.01
        return x


def test_divergence_that_only_exists_under_export_is_localised():
    torch.manual_seed(0)
    rep = tb.check(ExportOnly().eval(), (torch.randn(3, 6),))
    assert not rep.ok
    assert rep.first_divergence.module == "mid" and rep.first_divergence.ops == ["Mul"]


def test_top_level_code_between_layers_is_blamed_on_its_op(monkeypatch):
    class TwoStage(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 4)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.b(torch.tanh(self.a(x)))

    right = ATEN.lookup("aten::tanh.default")
    monkeypatch.setitem(ATEN._fns, "aten::tanh.default", lambda ctx, x: ctx.op("Sigmoid", [x]))
    del right
    torch.manual_seed(0)
    rep = tb.check(TwoStage().eval(), (torch.randn(2, 4),))
    d = rep.first_divergence
    assert not rep.ok and d is not None and d.ops == ["Sigmoid"] and "already differs" in d.detail


def test_wrong_gelu_fails_the_default_check_on_bert(monkeypatch):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=100, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=128, max_position_embeddings=64,
                                  initializer_range=0.2)  # activations wide enough for GELU to matter
    bert = transformers.BertModel(cfg).eval()

    class Wrapper(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.bert(ids).last_hidden_state

    ids = torch.randint(0, 100, (2, 16), generator=torch.Generator().manual_seed(0))
    assert tb.check(Wrapper().eval(), (ids,)).ok
    right = ATEN.lookup("aten::gelu.default")
    monkeypatch.setitem(ATEN._fns, "aten::gelu.default",
                        lambda ctx, x, approximate="none": right(ctx, x, approximate="tanh"))
    rep = tb.check(Wrapper().eval(), (ids,))
    assert not rep.ok
    assert rep.first_divergence.module == "bert.encoder.layer.0.intermediate.intermediate_act_fn"


def test_keras_injected_wrong_translation_is_named(monkeypatch):
    keras = pytest.importorskip("keras")
    import numpy as np

    from tensorbridge.converters.tensorflow.registry import TF_OPS

    keras.utils.set_random_seed(0)
    inp = keras.Input((6,))
    x = keras.layers.Dense(12, activation="relu", name="d1")(inp)
    x = keras.layers.Dense(12, activation="tanh", name="d2")(x)
    x = keras.layers.Dense(12, activation="tanh", name="d3")(x)
    model = keras.Model(inp, keras.layers.Dense(3, name="head")(x))
    xs = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    assert tb.check(model, (xs,)).ok
    right = TF_OPS.lookup("Tanh")

    def wrong(ctx, *args, **kwargs):
        if ctx.provenance.module.endswith("d3"):
            return ctx.op("Sigmoid", [args[0]])
        return right(ctx, *args, **kwargs)

    monkeypatch.setitem(TF_OPS._fns, "Tanh", wrong)
    rep = tb.check(model, (xs,))
    assert not rep.ok and rep.first_divergence is not None
    assert rep.first_divergence.module.endswith("d3") and "Sigmoid" in rep.first_divergence.ops


def test_streaming_localisation_matches_the_full_capture_and_holds_little(monkeypatch):
    """Hundreds of modules: the streamed comparison gives the same per-layer errors as
    capturing everything, while holding only a handful of IR values at a time."""
    from tensorbridge.converters.pytorch.eager import eager_stream, eager_trace
    from tensorbridge.runtime.parity import divergence
    from tensorbridge.runtime.parity.compare import default_tolerance
    from tensorbridge.runtime.session import Session

    torch.manual_seed(0)
    model = nn.Sequential(*[Block() for _ in range(40)]).eval()  # 201 modules
    x = torch.randn(3, 8)
    graph = tb.load(model, (x,))
    feeds, tol = [x.numpy()], default_tolerance("float32")
    _, records = eager_trace(model, feeds)
    full = Session(graph, fuse=False)
    full.run(feeds, capture=divergence.values_to_capture(graph, records))
    layers_full, _ = divergence.locate(graph, records, full.captured, tol)

    loc = divergence.Localizer(graph, tol)
    from collections import Counter

    refs = Counter(n for m in loc.bounds for n in loc.needed(m))
    values = divergence.StreamedValues(Session(graph, fuse=False).stream(feeds, set(refs)), dict(refs))

    def on_record(r):
        need = loc.needed(r.module)
        values.pull(need)
        loc.feed(r, values)
        values.release(need)

    eager_stream(model, feeds, on_record)
    assert [(lay.module, lay.max_abs) for lay in loc.layers] == [(lay.module, lay.max_abs) for lay in layers_full]
    assert len(loc.layers) > 150 and len(full.captured) > 150
    assert values.max_held <= 10


@pytest.mark.parametrize("height,width", [(6, 5), (4, 4)])
def test_keras_conv_layers_are_compared_in_the_irs_layout(monkeypatch, height, width):
    """Keras computes conv layers channels-last, the IR channels-first: each conv layer is
    compared after moving its channels (6x5: the layouts' shapes differ; 4x4 with 4
    channels: they coincide and the closer layout is the right one), so an injected wrong
    activation inside the second conv layer is named there, not at a later layer or at the
    first conv."""
    keras = pytest.importorskip("keras")
    import numpy as np

    from tensorbridge.converters.tensorflow.registry import TF_OPS

    keras.utils.set_random_seed(0)
    inp = keras.Input((height, width, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", name="c1")(inp)
    x = keras.layers.Conv2D(4, 3, padding="same", activation="tanh", name="c2")(x)
    x = keras.layers.Conv2D(4, 3, padding="same", name="c3")(x)
    model = keras.Model(inp, keras.layers.Dense(3, name="head")(keras.layers.Flatten(name="flat")(x)))
    xs = np.random.default_rng(0).standard_normal((2, height, width, 3)).astype(np.float32)
    assert tb.check(model, (xs,)).ok
    right = TF_OPS.lookup("Tanh")

    def wrong(ctx, *args, **kwargs):
        if ctx.provenance.module.endswith("c2"):
            return ctx.op("Sigmoid", [args[0]])
        return right(ctx, *args, **kwargs)

    monkeypatch.setitem(TF_OPS._fns, "Tanh", wrong)
    rep = tb.check(model, (xs,))
    assert not rep.ok and rep.first_divergence is not None
    assert rep.first_divergence.module.endswith("c2"), rep.first_divergence
    compared = {layer.module.split("/")[-1]: layer.ok for layer in rep.layers}
    assert compared.get("c1") is True and compared.get("c2") is False


def test_a_conv_with_its_batchnorm_folded_in_is_compared_as_the_batchnorm_layer(monkeypatch):
    """The deploy pipeline folds BatchNormalization into the conv before it; the folded conv
    computes the BN layer's output, so it is compared with that (not with the raw conv
    layer's output, which would read as a divergence at the conv): an injected wrong
    activation after the BN is named, and the conv layer is not blamed."""
    keras = pytest.importorskip("keras")
    import numpy as np

    from tensorbridge.converters.tensorflow.registry import TF_OPS

    keras.utils.set_random_seed(0)
    inp = keras.Input((6, 5, 3))
    x = keras.layers.Conv2D(4, 3, padding="same", use_bias=False, name="c1")(inp)
    bn = keras.layers.BatchNormalization(name="bn1")
    x = keras.layers.Activation("tanh", name="act")(bn(x))
    model = keras.Model(inp, keras.layers.Conv2D(2, 1, name="c2")(x))
    rng = np.random.default_rng(1)
    bn.set_weights([rng.uniform(0.5, 2, 4).astype(np.float32), rng.standard_normal(4).astype(np.float32),
                    rng.standard_normal(4).astype(np.float32), rng.uniform(0.5, 2, 4).astype(np.float32)])
    xs = rng.standard_normal((2, 6, 5, 3)).astype(np.float32)
    assert tb.check(model, (xs,), generated=False).ok
    right = TF_OPS.lookup("Tanh")
    monkeypatch.setitem(TF_OPS._fns, "Tanh", lambda ctx, *a, **k: ctx.op("Sigmoid", [a[0]]))
    rep = tb.check(model, (xs,), generated=False)
    assert not rep.ok and rep.first_divergence is not None and right is not None
    assert rep.first_divergence.module.endswith("act"), rep.first_divergence
    compared = {layer.module.split("/")[-1]: layer.ok for layer in rep.layers}
    assert compared.get("bn1") is True and compared.get("c1") in (None, True)
