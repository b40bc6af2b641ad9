"""PyTorch front-end: shape/layout ops and indexing (view, permute, squeeze, expand, cat,
split, slice, select, flip, roll, index, gather, scatter, index_put), checked against eager."""

from __future__ import annotations

import pytest
import torch

import tensorbridge.converters.pytorch.ops.ops_index  # noqa: F401  (registrations; until ops/__init__ lists them)
import tensorbridge.converters.pytorch.ops.ops_reduce  # noqa: F401
import tensorbridge.converters.pytorch.ops.ops_shape  # noqa: F401
from tensorbridge.ir.errors import ConversionError
from tests.converters.pytorch_harness import Fn, check_module

A = torch.ops.aten
R = torch.randn
I64 = torch.long


def ar(*shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Distinct values, so a wrong element shows up as a mismatch."""
    n = 1
    for s in shape:
        n *= s
    return torch.arange(n, dtype=dtype).reshape(shape)


def _slice_assign(x: torch.Tensor) -> torch.Tensor:
    """An in-place slice assignment (torchvision Swin's attention mask): slice_scatter once exported."""
    y = x.clone()
    y[:, 1:3] = y[:, 4:6] * 2
    return y


@pytest.mark.parametrize("name,fn,inputs", [
    ("view_minus1", lambda x: x.view(-1, 6), (R(4, 3, 2),)),
    ("reshape_to_0d", lambda x: x.reshape(()), (R(1, 1),)),
    ("reshape_from_0d", lambda x: x.reshape(1, 1, 1), (torch.tensor(3.0),)),
    ("flatten_tail", lambda x: x.flatten(1), (R(2, 3, 4),)),
    ("flatten_mid_neg", lambda x: x.flatten(0, -2), (R(2, 3, 4),)),
    ("unflatten_minus1", lambda x: x.unflatten(-1, (2, -1)), (R(3, 6),)),
    ("permute_neg", lambda x: x.permute(2, 0, -2), (R(2, 3, 4),)),
    ("transpose_neg", lambda x: x.transpose(-1, 0), (R(2, 3, 4),)),
    ("t_1d_and_2d", lambda x, y: (x.t(), y.t()), (R(3), R(2, 3))),
    ("mT_and_T", lambda x, y: (x.mT, y.T), (R(2, 3, 4), R(3, 4))),
    ("movedim_lists", lambda x: x.movedim((0, 1), (2, 0)), (R(2, 3, 4),)),
    ("squeeze_all", lambda x: x.squeeze(), (R(1, 3, 1, 2),)),
    ("squeeze_non_one_is_noop", lambda x: (x.squeeze(1), x.squeeze(-1)), (R(1, 3, 1),)),
    ("squeeze_dims", lambda x: x.squeeze((0, -2, 1)), (R(1, 3, 1, 2),)),
    ("unsqueeze_neg", lambda x: (x.unsqueeze(-1), x.unsqueeze(0), x[None, :, None]), (R(2, 3),)),
    ("expand_minus1_new_dims", lambda x: x.expand(2, 3, -1, 4), (R(1, 2, 1),)),
    ("expand_as_int", lambda x, y: x.expand_as(y), (ar(3, 1, dtype=I64), R(2, 3, 4))),
    ("slice_scatter_step", lambda x, y: torch.slice_scatter(x, y, 1, 1, 5, 2), (R(2, 6, 3), R(2, 2, 3))),
    ("slice_scatter_neg_open", lambda x, y: torch.slice_scatter(x, y, -1, -2), (R(2, 6, 3), R(2, 6, 2))),
    ("slice_assign", _slice_assign, (R(2, 6, 3),)),
    ("reshape_as_and_view_as", lambda x, y: (x.reshape_as(y) * 2, x.view_as(y) + 1), (R(2, 6), R(3, 4))),
    ("repeat_new_leading_dims", lambda x: x.repeat(2, 1, 3), (R(2, 1),)),
    ("repeat_bool", lambda x: x.repeat(2, 2), (torch.tensor([[True, False]]),)),
    ("cat_skips_legacy_empty", lambda x, y, e: torch.cat([x, e, y], 1), (R(2, 1), R(2, 3), torch.empty(0))),
    ("cat_promotes_int_float", lambda x, y: torch.cat([x, y], -1), (ar(2, 2, dtype=I64), R(2, 3))),
    ("stack_neg_dim", lambda x, y: (torch.stack([x, y], -1), torch.stack([x, y])), (R(2, 3), R(2, 3))),
    ("stack_scalars", lambda x, y: torch.stack([x, y]), (torch.tensor(1.0), torch.tensor(2.0))),
    ("split_uneven", lambda x: x.split(2, 1), (R(2, 5),)),
    ("split_with_sizes_neg", lambda x: x.split([1, 4], -1), (R(2, 5),)),
    ("chunk_last_smaller", lambda x: x.chunk(3, 1), (R(2, 5),)),
    ("chunk_fewer_than_asked", lambda x: x.chunk(4, 0), (R(6, 2),)),
    ("unbind", lambda x: x.unbind(1), (R(2, 3, 2),)),
    ("slice_start_open_end", lambda x: x[1:], (R(4, 3),)),
    ("slice_negative", lambda x: x[:, -3:-1], (R(2, 5),)),
    ("slice_step", lambda x: (x[:, ::2], x[1:-1:2]), (R(5, 5),)),
    ("slice_beyond_size_clamps", lambda x: (x[..., 1:100], x[-100:2]), (R(3, 4),)),
    ("slice_empty", lambda x: x[2:1], (R(3, 4),)),
    ("select_negative", lambda x: (x[:, -1], x[1], x[-1, 2]), (R(3, 4),)),
    ("narrow_negative_start", lambda x: (x.narrow(1, -3, 2), x.narrow(0, 1, 2)), (R(3, 5),)),
    ("unfold_windows_every_dim", lambda x: (x.unfold(1, 3, 2), x.unfold(-1, 2, 1), x.unfold(0, 2, 3)),
     (R(5, 7, 4),)),
    ("unfold_size_equals_length_and_zero", lambda x: (x.unfold(1, 5, 1), x.unfold(0, 0, 2)), (R(3, 5),)),
    ("select_scatter_dims_and_negative_index", lambda x, s, t: (
        torch.select_scatter(x, s, 1, 2), torch.select_scatter(x, t, 0, -1), torch.select_scatter(x, s, -2, -3)),
     (R(3, 4, 5), R(3, 5), R(4, 5))),
    ("index_put_unsafe", lambda x, i, v: torch.ops.aten._unsafe_index_put(x, [i], v),
     (R(5, 3), torch.tensor([4, 0, 2]), R(3, 3))),
    ("swapaxes_swapdims", lambda x: (torch.swapaxes(x, 0, 2), torch.swapdims(x, -1, 1)), (R(2, 3, 4),)),
    ("flip_dims", lambda x: x.flip((0, -1)), (R(2, 3, 4),)),
    ("roll_dims", lambda x: (x.roll(1, 1), x.roll(-2, 0), x.roll((1, 7), (0, 1))), (ar(3, 4),)),
    ("roll_flat", lambda x: x.roll(3), (ar(3, 4),)),
    ("concat_concatenate_movedim_int", lambda x: (torch.concat([x, x], 1), torch.concatenate([x, x], -1),
                                                  x.movedim(0, 2)), (R(2, 3, 4),)),
    ("copy_and_unsafe_variants", lambda x: (
        A.view_copy.default(x, [6, 4]), A.permute_copy.default(x, [2, 0, 1]), A.transpose_copy.int(x, 0, -1),
        A.expand_copy.default(x[:1], [3, -1, -1]), A.squeeze_copy.dims(x[:, :1], [1]),
        A.squeeze_copy.dim(x[:1], 0), A.squeeze_copy.default(x[:1]), A.unsqueeze_copy.default(x, -1),
        A.slice_copy.Tensor(x, 2, 1, 3), A.select_copy.int(x, 1, -1), A.split_copy.Tensor(x, 3, 2),
        A.split_with_sizes_copy.default(x, [1, 3], 2), A.unbind_copy.int(x, 1), A._unsafe_view.default(x, [2, 12]),
        A.narrow_copy.default(x, 2, 1, 2), A.unsafe_split.Tensor(x, 3, 2),
        A.unsafe_split_with_sizes.default(x, [3, 1], 2), A._reshape_alias.default(x, [2, 12], [12, 1])),
     (R(2, 3, 4),)),
])
def test_shape_rows(name, fn, inputs):
    check_module(Fn(fn), inputs)


class Dyn(torch.nn.Module):
    """A one-function module with named forward parameters (for dynamic_shapes)."""

    def __init__(self, fn, param: torch.Tensor | None = None) -> None:
        super().__init__()
        self.fn = fn
        self.p = torch.nn.Parameter(param) if param is not None else None

    def forward(self, x, y=None):
        args = (x,) if y is None else (x, y)
        return self.fn(self, *args)


BATCH = {"x": {0: "batch"}}


@pytest.mark.parametrize("name,fn,x,x2,param", [
    ("view_symint_minus1", lambda m, x: (x.view(x.shape[0], -1), x.reshape(-1, 3)), R(4, 2, 3), R(6, 2, 3), None),
    ("reshape_computed_size", lambda m, x: x.reshape(x.shape[0] * 2, 3), R(4, 2, 3), R(5, 2, 3), None),
    ("flatten_unflatten", lambda m, x: (x.flatten(0, 1), x.unflatten(1, (2, 1))), R(4, 2, 3), R(3, 2, 3), None),
    ("slice_symint_end", lambda m, x: x[: x.shape[0] // 2, 1:], R(4, 3), R(7, 3), None),
    ("narrow_symint_length", lambda m, x: x.narrow(0, 1, x.shape[0] - 1), R(4, 3), R(7, 3), None),
    ("unfold_dynamic_dim", lambda m, x: (x.unfold(0, 2, 2), x.unfold(1, 2, 1)), R(5, 3), R(8, 3), None),
    ("expand_param_to_batch", lambda m, x: torch.cat([m.p.expand(x.shape[0], -1, -1), x], 1),
     R(4, 2, 3), R(6, 2, 3), R(1, 1, 3)),
    ("expand_unsqueezed", lambda m, x: x.unsqueeze(0).expand(x.shape[0], -1, -1), R(4, 3), R(5, 3), None),
    ("split_chunk_static_dim", lambda m, x: (x.split(2, 1), x.chunk(2, 1)), R(4, 5), R(6, 5), None),
    ("split_dynamic_dim_last_smaller", lambda m, x: x.split(2, 0), R(4, 5), R(3, 5), None),
    ("roll_flip_dynamic_dim", lambda m, x: (x.roll(1, 0), x.flip(0), x[-1], x.roll(2)), ar(4, 3), ar(5, 3), None),
    ("repeat_stack_dynamic", lambda m, x: (x.repeat(2, 1), torch.stack([x, x], 1)), R(4, 3), R(2, 3), None),
    ("numel_stride_sizes_traced", lambda m, x: (A.view.default(x, [A.sym_numel.default(x)]),
                                           A.view.default(x, [-1, A.sym_stride.int(x, 0)]),
                                           A.view.default(x, [A.sym_stride.int(x, 1), -1])), R(4, 2, 3), R(5, 2, 3), None),
])
def test_shape_dynamic_batch(name, fn, x, x2, param):
    check_module(Dyn(fn, param), (x,), dynamic_shapes=BATCH, other_inputs=(x2,))


# ---------------------------------------------------------------- indexing
def setitem(x: torch.Tensor, key: tuple, v: torch.Tensor) -> torch.Tensor:
    """``x[key] = v`` on a copy (exports as index_put with None placeholders)."""
    y = x * 1
    y[key] = v
    return y


def idx(*values) -> torch.Tensor:
    return torch.tensor(values, dtype=I64)


@pytest.mark.parametrize("name,fn,inputs", [
    ("index_one_tensor_after_none", lambda x, i: x[:, i], (R(2, 5, 3), idx(0, 4, -1))),
    ("index_2d_index_tensor", lambda x, i: x[i], (R(4, 3), idx(0, 3, 3, -4).reshape(2, 2))),
    ("index_adjacent_pair_in_middle", lambda x, i, j: x[:, i, j], (R(2, 5, 3, 2), idx(0, 4), idx(2, -1))),
    ("index_split_pair_goes_first", lambda x, i, j: x[i, :, j], (R(2, 5, 3), idx(1, 0, 1), idx(2, 0, -1))),
    ("index_broadcast_pair", lambda x, i, j: x[i[:, None], j], (R(4, 5), idx(0, 3), idx(1, 2, 4))),
    ("index_int32_index", lambda x, i: x[..., i], (R(2, 5), idx(4, 0).int())),
    ("index_put_rows", lambda x, i, v: x.index_put((i,), v), (R(5, 3), idx(0, -1), R(2, 3))),
    ("index_put_accumulate_duplicates", lambda x, i, v: x.index_put((i,), v, accumulate=True),
     (R(5, 3), idx(1, 1, 4, 1), R(4, 3))),
    ("setitem_after_none_broadcast_value", lambda x, i, v: setitem(x, (slice(None), i), v),
     (R(2, 5, 3), idx(0, 2), R(3))),
    ("setitem_adjacent_pair_in_middle", lambda x, i, j, v: setitem(x, (slice(None), i, j), v),
     (R(2, 4, 3, 2), idx(0, 3), idx(2, 1), R(2, 1))),
    ("setitem_split_pair", lambda x, i, j, v: setitem(x, (i, slice(None), j), v),
     (R(2, 4, 3), idx(0, 1), idx(2, 1), R(2, 4))),
    ("index_put_bool_mask_scalar", lambda x, m, v: x.index_put((m,), v), (R(3, 4), R(3, 4) > 0, torch.tensor(7.0))),
    ("index_put_int_data", lambda x, i, v: x.index_put((i,), v), (idx(1, 2, 3, 4), idx(2), idx(5))),
    ("index_select_neg_dim", lambda x, i: x.index_select(-1, i), (R(2, 5), idx(4, 4, 0))),
    ("gather_smaller_index", lambda x, i: x.gather(1, i), (ar(3, 4), idx(0, 3, 1, 1).reshape(2, 2))),
    ("gather_neg_dim", lambda x, i: x.gather(-2, i), (ar(3, 4), idx(2, 0, 1, 1).reshape(1, 4))),
    ("take_along_dim_broadcast", lambda x, i: torch.take_along_dim(x, i, 1), (ar(3, 1), idx(0, 0).reshape(1, 2))),
    ("take_along_dim_flat", lambda x, i: torch.take_along_dim(x, i), (ar(3, 4), idx(11, 0, 5))),
    ("take_along_dim_argsort", lambda x: torch.take_along_dim(x, x.argsort(dim=1), dim=1), (R(3, 5),)),
    ("scatter_src_larger", lambda x, i, s: x.scatter(1, i, s), (R(3, 4), idx(3, 0, 1, 2).reshape(2, 2), R(3, 3))),
    ("scatter_value", lambda x, i: x.scatter(0, i, 2.5), (R(3, 4), idx(2, 0, 1, 0).reshape(1, 4))),
    pytest.param("scatter_reduce_multiply", lambda x, i, s: x.scatter(1, i, s, reduce="multiply"),
                 (R(2, 4), idx(1, 1, 0, 1).reshape(2, 2), R(2, 2)),
                 marks=pytest.mark.filterwarnings("ignore:The reduce argument of torch.scatter")),
    ("scatter_value_add", lambda x, i: x.scatter(1, i, 1.5, reduce="add"), (R(2, 4), idx(1, 1, 3, 1).reshape(2, 2))),
    ("scatter_add_duplicates", lambda x, i, s: x.scatter_add(0, i, s), (R(3, 2), idx(2, 2, 2, 0).reshape(2, 2), R(2, 2))),
    ("scatter_reduce_sum_exclude", lambda x, i, s: x.scatter_reduce(1, i, s, "sum", include_self=False),
     (R(2, 4), idx(1, 1, 0, 1, 3, 3).reshape(2, 3), R(2, 3))),
    ("scatter_reduce_prod", lambda x, i, s: x.scatter_reduce(0, i, s, "prod"), (R(4), idx(1, 1, 3), R(3))),
    ("scatter_reduce_amax_exclude", lambda x, i, s: x.scatter_reduce(0, i, s, "amax", include_self=False),
     (R(4), idx(1, 1, 3), R(3))),
    ("scatter_reduce_amin_int", lambda x, i, s: x.scatter_reduce(0, i, s, "amin"),
     (idx(5, -2, 7, 0), idx(0, 0, 2), idx(3, 1, 9))),
    ("scatter_reduce_mean", lambda x, i, s: (x.scatter_reduce(0, i, s, "mean"),
                                             x.scatter_reduce(0, i, s, "mean", include_self=False)),
     (R(4), idx(1, 1, 3), R(3))),
    ("scatter_reduce_mean_int_floors", lambda x, i, s: x.scatter_reduce(0, i, s, "mean"),
     (idx(1, 2, 3), idx(0, 0), idx(-4, 2))),
    ("index_add_alpha_duplicates", lambda x, i, s: x.index_add(1, i, s, alpha=2.0), (R(2, 4), idx(3, 0, 3), R(2, 3))),
    ("masked_scatter_broadcast_mask", lambda x, m, s: x.masked_scatter(m, s),
     (R(3, 4), torch.tensor([True, False, True, True]), R(12))),
])
def test_index_rows(name, fn, inputs):
    check_module(Fn(fn), inputs)


@pytest.mark.parametrize("name,fn,inputs", [
    ("index_bool_mask_full", lambda x, m: x[m], (R(3, 4), R(3, 4) > 0)),
    ("index_bool_mask_rows_after_none", lambda x, m: x[:, m], (R(2, 4, 3), torch.tensor([True, False, True, True]))),
    ("index_bool_mask_2d_after_none", lambda x, m: x[:, m], (R(2, 4, 3), R(4, 3) > 0)),
])
def test_index_bool_mask(name, fn, inputs):
    """Data-dependent result size (NonZero); torch.export's _assert_scalar range checks ride along."""
    check_module(Fn(fn), inputs)


class DynIdx(torch.nn.Module):
    def __init__(self, fn) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, x, i):
        return self.fn(x, i)


@pytest.mark.parametrize("name,fn,inputs,other,dyn", [
    ("index_dynamic_batch", lambda x, i: (x[:, i], x[i[:2], 1]), (R(4, 5), idx(0, 3, 1)), (R(7, 5), idx(4, 0, 2)),
     BATCH),
    ("gather_scatter_dynamic_batch", lambda x, i: (x.gather(1, i), x.scatter_add(1, i, x[:, :2])),
     (R(4, 5), idx(0, 4, 1, 1, 2, 3, 0, 0).reshape(4, 2)), (R(3, 5), idx(3, 3, 1, 0, 2, 2).reshape(3, 2)),
     {"x": {0: "batch"}, "i": {0: "batch"}}),
    ("index_put_dynamic_index_count", lambda x, i: x.index_put((i,), x[:3].sum(0), accumulate=True),
     (R(4, 5), idx(0, 3, 3)), (R(6, 5), idx(5, 1, 1, 2, 0)), {"x": {0: "batch"}, "i": {0: "n"}}),
])
def test_index_dynamic(name, fn, inputs, other, dyn):
    check_module(DynIdx(fn), inputs, dynamic_shapes=dyn, other_inputs=other)


def test_scatter_reduce_amax_needs_opset18():
    with pytest.raises(ConversionError, match=r"opset >= 18"):
        check_module(Fn(lambda x, i, s: x.scatter_reduce(0, i, s, "amax")), (R(4), idx(1, 1, 3), R(3)), opset=17)
