"""PyTorch front-end: nn layers (conv, pooling, normalization, embedding, attention,
upsampling, padding, recurrent) against PyTorch eager."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import tensorbridge.converters.pytorch.ops.ops_attention  # noqa: F401
import tensorbridge.converters.pytorch.ops.ops_embedding  # noqa: F401
import tensorbridge.converters.pytorch.ops.ops_nn  # noqa: F401  (registers translations until ops/__init__ lists them)
import tensorbridge.converters.pytorch.ops.ops_norm  # noqa: F401
import tensorbridge.converters.pytorch.ops.ops_pad  # noqa: F401
import tensorbridge.converters.pytorch.ops.ops_resize  # noqa: F401
import tensorbridge.converters.pytorch.ops.ops_rnn  # noqa: F401
from tensorbridge.ir.errors import ConversionError
from tests.converters.pytorch_harness import Fn, check_module

R = torch.randn
torch.manual_seed(0)


@pytest.mark.parametrize("name,module,inputs", [
    ("conv1d_same_even_kernel", nn.Conv1d(4, 6, 4, padding="same"), (R(2, 4, 11),)),
    ("conv1d_unbatched", nn.Conv1d(4, 6, 3, stride=2), (R(4, 11),)),
    ("conv2d_grouped_dilated", nn.Conv2d(4, 6, 3, groups=2, dilation=2, padding=1), (R(1, 4, 10, 9),)),
    ("conv2d_valid_strided_nobias", nn.Conv2d(3, 5, (3, 2), stride=(2, 1), padding="valid", bias=False),
     (R(2, 3, 9, 8),)),
    ("conv3d", nn.Conv3d(2, 4, 3, padding=(1, 0, 1)), (R(1, 2, 5, 6, 4),)),
    ("conv_transpose1d", nn.ConvTranspose1d(4, 6, 3, stride=2), (R(1, 4, 5),)),
    ("conv_transpose2d_outpad_grouped", nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1, output_padding=1,
                                                           groups=2, dilation=1), (R(2, 4, 5, 4),)),
    ("conv_transpose3d", nn.ConvTranspose3d(2, 3, 2, stride=2), (R(1, 2, 3, 2, 3),)),
    ("convolution_transposed", Fn(lambda x, w: torch.ops.aten.convolution(x, w, None, [2, 2], [1, 1], [1, 1],
                                                                           True, [1, 0], 1)),
     (R(1, 3, 4, 4), R(3, 2, 3, 3))),
])
def test_conv(name, module, inputs):
    check_module(module, inputs)


@pytest.mark.parametrize("name,module,inputs", [
    ("max_pool1d", nn.MaxPool1d(3, 2), (R(2, 3, 10),)),
    ("max_pool2d_ceil", nn.MaxPool2d(3, 2, ceil_mode=True), (R(1, 2, 10, 9),)),
    ("max_pool2d_ceil_dropped_window", nn.MaxPool2d(3, 3, padding=1, ceil_mode=True), (R(1, 2, 5, 7),)),
    # H keeps torch's extra ceil window, W drops the one that would start in the padding
    ("max_pool2d_ceil_mixed", nn.MaxPool2d(3, (2, 3), padding=(0, 1), ceil_mode=True), (R(1, 2, 10, 5),)),
    ("max_pool2d_dilated_padded", nn.MaxPool2d(3, 1, padding=1, dilation=2), (R(1, 2, 8, 8),)),
    ("max_pool2d_float64", nn.MaxPool2d(2, 1), (R(1, 2, 4, 5, dtype=torch.float64),)),
    ("max_pool2d_unbatched", nn.MaxPool2d(2), (R(3, 6, 6),)),
    ("max_pool2d_indices", nn.MaxPool2d(3, 2, padding=1, return_indices=True), (R(2, 3, 7, 8),)),
    ("max_pool1d_indices_ceil", nn.MaxPool1d(2, 2, ceil_mode=True, return_indices=True), (R(2, 3, 7),)),
    ("avg_pool2d_pad_exclude", nn.AvgPool2d(3, 2, padding=1, count_include_pad=False), (R(1, 2, 9, 8),)),
    ("avg_pool2d_pad_include_ceil", nn.AvgPool2d(3, 2, padding=1, ceil_mode=True), (R(1, 2, 10, 8),)),
    ("avg_pool2d_ceil_exclude_mixed", nn.AvgPool2d(3, (2, 3), padding=(0, 1), ceil_mode=True,
                                                    count_include_pad=False), (R(1, 2, 10, 5),)),
    ("avg_pool2d_divisor", nn.AvgPool2d(2, divisor_override=3), (R(1, 2, 6, 6),)),
    ("avg_pool3d", nn.AvgPool3d(2), (R(1, 2, 4, 4, 4),)),
    ("adaptive_avg_global", nn.AdaptiveAvgPool2d(1), (R(2, 3, 7, 5),)),
    ("adaptive_avg_divisible", nn.AdaptiveAvgPool2d((5, 2)), (R(1, 3, 10, 8),)),
    ("adaptive_avg1d", nn.AdaptiveAvgPool1d(4), (R(1, 3, 8),)),
    ("adaptive_avg_uneven_overlapping", nn.AdaptiveAvgPool2d((3, 4)), (R(1, 2, 7, 8),)),
    ("adaptive_avg_upsampling_vgg_head", nn.AdaptiveAvgPool2d(7), (R(2, 3, 2, 2),)),
    ("adaptive_avg1d_uneven", nn.AdaptiveAvgPool1d(5), (R(2, 3, 7),)),
    ("adaptive_avg3d_uneven", nn.AdaptiveAvgPool3d((2, 3, 5)), (R(1, 2, 3, 5, 4),)),
    ("adaptive_avg3d_global", nn.AdaptiveAvgPool3d(1), (R(1, 3, 2, 3, 4),)),
    ("adaptive_max_global", nn.AdaptiveMaxPool2d(1), (R(2, 3, 7, 5),)),
    ("adaptive_max_indices", nn.AdaptiveMaxPool2d(2, return_indices=True), (R(2, 3, 6, 4),)),
    ("adaptive_max1d", nn.AdaptiveMaxPool1d(3), (R(2, 3, 9),)),
])
def test_pool(name, module, inputs):
    check_module(module, inputs)


class _NoStatsBN(nn.Module):
    """BatchNorm without running stats: normalises with the batch's own statistics in eval."""

    def __init__(self) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(3, track_running_stats=False)

    def forward(self, x):
        return self.bn(x)


