"""The benchmark models, built with random seeded weights and exported once (cached in
out/bench). Shared by the benchmarks and the tests that check the runtime against
onnxruntime on them.

The same two architectures (a ResNet-18 and a 4-layer BERT) come from several exporters, so
that the runtime is measured on graphs nobody tuned it for: ``torch.onnx.export`` legacy
(``dynamo=False``, opset 17: ``resnet18``, ``bert4``), ``torch.onnx.export(dynamo=True)``
(``*_dynamo``), tensorbridge's own converter (``*_tb``) and, for the CNN, tf2onnx on a Keras
equivalent (``resnet18_tf2onnx``). ``mobilenetv3_dynamo`` is timm's MobileNetV3-Large (depthwise
3x3 and 5x5 convs, squeeze-excite, hard-swish; random weights) exported by dynamo.
``bench/model_zoo.py`` adds onnx's light Model Zoo files."""

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


def _export_dynamo(module, args: tuple, names: list[str], path: Path) -> None:
    import contextlib

    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    args = tuple(torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args)
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        program = torch.onnx.export(module, args, dynamo=True, input_names=names)
    tmp = path.with_suffix(".tmp.onnx")
    program.save(str(tmp))
    tmp.replace(path)


def _export_tensorbridge(module, args: tuple, path: Path) -> None:
    import onnx
    import torch

    import tensorbridge as tb

    path.parent.mkdir(parents=True, exist_ok=True)
    args = tuple(torch.from_numpy(a) if isinstance(a, np.ndarray) else a for a in args)
    proto = tb.convert(module, args, to="onnx", validate=False)
    path.write_bytes(onnx.ModelProto.SerializeToString(proto))


def _resnet18_input() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)


def resnet18() -> tuple[Path, list[np.ndarray]]:
    x = _resnet18_input()
    path = CACHE / "resnet18.onnx"
    if not path.exists():
        _export(_resnet18_module(), (x,), ["x"], path)
    return path, [x]


def resnet18_dynamo() -> tuple[Path, list[np.ndarray]]:
    x = _resnet18_input()
    path = CACHE / "resnet18_dynamo.onnx"
    if not path.exists():
        _export_dynamo(_resnet18_module(), (x,), ["x"], path)
    return path, [x]


def resnet18_tb() -> tuple[Path, list[np.ndarray]]:
    x = _resnet18_input()
    path = CACHE / "resnet18_tb.onnx"
    if not path.exists():
        _export_tensorbridge(_resnet18_module(), (x,), path)
    return path, [x]


def resnet18_tf2onnx() -> tuple[Path, list[np.ndarray]]:
    """The Keras equivalent of the ResNet-18 (NHWC input), converted by tf2onnx at opset 17."""
    x = np.transpose(_resnet18_input(), (0, 2, 3, 1)).copy()
    path = CACHE / "resnet18_tf2onnx.onnx"
    if not path.exists():
        import tensorflow as tf
        import tf2onnx

        model = _keras_resnet18()
        spec = (tf.TensorSpec((1, 224, 224, 3), tf.float32, name="x"),)
        proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=17)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(proto.SerializeToString())
    return path, [x]


def mobilenetv3_dynamo() -> tuple[Path, list[np.ndarray]]:
    """timm's ``mobilenetv3_large_100`` by torch.onnx dynamo: random weights, BatchNorm
    calibrated as the sweep's models are (``torch_ready``), eval mode."""
    x = _resnet18_input()
    path = CACHE / "mobilenetv3_dynamo.onnx"
    if not path.exists():
        import torch

        from tensorbridge.sweep_families import declare_torchvision_ops, image, torch_ready

        declare_torchvision_ops()
        import timm

        torch.manual_seed(0)
        model = torch_ready(timm.create_model("mobilenetv3_large_100", pretrained=False), image(224, 64, 9))
        _export_dynamo(model, (x,), ["x"], path)
    return path, [x]


def _keras_resnet18():
    """ResNet-18 in Keras 3 (BasicBlocks, BatchNorm with random statistics), seeded."""
    import keras

    L = keras.layers
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)  # BatchNorm statistics, drawn in layer order

    def bn(x):
        layer = L.BatchNormalization(epsilon=1e-5)
        y = layer(x)
        gamma, beta, mean, var = layer.get_weights()
        layer.set_weights([rng.uniform(0.5, 1.5, gamma.shape).astype(np.float32),
                           rng.uniform(-0.1, 0.1, beta.shape).astype(np.float32),
                           rng.uniform(-0.1, 0.1, mean.shape).astype(np.float32),
                           rng.uniform(0.5, 1.5, var.shape).astype(np.float32)])
        return y

    def block(x, cout: int, stride: int):
        y = L.ReLU()(bn(L.Conv2D(cout, 3, stride, padding="same", use_bias=False)(x)))
        y = bn(L.Conv2D(cout, 3, 1, padding="same", use_bias=False)(y))
        if stride != 1 or x.shape[-1] != cout:
            x = bn(L.Conv2D(cout, 1, stride, use_bias=False)(x))
        return L.ReLU()(L.Add()([x, y]))

    inp = keras.Input((224, 224, 3), batch_size=1)
    x = L.ReLU()(bn(L.Conv2D(64, 7, 2, padding="same", use_bias=False)(inp)))
    x = L.MaxPooling2D(3, 2, padding="same")(x)
    for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
        x = block(block(x, cout, stride), cout, 1)
    x = L.Dense(1000)(L.GlobalAveragePooling2D()(x))
    return keras.Model(inp, x, name="resnet18")


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


def bert4_dynamo() -> tuple[Path, list[np.ndarray]]:
    inputs = _bert4_inputs()
    path = CACHE / "bert4_dynamo.onnx"
    if not path.exists():
        _export_dynamo(_bert4_module(), tuple(inputs), ["input_ids", "attention_mask"], path)
    return path, inputs


def bert4_tb() -> tuple[Path, list[np.ndarray]]:
    inputs = _bert4_inputs()
    path = CACHE / "bert4_tb.onnx"
    if not path.exists():
        _export_tensorbridge(_bert4_module(), tuple(inputs), path)
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


# name -> factory of (cached .onnx path, inputs in graph-input order)
MODELS = {"resnet18": resnet18, "bert4": bert4, "resnet18_dynamo": resnet18_dynamo,
          "bert4_dynamo": bert4_dynamo, "resnet18_tb": resnet18_tb, "bert4_tb": bert4_tb,
          "resnet18_tf2onnx": resnet18_tf2onnx, "mobilenetv3_dynamo": mobilenetv3_dynamo}
