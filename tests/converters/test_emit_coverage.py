"""The emitter coverage table in docs/ is generated from the registries and must stay
current. (That every op the front-ends produce has emitters is checked by the front-end
test harnesses on every graph they build: migrate_harness.assert_emittable.)"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("tensorflow")

from tensorbridge.emit_coverage import coverage_markdown  # noqa: E402

DOC = Path(__file__).resolve().parents[2] / "docs" / "emitter-coverage.md"


def test_docs_table_is_current():
    assert DOC.read_text().strip() == coverage_markdown().strip(), (
        "regenerate: tensorbridge coverage emitters > docs/emitter-coverage.md")
