"""Records that cross layers: what a framework's eager run saw, as plain numpy data, produced
by the front-ends (``converters/<fw>/eager.py``) and consumed by the parity comparison
(``runtime/parity/divergence.py``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class LayerRecord:
    """One source layer's call, as the framework saw it."""

    module: str
    inputs: list[np.ndarray]
    outputs: list[np.ndarray]
    # The source computed the layer channels-last (Keras: N, spatial..., C); the IR may hold
    # the same value channels-first (the TF front-end runs NHWC layers as ONNX's NCHW ops).
    channels_last: bool = False
