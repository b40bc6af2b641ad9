"""GatherElements with indices smaller than data outside the gather axis: the output has
the indices' shape (ONNX spec), compared with an explicit loop over the spec's formula."""

from __future__ import annotations

import itertools

import numpy as np

from tensorbridge.runtime.kernels.index import gather_elements


def test_indices_smaller_than_data_off_axis():
    rng = np.random.default_rng(0)
    data = rng.standard_normal((2, 3, 4)).astype(np.float32)
    indices = rng.integers(-4, 4, (2, 1, 2))
    out = gather_elements(data, indices, axis=2)
    assert out.shape == indices.shape
    for i, j, k in itertools.product(*map(range, indices.shape)):
        assert out[i, j, k] == data[i, j, indices[i, j, k] % 4]
