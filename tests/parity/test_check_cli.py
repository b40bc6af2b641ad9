"""tensorbridge check: exit codes for CI gates, module.py:factory models, ONNX vs
onnxruntime, reports on disk, and zoo sweeps in worker processes."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from tensorbridge.cli import main as cli

FACTORY = textwrap.dedent('''
    import torch
    from torch import nn

    def good():
        torch.manual_seed(0)
        return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)).eval(), (torch.randn(3, 4),)

    class Sneaky(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def forward(self, x):
            y = self.fc(x)
            return y * 1.05 if torch.compiler.is_exporting() else y

    def bad():
        torch.manual_seed(0)
        return Sneaky().eval(), (torch.randn(3, 4),)

    def broken():
        return nn.Linear(4, 4), (torch.randn(3, 4), torch.randn(1))

    def hangs():
        import time
        time.sleep(60)
''')


def _write_models(tmp_path):
    path = tmp_path / "models.py"
    path.write_text(FACTORY)
    return path


def test_exit_codes_and_reports(tmp_path, capsys):
    models = _write_models(tmp_path)
    out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"
    assert cli(["check", f"{models}:good", "--json", str(out_json), "--html", str(out_html)]) == 0
    assert json.loads(out_json.read_text())["ok"] is True and "PASS" in out_html.read_text()
    assert cli(["check", f"{models}:bad"]) == 1
    assert "first divergence: <top level> (Mul)" in capsys.readouterr().out  # after fc, in forward
    assert cli(["check", f"{models}:broken"]) == 2
    assert cli(["check", str(tmp_path / "missing.pt2")]) == 2


def test_onnx_model_is_checked_against_onnxruntime(fixtures_dir, tmp_path):
    import numpy as np

    with np.load(fixtures_dir / "tiny_cnn.npz") as d:
        np.savez(tmp_path / "in.npz", x0=d["input_0"])
    assert cli(["check", str(fixtures_dir / "tiny_cnn.onnx"), "--inputs", str(tmp_path / "in.npz")]) == 0


def test_zoo_sweep_survives_crashes_and_hangs(tmp_path):
    models = _write_models(tmp_path)
    zoo = tmp_path / "zoo.yaml"
    zoo.write_text(textwrap.dedent(f"""
        models:
          - {{name: good, model: "{models}:good"}}
          - {{name: bad, model: "{models}:bad"}}
          - {{name: broken, model: "{models}:broken"}}
          - {{name: hangs, model: "{models}:hangs"}}
    """))
    out = tmp_path / "matrix.json"
    proc = subprocess.run([sys.executable, "-m", "tensorbridge", "check", "--zoo", str(zoo), "--timeout", "40",
                           "--json", str(out)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1
    rows = {r["model"]: r for r in json.loads(out.read_text())}
    assert rows["good"]["verdict"] == "pass" and rows["bad"]["verdict"] == "mismatch"
    assert rows["broken"]["verdict"].startswith("error") and rows["hangs"]["verdict"].startswith("timeout")
