"""ONNX files nobody here wrote (bench/onnx_files.py): onnx's backend test data and the .onnx
files inside installed packages, on the runtime and migrated to PyTorch and TensorFlow, each
compared with the outputs stored with the case (onnxruntime's where none are stored).

The fast slice takes three IR 3 light Model Zoo files (initializers listed as inputs before
the data input); the whole sweep runs under ``slow`` and holds issue 14's bar: no wrong
number anywhere, and migrations correct on at least 95% of the cases the runtime runs."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("tensorflow")
pytest.importorskip("onnxruntime")

from bench.onnx_files import COLUMNS, OK, collect, run_case, summary  # noqa: E402

FAST = ["light/squeezenet", "light/shufflenet", "light/bvlc_alexnet"]  # the quickest three


@pytest.mark.parametrize("name", FAST)
def test_ir3_light_models_run_and_migrate_correctly(name):
    (case,) = [c for c in collect(f"^{name}$")]
    assert case.ir_version == 3 and case.expected is not None
    res = run_case(case, columns=("runtime", "to torch", "to tensorflow"))
    assert res.verdicts == {"runtime": OK, "to torch": OK, "to tensorflow": OK}, res.verdicts


@pytest.mark.slow
def test_whole_sweep_never_wrong_and_migrates_95_percent():
    results = [run_case(c) for c in collect()]
    wrong = [f"{r.case} {col}: {r.verdicts[col]}" for r in results for col in COLUMNS
             if r.verdicts[col].startswith("WRONG")]
    assert not wrong, "\n".join(wrong)
    ran = [r for r in results if r.verdicts["runtime"] == OK]
    for col in ("to torch", "to tensorflow"):
        good = sum(r.verdicts[col] == OK for r in ran)
        assert good >= 0.95 * len(ran), "\n".join(summary(results))
