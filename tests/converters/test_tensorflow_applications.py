"""keras.applications architectures (written by others), random-initialised (no
downloads), at small input sizes, end to end: full ONNX checker, built-in runtime and
onnxruntime against ``model(x, training=False)``, with a dynamic batch."""

from __future__ import annotations

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"  # before TensorFlow is first imported

import keras  # noqa: E402
import pytest  # noqa: E402

from tests.converters.tensorflow_harness import check_tf, rand  # noqa: E402

pytestmark = pytest.mark.slow
A = keras.applications

APPS = [
    # depthwise conv, squeeze-excite, hard-swish, Rescaling
    ("MobileNetV3Small", lambda: A.MobileNetV3Small(input_shape=(64, 64, 3), weights=None, include_top=False,
                                                    pooling="avg")),
    # squeeze-excite, swish, Normalization layer
    ("EfficientNetB0", lambda: A.EfficientNetB0(input_shape=(48, 48, 3), weights=None, include_top=False,
                                                pooling="avg")),
    # grouped 7x7 conv (Keras' jit-compiled helper: an inlined StatefulPartitionedCall), LayerNorm, GELU
    ("ConvNeXtTiny", lambda: A.ConvNeXtTiny(input_shape=(32, 32, 3), weights=None, include_top=False,
                                            pooling="avg")),
    # residual bottlenecks, BatchNormalization, ZeroPadding + strided max pooling
    ("ResNet50", lambda: A.ResNet50(input_shape=(32, 32, 3), weights=None, classes=10)),
    # dense concatenations, average-pool transitions
    ("DenseNet121", lambda: A.DenseNet121(input_shape=(32, 32, 3), weights=None, include_top=False,
                                          pooling="max")),
    # inverted residuals, depthwise conv, ReLU6
    ("MobileNetV2", lambda: A.MobileNetV2(input_shape=(32, 32, 3), weights=None, alpha=0.35, include_top=False,
                                          pooling="avg")),
]


@pytest.mark.parametrize("name,make", APPS, ids=[a[0] for a in APPS])
def test_application(name, make):
    model = make()
    shape = model.input_shape[1:]
    other = (rand(1, *shape, low=0, high=1),) if name == "MobileNetV3Small" else None  # keep it quick
    g = check_tf(model, (rand(2, *shape, low=0, high=1),), other_feeds=other, rtol=1e-4, atol=1e-4)
    assert g.inputs[0].shape[0] == "batch" and g.outputs[0].shape[0] == "batch"
    # trainable weights keep their paths (Normalization's statistics are baked-in constants)
    assert {w.path for w in model.trainable_weights} <= {v.source_name for v in g.initializers()}
