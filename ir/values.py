"""Constant payloads that are not plain dense arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SparseTensor:
    """COO sparse tensor as ONNX stores it: ``indices`` is [NNZ] (linearised) or [NNZ, rank]."""

    values: np.ndarray
    indices: np.ndarray
    dims: tuple[int, ...]

    def to_dense(self) -> np.ndarray:
        out = np.zeros(self.dims, dtype=self.values.dtype)
        if self.indices.ndim == 1:
            out.reshape(-1)[self.indices] = self.values
        else:
            out[tuple(self.indices.T)] = self.values
        return out
