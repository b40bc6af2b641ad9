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
    # one copy of the torchvision work-around, shared with the benchmarks (bench/ is not an
    # installed package: loaded by path)
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location("_tb_torchvision_ops", ROOT / "bench" / "torchvision_ops.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    sys.modules[spec.name] = module  # type: ignore[union-attr]  (its Library must stay alive)
    module.declare_torchvision_ops()
