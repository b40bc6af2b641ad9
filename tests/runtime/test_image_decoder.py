"""ImageDecoder against onnx's frozen reference data (decoded by the onnx maintainers'
Pillow), which does not depend on the Pillow installed here."""

from __future__ import annotations

import numpy as np
import pytest
from onnx.backend.test.case.node import _image_decoder_data as frozen

from tensorbridge.ir import DType, Graph
from tensorbridge.runtime.session import Session

CASES = sorted(n for n in dir(frozen) if n.startswith("image_decoder_decode_"))


@pytest.mark.parametrize("name", CASES)
def test_decodes_like_onnx_reference_data(name):
    data = getattr(frozen, name)
    fmt = "BGR" if "bgr" in name else "Grayscale" if "grayscale" in name else "RGB"
    g = Graph()
    x = g.add_input("x", DType.UINT8, (None,))
    g.set_outputs(g.add_op("ImageDecoder", [x], {"pixel_format": fmt}))
    (y,) = Session(g).run([np.asarray(data.data, np.uint8)])
    np.testing.assert_array_equal(y, np.asarray(data.output))
    assert y.dtype == np.uint8


def test_undecodable_bytes_give_empty_image_and_warning():
    g = Graph()
    x = g.add_input("x", DType.UINT8, (None,))
    g.set_outputs(g.add_op("ImageDecoder", [x], {"pixel_format": "RGB"}))
    with pytest.warns(RuntimeWarning):
        (y,) = Session(g).run([np.frombuffer(b"not an image", np.uint8)])
    assert y.shape == (0, 0, 3)
