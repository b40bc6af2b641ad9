"""PyTorch front-end: core arithmetic, weights, names, provenance, dynamic shapes, errors."""

from __future__ import annotations

import pytest
import torch

from tests.converters.pytorch_harness import Fn, check_module

R = torch.randn


@pytest.mark.parametrize("name,fn,inputs", [
    ("add", lambda a, b: a + b, (R(2, 3), R(2, 3))),
    ("add_alpha_broadcast", lambda a, b: torch.add(a, b, alpha=2.5), (R(2, 3), R(3))),
    ("sub_scalar", lambda a: a - 1.5, (R(4),)),
    ("rsub", lambda a: 2 - a, (R(4),)),
    ("mul_int_float_promotion", lambda a, b: a * b, (torch.arange(6).reshape(2, 3), R(2, 3))),
    ("div_int_true_division", lambda a, b: a / b, (torch.arange(1, 7), torch.arange(6, 0, -1))),
])
def test_core_rows(name, fn, inputs):
    check_module(Fn(fn), inputs)
