"""Shared fixtures. Every test that builds or converts a graph also verifies it."""

from __future__ import annotations

import warnings
from functools import lru_cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"


@lru_cache(maxsize=1)
def conformance_cases() -> tuple:
    from onnx.backend.test.case.node import collect_testcases

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # onnx's case generators warn about overflow on purpose
        return tuple(collect_testcases(None))


@pytest.fixture(scope="session")
def fixtures_dir() -> Path:
    return FIXTURES


def pytest_configure(config: pytest.Config) -> None:
    _declare_torchvision_ops()


def _declare_torchvision_ops() -> None:
    """PyPI's torchvision wheels are CUDA builds whose C++ ops do not load beside the CPU
    torch; its pure-Python models (and timm, and transformers, which imports it when
    present) import once the ``torchvision::nms`` / ``qnms`` schemas exist."""
    import importlib.util

    if importlib.util.find_spec("torchvision") is None or importlib.util.find_spec("torch") is None:
        return
    import torch

    try:
        torch.ops.torchvision.nms  # noqa: B018  (a real build registers it)
        return
    except (AttributeError, RuntimeError):
        pass
    lib = torch.library.Library("torchvision", "DEF")  # noqa: TID251
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _KEEP.append(lib)  # the schemas live as long as the Library object


_KEEP: list = []
