"""Real architectures written by others (transformers, stock torch.nn), random-initialised
from small configs (no downloads), exported end to end: the ONNX passes the full checker,
and both the built-in runtime and onnxruntime match PyTorch eager within 1e-4 relative, on
the example inputs and on another batch size when exported with a dynamic batch."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from tests.converters.pytorch_harness import check_module

transformers = pytest.importorskip("transformers")
pytestmark = pytest.mark.slow

class HFWrapper(nn.Module):
    """Positional signature and a plain tensor output for a transformers model."""

    def __init__(self, model: nn.Module, key: str = "last_hidden_state") -> None:
        super().__init__()
        self.model, self.key = model, key

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return getattr(self.model(x), self.key)


def _ids(batch: int, seq: int, vocab: int = 100) -> torch.Tensor:
    return torch.randint(0, vocab, (batch, seq), generator=torch.Generator().manual_seed(batch))


def _hf(cls_name: str, cfg_name: str, **cfg) -> nn.Module:
    torch.manual_seed(0)
    config = getattr(transformers, cfg_name)(**cfg)
    return getattr(transformers, cls_name)(config).eval()


SMALL_TEXT = dict(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                  intermediate_size=64, max_position_embeddings=64)

TEXT_MODELS = {
    "bert": lambda: _hf("BertModel", "BertConfig", **SMALL_TEXT),
    "distilbert": lambda: _hf("DistilBertModel", "DistilBertConfig", vocab_size=100, dim=32, n_layers=2,
                              n_heads=4, hidden_dim=64, max_position_embeddings=64),
    "gpt2": lambda: _hf("GPT2Model", "GPT2Config", vocab_size=100, n_embd=32, n_layer=2, n_head=4,
                        n_positions=64),
    "llama_gqa_rope": lambda: _hf("LlamaModel", "LlamaConfig", **SMALL_TEXT, num_key_value_heads=2),
}


@pytest.mark.parametrize("name", sorted(TEXT_MODELS))
def test_text_models(name):
    model = HFWrapper(TEXT_MODELS[name]())
    check_module(model, (_ids(2, 12),), dynamic_shapes={"x": {0: "batch"}}, other_inputs=(_ids(3, 12),))


def _image(batch: int, size: int = 32, ch: int = 3) -> torch.Tensor:
    return torch.randn(batch, ch, size, size, generator=torch.Generator().manual_seed(batch))


VISION_MODELS = {
    "vit": lambda: _hf("ViTModel", "ViTConfig", hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                       intermediate_size=64, image_size=32, patch_size=8),
    "resnet": lambda: _hf("ResNetModel", "ResNetConfig", embedding_size=16, hidden_sizes=[16, 32],
                          depths=[1, 1], layer_type="basic"),
    "convnext": lambda: _hf("ConvNextModel", "ConvNextConfig", hidden_sizes=[16, 32], depths=[1, 1],
                            num_stages=2, image_size=32),
}


@pytest.mark.parametrize("name", sorted(VISION_MODELS))
def test_vision_models(name):
    key = "last_hidden_state" if name != "resnet" else "pooler_output"
    model = HFWrapper(VISION_MODELS[name](), key)
    check_module(model, (_image(2),), dynamic_shapes={"x": {0: "batch"}}, other_inputs=(_image(3),))


def test_speech_encoder_wav2vec2():
    model = HFWrapper(_hf("Wav2Vec2Model", "Wav2Vec2Config", hidden_size=32, num_hidden_layers=2,
                          num_attention_heads=4, intermediate_size=64, conv_dim=(16, 16), conv_stride=(5, 2),
                          conv_kernel=(10, 3), num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4,
                          do_stable_layer_norm=True))
    wave = torch.randn(2, 800, generator=torch.Generator().manual_seed(0))
    check_module(model, (wave,), dynamic_shapes={"x": {0: "batch"}},
                 other_inputs=(torch.randn(3, 800, generator=torch.Generator().manual_seed(1)),))


# ---------------------------------------------------------------- stock torch.nn
class Recurrent(nn.Module):
    def __init__(self, kind: str) -> None:
        super().__init__()
        cls = {"lstm": nn.LSTM, "gru": nn.GRU}[kind]
        self.rnn = cls(8, 16, num_layers=2, bidirectional=True, batch_first=True)
        self.head = nn.Linear(32, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y, _ = self.rnn(x)
        return self.head(y[:, -1])


class ConvNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 16, 3, padding=2, dilation=2, groups=4), nn.GroupNorm(4, 16), nn.GELU(),
            nn.MaxPool2d(2), nn.Conv2d(16, 8, 1), nn.InstanceNorm2d(8, affine=True), nn.SiLU(),
            nn.ConvTranspose2d(8, 8, 4, stride=2, padding=1), nn.Upsample(scale_factor=2, mode="bilinear"),
            nn.AvgPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, activation="gelu", batch_first=True)
        self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.mha = nn.MultiheadAttention(32, 4, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.enc(x)
        z, _ = self.mha(y, y, y)
        return z


@pytest.mark.parametrize("name,module,make", [
    ("lstm", lambda: Recurrent("lstm"), lambda b: torch.randn(b, 7, 8)),
    ("gru", lambda: Recurrent("gru"), lambda b: torch.randn(b, 7, 8)),
    ("convnet", ConvNet, lambda b: torch.randn(b, 3, 16, 16)),
    ("transformer_encoder", Encoder, lambda b: torch.randn(b, 6, 32)),
])
def test_torch_nn_models(name, module, make):
    torch.manual_seed(0)
    check_module(module(), (make(2),), dynamic_shapes={"x": {0: "batch"}}, other_inputs=(make(3),))
