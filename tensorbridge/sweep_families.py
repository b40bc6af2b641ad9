"""Model families ``tensorbridge sweep`` walks: every architecture a library offers, built
with seeded random weights at a small input size (no weights are downloaded).

A :class:`Family` lists its architectures and builds one by name into a :class:`Built`
(the model, its example inputs, and how to rebuild it in float64 for the noise floor).
:data:`FAMILIES` is the explicit registry; a user's own zoo is a module defining
``FAMILIES`` (``tensorbridge sweep --families-from MODULE``).

PyPI's torchvision wheels are CUDA builds whose C++ ops do not load beside a CPU torch; its
pure-Python models (and timm, and transformers, which import torchvision) still import once
the ``torchvision::nms`` / ``qnms`` schemas exist, so :func:`declare_torchvision_ops` runs
before torchvision is imported (it does nothing when torchvision's own ops are loaded).
"""

from __future__ import annotations

import importlib
import importlib.util
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from tensorbridge.ir.errors import TensorbridgeError

IMAGE_SIZE = 64  # the small input size tried first (then the model's own default)


@dataclass(frozen=True)
class Built:
    model: Any
    example_inputs: tuple[Any, ...]
    kind: str  # "torch" or "keras": which eager run and which peers apply
    wide: Callable[[], Any] | None = None  # Keras: the same architecture, built under float64
    note: str = ""  # e.g. the input size used


@dataclass(frozen=True)
class Family:
    name: str
    kind: str  # "torch" or "keras"
    architectures: Callable[[], list[str]]
    build: Callable[[str], Built]
    about: str


_KEEP: list[Any] = []  # the schemas live as long as their Library object


def declare_torchvision_ops() -> None:
    """Declare ``torchvision::nms`` / ``qnms`` (schemas only) when torchvision's C++ ops are
    not loadable, so that its pure-Python models import."""
    if _KEEP or importlib.util.find_spec("torchvision") is None or importlib.util.find_spec("torch") is None:
        return
    import torch  # noqa: TID251 - the sweep builds framework models on purpose

    try:
        lib = torch.library.Library("torchvision", "DEF")
        lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    except RuntimeError:  # declared already (torchvision's own library, or someone else)
        return
    _KEEP.append(lib)


# --------------------------------------------------------------------------------------------
# making random networks informative: no constant tensors, calibrated BatchNorm
# --------------------------------------------------------------------------------------------

