"""The calibrated layer check allows each layer the source's own float32 rounding there:
timm's tf_efficientnetv2_b1 with random weights and BatchNorm statistics taken from one
training-mode pass over 4 images (how the sweep calibrated before it calibrated in order, in
eval mode) is chaotic: it rounds far more in PyTorch's CPU kernels than in the runtime. A
correct conversion must pass, and an SE gate whose error is the source's own noise is not a
divergence."""

from __future__ import annotations

import numpy as np
import pytest

import tensorbridge as tb

pytest.importorskip("timm")


@pytest.fixture(scope="module")
def effnet():
    import torch

    from tensorbridge.sweep_families import families, image

    built = families()["timm"].build("tf_efficientnetv2_b1")
    norms = [m for m in built.model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the one batch
    with torch.no_grad():
        built.model.train()(image(built.example_inputs[0].shape[-1], 4, 9))
    built.model.eval()
    return built


def test_source_noise_is_measured_per_layer(effnet):
    from tensorbridge.converters.pytorch.eager import bind_source, eager_stream, wide_layer_outputs
    from tensorbridge.reference import _relative_noise

    feeds = [x.numpy() for x in effnet.example_inputs]
    source = bind_source(effnet.model, effnet.example_inputs)
    wide = wide_layer_outputs(source, feeds)
    assert wide is not None and len(wide) > 100
    noise = {}
    eager_stream(source, feeds, lambda r: noise.setdefault(r.module, _relative_noise(r.outputs[0], wide[r.module]))
                 if r.module in wide and r.outputs else None)
    # the SE gates deep in the network carry far more of PyTorch's float32 rounding than
    # the 20x runtime-noise allowance (1e-3 at most) would cover
    assert noise["blocks.5.7.se.gate"] > 1e-4
    assert all(np.isfinite(v) and v >= 0 for v in noise.values())


def test_correct_conversion_passes_the_layer_check(effnet):
    report = tb.check(effnet.model, effnet.example_inputs, to="torch")
    assert report.ok, (report.verdict(), report.errors[:2], report.first_divergence)
    assert report.layers  # the layer check ran
