"""PyTorch front-end: reductions (sum/mean/prod, extremes and arg-extremes, var/std, norms,
logsumexp, all/any, count_nonzero, topk/sort), checked against eager."""

from __future__ import annotations

import pytest
import torch

import tensorbridge.converters.pytorch.ops.ops_reduce  # noqa: F401  (registrations; until ops/__init__ lists them)
import tensorbridge.converters.pytorch.ops.ops_shape  # noqa: F401
from tests.converters.pytorch_harness import Fn, check_module

R = torch.randn
I64 = torch.long
BOOLS = torch.tensor([[True, False, True], [True, True, True], [False, False, False], [True, False, False]])


def perm(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Distinct values in scrambled order (no ties: arg-extremes and sorts are unambiguous)."""
    n = 1
    for s in shape:
        n *= s
    g = torch.Generator().manual_seed(n)
    return (torch.randperm(n, generator=g) - n // 2).to(dtype).reshape(shape)


@pytest.mark.parametrize("name,fn,inputs", [
    ("sum_all_and_dims", lambda x: (x.sum(), x.sum(-1), x.sum((0, -1), keepdim=True)), (R(2, 3, 4),)),
    ("histc_data_range", lambda x: torch.histc(x, bins=7), (R(5, 40),)),
    ("histc_fixed_range_drops_outside", lambda x: torch.histc(x, bins=4, min=-1.0, max=1.0), (R(200),)),
    ("histc_max_in_last_bin", lambda x: torch.histc(x, bins=4, min=0.0, max=4.0),
     (torch.tensor([0.0, 1.0, 2.5, 3.999, 4.0, 4.5, -0.1]),)),
    ("bucketize_left_right_and_ties", lambda x, b: (torch.bucketize(x, b), torch.bucketize(x, b, right=True),
                                                   torch.bucketize(x, b, out_int32=True)),
     (torch.tensor([[-2.0, 0.0, 0.5], [1.0, 3.0, 9.0]]), torch.tensor([0.0, 1.0, 3.0, 5.0]))),
    ("bucketize_int_values_float_edges", lambda x, b: torch.bucketize(x, b), (perm(3, 4, dtype=I64), R(5).sort()[0])),
    ("searchsorted_1d_and_rows_and_sorter", lambda s, x, rows, srt: (
        torch.searchsorted(s, x), torch.searchsorted(s, x, side="right"),
        torch.searchsorted(rows, x), torch.searchsorted(s[srt], x, sorter=torch.argsort(s[srt]))),
     (torch.tensor([0.0, 1.0, 1.0, 4.0]), torch.tensor([[1.0, -1.0, 5.0], [0.5, 4.0, 1.0]]),
      torch.tensor([[0.0, 2.0, 3.0], [-1.0, 0.5, 6.0]]), torch.tensor([2, 0, 3, 1]))),
    ("histc_constant_input_widens", lambda x: torch.histc(x, bins=3), (torch.full((6,), 2.0),)),
    ("zero_functional", lambda x: (x * 2).zero_() + x, (R(3, 4),)),
    ("sum_empty_dim_list_is_all", lambda x: torch.sum(x, dim=[]), (R(2, 3),)),
    ("sum_bool_is_int64", lambda x: (x.sum(), x.sum(0)), (BOOLS,)),
    ("sum_int32_is_int64", lambda x: x.sum(1, keepdim=True), (perm(3, 4, dtype=torch.int32),)),
    ("sum_dtype_arg", lambda x: (x.sum(dtype=torch.float64), x.sum(0, dtype=torch.float32)), (perm(3, 4, dtype=I64),)),
    ("sum_0d", lambda x: (x.sum(), x.sum(0), x.sum(-1, keepdim=True)), (torch.tensor(2.5),)),
    ("mean_all_dims_keepdim", lambda x: (x.mean(), x.mean((0, -1), keepdim=True), x.mean(1)), (R(2, 3, 4),)),
    ("mean_dtype_arg", lambda x: x.mean(dtype=torch.float64), (perm(3, 4, dtype=I64),)),
    ("prod_dim_and_all", lambda x: (x.prod(), x.prod(-1, keepdim=True)), (R(3, 4),)),
    ("prod_int_and_bool", lambda x, b: (x.prod(0), b.prod(1)), (perm(3, 2, dtype=torch.int32), BOOLS)),
    ("amax_amin_dims", lambda x: (x.amax((0, 2)), x.amin(-1, keepdim=True), x.amax()), (R(2, 3, 4),)),
    ("amax_bool_int16", lambda b, x: (b.amax(1), b.amin(), x.amax(0)), (BOOLS, perm(3, 4, dtype=torch.int16))),
    ("max_min_default", lambda x: (x.max(), x.min()), (R(3, 4),)),
    ("max_min_dim_values_indices", lambda x: (x.max(1), x.min(0, keepdim=True), x.max(-1, True)), (perm(3, 4),)),
    ("max_dim_int64", lambda x: x.max(0), (perm(3, 4, dtype=I64),)),
    ("argmax_none_and_dims", lambda x: (x.argmax(), x.argmax(1), x.argmin(-2, keepdim=True)), (perm(3, 4),)),
    ("argmax_none_keepdim", lambda x: (x.argmax(keepdim=True), x.argmin(dim=None, keepdim=True)), (perm(2, 3, 2),)),
    ("argmax_int64_uint8_int16", lambda x, u, h: (x.argmax(0), u.argmax(1), h.argmin(0)),
     (perm(3, 4, dtype=I64), torch.tensor([[1, 7, 3], [9, 2, 5]], dtype=torch.uint8), perm(3, 4, dtype=torch.int16))),
    ("var_std_default", lambda x: (x.var(), x.std()), (R(3, 4),)),
    ("var_correction_keepdim", lambda x: (x.var(1, correction=0), x.var((0, 2), correction=2, keepdim=True)),
     (R(3, 4, 5),)),
    ("std_unbiased_false_keepdim", lambda x: torch.std(x, -1, unbiased=False, keepdim=True), (R(3, 4),)),
    pytest.param("var_correction_exceeds_n", lambda x: x.var(1, correction=5), (R(3, 4),),
                 marks=[pytest.mark.filterwarnings("ignore:.*degrees of freedom is <= 0"),
                        pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")]),
    ("var_mean_std_mean", lambda x: (torch.var_mean(x, 1), torch.std_mean(x), torch.std_mean(x, (0, 1), keepdim=True)),
     (R(3, 4, 2),)),
    ("norm_default_and_p1", lambda x: (x.norm(), x.norm(p=1, dim=1), torch.linalg.vector_norm(x, 2, (0, 1), True)),
     (R(3, 4),)),
    ("norm_inf_neg_inf_zero", lambda x: (torch.linalg.vector_norm(x, float("inf")),
                                         torch.linalg.vector_norm(x, float("-inf"), 1),
                                         torch.linalg.vector_norm(x, 0, 0)), (R(3, 4) * (R(3, 4) > 0),)),
    ("norm_general_p_dtype", lambda x: (torch.linalg.vector_norm(x, 3, -1), torch.linalg.vector_norm(x, 0.5),
                                        torch.linalg.vector_norm(x, dtype=torch.float64)), (R(3, 4),)),
    ("logsumexp_large_values", lambda x: (x.logsumexp(1), x.logsumexp((0, 1), keepdim=True)), (R(3, 4) * 200,)),
    ("logsumexp_int_promotes", lambda x: x.logsumexp(0), (perm(3, 4, dtype=I64),)),
    ("all_any_bool", lambda b: (b.all(), b.any(), b.all(1), b.any(0, keepdim=True), b.all((0, 1)), b.any((0, 1))),
     (BOOLS,)),
    ("all_any_float_uint8", lambda x, u: (x.all(1), x.any(), u.all(0), u.any()),
     (torch.tensor([[1.0, 0.0], [2.0, -1.0]]), torch.tensor([[1, 0], [3, 2]], dtype=torch.uint8))),
    ("all_any_empty_dim", lambda x: (x.all(1), x.any(1)), (torch.ones(3, 0, dtype=torch.bool),)),
    ("count_nonzero", lambda x: (x.count_nonzero(), x.count_nonzero(1), torch.count_nonzero(x, (0, 1))),
     (torch.tensor([[1.0, 0.0, 3.0], [0.0, 0.0, 2.0]]),)),
    ("topk_largest_smallest", lambda x: (x.topk(2), x.topk(3, 0, largest=False)), (perm(4, 5),)),
    ("topk_int", lambda x: x.topk(2, -1), (perm(3, 5, dtype=I64),)),
    ("topk_sort_uint8_half", lambda u, h: (u.topk(2), u.sort(0), h.sort(descending=True)),
     (torch.tensor([[3, 200, 7], [9, 1, 250]], dtype=torch.uint8), perm(2, 5, dtype=torch.float16))),
    ("sort_and_descending", lambda x: (x.sort(), x.sort(0, descending=True)), (perm(4, 3),)),
    ("sort_stable_ties", lambda x: (torch.sort(x, stable=True), torch.sort(x, stable=True, descending=True)),
     (torch.tensor([[3.0, 1.0, 3.0, 1.0, 2.0, 3.0]]),)),
    ("argsort_stable_ties_int", lambda x: x.argsort(dim=0, stable=True), (torch.tensor([[2, 1], [1, 1], [2, 0]]),)),
])
def test_reduce_rows(name, fn, inputs):
    check_module(Fn(fn), inputs)


def test_sum_bool_output_dtype_is_int64():
    graph = check_module(Fn(lambda b: b.sum(1)), (BOOLS,))
    assert graph.outputs[0].dtype.name == "INT64"


class Dyn(torch.nn.Module):
    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x):
        return self.fn(x)


@pytest.mark.parametrize("name,fn", [
    ("sum_mean_over_batch", lambda x: (x.sum(0), x.mean((0, 1)), x.sum(-1))),
    ("var_std_over_batch", lambda x: (x.var(0), torch.std_mean(x, (0, 1), correction=0))),
    ("norm_logsumexp_over_batch", lambda x: (x.norm(dim=0), x.logsumexp(0), x.amax(0))),
    ("topk_sort_dynamic_axis", lambda x: (x.topk(2, 0), x.sort(0, descending=True), x.argmax(0))),
])
def test_reduce_dynamic_batch(name, fn):
    check_module(Dyn(fn), (perm(4, 3),), dynamic_shapes={"x": {0: "batch"}}, other_inputs=(perm(7, 3),))


@pytest.mark.parametrize("name,fn", [
    ("sum_amax_prod_attr_axes", lambda x: (x.sum(1), x.amax(0), x.prod(-1, keepdim=True), x.mean((0, 1)))),
    ("var_norm_logsumexp_attr_axes", lambda x: (x.var(1), x.norm(dim=0), x.norm(p=1, dim=1), x.logsumexp(1))),
    ("argmax_topk_all", lambda x: (x.argmax(1), x.topk(2), (x > 0).all(1))),
])
def test_reduce_opset17(name, fn):
    """Opset 17: ReduceMax/Min/Mean/Prod/L1/L2/LogSumExp take axes as an attribute."""
    check_module(Fn(fn), (perm(3, 4),), opset=17)