def _trained_bn(bn: nn.Module) -> nn.Module:
    """Non-trivial running stats and affine params, so eval-mode BN is not an identity."""
    with torch.no_grad():
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        if bn.weight is not None:
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-1, 1)
    return bn


def _randomized(m: nn.Module) -> nn.Module:
    with torch.no_grad():
        for p in m.parameters():
            p.uniform_(-1, 1)
    return m


@pytest.mark.parametrize("name,module,inputs,opset", [
    ("batch_norm2d", _trained_bn(nn.BatchNorm2d(3)), (R(2, 3, 4, 5),), None),
    ("batch_norm1d_no_affine_2d_input", _trained_bn(nn.BatchNorm1d(4, affine=False)), (R(5, 4),), None),
    ("batch_norm_batch_stats", _NoStatsBN(), (R(4, 3, 2, 3),), None),
    ("layer_norm_affine_2dims", _randomized(nn.LayerNorm([4, 5])), (R(2, 4, 5),), None),
    ("layer_norm_no_affine", nn.LayerNorm(5, elementwise_affine=False), (R(3, 5),), None),
    ("layer_norm_no_bias", _randomized(nn.LayerNorm(5, bias=False)), (R(3, 5),), None),
    ("native_layer_norm_mean_rstd", Fn(lambda x, w, b: torch.ops.aten.native_layer_norm(x, [6], w, b, 1e-5)),
     (R(2, 3, 6), R(6), R(6)), None),
    ("group_norm_opset18", _randomized(nn.GroupNorm(2, 6)), (R(2, 6, 3, 4),), None),
    ("group_norm_opset21", _randomized(nn.GroupNorm(3, 6)), (R(2, 6, 5),), 21),
    ("group_norm_no_affine", nn.GroupNorm(2, 4, affine=False), (R(2, 4, 3, 3),), None),
    ("native_group_norm", Fn(lambda x, w, b: torch.ops.aten.native_group_norm(x, w, b, 2, 4, 9, 2, 1e-5)[0]),
     (R(2, 4, 3, 3), R(4), R(4)), None),
    ("instance_norm2d", nn.InstanceNorm2d(3), (R(2, 3, 4, 5),), None),
    ("instance_norm1d_affine", _randomized(nn.InstanceNorm1d(3, affine=True)), (R(2, 3, 6),), None),
    ("instance_norm_running_stats", _trained_bn(nn.InstanceNorm2d(3, affine=True, track_running_stats=True)),
     (R(2, 3, 4, 4),), None),
    ("rms_norm_opset18", _randomized(nn.RMSNorm([3, 4])), (R(2, 3, 4),), None),
    ("rms_norm_opset23", _randomized(nn.RMSNorm(4, eps=1e-3)), (R(2, 3, 4),), 23),
    ("rms_norm_no_weight_default_eps", nn.RMSNorm(4, elementwise_affine=False), (R(2, 4),), None),
])
def test_norm(name, module, inputs, opset):
    g = check_module(module, inputs, opset=opset)
    if isinstance(module, nn.GroupNorm):  # GroupNormalization-18 has per-group scale: only use 21+
        assert any(n.op_type == "GroupNormalization" for n in g.nodes()) == (opset is not None and opset >= 21)


