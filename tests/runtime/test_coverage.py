"""The coverage table in docs/ is generated from the kernel registry and must stay current;
every standard ai.onnx operator has a kernel."""

from __future__ import annotations

from pathlib import Path

from tensorbridge.runtime.coverage import coverage_markdown, schema_versions
from tensorbridge.runtime.registry import KERNELS

DOC = Path(__file__).resolve().parents[2] / "docs" / "runtime-coverage.md"


def test_docs_table_is_current():
    assert DOC.read_text().strip() == coverage_markdown().strip(), (
        "regenerate: tensorbridge coverage runtime > docs/runtime-coverage.md")


def test_every_ai_onnx_operator_has_a_kernel():
    missing = [op for (domain, op) in schema_versions() if domain == "" and ("", op) not in KERNELS]
    assert missing == []


def test_duplicate_registration_raises():
    import pytest

    from tensorbridge.ir.op_registry import OpRegistry

    reg = OpRegistry("runtime")
    reg.register("Foo", since=1)(lambda x: x)
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("Foo", since=1)(lambda x: x)
