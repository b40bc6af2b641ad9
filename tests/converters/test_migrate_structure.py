"""Migrations keep the source's trainable structure: one emitted parameter per source
tensor however many ops read it (tied weights are one object: the same ``nn.Parameter`` /
``tf.Variable``), frozen parameters stay frozen, buffers stay buffers, through ``tb.save``
and reload too. Checked two ways: ``tensorbridge.structure.compare_structure`` returns no
difference, and the emitted objects are inspected directly. Each emitted model also
matches the source framework's eager output. Last, ``compare_structure`` itself is shown
to name each kind of difference."""

from __future__ import annotations

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"  # before TensorFlow is first imported

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import tensorbridge as tb  # noqa: E402
from tensorbridge.migrate import run_emitted  # noqa: E402
from tensorbridge.structure import Structure, Weight, compare_structure, trainable_structure  # noqa: E402
from tests.converters.migrate_harness import assert_close  # noqa: E402

torch = pytest.importorskip("torch")
tf = pytest.importorskip("tensorflow")
keras = pytest.importorskip("keras")
nn = torch.nn
TARGETS = ["torch", "tensorflow"]


# ---------------------------------------------------------------- PyTorch sources
class TiedFrozen(nn.Module):
    """A tied head, a frozen Linear, a buffer and a non-persistent buffer."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.emb = nn.Embedding(10, 4)
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.emb.weight
        self.frozen = nn.Linear(4, 4)
        self.frozen.requires_grad_(False)
        self.register_buffer("scale", torch.linspace(0.5, 2.0, 4))
        self.register_buffer("shift", torch.full((4,), 0.25), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.frozen(self.emb(x)) * self.scale + self.shift)


def _ids(batch: int = 2, seq: int = 5, vocab: int = 10) -> torch.Tensor:
    return torch.randint(0, vocab, (batch, seq), generator=torch.Generator().manual_seed(batch))


def _torch_eager(model: nn.Module, *xs: torch.Tensor) -> list[np.ndarray]:
    with torch.no_grad():
        return [model(*xs).numpy()]


def _assert_tied_frozen(module, to: str) -> None:
    if to == "torch":
        assert module.get_parameter("emb.weight") is module.get_parameter("head.weight")
        flags = {n: p.requires_grad for n, p in module.named_parameters(remove_duplicate=False)}
        assert flags == {"emb.weight": True, "head.weight": True, "frozen.weight": False, "frozen.bias": False}
        assert len(list(module.parameters())) == 3
        assert dict(module.named_buffers()).keys() == {"scale", "shift"}
        assert "shift" not in module.state_dict() and "scale" in module.state_dict()
    else:
        assert module.weights["emb.weight"] is module.weight_aliases["head.weight"]
        assert [v.name for v in module.trainable_variables] == ["emb.weight:0"]
        assert {v.name for v in module.non_trainable_variables} == {
            "frozen.weight:0", "frozen.bias:0", "scale:0", "shift:0"}


@pytest.mark.parametrize("to", TARGETS)
def test_tied_frozen_and_buffers_migrate(to):
    model = TiedFrozen().eval()
    x = _ids()
    module = tb.convert(model, (x,), to=to)
    assert compare_structure(model, module) == []
    _assert_tied_frozen(module, to)
    assert_close(run_emitted(module, [x.numpy()]), _torch_eager(model, x), 1e-5, 1e-6, f"emitted {to}")


def test_tied_weight_trains_as_one_parameter():
    """A gradient step moves the one tied parameter (both uses contribute), never the frozen ones."""
    model = TiedFrozen().eval()
    module = tb.convert(model, (_ids(),), to="torch")
    module(_ids()).square().mean().backward()
    assert module.emb.weight.grad is not None and module.head.weight.grad is module.emb.weight.grad
    assert module.frozen.weight.grad is None


def test_exported_program_file_keeps_ties(tmp_path):
    """A .pt2 holds tied weights as tensors sharing storage: still one parameter."""
    model = TiedFrozen().eval()
    x = _ids()
    path = tmp_path / "tied.pt2"
    torch.export.save(torch.export.export(model, (x,)), str(path))
    src = trainable_structure(str(path))
    assert src.weights[0].names == ("emb.weight", "head.weight")
    module = tb.convert(str(path), to="torch")
    assert compare_structure(str(path), module) == []
    assert compare_structure(model, module) == []
    assert module.get_parameter("emb.weight") is module.get_parameter("head.weight")


def test_saved_torch_module_keeps_ties_and_flags(tmp_path):
    from tensorbridge.converters.pytorch.from_ir.codegen import load

    model = TiedFrozen().eval()
    x = _ids()
    module = tb.convert(model, (x,), to="torch")
    folder = tb.save(module, tmp_path / "tied_torch")
    reloaded = load(folder)
    assert compare_structure(model, reloaded) == []
    _assert_tied_frozen(reloaded, "torch")
    assert_close(_torch_eager(reloaded, x), _torch_eager(model, x), 1e-5, 1e-6, "reloaded model.py")
    # the source's own weights load into it by name (one state_dict, the same layout)
    reloaded.load_state_dict(model.state_dict(), strict=True)


def test_saved_tensorflow_module_keeps_ties_and_flags(tmp_path):
    model = TiedFrozen().eval()
    x = _ids()
    module = tb.convert(model, (x,), to="tensorflow")
    loaded = tf.saved_model.load(str(tb.save(module, tmp_path / "tied_tf")))
    assert compare_structure(model, loaded) == []
    assert loaded.weights["emb.weight"] is loaded.weight_aliases["head.weight"]
    assert {k: v.trainable for k, v in loaded.weights.items()} == {
        "emb.weight": True, "frozen.weight": False, "frozen.bias": False, "scale": False, "shift": False}
    got = loaded.signatures["serving_default"](tf.constant(x.numpy()))
    assert_close([next(iter(got.values())).numpy()], _torch_eager(model, x), 1e-5, 1e-6, "SavedModel")


class FrozenBackbone(nn.Module):
    """A frozen conv + BatchNorm backbone (its running statistics are buffers) and a head."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.backbone = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU())
        self.backbone.requires_grad_(False)
        self.head = nn.Linear(8, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x).mean((2, 3)))


