"""Migration numerics pinned against PyTorch eager: small models whose emitted TensorFlow
module once returned a silently wrong answer, each also migrated to PyTorch.

Tolerance: every output within 1e-4 x max|eager| (float32; these models convert with
~1e-6 relative noise; to="tensorflow" was off by 7e-3 to 4e-1 on the models marked below,
to="torch" was right: it is pinned as the second migration).

The bug: with oneDNN on (TensorFlow's CPU default), grappler's remapper recognised the
TensorFlow emitter's LayerNormalization (``tf.nn.moments``, ``* rsqrt(var + eps) * gamma +
beta``) and replaced it with ``_MklLayerNorm`` at that op's default epsilon 1e-3 (Keras'
default, so Keras sources never showed it) whenever the normalised tensor is a single row
of static shape: a batch-1 2-D input, a pooled feature vector (classifier heads, ConvNeXt's
pooler), a one-token BERT sequence. Every input here is batch 1 for that reason.
"""

from __future__ import annotations

import os

os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"  # before TensorFlow is first imported

from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

torch = pytest.importorskip("torch")
pytest.importorskip("tensorflow")
nn = torch.nn

import tensorbridge as tb  # noqa: E402
from tensorbridge.migrate import run_emitted  # noqa: E402

RTOL = 1e-4  # of max|eager|, per output
TARGETS = ["tensorflow", "torch"]


def _randomize(module: nn.Module) -> nn.Module:
    """LayerNorm scales and shifts away from their 1 / 0 initialisation, so a scale or shift
    that is dropped or misplaced shows."""
    torch.manual_seed(1)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.LayerNorm) and m.weight is not None:
                m.weight.normal_(1.0, 0.5)
                m.bias.normal_(0.0, 0.5)
    return module.eval()


class LayerNorm2d(nn.Module):
    """nn.LayerNorm on a (batch, features) input."""

    def __init__(self, dim: int = 16) -> None:
        super().__init__()
        self.ln = nn.LayerNorm(dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ln(x)


class PooledHead(nn.Module):
    """conv features -> global mean pool -> LayerNorm -> Linear: the pooled vector has a
    small variance, so an epsilon of 1e-3 instead of 1e-5 moves every logit."""

    def __init__(self, dim: int = 16, classes: int = 5) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, dim, 3, padding=1)
        self.ln = nn.LayerNorm(dim)
        self.fc = nn.Linear(dim, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.ln(self.conv(x).mean((2, 3))))


class DropPath(nn.Module):
    """Stochastic depth (identity in eval), as ConvNeXt has it."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand(x.shape[0], *[1] * (x.dim() - 1), dtype=x.dtype) >= self.p
        return x * keep / (1 - self.p)


class ConvNeXtBlock(nn.Module):
    """Depthwise 7x7 -> channels-last LayerNorm (via permute) -> Linear -> GELU -> Linear ->
    layer scale (gamma * x) -> drop path -> residual."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), 0.5))
        self.drop_path = DropPath(0.1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 1)
        y = self.gamma * self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        return x + self.drop_path(y.permute(0, 3, 1, 2))


class ConvNeXtNet(nn.Module):
    """Patchify stem, two ConvNeXt blocks, then (``head``) the ConvNeXt classifier head:
    global mean pool -> LayerNorm -> Linear."""

    def __init__(self, dim: int = 16, head: bool = True) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, dim, 4, stride=4)
        self.blocks = nn.Sequential(ConvNeXtBlock(dim), ConvNeXtBlock(dim))
        self.head = head
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.fc = nn.Linear(dim, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x))
        return self.fc(self.norm(x.mean((2, 3)))) if self.head else x


class HFOutput(nn.Module):
    """One named output of a transformers model."""

    def __init__(self, model: nn.Module, key: str) -> None:
        super().__init__()
        self.model, self.key = model, key

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)[self.key]


def _bert_mlm() -> nn.Module:
    transformers = pytest.importorskip("transformers")
    config = transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=4, intermediate_size=64,
                                     max_position_embeddings=32)
    return HFOutput(transformers.BertForMaskedLM(config), "logits")


def _hf_convnext(cls: str, key: str) -> Callable[[], nn.Module]:
    def make() -> nn.Module:
        transformers = pytest.importorskip("transformers")
        config = transformers.ConvNextConfig(depths=[1, 1, 1, 1], hidden_sizes=[8, 16, 24, 32],
                                             num_labels=5, image_size=32)
        return HFOutput(getattr(transformers, cls)(config), key)
    return make


