"""Saves are atomic: a model and its external data appear together or not at all.

Real processes are killed (SIGKILL, SIGTERM, SIGINT) at random points of a large save, and
at the worst points on purpose (between the data file's rename and the model's, and
between the model's rename and the removal of the old data). After each kill the
destination must be the old pair or the new pair, load, and compute the right numbers;
the next save must leave no temporary file behind.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import tensorbridge as tb
from tensorbridge.converters.files import TMP_PREFIX, atomic_folder, sweep

# The child builds y = x @ W + b with every weight equal to ``fill`` and saves it with
# external data; for x = ones(n) each output is n * fill + fill, so a model reading W of
# one save and b of another gives a number that neither save can.
CHILD = textwrap.dedent("""
    import os, signal, sys, time
    import numpy as np
    import tensorbridge as tb
    from tensorbridge.ir.dtypes import DType
    from tensorbridge.ir.graph import Graph
    from tensorbridge.ir.types import TensorType

    n, fill, path, die_after = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    g = Graph("m")
    x = g.add_input("x", DType.FLOAT, (1, n))
    w = g.add_constant("w", np.full((n, n), fill, np.float32))
    b = g.add_constant("b", np.full((n,), fill, np.float32))
    (y,) = g.add_op("MatMul", [x, w])
    (z,) = g.add_op("Add", [y, b], output_types=[TensorType(DType.FLOAT, (1, n))])
    g.set_outputs([z])
    if die_after:  # SIGKILL right after the die_after-th rename of the save
        real, calls = os.replace, []
        def replace(*args, **kw):
            real(*args, **kw)
            calls.append(args)
            if len(calls) == die_after:
                os.kill(os.getpid(), signal.SIGKILL)
        os.replace = replace
    print("ready", flush=True)
    t0 = time.perf_counter()
    tb.save(g, path, external_data=True)
    print(f"done {time.perf_counter() - t0:.3f}", flush=True)
""")


def _start(folder: Path, n: int, fill: float, die_after: int = 0) -> subprocess.Popen[str]:
    script = folder.parent / "child.py"
    script.write_text(CHILD)
    proc = subprocess.Popen([sys.executable, str(script), str(n), str(fill), str(folder / "m.onnx"),
                             str(die_after)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read() if proc.stderr else ""
    return proc


def _save(folder: Path, n: int, fill: float) -> float:
    """A save that is left to finish; returns how long it took."""
    proc = _start(folder, n, fill)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    return float(out.split()[-1])


def _fill_of(folder: Path, n: int) -> float:
    """The ``fill`` the model in ``folder`` was saved with (it must load and run)."""
    y = tb.run(folder / "m.onnx", np.ones((1, n), np.float32))[0]
    assert np.all(y == y.flat[0]), "a model mixing two saves"
    return float(y.flat[0]) / (n + 1)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(TMP_PREFIX))


def _assert_clean(folder: Path) -> None:
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 2 and names[0] == "m.onnx" and names[1].endswith(".data"), names


def _kill_at_random(tmp_path: Path, n: int, kills: int, sig: signal.Signals, seed: int) -> list[str]:
    folder = tmp_path / "out"
    folder.mkdir()
    duration = _save(folder, n, 1.0)
    current, rng, seen = 1.0, random.Random(seed), []
    for k in range(kills):
        fill = float(k + 2)
        proc = _start(folder, n, fill)
        time.sleep(rng.uniform(0, duration * 1.1))
        proc.send_signal(sig)
        proc.communicate(timeout=600)
        got = _fill_of(folder, n)
        assert got in (current, fill), f"after kill {k}: fill {got}, expected {current} or {fill}"
        left = _leftovers(folder)
        seen.append(f"{'old' if got == current else 'new'}+{len(left)} temporaries")
        current = got
        if sig != signal.SIGKILL:  # the handler removed its temporaries before dying
            assert _leftovers(folder) == [], (k, _leftovers(folder))
    print(f"{sig.name} x{kills} (save takes {duration:.2f}s):", ", ".join(seen))  # shown with -s
    _save(folder, n, 99.0)
    assert _fill_of(folder, n) == 99.0
    assert _leftovers(folder) == []
    _assert_clean(folder)
    return seen


def test_sigkill_during_save_leaves_old_or_new_pair(tmp_path):
    _kill_at_random(tmp_path, 1024, 3, signal.SIGKILL, seed=1)


@pytest.mark.slow
def test_sigkill_during_200mb_save_leaves_old_or_new_pair(tmp_path):
    _kill_at_random(tmp_path, 7072, 8, signal.SIGKILL, seed=2)  # 200 MB of weights


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_remove_temporaries(tmp_path, sig):
    _kill_at_random(tmp_path, 1024, 2, sig, seed=3)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_during_200mb_save(tmp_path, sig):
    _kill_at_random(tmp_path, 7072, 4, sig, seed=4)


@pytest.mark.parametrize("die_after,expect", [(1, "old"), (2, "new")])
def test_kill_at_the_worst_points(tmp_path, die_after, expect):
    """SIGKILL right after the data file's rename (before the commit), and right after the
    model's rename (before the old data is removed)."""
    folder = tmp_path / "out"
    folder.mkdir()
    _save(folder, 64, 1.0)
    proc = _start(folder, 64, 2.0, die_after=die_after)
    proc.communicate(timeout=600)
    assert proc.returncode == -signal.SIGKILL
    assert _fill_of(folder, 64) == (1.0 if expect == "old" else 2.0)
    assert len(list(folder.glob("m.onnx.*.data"))) == 2  # one orphan, to be removed next time
    _save(folder, 64, 3.0)
    assert _fill_of(folder, 64) == 3.0
    _assert_clean(folder)


