"""Files are recognised by their bytes, with advice of their own: a torch.save checkpoint, a
TorchScript archive, a pickle, safetensors, a Keras weights file, a Lambda .h5 -- each made
here by the framework itself -- are named for what they are and never unpickled or run;
a Keras .h5 model converts."""

from __future__ import annotations

import numpy as np
import pytest

import tensorbridge as tb
from tensorbridge.cli import main as cli


@pytest.fixture(scope="module")
def torch_files(tmp_path_factory):
    import torch

    d = tmp_path_factory.mktemp("torch_files")
    m = torch.nn.Linear(3, 2)
    torch.save(m.state_dict(), d / "state.pt")
    torch.save(m, d / "module.pth")
    torch.save(m.state_dict(), d / "legacy.pt", _use_new_zipfile_serialization=False)
    torch.jit.save(torch.jit.script(m), d / "script.pt")
    from safetensors.torch import save_file

    save_file(m.state_dict(), d / "weights.safetensors")
    return d


@pytest.mark.parametrize(("name", "says"), [
    ("state.pt", "is a torch.save checkpoint"),
    ("module.pth", "is a torch.save checkpoint"),
    ("legacy.pt", "is a Python pickle"),
    ("script.pt", "is a TorchScript archive"),
    ("weights.safetensors", "is a safetensors file"),
])
def test_torch_files_are_named_for_what_they_are(torch_files, name, says, capsys):
    with pytest.raises(tb.ModelLoadError, match=says) as err:
        tb.load(torch_files / name)
    assert "corrupt" not in str(err.value) and "protobuf" not in str(err.value)
    assert cli(["convert", str(torch_files / name), "-o", str(torch_files / "x.onnx")]) == 2
    out = capsys.readouterr()
    assert says in out.err and "Traceback" not in out.err + out.out
    assert not (torch_files / "x.onnx").exists()


def test_a_named_onnx_file_that_is_a_checkpoint_is_still_recognised(torch_files, tmp_path):
    fake = tmp_path / "model.onnx"
    fake.write_bytes((torch_files / "state.pt").read_bytes())
    with pytest.raises(tb.ModelLoadError, match="torch.save checkpoint.*never unpickles"):
        tb.load(fake)


def test_arrays_are_not_models(tmp_path):
    np.savez(tmp_path / "x.npz", x=np.zeros(3))
    np.save(tmp_path / "x.npy", np.zeros(3))
    with pytest.raises(tb.ModelLoadError, match="NumPy .npz archive"):
        tb.load(tmp_path / "x.npz")
    with pytest.raises(tb.ModelLoadError, match="NumPy array file"):
        tb.load(tmp_path / "x.npy")


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory):
    import keras

    d = tmp_path_factory.mktemp("keras_files")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, activation="relu"),
                              keras.layers.Dense(2)], name="small_mlp")
    model.save(d / "model.h5")
    model.save_weights(d / "only.weights.h5")
    lam = keras.Sequential([keras.Input((6,)), keras.layers.Lambda(lambda t: t * 2)])
    lam.save(d / "lambda.h5")
    return d, model


def test_keras_h5_model_converts_and_matches_keras(keras_files, tmp_path):
    d, model = keras_files
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    onnx_model = tb.convert(d / "model.h5", (x,), to="onnx")
    (y,) = tb.run(onnx_model, x)
    np.testing.assert_allclose(y, model(x).numpy(), rtol=1e-5, atol=1e-6)
    renamed = tmp_path / "model.bin"  # recognised by its bytes, not its name
    renamed.write_bytes((d / "model.h5").read_bytes())
    assert tb.load(renamed).inputs


def test_keras_weights_file_is_not_a_model(keras_files):
    d, _ = keras_files
    with pytest.raises(tb.ModelLoadError, match="without a model config .weights only"):
        tb.load(d / "only.weights.h5")


def test_lambda_h5_is_refused_before_keras_reads_it(keras_files, monkeypatch):
    import keras

    d, _ = keras_files
    called = []
    monkeypatch.setattr(keras.saving, "load_model", lambda *a, **k: called.append(a))
    with pytest.raises(tb.ModelLoadError, match="Python bytecode"):
        tb.load(d / "lambda.h5")
    assert called == []


def test_missing_framework_names_the_extra(monkeypatch, tmp_path, capsys):
    import importlib.util

    from tensorbridge import sources

    real = importlib.util.find_spec
    monkeypatch.setattr(sources.importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real(name, *a))
    import zipfile

    with zipfile.ZipFile(tmp_path / "m.pt2", "w") as z:  # what torch.export.save writes first
        z.writestr("m/archive_format", "pt2")
    with pytest.raises(sources.MissingDependencyError, match=r"pip install 'tensorbridge\[torch\]'"):
        tb.load(tmp_path / "m.pt2")
    assert cli(["convert", str(tmp_path / "m.pt2"), "-o", str(tmp_path / "m.onnx")]) == 2
    assert "tensorbridge[torch]" in capsys.readouterr().err
