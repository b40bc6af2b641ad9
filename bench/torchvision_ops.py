"""PyPI's torchvision wheels are CUDA builds whose C++ ops do not load beside the CPU torch
this project pins; its pure-Python models (and timm, and transformers, which imports
torchvision whenever it is installed) import once the ``torchvision::nms`` / ``qnms`` op
schemas exist. The benchmarks and the tests call :func:`declare_torchvision_ops` before
importing any of them. (Test/benchmark support only; the product never touches torch's
operator registry.)"""

from __future__ import annotations

import importlib.util

_KEEP: list = []  # the schemas live as long as their Library object


def declare_torchvision_ops() -> None:
    if importlib.util.find_spec("torchvision") is None or importlib.util.find_spec("torch") is None:
        return
    import torch

    if _KEEP:
        return
    try:
        lib = torch.library.Library("torchvision", "DEF")
        lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
        lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    except RuntimeError:  # declared by someone else in this process
        return
    _KEEP.append(lib)
