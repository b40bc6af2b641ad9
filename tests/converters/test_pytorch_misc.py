"""Less common ATen ops, checked against eager (runtime and onnxruntime)."""

from __future__ import annotations

import pytest
import torch

from tests.converters.pytorch_harness import Fn, check_module

U = torch.rand(3, 4) * 1.6 - 0.8  # inside (-1, 1) for the inverse trig functions


@pytest.mark.parametrize("name,fn,inputs", [
    ("acos", torch.acos, (U,)), ("asin", torch.asin, (U,)), ("atan", torch.atan, (U * 5,)),
    ("atanh", torch.atanh, (U,)), ("acosh", torch.acosh, (U.abs() + 1.5,)), ("asinh", torch.asinh, (U * 5,)),
    ("cosh", torch.cosh, (U * 3,)), ("sinh", torch.sinh, (U * 3,)),
    ("int_promotes", torch.sinh, (torch.arange(-3, 3),)),
    ("expm1", torch.expm1, (torch.tensor([1e-3, -2.0, 0.5, 3.0]),)),
    ("log10", torch.log10, (torch.tensor([0.01, 1.0, 7.0, 1000.0]),)),
    ("atan2_all_quadrants", torch.atan2, (torch.tensor([1.0, 1.0, -1.0, -1.0, 0.0, 2.0, -2.0, 0.0]),
                                          torch.tensor([1.0, -1.0, -1.0, 1.0, -1.0, 0.0, 0.0, 0.0]))),
    ("nonzero", torch.nonzero, (torch.tensor([[0.0, 1.0, 0.0], [2.0, 0.0, 3.0]]),)),
    ("grid_sample_bilinear_zeros", lambda x, g: torch.nn.functional.grid_sample(x, g, align_corners=False),
     (torch.randn(1, 2, 5, 6), torch.rand(1, 3, 4, 2) * 2.4 - 1.2)),
    ("grid_sample_nearest_border", lambda x, g: torch.nn.functional.grid_sample(
        x, g, mode="nearest", padding_mode="border", align_corners=True),
     (torch.randn(1, 2, 5, 6), torch.rand(1, 3, 4, 2) * 2.4 - 1.2)),
    ("copy_broadcast_cast", lambda a, b: a.copy_(b) * 1, (torch.zeros(2, 3), torch.arange(3))),
])
def test_misc_rows(name, fn, inputs):
    check_module(Fn(fn), inputs)
