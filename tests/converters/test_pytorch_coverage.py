"""The PyTorch coverage table in docs/ is generated from the translation registry."""

from __future__ import annotations

from pathlib import Path

from tensorbridge.converters.pytorch.coverage import coverage_markdown

DOC = Path(__file__).resolve().parents[2] / "docs" / "pytorch-coverage.md"


def test_docs_table_is_current():
    assert DOC.read_text().strip() == coverage_markdown().strip(), (
        "regenerate: tensorbridge coverage pytorch > docs/pytorch-coverage.md")


def test_duplicate_translation_raises():
    import pytest

    from tensorbridge.converters.pytorch.registry import AtenRegistry

    reg = AtenRegistry()
    reg.register("aten::foo.default")(lambda ctx, x: x)
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("aten::foo.default")(lambda ctx, x: x)
