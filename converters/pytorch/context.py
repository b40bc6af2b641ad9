"""What a translation function works with: the graph being built, the FX node being
translated (for provenance and its output's dtype/shape), and helpers that emit the right
ONNX form for the target opset."""

from __future__ import annotations

from typing import Any

import torch

from tensorbridge.converters.builder import GraphBuilder, TranslationError
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import UnsupportedOpError
from tensorbridge.ir.graph import Graph

__all__ = ["Ctx", "TranslationError", "to_dtype"]

TORCH_TO_DTYPE: dict[torch.dtype, DType] = {
    torch.float32: DType.FLOAT, torch.float64: DType.DOUBLE, torch.float16: DType.FLOAT16,
    torch.bfloat16: DType.BFLOAT16, torch.int64: DType.INT64, torch.int32: DType.INT32,
    torch.int16: DType.INT16, torch.int8: DType.INT8, torch.uint8: DType.UINT8, torch.bool: DType.BOOL,
    torch.complex64: DType.COMPLEX64, torch.complex128: DType.COMPLEX128,
    torch.uint16: DType.UINT16, torch.uint32: DType.UINT32, torch.uint64: DType.UINT64,
    torch.float8_e4m3fn: DType.FLOAT8E4M3FN, torch.float8_e5m2: DType.FLOAT8E5M2,
    torch.float8_e4m3fnuz: DType.FLOAT8E4M3FNUZ, torch.float8_e5m2fnuz: DType.FLOAT8E5M2FNUZ,
}


def to_dtype(dt: torch.dtype) -> DType:
    try:
        return TORCH_TO_DTYPE[dt]
    except KeyError:
        raise UnsupportedOpError("pytorch", f"dtype {dt}", hint="this dtype has no ONNX equivalent") from None


class Ctx(GraphBuilder):
    """Builder handle given to every ATen translation (``ctx`` first parameter)."""

    framework = "pytorch"

    def __init__(self, graph: Graph, opset: int, dim_names: dict[str, str], *,
                 fold_weights: bool = True) -> None:
        super().__init__(graph, opset)
        self.dim_names = dim_names
        # re-lay out weights in numpy at conversion time (else with graph ops on the parameters)
        self.fold_weights = fold_weights
        self._node: torch.fx.Node | None = None

    @property
    def node(self) -> torch.fx.Node | None:
        return self._node

    @node.setter
    def node(self, node: torch.fx.Node | None) -> None:
        self._node = node
        self.name_base = node.name if node is not None else ""

    def default_dtype(self) -> DType:
        return self.out_dtype()

    def meta(self, i: int = 0) -> Any:
        val = self.node.meta.get("val") if self.node is not None else None
        if isinstance(val, list | tuple):
            return val[i]
        return val

    def out_dtype(self, i: int = 0) -> DType:
        val = self.meta(i)
        return to_dtype(val.dtype) if isinstance(val, torch.Tensor) else DType.INT64

    def out_rank(self, i: int = 0) -> int:
        return len(self.meta(i).shape)

    def fail(self, what: str) -> TranslationError:
        """An error for an argument combination this translation cannot express."""
        target = str(self.node.target) if self.node is not None else "?"
        return TranslationError("pytorch", target, node=self.where, source=self.provenance.location,
                                hint=f"{what}; rewrite the model code or open an issue")
