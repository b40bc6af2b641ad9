"""Real architectures written by others migrated both ways: transformers models (encoder,
decoder with rotary embeddings and grouped-query attention, vision transformer, CNNs,
speech encoder) PyTorch -> PyTorch and PyTorch -> TensorFlow, and keras.applications
Keras -> PyTorch and Keras -> TensorFlow. Each emitted model matches the source framework
within 1e-4 relative at two batch sizes, keeps the trainable parameter count, and takes a
training step."""

from __future__ import annotations

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"  # before TensorFlow is first imported

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from tests.converters.migrate_harness import check_migration, trainable_count  # noqa: E402
from tests.converters.tensorflow_harness import rand, tf_eager  # noqa: E402
from tests.converters.test_pytorch_models import (  # noqa: E402
    TEXT_MODELS,
    VISION_MODELS,
    HFWrapper,
    _hf,
    _ids,
    _image,
)
from tests.converters.test_tensorflow_applications import APPS  # noqa: E402

pytest.importorskip("transformers")
pytestmark = pytest.mark.slow
TARGETS = ["torch", "tensorflow"]


def _wav2vec2() -> torch.nn.Module:
    return _hf("Wav2Vec2Model", "Wav2Vec2Config", hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
               intermediate_size=64, conv_dim=(16, 16), conv_stride=(5, 2), conv_kernel=(10, 3),
               num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4, do_stable_layer_norm=True)


TORCH_MODELS = {
    "bert": (lambda: HFWrapper(TEXT_MODELS["bert"]()), _ids),
    "gpt2": (lambda: HFWrapper(TEXT_MODELS["gpt2"]()), _ids),
    "llama_gqa_rope": (lambda: HFWrapper(TEXT_MODELS["llama_gqa_rope"]()), _ids),
    "vit": (lambda: HFWrapper(VISION_MODELS["vit"]()), lambda b, _: _image(b)),
    "resnet": (lambda: HFWrapper(VISION_MODELS["resnet"](), "pooler_output"), lambda b, _: _image(b)),
    "convnext": (lambda: HFWrapper(VISION_MODELS["convnext"]()), lambda b, _: _image(b)),
    "wav2vec2": (lambda: HFWrapper(_wav2vec2()),
                 lambda b, _: torch.randn(b, 800, generator=torch.Generator().manual_seed(b))),
}


def _eager(model: torch.nn.Module, x: torch.Tensor) -> list[np.ndarray]:
    with torch.no_grad():
        return [model(x).numpy()]


@pytest.mark.parametrize("to", TARGETS)
@pytest.mark.parametrize("name", sorted(TORCH_MODELS))
def test_transformers_model_migrates(name, to):
    make, inputs = TORCH_MODELS[name]
    model = make().eval()
    x2, x3 = inputs(2, 12), inputs(3, 12)
    check_migration(model, (x2,), [x2.numpy()], _eager(model, x2), to, trainable=trainable_count(model),
                    other=([x3.numpy()], _eager(model, x3)), dynamic_shapes={"x": {0: "batch"}})


@pytest.mark.parametrize("to", TARGETS)
@pytest.mark.parametrize("name,make", APPS, ids=[a[0] for a in APPS])
def test_keras_application_migrates(name, make, to):
    model = make()
    shape = model.input_shape[1:]
    x2, x1 = rand(2, *shape, low=0, high=1), rand(1, *shape, low=0, high=1)
    check_migration(model, None, [x2], tf_eager(model, [x2]), to, trainable=trainable_count(model),
                    other=([x1], tf_eager(model, [x1])), atol=1e-4)
