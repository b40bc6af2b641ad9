"""The sweep's model builders and its independent check: the transformers small-config rules
(constructor rebuild, attribute maps, per-layer lists, model classes of sub-configs, inputs
named by forward's signature or by its error), the keras constructors and their seeding, and
the per-input noise floor that each input's error is held to."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from tensorbridge.ir.errors import TensorbridgeError  # noqa: E402
from tensorbridge.sweep_checks import judged, noise_floors  # noqa: E402
from tensorbridge.sweep_families import declare_torchvision_ops  # noqa: E402


@pytest.fixture(scope="module")
def st():
    declare_torchvision_ops()
    from tensorbridge import sweep_transformers

    return sweep_transformers


def test_per_layer_lists_keep_every_kind(st):
    assert st._kinds_cover(["sliding"] * 5 + ["full"], 4) == ["sliding", "full", "sliding", "full"]
    assert st._small_depth({"layer_types": ["a"] * 5 + ["b"]}, 6) == 4
    assert st._small_depth({"layer_types": ["a"] * 6}, 6) == 2


def test_config_is_rebuilt_small_under_its_stored_names_and_derived_widths_follow(st):
    gpt2 = st.small_config("gpt2", st.LEVELS[0])
    assert vars(gpt2)["n_embd"] == 32 and vars(gpt2)["n_layer"] == 2 and gpt2.vocab_size == st.VOCAB
    mla = st.small_config("minicpm3", st.LEVELS[0])  # latent attention: the query width is derived
    assert mla.qk_head_dim == mla.qk_nope_head_dim + mla.qk_rope_head_dim == 16
    assert mla.num_key_value_heads == mla.num_attention_heads  # the default has no grouped-query attention


def test_sub_config_types_find_their_model_class(st):
    cfg = st.small_config("owlvit_vision_model", st.LEVELS[0])
    assert st.model_class(cfg).__name__ == "OwlViTVisionModel"


def test_inputs_an_error_names_are_added_and_the_wrapper_calls_the_model_with_them(st):
    wrapped, got = st.build_at("blip", st.LEVELS[0])  # "You have to specify pixel_values"
    assert list(got.graph) == ["input_ids", "pixel_values"]
    args = tuple(got.graph.values())
    with torch.no_grad():
        direct = wrapped.model(input_ids=args[0], pixel_values=args[1]).to_tuple()[0]
        assert torch.equal(wrapped(*args), direct)


def test_a_model_that_takes_embeddings_gets_them_at_its_hidden_width(st):
    wrapped, got = st.build_at("nemotron3_5_transcribe_word_timestamp", st.LEVELS[0])  # forward needs inputs_embeds
    (embeds,) = [v for k, v in got.graph.items() if k == "inputs_embeds"]
    assert embeds.shape == (1, st.SEQ_LEN, wrapped.model.config.hidden_size) and embeds.dtype == torch.float32
    with torch.no_grad():
        assert torch.isfinite(wrapped(*got.graph.values())).all()


def test_required_structural_arguments_are_constants_not_graph_inputs(st):
    wrapped, got = st.build_at("lxmert", st.LEVELS[0])  # "`visual_feats` cannot be `None`"
    assert {"visual_feats", "visual_pos"} <= set(got.graph)
    if _has("cosmos3_edge_vision"):  # forward(pixel_values, grid_thw): a patch sequence and its grid
        wrapped, got = st.build_at("cosmos3_edge_vision", st.LEVELS[0])
        assert "grid_thw" in got.constants and list(got.graph) == ["pixel_values"]
        assert got.graph["pixel_values"].shape[0] == int(got.constants["grid_thw"].prod())


def _has(model_type: str) -> bool:
    from transformers import CONFIG_MAPPING

    return model_type in CONFIG_MAPPING


def test_a_missing_optional_package_is_named_not_retried(st):
    if not _has("layoutlmv2"):
        pytest.skip("no layoutlmv2 in this transformers")
    pytest.importorskip("transformers")
    try:
        import detectron2  # noqa: F401
    except ImportError:
        with pytest.raises(TensorbridgeError, match="needs an optional package.*detectron2"):
            st.build("layoutlmv2")
    else:
        pytest.skip("detectron2 is installed here")


def test_keras_lists_every_application_and_builds_the_same_model_twice():
    pytest.importorskip("keras")
    from tensorbridge.sweep_families import keras_architectures, keras_build

    names = keras_architectures()
    assert {"MobileNetV3Small", "MobileNetV3Large", "ResNet50", "EfficientNetB0"} <= set(names)
    a, b = keras_build("MobileNetV3Small"), keras_build("MobileNetV3Small")
    assert all(np.array_equal(x, y) for x, y in zip(a.model.get_weights(), b.model.get_weights()))


def test_keras_batchnorm_statistics_are_those_of_their_inputs_in_inference_mode():
    """Every BatchNormalization's moving statistics are the mean and variance of what it
    receives in an inference pass over the calibration batch, layers before it calibrated
    already. A training-mode pass gets this wrong after a Dropout (EfficientNet's
    drop-connect): the second norm's statistics then describe dropped-out inputs."""
    keras = pytest.importorskip("keras")
    from tensorbridge.sweep_families import _keras_ready

    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 3))
    h = keras.layers.Conv2D(8, 3, padding="same")(inp)
    h = keras.layers.BatchNormalization()(h)
    h = keras.layers.Dropout(0.5)(h)
    h = keras.layers.Conv2D(8, 3, padding="same")(h)
    out = keras.layers.BatchNormalization()(h)
    m = keras.Model(inp, out)
    _keras_ready(m, (8, 8, 3))
    batch = max(16, 256 * 32 * 32 // 64)
    xs = np.random.default_rng(9).uniform(0, 1, (batch, 8, 8, 3)).astype(np.float32)
    norms = [la for la in m.layers if isinstance(la, keras.layers.BatchNormalization)]
    for la in norms:
        seen = np.asarray(keras.Model(inp, la.input)(xs, training=False), dtype=np.float64)
        np.testing.assert_allclose(np.asarray(la.moving_mean), seen.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-5)
        np.testing.assert_allclose(np.asarray(la.moving_variance), seen.var(axis=(0, 1, 2)), rtol=1e-4)
    y = np.asarray(m(xs, training=False))
    np.testing.assert_allclose(y.std(axis=(0, 1, 2)), np.asarray(norms[-1].gamma), rtol=1e-2)


def test_torch_batchnorm_statistics_are_those_of_their_inputs_in_eval_mode():
    """torch_ready's calibration, checked the same way: each BatchNorm's running statistics
    are the mean and biased variance of its eval-mode input on the calibration batch. A
    training-mode pass gets the second norm wrong (the Dropout before it is active)."""
    from tensorbridge.sweep_families import image, torch_ready

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8),
                              torch.nn.Dropout(0.5), torch.nn.Conv2d(8, 8, 3, padding=1),
                              torch.nn.BatchNorm2d(8))
    cal = image(8, 32, 9)
    torch_ready(net, cal)
    with torch.no_grad():
        before_second = net[3](net[2](net[1](net[0](cal)))).double()
        first_in = net[0](cal).double()
    for bn, seen in ((net[1], first_in), (net[4], before_second)):
        np.testing.assert_allclose(bn.running_mean.numpy(), seen.mean((0, 2, 3)).numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(bn.running_var.numpy(), seen.var((0, 2, 3), correction=0).numpy(), rtol=1e-5)
    assert not net.training


class _Cancelling(torch.nn.Module):
    """(x + 1000) - 1000: float32 keeps about 6e-5 of x in absolute terms, so its relative
    error depends on the scale of the input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x + 1000.0) - 1000.0


def test_noise_floor_is_measured_on_each_input_and_each_error_held_to_its_own():
    rng = np.random.default_rng(0)
    big = rng.uniform(0.5, 1.0, (64,)).astype(np.float32)
    small = (big * 1e-3).astype(np.float32)
    sets = [[big], [small]]
    model = _Cancelling().eval()
    expected = [[model(torch.from_numpy(s[0])).numpy()] for s in sets]
    floors = noise_floors(model, "torch", sets, expected, None)
    for s, e, floor in zip(sets, expected, floors):  # independently: float32 numpy against the exact x
        want = np.abs(e[0].astype(np.float64) - s[0].astype(np.float64)).max() / np.abs(s[0].astype(np.float64)).max()
        assert floor == pytest.approx(want, rel=1e-6)
    assert floors[1] > 100 * floors[0]
    tolerances = [10 * f for f in floors]

    def shifted(on_big: float, on_small: float):
        def run(feeds):
            x = feeds[0]
            scale = on_big if x.max() > 0.1 else on_small
            return [model(torch.from_numpy(x)).numpy() + scale * float(np.abs(x).max())]
        return run

    # 5x the second input's own noise on the second input: ok (the example's tolerance would fail it)
    v = judged(shifted(0.0, 5 * floors[1]), sets, expected, tolerances)
    assert v.ok and v.input_set == 1 and v.err > tolerances[0]
    # 20x the example's noise on the example: WRONG, reported on the example input
    v = judged(shifted(20 * floors[0], 0.0), sets, expected, tolerances)
    assert not v.ok and v.input_set == 0 and v.tolerance == tolerances[0]


class _Threshold(torch.nn.Module):
    """x > c for a c the input holds exactly: float32 and float64 agree bit for bit, one ulp
    of input flips the answer."""

    def __init__(self, c: float) -> None:
        super().__init__()
        self.c = c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x >= self.c).to(x.dtype) * x


def test_noise_floor_also_counts_how_far_one_ulp_of_input_moves_the_source():
    from tensorbridge.sweep_checks import error, ulp_nudged

    x = np.linspace(0.5, 1.0, 257, dtype=np.float32)
    model = _Threshold(float(x[100])).eval()
    want = [model(torch.from_numpy(x)).numpy()]
    nudged = ulp_nudged([x])[0]
    independent = error([np.where(nudged >= x[100], nudged, 0).astype(np.float32)], want)[0]
    assert independent > 0.1  # x[100] fell below c (or another element crossed it)
    assert noise_floors(model, "torch", [[x]], [want], None)[0] == pytest.approx(independent)