IDX = torch.tensor([[1, 0, 4, 9], [3, 3, 0, 2]])


@pytest.mark.parametrize("name,module,inputs", [
    ("embedding_padding_idx", nn.Embedding(10, 4, padding_idx=0), (IDX,)),
    ("embedding_int32_indices", nn.Embedding(10, 3), (IDX.to(torch.int32),)),
    ("embedding_bag_mean_2d", nn.EmbeddingBag(10, 4, mode="mean"), (IDX,)),
    ("embedding_bag_sum_offsets_empty_bag", Fn(lambda w, i, o: F.embedding_bag(i, w, o, mode="sum")),
     (R(10, 3), torch.tensor([1, 2, 4, 5, 4, 3, 2, 9]), torch.tensor([0, 3, 3, 5]))),
    ("embedding_bag_max_padding", Fn(lambda w, i, o: F.embedding_bag(i, w, o, mode="max", padding_idx=2)),
     (R(10, 3), torch.tensor([1, 2, 4, 2, 2, 3]), torch.tensor([0, 3, 4, 5]))),
    ("embedding_bag_mean_padding_last_offset",
     Fn(lambda w, i, o: F.embedding_bag(i, w, o, mode="mean", padding_idx=4, include_last_offset=True)),
     (R(10, 3), torch.tensor([1, 2, 4, 5, 4, 3]), torch.tensor([0, 2, 4, 6]))),
    ("embedding_bag_per_sample_weights",
     Fn(lambda w, i, o, p: F.embedding_bag(i, w, o, mode="sum", per_sample_weights=p)),
     (R(10, 3), torch.tensor([1, 2, 4, 5]), torch.tensor([0, 1]), R(4))),
])
def test_embedding(name, module, inputs):
    check_module(module, inputs)


def _sdpa(**kw):
    return Fn(lambda q, k, v, *m: F.scaled_dot_product_attention(q, k, v, *m, **kw))


Q, K, V = R(2, 3, 5, 8), R(2, 3, 7, 8), R(2, 3, 7, 6)
BOOL_MASK = torch.rand(2, 1, 5, 7) > 0.3
BOOL_MASK[..., 0] = True  # no fully-masked rows: torch gives NaN there, ONNX Attention gives 0


class _MHA(nn.Module):
    def __init__(self, need_weights: bool) -> None:
        super().__init__()
        self.mha = nn.MultiheadAttention(8, 2, batch_first=True)
        self.need_weights = need_weights

    def forward(self, q, k, v):
        out, weights = self.mha(q, k, v, need_weights=self.need_weights)
        return (out, weights) if self.need_weights else out


class _CausalSDPA(nn.Module):
    def forward(self, x):
        return F.scaled_dot_product_attention(x, x, x, is_causal=True)


@pytest.mark.parametrize("opset", [18, 23])
@pytest.mark.parametrize("name,module,inputs", [
    ("sdpa_plain", _sdpa(), (Q, K, V)),
    ("sdpa_causal_square", _sdpa(is_causal=True), (R(1, 2, 6, 4), R(1, 2, 6, 4), R(1, 2, 6, 4))),
    ("sdpa_causal_rect_scale", _sdpa(is_causal=True, scale=0.3), (Q, K, V)),
    ("sdpa_bool_mask", _sdpa(), (Q, K, V, BOOL_MASK)),
    ("sdpa_float_mask", _sdpa(), (Q, K, V, R(5, 7))),
    ("sdpa_gqa", _sdpa(enable_gqa=True), (R(1, 4, 5, 8), R(1, 2, 7, 8), R(1, 2, 7, 8))),
    ("sdpa_3d_inputs", _sdpa(), (R(3, 5, 8), R(3, 7, 8), R(3, 7, 8))),
])
def test_sdpa(name, module, inputs, opset):
    g = check_module(module, inputs, opset=opset)
    fused = any(n.op_type == "Attention" for n in g.nodes())
    assert fused == (opset >= 23 and inputs[0].dim() == 4), "ONNX Attention exactly when opset >= 23 and 4-D"