@pytest.mark.parametrize("to", TARGETS)
def test_frozen_backbone_stays_frozen(to):
    model = FrozenBackbone().eval()
    x = torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(0))
    module = tb.convert(model, (x,), to=to)
    assert compare_structure(model, module) == []
    assert_close(run_emitted(module, [x.numpy()]), _torch_eager(model, x), 1e-4, 1e-5, f"emitted {to}")
    if to == "torch":
        frozen = [n for n, p in module.named_parameters() if not p.requires_grad]
        assert sorted(frozen) == ["backbone.0.bias", "backbone.0.weight", "backbone.1.bias", "backbone.1.weight"]
        assert {"backbone.1.running_mean", "backbone.1.running_var"} <= set(dict(module.named_buffers()))
    else:
        assert sorted(v.name for v in module.trainable_variables) == ["head.bias:0", "head.weight:0"]


class Linear3d(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.up, self.down = nn.Linear(8, 16), nn.Linear(16, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down(torch.relu(self.up(x)))


# What stores a weight re-laid out (so a torch -> torch or Keras -> TensorFlow migration
# changes its shape, and the source's own weights no longer load): fold_constants folds a
# layout op that is a named weight's only use into the weight (_named_weight_layout), in
# the "migrate" pipeline and in migrate.channels_last alike.
def test_linear_on_3d_input_keeps_weight_layout():
    model = Linear3d().eval()
    x = torch.randn(2, 3, 8, generator=torch.Generator().manual_seed(0))
    module = tb.convert(model, (x,), to="torch", validate=False)
    assert compare_structure(model, module) == []
    module.load_state_dict(model.state_dict(), strict=True)
    assert_close(run_emitted(module, [x.numpy()]), _torch_eager(model, x), 1e-5, 1e-6, "state_dict reloaded")


# ---------------------------------------------------------------- Keras weight layouts
def _keras_views(conv: bool = True):
    """Layers whose kernels TensorFlow reads through views: LayerNormalization's gamma and
    beta reshaped to broadcast, attention kernels reshaped by einsum, and (``conv``)
    Conv1D's kernel expanded to a Conv2D kernel."""
    keras.utils.set_random_seed(0)
    x = inp = keras.Input((10, 4))
    x = keras.layers.Conv1D(8, 3, padding="same", name="conv")(x) if conv else keras.layers.Dense(8)(x)
    x = keras.layers.LayerNormalization(name="norm")(x)
    x = x + keras.layers.MultiHeadAttention(num_heads=2, key_dim=4, name="mha")(x, x)
    return keras.Model(inp, keras.layers.Dense(3, name="out")(x))


@pytest.mark.parametrize("to", TARGETS)
def test_tensorflow_front_end_keeps_variable_shapes(to):
    """``keep_weight_layout`` (as a migration asks): every variable is held in the shape the
    Keras model holds it, its other layouts computed by ops. Lowered and emitted without
    the pass pipeline, and (TensorFlow) without convolutions, whose channels-last rewrite
    folds layouts into the kernels: test_keras_views_keep_their_shapes is the whole route."""
    from tensorbridge.converters.tensorflow.to_ir import to_ir
    from tensorbridge.migrate import emit
    from tests.converters.tensorflow_harness import rand, tf_eager

    model = _keras_views(conv=to == "torch")
    x = rand(2, 10, 4)
    module = emit(to_ir(model, keep_weight_layout=True), to, consume=True)
    assert compare_structure(model, module) == []
    assert_close(run_emitted(module, [x]), tf_eager(model, [x]), 1e-4, 1e-5, f"emitted {to}")


@pytest.mark.parametrize("to", TARGETS)
def test_keras_views_keep_their_shapes(to):
    model = _keras_views()
    assert compare_structure(model, tb.convert(model, None, to=to, validate=False)) == []


# ---------------------------------------------------------------- transformers
def _transformers():
    return pytest.importorskip("transformers")


class Logits(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.m = model

    def forward(self, *ids: torch.Tensor) -> torch.Tensor:
        if len(ids) == 1:
            return self.m(ids[0]).logits
        return self.m(input_ids=ids[0], decoder_input_ids=ids[1]).logits


@pytest.mark.parametrize("to", TARGETS)
def test_gpt2_tied_head_is_one_parameter(to):
    transformers = _transformers()
    torch.manual_seed(0)
    config = transformers.GPT2Config(n_layer=2, n_embd=32, n_head=2, vocab_size=100, n_positions=64)
    model = Logits(transformers.GPT2LMHeadModel(config)).eval()
    assert model.m.lm_head.weight is model.m.transformer.wte.weight  # tie_word_embeddings default
    x = _ids(2, 8, 100)
    module = tb.convert(model, (x,), to=to)
    assert compare_structure(model, module) == []
    wte, head = "m.transformer.wte.weight", "m.lm_head.weight"
    if to == "torch":
        assert module.get_parameter(wte) is module.get_parameter(head)
        assert len(list(module.parameters())) == len(list(model.parameters()))
    else:
        assert module.weights[wte] is module.weight_aliases[head]
        assert len(module.trainable_variables) == len(list(model.parameters()))
    assert_close(run_emitted(module, [x.numpy()]), _torch_eager(model, x), 1e-4, 1e-5, f"GPT-2 -> {to}")


@pytest.mark.slow
def test_t5_shared_embedding_is_one_variable():
    """T5 reads one embedding as shared, encoder and decoder embed_tokens and lm_head."""
    transformers = _transformers()
    torch.manual_seed(0)
    config = transformers.T5Config(vocab_size=100, d_model=32, d_kv=8, d_ff=64, num_layers=1,
                                   num_decoder_layers=1, num_heads=4, tie_word_embeddings=True)
    model = Logits(transformers.T5ForConditionalGeneration(config)).eval()
    ids, dec = _ids(1, 6, 100), _ids(1, 4, 100)
    module = tb.convert(model, (ids, dec), to="tensorflow")
    assert compare_structure(model, module) == []
    shared = module.weights["m.shared.weight"]
    assert all(module.weight_aliases[n] is shared for n in (
        "m.encoder.embed_tokens.weight", "m.decoder.embed_tokens.weight", "m.lm_head.weight"))
    assert_close(run_emitted(module, [ids.numpy(), dec.numpy()]), _torch_eager(model, ids, dec), 1e-4, 1e-5,
                 "T5 -> tensorflow")


# ---------------------------------------------------------------- TensorFlow sources
def _keras_frozen_shared():
    keras.utils.set_random_seed(0)
    inp = keras.Input((6,), name="x")
    frozen = keras.layers.Dense(8, name="frozen")
    h = frozen(inp)
    frozen.trainable = False
    h = keras.layers.BatchNormalization(name="bn")(h)
    shared = keras.layers.Dense(8, activation="tanh", name="shared")
    out = keras.layers.Dense(3, name="out")(shared(shared(h)))  # one layer, called twice
    return keras.Model(inp, out)


@pytest.mark.parametrize("to", TARGETS)
def test_keras_frozen_layer_and_shared_dense(to):
    from tests.converters.tensorflow_harness import rand, tf_eager

    model = _keras_frozen_shared()
    x = rand(2, 6)
    module = tb.convert(model, None, to=to)
    assert compare_structure(model, module) == []
    assert_close(run_emitted(module, [x]), tf_eager(model, [x]), 1e-4, 1e-5, f"emitted {to}")
    if to == "torch":
        params = dict(module.named_parameters(remove_duplicate=False))
        assert sorted(params) == ["bn.beta", "bn.gamma", "frozen.bias", "frozen.kernel", "out.bias",
                                  "out.kernel", "shared.bias", "shared.kernel"]
        assert sorted(n for n, p in params.items() if not p.requires_grad) == ["frozen.bias", "frozen.kernel"]
        assert set(dict(module.named_buffers())) == {"bn.moving_mean", "bn.moving_variance"}
        module(torch.from_numpy(x)).square().mean().backward()
        assert module.shared.kernel.grad is not None and module.frozen.kernel.grad is None
    else:
        assert {k: v.trainable for k, v in module.weights.items()} == {
            w.path: w.trainable for w in model.weights}


@pytest.mark.parametrize("to", TARGETS)
def test_keras_weights_the_function_never_reads_are_kept(to):
    """Keras' Normalization computes with constants snapshotted from its adapted mean and
    variance variables: the graph never reads them, the migrated model still holds them."""
    keras.utils.set_random_seed(0)
    norm = keras.layers.Normalization(name="norm")
    norm.adapt(np.random.default_rng(0).normal(2.0, 3.0, size=(64, 5)).astype(np.float32))
    inp = keras.Input((5,))
    model = keras.Model(inp, keras.layers.Dense(2, name="out")(norm(inp)))
    x = np.random.default_rng(1).normal(size=(2, 5)).astype(np.float32)
    module = tb.convert(model, None, to=to)
    assert compare_structure(model, module) == []
    if to == "torch":
        assert {"norm.mean", "norm.variance", "norm.count"} <= set(dict(module.named_buffers()))
        np.testing.assert_array_equal(module.norm.mean.numpy(), np.asarray(norm.mean).reshape(-1))
    from tests.converters.tensorflow_harness import tf_eager

    assert_close(run_emitted(module, [x]), tf_eager(model, [x]), 1e-5, 1e-6, f"emitted {to}")


def _two_reads():
    w = tf.Variable(np.random.default_rng(0).normal(size=(4, 4)).astype(np.float32), name="w")
    k = tf.Variable(np.random.default_rng(1).normal(size=(3, 3, 4, 4)).astype(np.float32), name="k")

    @tf.function(input_signature=[tf.TensorSpec([None, 8, 8, 4], tf.float32)])
    def two_reads(x):
        y = tf.nn.conv2d(x, k, 1, "SAME") + tf.reduce_mean(k)  # k as a conv kernel and as it is
        z = tf.reduce_mean(y, axis=[1, 2])
        # w read plainly, transposed (transpose_b) and reshaped
        return tf.matmul(z, w) + tf.matmul(z, w, transpose_b=True) + tf.reshape(w, [16])[:4]

    return two_reads, (w, k)


@pytest.mark.parametrize("to", TARGETS)
def test_tf_function_variable_read_twice_is_one_parameter(to):
    from tests.converters.tensorflow_harness import rand

    fn, variables = _two_reads()
    x = rand(2, 8, 8, 4)
    module = tb.convert(fn, None, to=to)
    assert compare_structure(fn, module) == []
    if to == "torch":
        assert sorted(n for n, _ in module.named_parameters(remove_duplicate=False)) == ["k", "w"]
        assert module.w.shape == (4, 4) and module.k.shape == (3, 3, 4, 4)
    else:
        assert sorted(v.name for v in module.trainable_variables) == ["k:0", "w:0"]
    assert_close(run_emitted(module, [x]), [fn(tf.constant(x)).numpy()], 1e-4, 1e-5, f"emitted {to}")


@pytest.mark.parametrize("to", TARGETS)
def test_tf_variables_of_one_name_stay_apart(to):
    """TensorFlow lets several variables be called "Variable": each is its own parameter."""
    a = tf.Variable(np.eye(3, dtype=np.float32) * 2)
    b = tf.Variable(np.ones((3, 3), np.float32))
    c = tf.Variable(np.arange(3, dtype=np.float32), trainable=False)

    @tf.function(input_signature=[tf.TensorSpec([None, 3], tf.float32)])
    def fn(x):
        return tf.matmul(x, a) + tf.matmul(x, b) + c

    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    module = tb.convert(fn, None, to=to)
    assert compare_structure(fn, module) == []
    names = [w.names for w in trainable_structure(fn).weights]
    assert names == [("Variable",), ("Variable_1",), ("Variable_2",)]
    assert_close(run_emitted(module, [x]), [fn(tf.constant(x)).numpy()], 1e-5, 1e-6, f"emitted {to}")


# ---------------------------------------------------------------- ONNX sources
class TwinNorms(nn.Module):
    """Two LayerNorms and two Linears whose initial weights are equal."""

    def __init__(self) -> None:
        super().__init__()
        self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 4)
        for p in (self.a.weight, self.b.weight):
            nn.init.constant_(p, 0.1)
        self.ln1, self.ln2 = nn.LayerNorm(4), nn.LayerNorm(4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ln2(self.b(self.ln1(self.a(x))))


@pytest.mark.parametrize("to", TARGETS)
def test_equal_onnx_initializers_stay_separate_parameters(tmp_path, to):
    model = TwinNorms().eval()
    x = torch.randn(2, 4, generator=torch.Generator().manual_seed(0))
    path = tb.save(tb.convert(model, (x,), to="onnx"), tmp_path / "twins.onnx")
    module = tb.convert(str(path), (x.numpy(),), to=to)
    assert compare_structure(str(path), module) == []
    assert compare_structure(model, module) == []  # ONNX initializers keep the state_dict names
    n = len(list(module.parameters())) if to == "torch" else len(module.trainable_variables)
    assert n == 8
    assert_close(run_emitted(module, [x.numpy()]), _torch_eager(model, x), 1e-5, 1e-6, f"emitted {to}")


# ---------------------------------------------------------------- compare_structure itself
class Untied(nn.Module):
    """TiedFrozen rebuilt wrongly: the tie broken, the frozen Linear trainable, a buffer
    missing, a parameter of another shape and one too many."""

    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.head = nn.Linear(4, 10, bias=False)
        self.frozen = nn.Linear(4, 4)
        self.scale = nn.Parameter(torch.ones(5))
        self.extra = nn.Parameter(torch.ones(2))


def test_compare_structure_names_each_difference():
    problems = compare_structure(TiedFrozen(), Untied())
    assert problems == [
        "emb.weight, head.weight: one tied tensor in the source, 2 separate tensors in the emitted model",
        "frozen.weight: frozen parameter (not trainable) in the source, trainable parameter in the emitted model",
        "frozen.bias: frozen parameter (not trainable) in the source, trainable parameter in the emitted model",
        "scale: shape (4,) in the source, (5,) in the emitted model",
        "scale: buffer in the source, trainable parameter in the emitted model",
        "shift: buffer (not persistent) of shape 4 in the source, missing from the emitted model",
        "extra: trainable parameter of shape 2 in the emitted model, not in the source",
    ]
    assert compare_structure(TiedFrozen(), TiedFrozen()) == []


def test_compare_structure_sees_merged_tensors_and_persistence():
    class Merged(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = nn.Linear(3, 3)
            self.b = nn.Linear(3, 3)
            self.b.weight = self.a.weight  # the source has two weights, this one tensor
            self.register_buffer("stat", torch.zeros(3), persistent=False)

    class Separate(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(3, 3), nn.Linear(3, 3)
            self.register_buffer("stat", torch.zeros(3))

    assert compare_structure(Separate(), Merged()) == [
        "stat: a persistent (in the state_dict) buffer in the source, not persistent in the emitted model",
        "a.weight, b.weight: separate tensors in the source, one tensor (a.weight) in the emitted model",
    ]


def test_compare_structure_maps_names_to_the_emitted_framework():
    """Keras paths become module paths (``/`` -> ``.``, an nn.Module attribute name gets
    ``_``); a variable TensorFlow only calls non-trainable agrees with a frozen parameter or
    a buffer, not with a trainable one; across frameworks a weight may be held in the
    target's layout (the same dims in another order)."""
    source = Structure("tensorflow", (
        Weight(("conv/kernel",), (3, 3, 2, 4), "parameter"),
        Weight(("block/training",), (2,), "non_trainable"),
        Weight(("bn/moving_mean",), (4,), "non_trainable"),
    ))
    emitted = nn.Module()
    emitted.conv, emitted.block, emitted.bn = nn.Module(), nn.Module(), nn.Module()
    emitted.conv.kernel = nn.Parameter(torch.zeros(4, 2, 3, 3))
    emitted.block.training_ = nn.Parameter(torch.zeros(2), requires_grad=False)
    emitted.bn.register_buffer("moving_mean", torch.zeros(4))
    assert compare_structure(source, emitted) == []
    emitted.bn.moving_mean = nn.Parameter(torch.zeros(4))
    assert compare_structure(source, emitted) == [
        "bn/moving_mean (emitted as bn.moving_mean): non-trainable variable in the source, "
        "trainable parameter in the emitted model"]
    same = Structure("torch", (Weight(("conv.kernel",), (3, 3, 2, 4), "parameter"),))
    transposed = nn.Module()
    transposed.conv = nn.Module()
    transposed.conv.kernel = nn.Parameter(torch.zeros(4, 2, 3, 3))
    assert compare_structure(same, transposed) == [
        "conv.kernel: shape (3, 3, 2, 4) in the source, (4, 2, 3, 3) in the emitted model"]
    assert compare_structure(same, transposed, allow_relayout=True) == []


def test_structure_of_a_graph_is_its_weights():
    g = tb.load(TiedFrozen().eval(), (_ids(),), keep_weight_layout=True)
    structure = trainable_structure(g)
    assert [(w.names, w.kind) for w in structure.weights if w.names[0] == "emb.weight"] == [
        (("emb.weight", "head.weight"), "parameter")]
    assert compare_structure(TiedFrozen(), g) == []


class _PatchEmbed(torch.nn.Module):
    """A ViT stem: conv patches -> flatten(2).transpose(1, 2) + positions -> LayerNorm.
    The transpose pass pushes the Transpose below the Add of ``pos_embed`` (which it used
    to re-lay out to (C, N)); a migration must hold ``pos_embed`` in its own shape."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Conv2d(3, 8, 4, stride=4)
        self.pos_embed = torch.nn.Parameter(torch.randn(1, 4, 8))
        self.norm = torch.nn.LayerNorm(8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x).flatten(2).transpose(1, 2) + self.pos_embed)


@pytest.mark.parametrize("to", ["torch", "tensorflow"])
def test_pushed_transposes_keep_weight_shapes(to):
    torch.manual_seed(0)
    model = _PatchEmbed().eval()
    x = torch.randn(2, 3, 8, 8)
    assert compare_structure(model, tb.convert(model, (x,), to=to)) == []
