"""PyPI's torchvision wheels are CUDA builds whose C++ ops do not load beside the CPU torch
this project pins; its pure-Python models (and timm, and transformers, which imports
torchvision whenever it is installed) import once the ``torchvision::nms`` / ``qnms`` op
schemas exist. The declaration lives in the product (``tensorbridge sweep`` needs it):
:func:`tensorbridge.sweep_families.declare_torchvision_ops`; tests/conftest.py loads this
file by path and calls it before any test imports torchvision."""

from __future__ import annotations

from tensorbridge.sweep_families import declare_torchvision_ops

__all__ = ["declare_torchvision_ops"]
