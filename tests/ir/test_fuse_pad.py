"""fuse_pad_into_conv: a zero spatial Pad read through the NHWC -> NCHW Transpose (Keras'
ZeroPadding2D before a Conv2D) folds into the Conv, and the Transpose's declared type
follows (it used to keep the padded dims, which onnx.checker's full check refuses:
"Inferred shape and existing shape differ in dimension 2: (96) vs (102)")."""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest

from tensorbridge.converters.onnx import from_ir
from tensorbridge.ir import DType, Graph, TensorType, verify
from tensorbridge.ir.passes.fuse_pad import fuse_pad_into_conv
from tensorbridge.runtime.session import Session
from tests.ir import pass_harness as H

RNG = np.random.default_rng(0)


def _typed_nhwc_stem(x_type: TensorType) -> Graph:
    """Pad (NHWC) -> Transpose -> Conv with every value typed, as the TF front-end declares."""
    g = Graph("stem", opset_imports={"": 20})
    x = g.add_input("x", x_type)
    pads = g.add_constant("pads", np.array([0, 3, 3, 0, 0, 3, 3, 0], np.int64))
    w = g.add_constant("conv.weight", RNG.standard_normal((4, 3, 7, 7)).astype(np.float32))
    [p] = g.add_op("Pad", [x, pads], output_types=[TensorType(DType.FLOAT, ("batch", 22, 22, 3))])
    [t] = g.add_op("Transpose", [p], {"perm": [0, 3, 1, 2]},
                   output_types=[TensorType(DType.FLOAT, ("batch", 3, 22, 22))])
    [y] = g.add_op("Conv", [t, w], {"strides": [2, 2]},
                   output_types=[TensorType(DType.FLOAT, ("batch", 4, 8, 8))])
    g.set_outputs([y])
    return g


@pytest.mark.parametrize("x_shape", [("batch", 16, 16, 3), None])
def test_folded_pad_leaves_no_stale_shape(x_shape):
    g = _typed_nhwc_stem(TensorType(DType.FLOAT, x_shape))
    feeds = {"x": RNG.standard_normal((2, 16, 16, 3)).astype(np.float32)}
    assert H.check(H.PassSpec("fuse_pad_into_conv", fuse_pad_into_conv), g, feeds) is None
    assert fuse_pad_into_conv(g).changed == 1
    verify(g)
    t = g.value("transpose")
    if x_shape is None:  # unknown rank: the shape is dropped, not left stale
        assert t.type == TensorType(DType.FLOAT)
    else:
        assert t.type == TensorType(DType.FLOAT, ("batch", 3, 16, 16))
        onnx.checker.check_model(from_ir(g), full_check=True)


def test_keras_zero_padding_conv_bn_stem_exports_a_checked_model():
    """ZeroPadding2D + Conv2D + BatchNormalization + ReLU (the ResNet50 / DenseNet121 stem)
    through tensorbridge.convert: the ONNX passes the full check and matches Keras."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    keras = pytest.importorskip("keras")
    import tensorbridge as tb

    layers = keras.layers
    inp = keras.Input((24, 24, 3))
    y = layers.ZeroPadding2D(3)(inp)
    y = layers.Conv2D(8, 7, strides=2, name="conv1_conv")(y)
    y = layers.BatchNormalization()(y)
    y = layers.ReLU()(y)
    y = layers.ZeroPadding2D(((0, 1), (0, 1)))(y)
    y = layers.Conv2D(4, 3, strides=2)(y)
    model = keras.Model(inp, y)
    x = RNG.standard_normal((1, 24, 24, 3)).astype(np.float32)
    m = tb.convert(model, (x,))
    onnx.checker.check_model(m, full_check=True)
    assert not any(n.op_type == "Pad" for n in m.graph.node)
    expected = model(x, training=False).numpy()
    np.testing.assert_allclose(Session(tb.load(m)).run([x])[0], expected, rtol=1e-4, atol=1e-5)
