"""``tensorbridge sweep`` on the local process pool, with the probe family of
tests/sweep_probes.py: a model that converts, one with an unsupported op, one that hangs past
its timeout and one whose worker dies; the matrix's Markdown / HTML / JSON; the independent
check that tells a peer's silent wrong answer from a correct one."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from tensorbridge.ir.errors import ConversionError, TensorbridgeError, UnsupportedOpError  # noqa: E402
from tensorbridge.sweep import Job, Limits, jobs_for, run_local, select  # noqa: E402
from tensorbridge.sweep_checks import unsupported_ops  # noqa: E402
from tensorbridge.sweep_report import (  # noqa: E402
    Matrix,
    html_page,
    markdown,
    normalised,
    summary,
    unsupported_table,
)

HERE = Path(__file__).resolve().parent
FAST_CELLS = ("onnx", "torch", "torch.onnx", "onnx2torch")


@pytest.fixture
def probes(monkeypatch, tmp_path):
    """The probe family importable here and in worker processes."""
    monkeypatch.syspath_prepend(str(HERE))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH")) if p))
    marks = tmp_path / "marks"
    monkeypatch.setenv("TB_SWEEP_PROBE_MARKS", str(marks))
    return marks


def test_local_pool_fills_every_cell_times_out_and_survives_a_dead_worker(probes, tmp_path):
    jobs = [Job("probe", "tiny_mlp", FAST_CELLS), Job("probe", "det_unsupported", ("onnx", "torch")),
            Job("probe", "sleeper", ("onnx", "torch")), Job("probe", "crasher", ("onnx", "torch"))]
    records: list[dict] = []
    run_local(jobs, Limits(timeout=40, memory_limit=2000, families_from="sweep_probes"), records.append,
              n_jobs=2, log_dir=tmp_path / "logs")
    by = {(r["arch"], r["cell"]): r for r in records}
    assert len(by) == len(records) == sum(len(j.cells) for j in jobs)  # one record per cell
    assert all(by[("tiny_mlp", c)]["verdict"] == "ok" for c in FAST_CELLS), records
    assert by[("tiny_mlp", "onnx")]["err"] <= by[("tiny_mlp", "onnx")]["tolerance"]
    for cell in ("onnx", "torch"):
        det = by[("det_unsupported", cell)]
        assert det["verdict"] == "error" and det["unsupported"], det
        assert any("det" in op for op in det["unsupported"]), det["unsupported"]
        assert by[("sleeper", cell)]["verdict"] == "timeout"
        assert by[("crasher", cell)]["verdict"] == "error"
        assert by[("crasher", cell)]["error_class"] == "WorkerLost"
        assert "signal 9" in by[("crasher", cell)]["error"]
    # the dead worker's cell is reported, a new worker takes the next cell (and dies too)
    assert len(probes.read_text().split()) == 2


def test_matrix_reports_count_architectures_per_unsupported_op_and_stay_offline():
    records = [
        {"model": "f/a", "family": "f", "arch": "a", "cell": "onnx", "verdict": "error", "error_class": "ConversionError",
         "error": "x", "unsupported": ["pytorch: aten::foo", "pytorch: aten::bar"]},
        {"model": "f/a", "family": "f", "arch": "a", "cell": "torch", "verdict": "error", "unsupported": ["pytorch: aten::foo"]},
        {"model": "f/b", "family": "f", "arch": "b", "cell": "onnx", "verdict": "ok", "seconds": 1.0, "err": 0.0},
        {"model": "f/b", "family": "f", "arch": "b", "cell": "torch", "verdict": "WRONG", "err": 0.5, "error": "y"},
        {"model": "f/c", "family": "f", "arch": "c", "cell": "onnx", "verdict": "error", "unsupported": ["pytorch: aten::foo"]},
        {"model": "f/c", "family": "f", "arch": "c", "cell": "tf2onnx", "verdict": "n/a"},
    ]
    m = Matrix("tensorbridge sweep --family f", ["onnx", "torch", "tf2onnx"], {"timeout": 1}, records)
    table = {row["op"]: row["architectures"] for row in unsupported_table(m)}
    assert table == {"pytorch: aten::foo": 2, "pytorch: aten::bar": 1}
    counts = summary(m)
    assert counts["onnx"] == {"ok": 1, "refused": 0, "error": 2, "WRONG": 0, "timeout": 0, "skipped": 0}
    assert "tf2onnx" not in counts  # n/a cells are not counted
    text = markdown(m)
    assert "| `pytorch: aten::foo` | 2 |" in text and "| onnx | 1 | 0 | 2 | 0 | 0 | 0 | 33% (1/3) |" in text
    page = html_page(m)
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert json.loads(m.to_json())["records"] == records


def test_unsupported_ops_are_collected_through_conversion_errors_and_chains():
    inner = UnsupportedOpError("pytorch", "aten::foo", node="n1")
    try:
        try:
            raise ConversionError("PyTorch -> IR", [inner, UnsupportedOpError("pytorch", "aten::bar")])
        except ConversionError as e:
            raise TensorbridgeError("convert failed") from e
    except TensorbridgeError as outer:
        assert sorted(unsupported_ops(outer)) == ["pytorch: aten::bar", "pytorch: aten::foo"]


def test_independent_check_tells_ok_wrong_and_broken_results_apart(probes):
    import sweep_probes

    from tensorbridge.sweep_worker import Reference, _independent

    ref = Reference(sweep_probes._mlp())
    right = ref.built.model

    def run(feeds, shift=0.0):
        import torch

        with torch.no_grad():
            return [right(torch.from_numpy(feeds[0])).numpy() + shift]

    assert _independent(ref, run, "test")["verdict"] == "ok"
    wrong = _independent(ref, lambda f: run(f, shift=0.05), "peer returned it")
    assert wrong["verdict"] == "WRONG" and wrong["err"] > ref.tolerance
    assert _independent(ref, lambda f: [np.zeros((2, 5), np.float32)], "t")["verdict"] == "WRONG"  # shape

    def broken(feeds):
        raise RuntimeError("boom")

    assert _independent(ref, broken, "t")["verdict"] == "error"


def test_selection_is_seeded_filtered_and_limited(probes):
    everything = select(["probe"], families_from="sweep_probes")
    assert [a for _, a in everything] == ["crasher", "det_unsupported", "sleeper", "tiny_mlp"]
    a = select(["probe"], sample=2, seed=3, families_from="sweep_probes")
    assert a == select(["probe"], sample=2, seed=3, families_from="sweep_probes") and len(a) == 2
    assert select(["probe"], match="e[rp]", limit=1, families_from="sweep_probes") == [("probe", "crasher")]
    with pytest.raises(TensorbridgeError, match="unknown family 'nope'|--family nope"):
        select(["nope"], families_from="sweep_probes")
    jobs = jobs_for([("probe", "tiny_mlp")], ("onnx", "torch.onnx", "tf2onnx"), "sweep_probes")
    assert jobs[0].cells == ("onnx", "torch.onnx")  # tf2onnx converts keras sources only


def test_cli_sweep_writes_json_markdown_and_html(probes, tmp_path, capsys):
    from tensorbridge.cli import main

    out = tmp_path / "sweep"
    rc = main(["sweep", "--families-from", "sweep_probes", "--family", "probe", "--match", "tiny",
               "--targets", "onnx", "--peers", "torch.onnx", "--memory-limit", "2000", "--out", str(out)])
    assert rc == 0
    data = json.loads((out / "sweep.json").read_text())
    assert Counter(r["verdict"] for r in data["records"]) == {"ok": 2}
    assert data["summary"]["torch.onnx"]["ok"] == 1
    streamed = [json.loads(ln) for ln in (out / "results.jsonl").read_text().splitlines()]
    assert streamed == data["records"]
    assert "| probe/tiny_mlp |" in (out / "sweep-probe.md").read_text()
    assert (out / "sweep.html").read_text().startswith("<!doctype html>")
    assert "probe/tiny_mlp" in capsys.readouterr().out
    assert main(["sweep", "--out", str(out), "--report-only"]) == 0  # the tables again, from the stream


def test_a_parity_refusal_is_counted_apart_from_wrong_answers_also_in_old_runs():
    """tensorbridge's ParityError is a refusal (nothing wrong was handed back); a run recorded
    when it was called WRONG reads the same way, and a peer's wrong answer stays WRONG."""
    old = {"model": "f/a", "family": "f", "arch": "a", "cell": "onnx", "by": "tensorbridge", "verdict": "WRONG",
           "error_class": "ParityError", "error": "did not match"}
    peer = {"model": "f/a", "family": "f", "arch": "a", "cell": "torch.onnx", "by": "peer", "verdict": "WRONG",
            "err": 0.3, "error": "differs"}
    assert normalised(old)["verdict"] == "refused" and normalised(peer) == peer
    counts = summary(Matrix("c", ["onnx", "torch.onnx"], {}, [normalised(old), normalised(peer)]))
    assert counts["onnx"]["refused"] == 1 and counts["onnx"]["WRONG"] == 0
    assert counts["torch.onnx"]["WRONG"] == 1 and counts["torch.onnx"]["refused"] == 0