def test_sdpa_dynamic_seq_causal():
    g = check_module(_CausalSDPA(), (R(2, 2, 5, 4),), dynamic_shapes={"x": {0: "batch", 2: "seq"}},
                     other_inputs=(R(3, 2, 7, 4),))
    assert any(n.op_type == "Trilu" for n in g.nodes())


@pytest.mark.parametrize("need_weights,opset", [(True, 18), (False, 23)])
def test_multihead_attention(need_weights, opset):
    check_module(_randomized(_MHA(need_weights)), (R(2, 4, 8), R(2, 6, 8), R(2, 6, 8)), opset=opset)


@pytest.mark.parametrize("opset", [18, 23])
def test_transformer_encoder_layer_gelu(opset):
    layer = nn.TransformerEncoderLayer(8, 2, 16, activation="gelu", batch_first=True)
    check_module(layer, (R(2, 5, 8),), opset=opset)


def _interp(**kw):
    return Fn(lambda x: F.interpolate(x, **kw))


@pytest.mark.parametrize("name,module,inputs", [
    ("nearest1d_scale", _interp(scale_factor=3), (R(1, 2, 4),)),
    ("nearest2d_size_downsample", _interp(size=(2, 5)), (R(1, 2, 5, 7),)),
    ("nearest2d_fractional_scale", _interp(scale_factor=1.7), (R(1, 2, 5, 4),)),
    ("nearest3d_size", _interp(size=(3, 5, 2)), (R(1, 1, 2, 3, 4),)),
    ("nearest_exact2d_size", _interp(size=(5, 7), mode="nearest-exact"), (R(1, 2, 3, 3),)),
    ("nearest_exact2d_down", _interp(size=(3, 2), mode="nearest-exact"), (R(1, 2, 7, 5),)),
    ("nearest_exact1d_scale", _interp(scale_factor=2.5, mode="nearest-exact"), (R(1, 2, 4),)),
    ("linear1d", _interp(scale_factor=2, mode="linear"), (R(1, 2, 5),)),
    ("linear1d_align_corners", _interp(size=7, mode="linear", align_corners=True), (R(1, 2, 5),)),
    ("bilinear_align_corners_module", nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
     (R(1, 2, 3, 3),)),
    ("bilinear_size_down", _interp(size=(3, 2), mode="bilinear"), (R(1, 2, 7, 5),)),
    ("bilinear_recompute_scale", _interp(scale_factor=1.5, mode="bilinear", recompute_scale_factor=True),
     (R(1, 2, 5, 3),)),
    ("bilinear_antialias_down", _interp(size=(3, 4), mode="bilinear", antialias=True), (R(1, 2, 9, 11),)),
    ("bicubic_antialias_scale", _interp(scale_factor=0.4, mode="bicubic", antialias=True), (R(2, 1, 10, 7),)),
    ("bilinear_antialias_up_align", _interp(size=(5, 3), mode="bilinear", antialias=True, align_corners=True),
     (R(1, 2, 3, 2),)),
    ("bicubic_scale", _interp(scale_factor=2, mode="bicubic"), (R(1, 2, 4, 4),)),
    ("bicubic_align_corners_size", _interp(size=(6, 5), mode="bicubic", align_corners=True), (R(1, 2, 4, 3),)),
    ("trilinear", _interp(scale_factor=2, mode="trilinear"), (R(1, 2, 2, 3, 2),)),
    ("aten_nearest2d_default_scales", Fn(lambda x: torch.ops.aten.upsample_nearest2d(x, [7, 5], 2.5, 1.7)),
     (R(1, 2, 3, 3),)),
    ("aten_nearest_exact1d_default", Fn(lambda x: torch.ops.aten._upsample_nearest_exact1d(x, [9])), (R(1, 2, 4),)),
    ("aten_bilinear2d_default_align", Fn(lambda x: torch.ops.aten.upsample_bilinear2d(x, [5, 4], True)),
     (R(1, 2, 3, 3),)),
    ("aten_bicubic2d_default_scales", Fn(lambda x: torch.ops.aten.upsample_bicubic2d(x, [6, 6], False, 2.0, 2.0)),
     (R(1, 1, 3, 3),)),
    ("pixel_shuffle", nn.PixelShuffle(2), (R(2, 8, 3, 4),)),
    ("pixel_shuffle_unbatched", nn.PixelShuffle(3), (R(9, 2, 2),)),
    ("pixel_unshuffle", nn.PixelUnshuffle(2), (R(2, 3, 4, 6),)),
])
def test_upsample(name, module, inputs):
    check_module(module, inputs)


