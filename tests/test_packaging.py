"""The installed distribution claims only the ``tensorbridge`` import name.

The wheel is built from this checkout, unpacked into a folder of its own, and imported from a
user's project folder that holds its own ``ir/``, ``runtime/`` and ``converters/`` packages:
tensorbridge must work there, and the user's packages must stay the user's.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("build")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(out), str(ROOT)],
        check=True, cwd=build, capture_output=True, text=True)
    (found,) = out.glob("tensorbridge-*.whl")
    return found


def test_wheel_holds_only_the_tensorbridge_name(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names}
    assert tops == {"tensorbridge", wheel.name.split("-py")[0] + ".dist-info"}
    for layer in ("ir", "runtime", "converters"):
        assert f"tensorbridge/{layer}/__init__.py" in names
        assert f"tensorbridge/{layer}/py.typed" in names


def test_imports_from_a_project_with_its_own_ir_runtime_converters(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    project = tmp_path / "project"
    for name in ("ir", "runtime", "converters"):
        (project / name).mkdir(parents=True)
        (project / name / "__init__.py").write_text(f"OWNER = 'user {name}'\n")
    script = textwrap.dedent("""
        import numpy as np
        import onnx
        from onnx import TensorProto, helper

        import converters, ir, runtime
        import tensorbridge as tb

        graph = helper.make_graph(
            [helper.make_node("Relu", ["x"], ["y"])], "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        x = np.array([[-1, 2, -3], [4, -5, 6]], np.float32)
        (y,) = tb.run(model, x)
        assert (y == np.maximum(x, 0)).all()
        assert tb.load(model).nodes
        assert (ir.OWNER, runtime.OWNER, converters.OWNER) == (
            "user ir", "user runtime", "user converters")
        print(tb.__file__)
    """)
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "PYTHONNOUSERSITE": "1"}
    done = subprocess.run([sys.executable, "-c", script], cwd=project, env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().startswith(str(site))
