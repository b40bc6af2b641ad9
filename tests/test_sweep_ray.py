"""``tensorbridge sweep --ray``: one Ray task per model against a local Ray instance started
here, with the probe family of tests/sweep_probes.py: a model that converts, one that hangs
past its timeout (cancelled), and one whose worker is killed (retried once, then reported)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")
pytest.importorskip("torch")
pytest.importorskip("onnxruntime")

from tensorbridge.sweep import Job, Limits  # noqa: E402
from tensorbridge.sweep_ray import RETRIES, THREAD_ENV, run_ray  # noqa: E402

HERE = Path(__file__).resolve().parent
CELLS = ("onnx", "torch", "torch.onnx", "onnx2torch")


@pytest.fixture(scope="module")
def local_ray(tmp_path_factory):
    marks = tmp_path_factory.mktemp("ray") / "marks"
    path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH")) if p)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {**THREAD_ENV, "PYTHONPATH": path, "TB_SWEEP_PROBE_MARKS": str(marks)}})
    yield marks
    ray.shutdown()


@pytest.mark.slow  # 80 s on a loaded 2-core machine: Ray's start plus the 45 s timeout of the hung probe
def test_ray_tasks_stream_time_out_and_retry_a_lost_worker_once(local_ray, monkeypatch):
    monkeypatch.syspath_prepend(str(HERE))  # the driver lists the probe family too
    jobs = [Job("probe", "tiny_mlp", CELLS), Job("probe", "sleeper", ("onnx",)), Job("probe", "crasher", ("onnx",))]
    arrived: list[dict] = []
    run_ray(jobs, Limits(timeout=45, memory_limit=1500, families_from="sweep_probes"), arrived.append)
    by = {(r["arch"], r["cell"]): r for r in arrived}
    assert len(by) == len(arrived) == len(CELLS) + 2
    assert [by[("tiny_mlp", c)]["verdict"] for c in CELLS] == ["ok"] * len(CELLS), arrived
    assert by[("sleeper", "onnx")]["verdict"] == "timeout"
    lost = by[("crasher", "onnx")]
    assert lost["verdict"] == "error" and lost["error_class"] == "WorkerLost", lost
    assert len(local_ray.read_text().split()) == 1 + RETRIES  # the first attempt and one retry
    # streamed: the model that finished came back before the hung one was given up on
    assert arrived.index(by[("tiny_mlp", "onnx")]) < arrived.index(by[("sleeper", "onnx")])
    assert ray.is_initialized()  # an instance the caller started is left to the caller


@pytest.mark.slow  # starts its own local Ray instance in a subprocess (about 30 s)
def test_cli_sweep_ray_starts_a_local_instance_and_writes_the_matrix(tmp_path):
    import json
    import subprocess
    import sys

    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH")) if p))
    out = tmp_path / "sweep"
    proc = subprocess.run([sys.executable, "-m", "tensorbridge.cli", "sweep", "--ray", "--families-from", "sweep_probes",
                           "--family", "probe", "--match", "tiny", "--targets", "onnx,torch", "--peers", "none",
                           "--memory-limit", "1500", "--timeout", "120", "--out", str(out)],
                          env=env, capture_output=True, text=True, timeout=400)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    records = json.loads((out / "sweep.json").read_text())["records"]
    assert [(r["cell"], r["verdict"]) for r in records] == [("onnx", "ok"), ("torch", "ok")]
    assert json.loads((out / "sweep.json").read_text())["options"]["ray"] == ""