def redrawn(v: np.ndarray, seed: int, out_axis: int) -> np.ndarray:
    """A constant tensor redrawn: a scale c != 0 becomes c * U(0.5, 1.5); zeros become
    U(-0.1, 0.1) for vectors, U(-1, 1) / sqrt(fan_in) for matrices and kernels."""
    u = np.random.default_rng(seed).random(v.shape).astype(v.dtype)
    c = float(v.flat[0])
    if abs(c) > 1e-3:
        return c * (0.5 + u)
    bound = 0.1 if v.ndim == 1 else 1.0 / np.sqrt(max(v.size // v.shape[out_axis], 1))
    return (bound * (2 * u - 1)).astype(v.dtype)


def calibration_size(height: int, width: int) -> int:
    """Images in a BatchNorm calibration batch: enough that a layer whose map is 1x1 at the
    sweep's small input sizes (the last EfficientNet stages at 32x32) still gets stable
    statistics -- 256 images at 32x32 took a random Keras EfficientNetB1's output from 4e3
    (16 images) to 10 -- and fewer at larger sizes (at least 16)."""
    return max(16, 256 * 32 * 32 // max(height * width, 1))


def batch_statistics(x: np.ndarray, channel_axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Per channel of ``x``: the mean and biased variance over every other axis, in float64
    (a BatchNorm's statistics for the batch ``x``)."""
    x = np.asarray(x, dtype=np.float64)
    over = tuple(a for a in range(x.ndim) if a != channel_axis % x.ndim)
    return x.mean(axis=over), x.var(axis=over)


def torch_ready(module: Any, calibrate: Any = None) -> Any:
    """eval mode; every constant-initialised tensor (zero biases and heads, unit norms, 1e-6
    layer scales) redrawn so that no branch is invisible, then BatchNorm statistics
    calibrated on ``calibrate`` in order, in inference mode: in one eval-mode pass every
    BatchNorm first takes its own input's batch mean and (biased) variance as its running
    statistics, so each layer is calibrated on what the calibrated layers before it
    produce and a deep random network neither collapses nor blows up.

    A training-mode pass does not do that: stochastic depth and dropout change every batch
    statistic, and statistics from a few images do not hold on others. timm's
    tf_efficientnet_b6 calibrated on 4 images in training mode reached 2.7e4 at its output
    on a new image and its conversion could not be verified (its own float32 noise was
    above the check's tolerance); calibrated in order on 64 it gives 1.1 and passes."""
    import torch  # noqa: TID251

    with torch.no_grad():
        for i, (_, t) in enumerate(module.named_parameters()):
            if t.is_floating_point() and t.numel() > 1 and bool((t == t.flatten()[0]).all()):
                t.copy_(torch.from_numpy(redrawn(t.detach().numpy(), i, out_axis=0)))
    norms = [m for m in module.modules()
             if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.running_mean is not None]

    def calibrated(m: Any, args: tuple[Any, ...]) -> None:
        mean, var = batch_statistics(args[0].detach().double().numpy(), 1)
        m.running_mean.copy_(torch.from_numpy(mean))
        m.running_var.copy_(torch.from_numpy(var))

    if calibrate is not None and norms:
        hooks = [m.register_forward_pre_hook(calibrated) for m in norms]
        try:
            with torch.no_grad():
                module.eval()(calibrate)
        finally:
            for h in hooks:
                h.remove()
    return module.eval()


def image(size: int, batch: int = 1, seed: int = 0, channels: int = 3) -> Any:
    import torch  # noqa: TID251

    return torch.randn(batch, channels, size, size, generator=torch.Generator().manual_seed(seed))


def _first_size_that_runs(make: Callable[[int], Any], sizes: list[int]) -> tuple[Any, int]:
    """The model built by ``make(size)`` for the first size whose eager forward runs."""
    import torch  # noqa: TID251

    problems = []
    for size in dict.fromkeys(sizes):
        try:
            m = make(size)
            with torch.no_grad():
                m.eval()(image(size))
            return m, size
        except Exception as e:  # noqa: BLE001 - the next size may work
            problems.append(f"{size}x{size}: {type(e).__name__}: {str(e).strip().splitlines()[0][:200] if str(e).strip() else ''}")
    raise TensorbridgeError("does not run at " + "; ".join(problems))


def _torch_built(m: Any, size: int, channels: int = 3) -> Built:
    import torch  # noqa: TID251

    torch.manual_seed(0)
    model = torch_ready(m, image(size, calibration_size(size, size), 9, channels))
    return Built(model, (image(size, channels=channels),), "torch", note=f"{size}x{size}")


# --------------------------------------------------------------------------------------------
# timm
# --------------------------------------------------------------------------------------------

def timm_architectures() -> list[str]:
    declare_torchvision_ops()
    import timm

    return sorted(timm.list_models())


def timm_build(arch: str) -> Built:
    declare_torchvision_ops()
    import timm
    import torch  # noqa: TID251

    def make(size: int) -> Any:
        torch.manual_seed(0)
        try:  # ViT-like models take their input size; convolutional ones ignore it
            return timm.create_model(arch, pretrained=False, num_classes=0, img_size=size)
        except Exception:  # noqa: BLE001 - no img_size argument, or not this size
            return timm.create_model(arch, pretrained=False, num_classes=0)

    default = timm.get_pretrained_cfg(arch)
    default_size = int(default.input_size[-1]) if default is not None and default.input_size else 224
    m, size = _first_size_that_runs(make, [IMAGE_SIZE, default_size])
    return _torch_built(m, size)


# --------------------------------------------------------------------------------------------
# torchvision
# --------------------------------------------------------------------------------------------

_TV_KINDS = ("", "segmentation", "detection")  # classification, segmentation, detection


def torchvision_architectures() -> list[str]:
    declare_torchvision_ops()
    import torchvision

    names = []
    for sub in _TV_KINDS:
        module = getattr(torchvision.models, sub) if sub else torchvision.models
        prefix = f"{sub}." if sub else ""
        names += [prefix + n for n in torchvision.models.list_models(module=module)]
    return names


def torchvision_build(arch: str) -> Built:
    declare_torchvision_ops()
    import torch  # noqa: TID251
    import torchvision

    sub, _, name = arch.rpartition(".")
    kw: dict[str, Any] = {"weights": None, "num_classes": 10 if not sub else 4}
    if sub:
        kw["weights_backbone"] = None
    if sub == "detection":  # eval mode takes a list of images and returns boxes after NMS
        return _torchvision_detection(name, kw)
    vit = re.fullmatch(r"vit_[a-z]+_(\d+)", name)

    def make(size: int) -> Any:
        torch.manual_seed(0)
        extra = {"image_size": size} if vit else {}
        return torchvision.models.get_model(name, **kw, **extra)

    sizes = [4 * int(vit.group(1))] if vit else [IMAGE_SIZE, 224]
    m, size = _first_size_that_runs(make, sizes)
    return _torch_built(m, size)


def _torchvision_detection(name: str, kw: dict[str, Any]) -> Built:
    import torch  # noqa: TID251
    import torchvision

    torch.manual_seed(0)
    m = torchvision.models.get_model(name, **kw).eval()

    class Detector(torch.nn.Module):
        """One image in, the first detection's tensors out (boxes, scores, labels)."""

        def __init__(self) -> None:
            super().__init__()
            self.model = m

        def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
            out = self.model([x[0]])[0]
            return tuple(out[k] for k in sorted(out) if isinstance(out[k], torch.Tensor))

    wrapped = Detector().eval()
    x = image(IMAGE_SIZE * 2)
    with torch.no_grad():
        wrapped(x)  # raises when torchvision's C++ ops (nms, roi_align) are not loadable
    return Built(wrapped, (x,), "torch", note=f"{IMAGE_SIZE * 2}x{IMAGE_SIZE * 2}")


# --------------------------------------------------------------------------------------------
# transformers: every model type, a small config
# --------------------------------------------------------------------------------------------

def transformers_architectures() -> list[str]:
    declare_torchvision_ops()
    from transformers import CONFIG_MAPPING

    return sorted(CONFIG_MAPPING.keys())


def transformers_build(model_type: str) -> Built:
    """A small config's model (tensorbridge.sweep_transformers: the rules and their ladder)."""
    declare_torchvision_ops()
    from tensorbridge.sweep_transformers import build

    wrapped, inputs, note = build(model_type)
    x = inputs[0]
    calibrate = (image(x.shape[-1], calibration_size(x.shape[-2], x.shape[-1]), 9, x.shape[1])
                 if len(inputs) == 1 and x.dim() == 4 else None)
    wrapped = torch_ready(wrapped, calibrate)
    return Built(wrapped, inputs, "torch", note=note)


# --------------------------------------------------------------------------------------------
# keras.applications: every constructor, at its minimum input size
# --------------------------------------------------------------------------------------------

def _keras_constructors() -> dict[str, Callable[..., Any]]:
    """Every model constructor ``keras.applications`` exports at its top level (its
    submodules do not all re-export theirs: ``mobilenet_v3`` holds none)."""
    import keras

    found: dict[str, Callable[..., Any]] = {}
    for name in sorted(dir(keras.applications)):
        fn = getattr(keras.applications, name)
        if name[:1].isupper() and callable(fn) and fn not in found.values():
            found[name] = fn
    return found


def keras_architectures() -> list[str]:
    return sorted(_keras_constructors())


def keras_build(name: str) -> Built:
    import keras

    fn = _keras_constructors().get(name)
    if fn is None:
        raise TensorbridgeError(f"keras.applications has no {name!r}")
    kw = {"weights": None, "include_top": False, "pooling": "avg"}
    size = 32
    keras.utils.set_random_seed(0)  # before the weights are drawn: the same model in every process
    try:
        m = fn(input_shape=(size, size, 3), **kw)
    except ValueError as e:  # "... should be at least 75x75"
        found = re.search(r"at least (\d+)", str(e))
        if not found:
            raise
        size = int(found.group(1))
        keras.utils.set_random_seed(0)
        m = fn(input_shape=(size, size, 3), **kw)
    keras.utils.set_random_seed(0)
    _keras_ready(m, (size, size, 3))
    x = np.random.default_rng(0).uniform(0, 1, (1, size, size, 3)).astype(np.float32)
    return Built(m, (x,), "keras", wide=lambda: fn(input_shape=(size, size, 3), **kw), note=f"{size}x{size}")


def _keras_ready(m: Any, shape: tuple[int, ...]) -> None:
    """The same redraw and in-order, inference-mode BatchNorm calibration as
    :func:`torch_ready`, on :func:`calibration_size` images: during one inference pass
    every BatchNormalization first takes its own input's batch mean and variance as its
    moving statistics. Calibrated by a training-mode pass (drop-connect active) on 4 images,
    a random EfficientNetB1 reached 3.6e7 at its output with a float32-vs-float64 error of
    1.5%: no conversion of it could be verified."""
    import keras

    for i, w in enumerate(m.weights):
        v = np.asarray(w.numpy())
        if v.dtype.kind == "f" and v.size > 1 and np.all(v == v.flat[0]):
            w.assign(redrawn(v, i, out_axis=-1))
    norms = [la for la in m._flatten_layers() if isinstance(la, keras.layers.BatchNormalization)]

    def calibrating(la: Any) -> Callable[..., Any]:
        call = la.call

        def run(inputs: Any, training: Any = None, mask: Any = None) -> Any:
            mean, var = batch_statistics(keras.ops.convert_to_numpy(inputs), la.axis)
            la.moving_mean.assign(mean.astype(np.float32))
            la.moving_variance.assign(var.astype(np.float32))
            return call(inputs, training=False, mask=mask)
        return run

    batch = calibration_size(shape[0], shape[1])
    for la in norms:
        object.__setattr__(la, "call", calibrating(la))
    try:
        m(np.random.default_rng(9).uniform(0, 1, (batch, *shape)).astype(np.float32), training=False)
    finally:
        for la in norms:
            object.__delattr__(la, "call")


# --------------------------------------------------------------------------------------------
# the registry
# --------------------------------------------------------------------------------------------

FAMILIES: dict[str, Family] = {
    f.name: f for f in (
        Family("timm", "torch", timm_architectures, timm_build, "timm.list_models(), img_size 64 when accepted"),
        Family("torchvision", "torch", torchvision_architectures, torchvision_build,
               "torchvision.models classification, segmentation and detection, 64x64 first"),
        Family("transformers", "torch", transformers_architectures, transformers_build,
               "every transformers model type, AutoConfig.for_model with small sizes, AutoModel"),
        Family("keras", "keras", keras_architectures, keras_build,
               "every keras.applications constructor at its minimum input size, no top, avg pooling"),
    )
}


def families(extra_module: str | None = None) -> dict[str, Family]:
    """The built-in families, plus those of ``extra_module`` (a module defining FAMILIES)."""
    found = dict(FAMILIES)
    if extra_module:
        module = importlib.import_module(extra_module)
        extra = getattr(module, "FAMILIES", None)
        if not isinstance(extra, dict):
            raise TensorbridgeError(f"--families-from {extra_module}: the module defines no FAMILIES dict "
                                    "(name -> tensorbridge.sweep_families.Family)")
        for name, fam in extra.items():
            if name in found:
                raise TensorbridgeError(f"--families-from {extra_module}: family {name!r} is built in; rename it")
            found[name] = fam
    return found
