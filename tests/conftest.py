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
