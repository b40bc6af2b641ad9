"""PyTorch sources migrated with tb.convert(..., to="torch" | "tensorflow"): the emitted
model matches PyTorch eager within 1e-4 relative (also at a second batch size where the
export is dynamic), keeps the trainable parameter count, and trains (one SGD step changes
the weights). PyTorch -> IR -> PyTorch keeps the state_dict names."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from tests.converters.migrate_harness import check_migration, trainable_count

pytest.importorskip("tensorflow")
TARGETS = ["torch", "tensorflow"]


def _r(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _eager(module: nn.Module, *args: torch.Tensor) -> list[np.ndarray]:
    with torch.no_grad():
        out = module(*args)
    return [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]


def _randomize_bn(module: nn.Module) -> nn.Module:
    g = torch.Generator().manual_seed(1)
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)
    return module


class ConvNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
            nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, stride=2, padding=1, groups=2), nn.BatchNorm2d(16),
            nn.ReLU(), nn.Conv2d(16, 16, 3, padding=2, dilation=2), nn.ReLU())
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(16, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.pool(self.features(x)), 1))


class LstmTagger(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 16)
        self.lstm = nn.LSTM(16, 12, num_layers=2, bidirectional=True, batch_first=True)
        self.out = nn.Linear(24, 7)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.out(self.lstm(self.embed(ids))[0])


class GruNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(6, 10, batch_first=True)
        self.out = nn.Linear(10, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.gru(x)[0][:, -1])


def _encoder() -> nn.Module:
    torch.manual_seed(0)
    layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.0, batch_first=True, activation="gelu")
    return nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)


MODELS = {
    "convnet": (lambda: _randomize_bn(ConvNet()), lambda b: (_r(b, 3, 16, 16, seed=b),)),
    "lstm_tagger": (LstmTagger, lambda b: (torch.randint(0, 50, (b, 9), generator=torch.Generator().manual_seed(b)),)),
    "gru": (GruNet, lambda b: (_r(b, 7, 6, seed=b),)),
    "transformer_encoder": (_encoder, lambda b: (_r(b, 10, 32, seed=b),)),
}


@pytest.mark.parametrize("to", TARGETS)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_pytorch_model_migrates(name, to):
    torch.manual_seed(0)
    make, inputs = MODELS[name]
    model = make().eval()
    example, other = inputs(2), inputs(3)
    dynamic = {_arg_names(model)[0]: {0: "batch"}}
    module = check_migration(
        model, example, [t.numpy() for t in example], _eager(model, *example), to,
        trainable=trainable_count(model), other=([t.numpy() for t in other], _eager(model, *other)),
        dynamic_shapes=dynamic)
    if to == "torch":  # the round trip keeps the state_dict names
        assert {n for n, _ in module.named_parameters()} == {n for n, _ in model.named_parameters()}


def _arg_names(model: nn.Module) -> list[str]:
    import inspect

    return list(inspect.signature(model.forward).parameters)


def test_inference_cache_follows_weight_updates():
    """Weight-only steps (the LSTM's gate re-ordering) are cached for no-grad calls; an
    optimizer step or load_state_dict invalidates the cache."""
    import tensorbridge as tb

    model = LstmTagger().eval()
    ids = torch.randint(0, 50, (2, 9), generator=torch.Generator().manual_seed(0))
    module = tb.convert(model, (ids,), to="torch")
    with torch.no_grad():
        before = module(ids)
    loss = module(ids).pow(2).mean()  # grad enabled: recomputed, and trains
    loss.backward()
    torch.optim.SGD(module.parameters(), lr=1.0).step()
    with torch.no_grad():
        after = module(ids)
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, module(ids).detach())  # the cached path = the full path
    module.load_state_dict({k: v * 0.5 for k, v in module.state_dict().items()})
    with torch.no_grad():
        torch.testing.assert_close(module(ids), module(ids))
        reloaded = module(ids)
    torch.testing.assert_close(reloaded, module(ids).detach())
