"""The runtime agrees with onnxruntime on real exported models (the benchmark's ResNet-18
and 4-layer BERT, and the bundled fixtures) within 1e-5 relative to the output's scale."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

import tensorbridge as tb

pytest.importorskip("onnxruntime")

from tensorbridge.ort import ort_run as _ort_run  # noqa: E402


def _agree(path, inputs):
    ours = tb.run(path, *inputs)
    theirs = _ort_run(path, inputs)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape and a.dtype == b.dtype
        scale = float(np.max(np.abs(b))) or 1.0
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * scale)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet18", "bert4"])
def test_benchmark_models_match_onnxruntime(name):
    from bench.models import MODELS

    path, inputs = MODELS[name]()
    onnx.checker.check_model(str(path))
    _agree(path, inputs)


@pytest.mark.parametrize("name", ["tiny_cnn", "tiny_encoder", "control_flow"])
def test_fixtures_match_onnxruntime(fixtures_dir, name):
    with np.load(fixtures_dir / f"{name}.npz") as d:
        inputs = [d[k] for k in sorted(d.files) if k.startswith("input_")]
    _agree(fixtures_dir / f"{name}.onnx", inputs)