def test_sweep_keeps_the_temporaries_of_live_saves(tmp_path):
    from tensorbridge.converters.files import temporary

    target = tmp_path / "m.onnx"
    with temporary(target) as live:
        dead = tmp_path / f"{TMP_PREFIX}999999999-abcd-m.onnx"  # no such process
        dead.write_bytes(b"left by a killed save")
        assert sweep(tmp_path) == [dead]
        assert live.exists()
    assert not live.exists()


def test_folder_replaced_in_one_step(tmp_path):
    target = tmp_path / "saved"
    with atomic_folder(target) as work:
        (work / "a.txt").write_text("old")
    with atomic_folder(target) as work:
        (work / "a.txt").write_text("new")
        assert (target / "a.txt").read_text() == "old"  # untouched until the block ends
    assert (target / "a.txt").read_text() == "new"
    with pytest.raises(RuntimeError), atomic_folder(target) as work:
        (work / "a.txt").write_text("broken")
        raise RuntimeError("the writer failed")
    assert (target / "a.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved"]


FOLDER_CHILD = textwrap.dedent("""
    import os, sys
    from tensorbridge.converters.files import atomic_folder
    target, text = sys.argv[1], sys.argv[2]
    print("ready", flush=True)
    with atomic_folder(target) as work:
        for i in range(200):
            (work / f"part{i}.bin").write_bytes(text.encode() * 50_000)
    print("done", flush=True)
""")


def test_sigkill_during_folder_save(tmp_path):
    target = tmp_path / "saved"
    script = tmp_path / "folder_child.py"
    script.write_text(FOLDER_CHILD)

    def run(text: str, kill_after: float | None) -> None:
        proc = subprocess.Popen([sys.executable, str(script), str(target), text], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        if kill_after is not None:
            time.sleep(kill_after)
            proc.kill()
        proc.communicate(timeout=300)

    run("A", None)
    rng = random.Random(5)
    for text in "BCD":
        run(text, rng.uniform(0, 0.5))
        parts = {p.read_bytes()[:1] for p in target.iterdir()}
        assert len(parts) == 1 and len(list(target.iterdir())) == 200  # one whole folder
    run("E", None)
    assert {p.read_bytes()[:1] for p in target.iterdir()} == {b"E"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder_child.py", "saved"]


def test_a_save_into_a_folder_holding_a_model_of_an_older_version(tmp_path):
    """``<name>.data`` written by earlier versions is removed once the model using it is
    replaced; another model's data file is not touched."""
    import onnx

    folder = tmp_path
    g = tb.load(_tiny(2.0))
    legacy = onnx.load(str(tb.save(g, folder / "m.onnx", external_data=True)), load_external_data=True)
    for p in folder.glob("m.onnx.*.data"):
        p.unlink()
    onnx.save(legacy, str(folder / "m.onnx"), save_as_external_data=True, location="m.onnx.data")
    (folder / "other.onnx.data").write_bytes(b"someone else's")
    tb.save(g, folder / "m.onnx", external_data=True)
    names = sorted(p.name for p in folder.iterdir())
    assert "m.onnx.data" not in names and "other.onnx.data" in names
    np.testing.assert_array_equal(tb.run(folder / "m.onnx", np.ones(2, np.float32))[0], [3.0, 3.0])


def _tiny(value: float, n: int = 2):
    """y = x + w; ``n`` >= 256 floats makes w big enough (1 KiB) to go to the data file."""
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.full(n, value, np.float32), "w")
    g = helper.make_graph([helper.make_node("Add", ["x", "w"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [n])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [n])], initializer=[w])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])


def test_saving_a_model_that_reads_foreign_external_data_is_refused(tmp_path):
    import onnx

    src = tmp_path / "src"
    src.mkdir()
    tb.save(tb.load(_tiny(1.0, 256)), src / "m.onnx", external_data=True)
    proto = onnx.load(str(src / "m.onnx"), load_external_data=False)
    with pytest.raises(tb.TensorbridgeError, match="keeps its data in"):
        tb.save(proto, tmp_path / "copy.onnx")
    assert not (tmp_path / "copy.onnx").exists()


def test_no_temporaries_after_a_failed_save(tmp_path, monkeypatch):
    g = tb.load(_tiny(1.0))
    tb.save(g, tmp_path / "m.onnx", external_data=True)
    before = sorted(os.listdir(tmp_path))

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("tensorbridge.converters.files.fsync", full_disk)
    with pytest.raises(OSError, match="No space"):
        tb.save(tb.load(_tiny(5.0)), tmp_path / "m.onnx", external_data=True)
    monkeypatch.undo()
    assert sorted(os.listdir(tmp_path)) == before
    np.testing.assert_array_equal(tb.run(tmp_path / "m.onnx", np.zeros(2, np.float32))[0], [1.0, 1.0])
