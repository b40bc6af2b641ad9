"""PyTorch front-end: elementwise math, activations, comparisons, matrix products, softmax
and scans, dtype conversion and tensor creation, checked against torch eager."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import tensorbridge.converters.pytorch.ops.ops_cast  # noqa: F401
import tensorbridge.converters.pytorch.ops.ops_generators  # noqa: F401
import tensorbridge.converters.pytorch.ops.ops_linalg  # noqa: F401
import tensorbridge.converters.pytorch.ops.ops_math  # noqa: F401  (registers before ops/__init__ lists it)
import tensorbridge.converters.pytorch.ops.ops_select  # noqa: F401
from tensorbridge.ir.errors import ConversionError
from tests.converters.pytorch_harness import Fn, check_module

torch.manual_seed(0)
R = torch.randn


def pos(*shape: int) -> torch.Tensor:
    return torch.rand(*shape) + 0.1


def away_from_zero(*shape: int) -> torch.Tensor:
    return R(*shape).sign() * (torch.rand(*shape) + 0.5)


HALVES = torch.tensor([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, -1.7, 1.2, 0.0])
SPECIAL = torch.tensor([1.0, float("nan"), float("inf"), -float("inf"), -2.0])
INT_A = torch.tensor([-7, 7, -7, 7, 5, -3, 0])
INT_B = torch.tensor([2, -2, -3, 3, 5, 4, -3])
BOOL_A = torch.tensor([True, True, False, False])
BOOL_B = torch.tensor([True, False, True, False])

UNARY = [
    ("abs_int", torch.abs, (INT_A,)),
    ("neg_exp_log", lambda x: (-x, x.exp(), x.log()), (pos(2, 3),)),
    # naive log(1 + x) returns 0 for |x| < eps; the rows below would fail rtol
    ("log1p_tiny", torch.log1p, (torch.tensor([1e-9, -1e-8, 3e-7, 0.5, 3.0, -0.5]),)),
    ("log2_rsqrt_reciprocal", lambda x: (x.log2(), torch.rsqrt(x), torch.reciprocal(x)), (pos(4),)),
    ("int_promotes_to_float", lambda x: (x.sqrt(), x.exp(), x.sigmoid()), (torch.arange(6, dtype=torch.int32),)),
    ("trig", lambda x: (x.sin(), x.cos(), x.tan()), (R(2, 3),)),
    ("tanh_sigmoid_erf", lambda x: (x.tanh(), x.sigmoid(), torch.erf(x)), (R(2, 3) * 3,)),
    ("rounding_halves", lambda x: (x.floor(), x.ceil(), x.trunc(), x.round(), x.sign()), (HALVES,)),
    ("round_decimals", lambda x: (x.round(decimals=2), x.round(decimals=-1)), (R(6) * 100,)),
    ("int_rounding_identity_isnan", lambda x: (x.floor(), x.round(), x.trunc(), x.isnan(), x.sign()), (INT_A,)),
    ("isnan_isinf", lambda x: (x.isnan(), x.isinf()), (SPECIAL,)),
]

ACTIVATIONS = [
    ("relu_relu6_hardtanh_leaky", lambda x: (F.relu(x), F.relu6(x * 4), F.hardtanh(x, -0.5, 2.0),
                                             F.leaky_relu(x, 0.2)), (R(3, 4),)),
    ("relu_int", torch.relu, (INT_A,)),
    ("elu_selu_celu", lambda x: (F.elu(x), F.elu(x, alpha=0.5), F.selu(x), F.celu(x, 0.5)), (R(3, 4),)),
    ("silu_mish", lambda x: (F.silu(x), F.mish(x)), (R(3, 4) * 3,)),
    # large |x| overflows exp in a naive softplus / log-sigmoid
    ("softplus_logsigmoid_large_values", lambda x: (F.softplus(x), F.logsigmoid(x)), (R(10) * 50,)),
    ("softplus_beta_threshold", lambda x: F.softplus(x, beta=2, threshold=5), (R(10) * 4,)),
    ("hardswish_hardsigmoid", lambda x: (F.hardswish(x), F.hardsigmoid(x)), (R(10) * 4,)),
]

BINARY = [
    ("clamp_scalar", lambda x: (x.clamp(-0.5, 0.5), x.clamp(min=0.1), x.clamp(max=-0.2)), (R(3, 4),)),
    ("clamp_int_and_float_bound", lambda x: (x.clamp(0.5, 3.5), x.clamp(-3, 4)), (INT_A,)),
    ("clamp_tensor_bounds_broadcast", lambda x, lo, hi: (x.clamp(lo, hi), torch.clamp_min(x, lo),
                                                         torch.clamp_max(x, hi)), (R(3, 4), R(4) - 1, R(3, 1) + 1)),
    ("maximum_minimum_int_float", lambda a, b: (torch.maximum(a, b), torch.minimum(a, b)),
     (INT_A, R(7) * 5)),
    ("maximum_bool", lambda a, b: (torch.maximum(a, b), torch.minimum(a, b)), (BOOL_A, BOOL_B)),
    ("pow_scalar_forms", lambda x: (x ** 2, x.pow(0.5), x ** -1.5, 2 ** x), (pos(5),)),
    ("pow_tensor_tensor_broadcast", torch.pow, (pos(3, 4), R(4))),
    ("pow_int", lambda x: (x ** 2, x ** 3, x ** 0.5), (INT_B.abs(),)),
    ("remainder_fmod_float", lambda a, b: (torch.remainder(a, b), a % 1.5, a % -1.5, torch.fmod(a, b),
                                           torch.fmod(a, 2.5)), (R(20) * 5, away_from_zero(20))),
    ("remainder_fmod_int_signs", lambda a, b: (a % b, torch.remainder(5, b), torch.fmod(a, b)), (INT_A, INT_B)),
    ("floor_divide_int_negative", lambda a, b: (a // b, a // 2, a // -3, torch.div(a, b, rounding_mode="trunc")),
     (INT_A, INT_B)),
    # a - (a mod b) would overflow at the type's ends: -128 // 3 in int8 is -43, not 42
    ("floor_divide_int8_extremes", lambda a, b: a // b,
     (torch.tensor([-128, 127, -127, -7, 7, 0], dtype=torch.int8),
      torch.tensor([3, -2, 2, 2, -2, 5], dtype=torch.int8))),
    ("floor_divide_float_rounding_modes", lambda a, b: (a // b, a // 0.7, torch.div(a, b, rounding_mode="trunc"),
                                                        torch.div(a, b, rounding_mode="floor")),
     (R(20) * 5, away_from_zero(20))),
]

COMPARE_LOGIC = [
    ("compare_tensor_broadcast", lambda a, b: (a == b, a != b, a < b, a <= b, a > b, a >= b),
     (torch.tensor([[1.0, 2, 3], [0, 1, 2]]), torch.tensor([1.0, 0, 3]))),
    ("compare_scalar", lambda x: (x < 0.2, x <= 0, x > -0.1, x >= 0.5, x == 0, x != 0), (R(3, 4),)),
    # an int tensor against 2.5 must compare in float (casting 2.5 to int would give 2)
    ("int_tensor_vs_float_scalar", lambda x: (x < 2.5, x == 2.5, x > 2.0), (torch.arange(5),)),
    ("int_tensor_vs_float_tensor", lambda a, b: (a == b, a < b), (torch.arange(4), torch.tensor([0.0, 1.5, 2.0, 4.0]))),
    ("bool_ordering", lambda a, b: (a < b, a >= b, a == b), (BOOL_A, BOOL_B)),
    ("logical_on_numbers", lambda a, b: (torch.logical_and(a, b), torch.logical_or(a, b),
                                         torch.logical_xor(a, b), torch.logical_not(a)),
     (torch.tensor([0.0, 1.5, -2.0, 0.0]), torch.tensor([0, 0, 3, 4]))),
    ("bool_operators", lambda a, b: (a & b, a | b, a ^ b, ~a), (BOOL_A, BOOL_B)),
    ("bitwise_int", lambda a, b: (a & b, a | b, a ^ b, ~a, a & 6, torch.bitwise_or(a, 1)), (INT_A, INT_B)),
    ("where_promotes", lambda c, x, y: torch.where(c, x, y), (R(3, 4) > 0, R(3, 4), torch.arange(4))),
    ("where_scalars", lambda c, x: (torch.where(c, x, 1.5), torch.where(c, -1.0, x), torch.where(c, 1.0, 0.0)),
     (R(3, 4) > 0, R(3, 4))),
    ("masked_fill_broadcast_inf", lambda x, m: x.masked_fill(m, float("-inf")), (R(2, 3, 4), R(3, 1) > 0)),
    ("masked_fill_int", lambda x, m: x.masked_fill(m, 7), (INT_A, INT_B > 0)),
    ("masked_fill_tensor_value", lambda x, m, v: x.masked_fill(m, v), (R(3, 4), R(3, 4) > 0, torch.tensor(2.5))),
    ("lerp", lambda a, b, w: (torch.lerp(a, b, 0.3), torch.lerp(a, b, w)), (R(3, 4), R(3, 4), torch.rand(4))),
    ("addcmul_addcdiv", lambda x, a, b: (torch.addcmul(x, a, b, value=2), torch.addcdiv(x, a, b, value=0.5)),
     (R(3, 4), R(3, 4), away_from_zero(4))),
]

MATMUL = [
    ("mm_matmul", lambda a, b: (a @ b, torch.mm(a, b)), (R(2, 3), R(3, 4))),
    ("matmul_broadcast_batch", lambda a, b: a @ b, (R(2, 5, 3), R(3, 4))),
    ("matmul_1d", lambda v, m, w: (v @ m, m @ w), (R(3), R(3, 4), R(4))),
    ("bmm", torch.bmm, (R(2, 3, 4), R(2, 4, 5))),
    ("addmm_beta_alpha", lambda c, a, b: (torch.addmm(c, a, b, beta=0.5, alpha=2), torch.addmm(c, a, b)),
     (R(4), R(2, 3), R(3, 4))),
    ("addmm_beta0_ignores_nan", lambda c, a, b: torch.addmm(c, a, b, beta=0),
     (torch.full((2, 4), float("nan")), R(2, 3), R(3, 4))),
    ("mm_int", torch.mm, (torch.arange(6).reshape(2, 3), torch.arange(12).reshape(3, 4))),
    ("baddbmm", lambda c, a, b: torch.baddbmm(c, a, b, beta=0.5, alpha=1.5), (R(2, 3, 5), R(2, 3, 4), R(2, 4, 5))),
    ("mv_addmv_dot_outer", lambda m, v, w: (torch.mv(m, v), torch.addmv(w, m, v, alpha=2), torch.dot(v, v),
                                            torch.outer(v, w)), (R(2, 3), R(3), R(2))),
    ("einsum", lambda a, b: (torch.einsum("bij,bjk->bik", a, b), torch.einsum("bij -> bji", a),
                             torch.einsum("...ij,...jk", a, b), torch.einsum("bij,bij->", a, a)),
     (R(2, 3, 4), R(2, 4, 5))),
    ("linear_no_bias_1d", lambda x, w: F.linear(x, w), (R(3), R(4, 3))),
]

SOFTMAX_SCAN = [
    ("softmax_log_softmax", lambda x: (x.softmax(-1), F.log_softmax(x, 1), F.softmax(x, 0)), (R(2, 3, 4) * 5,)),
    ("softmax_dtype_double", lambda x: (x.softmax(-1, dtype=torch.float64),
                                        F.log_softmax(x, -1, dtype=torch.float64)), (R(2, 3),)),
    ("softmax_int_to_float", lambda x: x.float().softmax(0), (torch.arange(4),)),
    ("cumsum", lambda x: (x.cumsum(0), x.cumsum(-1), x.cumsum(1, dtype=torch.float64)), (R(3, 4),)),
    ("cumsum_int_bool_to_int64", lambda x, m: (x.cumsum(0), m.cumsum(-1)),
     (torch.arange(5, dtype=torch.int32), R(2, 5) > 0)),
    ("cumprod_signs_and_zeros", lambda x: (x.cumprod(-1), x.cumprod(0)),
     (torch.tensor([[1.5, -2.0, 0.5, 0.0, 3.0], [-1.0, -0.5, 2.0, 4.0, -1.0]]),)),
    ("cumprod_int", lambda x: x.cumprod(0), (INT_B,)),
]

DTYPE_CREATE = [
    ("to_dtypes", lambda x: (x.to(torch.int32), x.double(), x.half(), x.to(torch.bool), (x > 0).float()),
     (R(3, 4) * 3,)),
    ("type_as_and_identities", lambda x, y: (x.type_as(y), x.clone(), x.detach() + 1, x.contiguous()),
     (R(3, 4) * 3, torch.arange(2))),
    ("dropout_eval", lambda x: (F.dropout(x, 0.5, training=False) * 2, torch.nn.Dropout(0.3).eval()(x) + 1),
     (R(3, 4),)),
    ("zeros_ones_full_empty", lambda x: (torch.zeros(2, 3) + x, torch.ones(3, dtype=torch.int64),
                                         torch.full((2, 3), 1.5), torch.full((2,), 7, dtype=torch.int32),
                                         torch.full((), True), torch.empty(2, 3).fill_(2.0) + x), (R(3),)),
    ("like", lambda x: (torch.zeros_like(x), torch.ones_like(x, dtype=torch.int32), torch.full_like(x, 3.5),
                        torch.full_like(x, 2, dtype=torch.bool)), (R(2, 3),)),
    ("new_factories", lambda x: (x.new_zeros(2, 3), x.new_ones((4,), dtype=torch.int64), x.new_full((2,), -1.0)),
     (R(3).double(),)),
    ("scalar_tensors", lambda x: (x + torch.tensor(3.0), x * torch.scalar_tensor(2.0)), (R(3),)),
    ("arange", lambda x: (torch.arange(5), torch.arange(1, 9, 3), torch.arange(0.0, 1.0, 0.1),
                          torch.arange(-3, 3, dtype=torch.float32), torch.arange(10, 0, -2)), (R(3),)),
    ("eye", lambda x: (torch.eye(3) + x, torch.eye(2, 4, dtype=torch.int64), torch.eye(2, dtype=torch.bool)),
     (R(3, 3),)),
    ("triu_tril", lambda x: (x.triu(), x.tril(-1), x.triu(2), torch.tril(x, 1)), (R(2, 4, 5),)),
    ("causal_mask_bool", lambda x: torch.ones(4, 4, dtype=torch.bool).tril() & (x > 0), (R(4, 4),)),
]


@pytest.mark.parametrize("name,fn,inputs",
                         UNARY + ACTIVATIONS + BINARY + COMPARE_LOGIC + MATMUL + SOFTMAX_SCAN + DTYPE_CREATE)
def test_math_rows(name, fn, inputs):
    check_module(Fn(fn), inputs)


def _op_types(graph) -> set[str]:
    return {n.op_type for n in graph.nodes()}


@pytest.mark.parametrize("opset,approximate,want", [
    (18, "none", "Erf"), (18, "tanh", "Tanh"), (20, "none", "Gelu"), (20, "tanh", "Gelu"),
])
def test_gelu_by_opset(opset, approximate, want):
    g = check_module(Fn(lambda x: F.gelu(x, approximate=approximate)), (R(3, 4) * 3,), opset=opset)
    assert want in _op_types(g)


def test_mish_softplus_formula_before_opset_18():
    g = check_module(Fn(F.mish), (R(3, 4) * 3,), opset=17)
    assert "Mish" not in _op_types(g)


def test_bitwise_int_needs_opset_18():
    with pytest.raises(ConversionError, match="opset >= 18"):
        check_module(Fn(lambda a, b: a & b), (INT_A, INT_B), opset=17)


def test_linear_2d_is_gemm_nd_is_matmul():
    lin = torch.nn.Linear(4, 3)
    g2 = check_module(lin, (R(2, 4),))
    assert "Gemm" in _op_types(g2) and "MatMul" not in _op_types(g2)
    g3 = check_module(lin, (R(2, 5, 4),))
    assert "MatMul" in _op_types(g3) and "Gemm" not in _op_types(g3)
    assert any(v.source_name == "weight" for v in g3.initializers())


class DynLinear(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lin = torch.nn.Linear(4, 3)

    def forward(self, x):
        rows = torch.arange(x.shape[0]) * 1.0
        return self.lin(x) * 2, rows, torch.zeros_like(x), torch.full((x.shape[0], 2), 3.0), x.new_ones(x.shape[0])


class DynSeq(torch.nn.Module):
    def forward(self, x):
        s = x.shape[1]
        mask = torch.ones(s, s, dtype=torch.bool).triu(1)
        scores = (x @ x).masked_fill(mask, float("-inf"))
        return scores.softmax(-1), x.cumsum(1), torch.eye(s) * 2


class DynAct(torch.nn.Module):
    def forward(self, x, y):
        return F.gelu(x) * torch.where(x > 0, y, 0.0).clamp(-1, 1), torch.remainder(x, 0.75), (x < y).int()


@pytest.mark.parametrize("module,inputs,dynamic,other", [
    (DynLinear(), (R(2, 4),), {"x": {0: "batch"}}, (R(5, 4),)),
    (DynSeq(), (R(2, 3, 3),), {"x": {0: "batch", 1: "seq", 2: "seq"}}, (R(3, 6, 6),)),
    (DynAct(), (R(2, 4), R(2, 4)), {"x": {0: "batch"}, "y": {0: "batch"}}, (R(6, 4), R(6, 4))),
])
def test_dynamic_rows(module, inputs, dynamic, other):
    check_module(module, inputs, dynamic_shapes=dynamic, other_inputs=other)


class Checked(torch.nn.Module):
    def forward(self, x, n):
        torch._assert_async(n > 0, "n must be positive")
        return x.to(torch.float64) * 2


def test_runtime_checks_vanish():
    g = check_module(Checked(), (pos(3), torch.tensor(2.0)))
    assert not [n for n in g.nodes() if "assert" in n.provenance.source_op]