def _ids(length: int) -> Callable[[], torch.Tensor]:
    return lambda: torch.randint(0, 100, (1, length), generator=torch.Generator().manual_seed(0))


def _normal(*shape: int, scale: float = 1.0) -> Callable[[], torch.Tensor]:
    return lambda: scale * torch.randn(*shape, generator=torch.Generator().manual_seed(0))


# name: (model factory, example input); relative error of to="tensorflow" before the fix
MODELS: dict[str, tuple[Callable[[], nn.Module], Callable[[], torch.Tensor]]] = {
    "layernorm_2d_batch1": (LayerNorm2d, _normal(1, 16, scale=0.3)),  # 7.5e-3
    "layernorm_pooled_vector": (PooledHead, _normal(1, 3, 8, 8)),  # 1.7e-2
    "convnext_block": (lambda: ConvNeXtNet(head=False), _normal(1, 3, 32, 32)),  # was right
    "convnext_block_head": (ConvNeXtNet, _normal(1, 3, 32, 32)),  # 9.3e-3 (the head's LayerNorm)
    "bert_tiny_one_token": (_bert_mlm, _ids(1)),  # 1.1e-1 (BERT's epsilon is 1e-12)
    "bert_tiny": (_bert_mlm, _ids(8)),  # was right (8 rows)
    "hf_convnext_tiny_logits": (_hf_convnext("ConvNextForImageClassification", "logits"),
                                _normal(1, 3, 32, 32)),  # 7.5e-3
    "hf_convnext_tiny_pooler": (_hf_convnext("ConvNextModel", "pooler_output"),
                                _normal(1, 3, 32, 32)),  # 8.6e-3
}


def _check(model: nn.Module, x: torch.Tensor, to: str) -> None:
    with torch.no_grad():
        expected = model(x).numpy()
    module = tb.convert(model, (x,), to=to)
    (got,) = run_emitted(module, [x.numpy()])
    assert got.shape == expected.shape
    err = float(np.max(np.abs(got.astype(np.float64) - expected)))
    scale = float(np.max(np.abs(expected)))
    assert err <= RTOL * scale, (f"to={to}: max abs error {err:.3e} > {RTOL:g} x max|eager| "
                                 f"({scale:.3e}), relative {err / scale:.2e}")


@pytest.mark.parametrize("to", TARGETS)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_migrated_model_matches_eager(name: str, to: str) -> None:
    make, inputs = MODELS[name]
    torch.manual_seed(0)
    _check(_randomize(make()), inputs(), to)


# Every normalisation emitter at batch 1 on a low-variance input (variance ~1e-4, where an
# epsilon of 1e-3 instead of the node's would be a 10x error): each must use the node's
# epsilon whatever TensorFlow's graph optimiser does with its ops.
NORMS: dict[str, tuple[Callable[[], nn.Module], tuple[int, ...]]] = {
    "layer_norm_eps1e-6": (lambda: nn.LayerNorm(16, eps=1e-6), (1, 16)),  # was 4.1e-1
    "layer_norm_two_axes": (lambda: nn.LayerNorm([4, 16]), (1, 4, 16)),
    "layer_norm_one_row_3d": (lambda: nn.LayerNorm(16), (1, 1, 16)),  # was 4.0e-1
    "instance_norm_1d": (lambda: nn.InstanceNorm1d(8, affine=True), (1, 8, 16)),
    "instance_norm_2d": (lambda: nn.InstanceNorm2d(8, affine=True), (1, 8, 4, 4)),
    "group_norm": (lambda: nn.GroupNorm(2, 8), (1, 8, 16)),
    "group_norm_one_group": (lambda: nn.GroupNorm(1, 8), (1, 8, 4, 4)),
    "batch_norm_1d": (lambda: nn.BatchNorm1d(16), (1, 16)),
    "batch_norm_2d": (lambda: nn.BatchNorm2d(8), (1, 8, 4, 4)),
    "rms_norm": (lambda: nn.RMSNorm(16, eps=1e-5), (1, 16)),
}


@pytest.mark.parametrize("to", TARGETS)
@pytest.mark.parametrize("name", sorted(NORMS))
def test_normalization_uses_node_epsilon(name: str, to: str) -> None:
    make, shape = NORMS[name]
    torch.manual_seed(0)
    model = make().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(1.0, 0.5)
        if isinstance(model, nn.BatchNorm1d | nn.BatchNorm2d):  # low-variance statistics too
            model.running_mean.normal_(0.0, 0.01)
            model.running_var.uniform_(0.5e-4, 1.5e-4)
    _check(model, _normal(*shape, scale=0.01)(), to)
