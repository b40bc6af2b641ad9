"""Mixture-of-experts grouped matmul (transformers::grouped_mm_fallback, which Qwen2-MoE and
Nemotron-H call): rows grouped by expert, an empty expert, rows past the last expert's end;
checked against eager on the runtime and onnxruntime, then to PyTorch and TensorFlow."""

from __future__ import annotations

import pytest
import torch

import tensorbridge as tb
from tests.converters.pytorch_harness import check_module

pytest.importorskip("transformers.integrations.moe")  # registers torch.ops.transformers.*


class Experts(torch.nn.Module):
    def __init__(self, experts: int = 4, k: int = 6, n: int = 5) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(experts, k, n, generator=torch.Generator().manual_seed(0)))

    def forward(self, x: torch.Tensor, offs: torch.Tensor) -> torch.Tensor:
        return torch.ops.transformers.grouped_mm_fallback(x, self.weight, offs)


@pytest.mark.parametrize("ends", [[3, 3, 7, 10], [2, 5, 6, 8], [0, 0, 0, 10]])
def test_grouped_mm_matches_eager(ends):
    x = torch.randn(10, 6, generator=torch.Generator().manual_seed(1))
    check_module(Experts(), (x, torch.tensor(ends, dtype=torch.int32)))


def test_grouped_mm_migrates():
    x = torch.randn(10, 6, generator=torch.Generator().manual_seed(2))
    offs = torch.tensor([3, 3, 7, 10], dtype=torch.int32)
    for to in ("torch", "tensorflow"):
        assert tb.check(Experts(), (x, offs), to=to).ok
