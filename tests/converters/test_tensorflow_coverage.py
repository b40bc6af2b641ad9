"""The TensorFlow coverage table in docs/ is generated from the translation registry."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("tensorflow")

from tensorbridge.converters.tensorflow.coverage import coverage_markdown  # noqa: E402

DOC = Path(__file__).resolve().parents[2] / "docs" / "tensorflow-coverage.md"


def test_docs_table_is_current():
    assert DOC.read_text().strip() == coverage_markdown().strip(), (
        "regenerate: tensorbridge coverage tensorflow > docs/tensorflow-coverage.md")
