"""The benchmark models, built with random seeded weights and exported once with
torch.onnx.export (cached in out/bench). Shared by the benchmarks and the tests that check
the runtime against onnxruntime on them."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np

CACHE = Path(__file__).resolve().parents[1] / "out" / "bench"


def _export(module, args: tuple, names: list[str], path: Path) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    args = tuple(torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, args, buf, dynamo=False, opset_version=17, input_names=names)
    path.write_bytes(buf.getvalue())


def resnet18() -> tuple[Path, list[np.ndarray]]:
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    path = CACHE / "resnet18.onnx"
    if not path.exists():
        _export(_resnet18_module(), (x,), ["x"], path)
    return path, [x]


def _resnet18_module():
    import torch
    from torch import nn

    class Basic(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.down = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                         if stride != 1 or cin != cout else nn.Identity())

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = torch.relu(self.bn1(self.conv1(x)))
            return torch.relu(self.bn2(self.conv2(y)) + self.down(x))

    class ResNet18(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                                      nn.MaxPool2d(3, 2, 1))
            chans = [(64, 64, 1), (64, 128, 2), (128, 256, 2), (256, 512, 2)]
            self.layers = nn.Sequential(*[nn.Sequential(Basic(a, b, s), Basic(b, b, 1)) for a, b, s in chans])
            self.fc = nn.Linear(512, 1000)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.layers(self.stem(x)).mean(dim=(2, 3)))

    torch.manual_seed(0)
    return ResNet18().eval()


def _bert4_inputs() -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 30522, (1, 128)).astype(np.int64), np.ones((1, 128), np.int64)]


def _bert4_module():
    from bench.torchvision_ops import declare_torchvision_ops

    declare_torchvision_ops()  # transformers imports torchvision when it is installed
    import torch
    from transformers import BertConfig, BertModel

    cfg = BertConfig(hidden_size=256, num_hidden_layers=4, num_attention_heads=4,
                     intermediate_size=1024, max_position_embeddings=512)
    torch.manual_seed(0)
    bert = BertModel(cfg).eval()

    class Bert4(torch.nn.Module):  # positional signature and a plain tensor output
        def __init__(self) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    return Bert4().eval()


def bert4() -> tuple[Path, list[np.ndarray]]:
    inputs = _bert4_inputs()
    path = CACHE / "bert4.onnx"
    if not path.exists():
        _export(_bert4_module(), tuple(inputs), ["input_ids", "attention_mask"], path)
    return path, inputs


def _lstm_module():
    import torch
    from torch import nn

    class Tagger(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(1000, 128)
            self.rnn = nn.LSTM(128, 256, num_layers=2, bidirectional=True, batch_first=True)
            self.head = nn.Linear(512, 20)

        def forward(self, ids: torch.Tensor) -> torch.Tensor:
            return self.head(self.rnn(self.embed(ids))[0])

    torch.manual_seed(0)
    return Tagger().eval()


def torch_models() -> dict:
    """name -> (factory of the eval-mode nn.Module, example inputs as numpy)."""
    rng = np.random.default_rng(0)
    return {
        "resnet18": (_resnet18_module, [rng.standard_normal((1, 3, 224, 224)).astype(np.float32)]),
        "bert4": (_bert4_module, _bert4_inputs()),
        "lstm_tagger": (_lstm_module, [rng.integers(0, 1000, (1, 64)).astype(np.int64)]),
    }


def tiny_module():
    """A model with (almost) no weights: what export costs regardless of model size."""
    import torch

    return torch.nn.Linear(4, 4).eval(), [np.ones((1, 4), np.float32)]


MODELS = {"resnet18": resnet18, "bert4": bert4}