class _Upsample2x(nn.Module):
    def forward(self, x):
        return F.interpolate(x, scale_factor=2, mode="bilinear")


def test_upsample_dynamic_batch():
    check_module(_Upsample2x(), (R(2, 3, 4, 5),), dynamic_shapes={"x": {0: "batch"}}, other_inputs=(R(3, 3, 4, 5),))


def _pad(*pad, **kw):
    return Fn(lambda x: F.pad(x, list(pad), **kw))


@pytest.mark.parametrize("name,module,inputs,opset", [
    ("constant_last_dim", _pad(1, 2, value=3.5), (R(2, 3, 4),), None),
    ("constant_two_dims_zero", _pad(1, 0, 2, 1), (R(2, 3, 4),), None),
    ("constant_negative_crop", _pad(-1, 2, 0, -1), (R(2, 3, 4),), None),
    ("constant_int_tensor", _pad(2, 1, value=7), (torch.arange(6).reshape(2, 3),), None),
    ("constant_pad_nd_all_dims", Fn(lambda x: torch.constant_pad_nd(x, [1, 1, 0, 2, 1, 0], -1.0)), (R(2, 3, 4),), None),
    ("reflect_2d", _pad(1, 2, 2, 1, mode="reflect"), (R(1, 2, 4, 5),), None),
    ("reflect_module_1d", nn.ReflectionPad1d((2, 1)), (R(2, 3, 5),), None),
    ("replicate_module_2d", nn.ReplicationPad2d((1, 0, 2, 3)), (R(1, 2, 3, 3),), None),
    ("replicate_3d", _pad(1, 1, 0, 2, 1, 0, mode="replicate"), (R(1, 1, 2, 3, 2),), None),
    ("circular_1d_slices", _pad(1, 2, mode="circular"), (R(1, 2, 4),), None),
    ("circular_2d_slices", _pad(2, 1, 1, 1, mode="circular"), (R(1, 2, 3, 4),), None),
    ("circular_1d_wrap_opset19", _pad(1, 2, mode="circular"), (R(1, 2, 4),), 19),
    ("circular_2d_wrap_opset19", _pad(2, 1, 1, 1, mode="circular"), (R(1, 2, 3, 4),), 19),
    ("zero_pad_module", nn.ZeroPad2d((1, 1, 2, 0)), (R(1, 2, 3, 3),), None),
])
def test_pad(name, module, inputs, opset):
    check_module(module, inputs, opset=opset)


class _ReflectPad(nn.Module):
    def forward(self, x):
        return F.pad(x, [1, 2], mode="reflect")


def test_pad_dynamic_batch():
    check_module(_ReflectPad(), (R(2, 3, 5),), dynamic_shapes={"x": {0: "batch"}}, other_inputs=(R(4, 3, 5),))


class _Recurrent(nn.Module):
    """Runs a recurrent layer, optionally from given initial states; returns output and states."""

    def __init__(self, rnn: nn.Module) -> None:
        super().__init__()
        self.rnn = _randomized(rnn)

    def forward(self, x, *state):
        if len(state) == 2:
            return self.rnn(x, (state[0], state[1]))
        return self.rnn(x, *state)


