"""Deployment export cleanups on real PyTorch modules, checked against eager with
onnxruntime: BatchNorm folded into Conv, weight transposes folded into the (still named)
weights, shape queries of static values folded."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

import tensorbridge as tb
from tests.converters.pytorch_harness import flat_outputs, ort_run


def _convert_and_compare(module: nn.Module, x: torch.Tensor):
    module = module.eval()
    model = tb.convert(module, (x,))
    with torch.no_grad():
        expected = flat_outputs(module(x))
    got = ort_run(model, [x.numpy()])
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(tb.run(model, x.numpy())[0], expected[0], rtol=1e-4, atol=1e-5)
    return model


def test_batchnorm_is_folded_into_conv():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 4, 1, bias=False),
                      nn.BatchNorm2d(4))
    for bn in (m[1], m[4]):
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
        bn.weight.data.uniform_(0.5, 1.5)
    model = _convert_and_compare(m, torch.randn(2, 3, 9, 9))
    ops = [n.op_type for n in model.graph.node]
    assert ops == ["Conv", "Relu", "Conv"]
    names = {t.name for t in model.graph.initializer}
    assert {"0.weight", "3.weight"} <= names


def test_linear_weight_transpose_is_folded_and_keeps_its_name():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 5), nn.GELU(), nn.Linear(5, 3))
    model = _convert_and_compare(m, torch.randn(2, 4, 6))  # 3-D input: MatMul, not Gemm
    assert "Transpose" not in [n.op_type for n in model.graph.node]
    inits = {t.name: t for t in model.graph.initializer}
    assert list(inits["0.weight"].dims) == [6, 5]  # stored transposed for MatMul
    assert [n.op_type for n in model.graph.node].count("Gelu") == 1  # default opset 20


class _HF(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x).last_hidden_state


def _hf_convert(model: nn.Module, opset: int):
    module = _HF(model.eval()).eval()
    ids = torch.randint(0, 100, (2, 9), generator=torch.Generator().manual_seed(0))
    onnx_model = tb.convert(module, (ids,), opset=opset)
    with torch.no_grad():
        expected = module(ids).numpy()
    for got in (ort_run(onnx_model, [ids.numpy()])[0], tb.run(onnx_model, ids.numpy())[0]):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
    return [n.op_type for n in onnx_model.graph.node]


def test_handwritten_tanh_gelu_becomes_gelu_op():
    transformers = __import__("pytest").importorskip("transformers")
    torch.manual_seed(0)
    gpt2 = transformers.GPT2Model(transformers.GPT2Config(vocab_size=100, n_embd=32, n_layer=2, n_head=4,
                                                          n_positions=32))
    ops = _hf_convert(gpt2, opset=20)
    assert ops.count("Gelu") == 2 and "Tanh" not in ops
    ops18 = _hf_convert(gpt2, opset=18)
    assert "Gelu" not in ops18 and ops18.count("Tanh") == 2


def test_handwritten_rms_norm_becomes_rmsnormalization_at_23():
    transformers = __import__("pytest").importorskip("transformers")
    torch.manual_seed(0)
    llama = transformers.LlamaModel(transformers.LlamaConfig(
        vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
        num_key_value_heads=2, max_position_embeddings=32))
    ops = _hf_convert(llama, opset=23)
    assert ops.count("RMSNormalization") == 5 and "ReduceMean" not in ops  # 2 per layer + final norm
    assert "RMSNormalization" not in _hf_convert(llama, opset=20)


class _ConvLstm(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.bn = nn.Conv1d(3, 8, 3), nn.BatchNorm1d(8)
        self.rnn = nn.LSTM(8, 6, num_layers=2, bidirectional=True, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rnn(self.bn(self.conv(x)).transpose(1, 2))[0]


def test_exported_model_owns_its_weights():
    """Weights computed on serialization (BatchNorm folded into Conv, RNN gates re-ordered)
    and plain ones are copied into the ModelProto: changing the module afterwards does not
    reach it."""
    torch.manual_seed(0)
    m = _ConvLstm().eval()
    m.bn.running_var.uniform_(0.5, 2)
    x = torch.randn(2, 3, 7)
    model = _convert_and_compare(m, x)
    ops = [n.op_type for n in model.graph.node]
    assert ops.count("LSTM") == 2 and "BatchNormalization" not in ops
    before = ort_run(model, [x.numpy()])
    with torch.no_grad():
        for t in m.state_dict().values():
            t.zero_()
    np.testing.assert_array_equal(ort_run(model, [x.numpy()])[0], before[0])
