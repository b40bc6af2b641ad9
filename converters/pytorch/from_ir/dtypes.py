"""IR dtypes <-> torch dtypes, and numpy constants -> torch tensors."""

from __future__ import annotations

import numpy as np
import torch

from tensorbridge.converters.pytorch.context import TORCH_TO_DTYPE
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import UnsupportedOpError

DTYPE_TO_TORCH: dict[DType, torch.dtype] = {d: t for t, d in TORCH_TO_DTYPE.items()}


def torch_dtype(dtype: DType | int) -> torch.dtype:
    try:
        return DTYPE_TO_TORCH[DType(dtype)]
    except (KeyError, ValueError):
        raise UnsupportedOpError("PyTorch emitter", f"dtype {DType(dtype).name}",
                                 hint="PyTorch has no tensor type for it") from None


def to_torch(array: np.ndarray) -> torch.Tensor:
    """A torch tensor owning a copy of ``array`` (ml_dtypes bfloat16/float8 included)."""
    a = np.asarray(array)
    name = a.dtype.name
    if name == "bfloat16":
        return torch.from_numpy(a.view(np.int16).copy()).view(torch.bfloat16)
    if name in ("float8_e4m3fn", "float8_e5m2", "float8_e4m3fnuz", "float8_e5m2fnuz"):
        return torch.from_numpy(a.view(np.uint8).copy()).view(getattr(torch, name))
    return torch.from_numpy(np.array(a, copy=True, order="C"))