@pytest.mark.parametrize("name,rnn,inputs", [
    ("lstm_2layer_bidir_batch_first", nn.LSTM(4, 5, num_layers=2, bidirectional=True, batch_first=True),
     (R(2, 3, 4),)),
    ("lstm_no_bias_h0_c0", nn.LSTM(4, 3, bias=False), (R(5, 2, 4), R(1, 2, 3), R(1, 2, 3))),
    ("lstm_3layer_dropout_eval_h0_c0", nn.LSTM(3, 4, num_layers=3, dropout=0.5), (R(4, 2, 3), R(3, 2, 4), R(3, 2, 4))),
    ("lstm_bidir_h0_c0", nn.LSTM(4, 5, bidirectional=True), (R(3, 2, 4), R(2, 2, 5), R(2, 2, 5))),
    ("lstm_unbatched", nn.LSTM(4, 5), (R(6, 4),)),
    ("gru", nn.GRU(4, 5), (R(3, 2, 4),)),
    ("gru_2layer_bidir_batch_first_h0", nn.GRU(4, 5, num_layers=2, bidirectional=True, batch_first=True),
     (R(2, 3, 4), R(4, 2, 5))),
    ("gru_no_bias", nn.GRU(3, 4, bias=False), (R(3, 2, 3),)),
    ("rnn_tanh", nn.RNN(4, 5), (R(3, 2, 4),)),
    ("rnn_relu_2layer_bidir_h0", nn.RNN(4, 5, num_layers=2, nonlinearity="relu", bidirectional=True),
     (R(3, 2, 4), R(4, 2, 5))),
])
def test_recurrent(name, rnn, inputs):
    g = check_module(_Recurrent(rnn), inputs)
    kind = type(rnn).__name__
    assert sum(n.op_type == kind for n in g.nodes()) == rnn.num_layers, f"one ONNX {kind} per layer"


class _LstmDynamic(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = _randomized(nn.LSTM(4, 5, num_layers=2, bidirectional=True, batch_first=True))

    def forward(self, x):
        return self.lstm(x)


class _GruDynamicState(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = _randomized(nn.GRU(4, 5, batch_first=True))

    def forward(self, x, h):
        return self.gru(x, h)


def test_lstm_dynamic_batch():
    check_module(_LstmDynamic(), (R(2, 3, 4),), dynamic_shapes={"x": {0: "batch"}}, other_inputs=(R(5, 3, 4),))


def test_gru_dynamic_batch_with_state():
    # only the batch: torch.export specialises the sequence length of aten.gru
    check_module(_GruDynamicState(), (R(2, 3, 4), R(1, 2, 5)), dynamic_shapes={"x": {0: "batch"}, "h": {1: "batch"}},
                 other_inputs=(R(4, 3, 4), R(1, 4, 5)))


@pytest.mark.parametrize("name,module,inputs,message", [
    ("adaptive_max_uneven", nn.AdaptiveMaxPool1d(4), (R(1, 2, 7),), "spatial size [7] to [4]"),
    ("avg_pool_ceil_include_pad_mixed", nn.AvgPool2d(3, (2, 3), padding=(0, 1), ceil_mode=True), (R(1, 1, 10, 5),),
     "ceil_mode and count_include_pad"),
    ("avg_pool_divisor_ceil", nn.AvgPool2d(3, 2, ceil_mode=True, divisor_override=2), (R(1, 1, 6, 6),),
     "divisor_override and ceil_mode"),
    ("lstm_proj_size", nn.LSTM(4, 5, proj_size=3), (R(3, 2, 4),), "no output projection"),
    ("sdpa_dropout", _sdpa(dropout_p=0.5), (Q, K, V), "dropout_p=0.5"),
])
def test_unsupported_is_reported(name, module, inputs, message):
    with pytest.raises(ConversionError, match=re.escape(message)):
        check_module(module, inputs)


class _SmallCNN(nn.Module):
    """Conv / BN / pools / GroupNorm / upsample chain, for dynamic-shape and old-opset rows."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding="same", groups=1)
        self.bn = _trained_bn(nn.BatchNorm2d(8))
        self.pool = nn.MaxPool2d(3, 2, padding=1, ceil_mode=True)
        self.gn = _randomized(nn.GroupNorm(4, 8))
        self.up = nn.Upsample(scale_factor=2, mode="bilinear")
        self.head = nn.AdaptiveAvgPool2d(1)

    def forward(self, x):
        y = self.gn(self.pool(self.bn(self.conv(x))))
        return self.up(y), self.head(y)


@pytest.mark.parametrize("opset", [17, 18, 21])
def test_small_cnn_dynamic_batch_and_size(opset):
    check_module(_SmallCNN(), (R(2, 3, 9, 10),), dynamic_shapes={"x": {0: "batch", 2: "h", 3: "w"}},
                 other_inputs=(R(3, 3, 12, 7),), opset=opset)
