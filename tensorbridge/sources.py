"""Recognise what kind of model a source is, without importing any framework.

A file is recognised by its first bytes (and, for a zip archive, by its member names), not
by its name: a ``torch.save`` checkpoint called ``model.pt``, a TorchScript archive, a Keras
``.h5`` and a truncated ONNX file each get advice of their own instead of one protobuf error.
Nothing here unpickles, imports or runs anything from the file.
"""

from __future__ import annotations

import importlib.util
import os
import struct
import zipfile
from pathlib import Path
from typing import Any

from tensorbridge.ir.errors import ModelLoadError, TensorbridgeError

# the framework each source kind needs, and the extra that installs it
EXTRAS = {"pytorch": ("torch", "torch"), "tensorflow": ("tensorflow", "tensorflow"),
          "torch": ("torch", "torch")}


class MissingDependencyError(TensorbridgeError, ImportError):
    """A framework the source or the target needs is not installed; names the extra."""


def require(kind: str, what: str) -> None:
    """Raise :class:`MissingDependencyError` when the framework ``kind`` needs is missing."""
    if kind not in EXTRAS:
        return
    module, extra = EXTRAS[kind]
    if importlib.util.find_spec(module) is None:
        raise MissingDependencyError(
            f"{what} needs {module}, which is not installed: pip install 'tensorbridge[{extra}]'")


def kind_of(source: Any) -> str:
    """'ir', 'onnx', 'pytorch', 'tensorflow', or 'unknown'."""
    from tensorbridge.ir.graph import Graph

    if isinstance(source, Graph):
        return "ir"
    module = type(source).__module__ or ""
    if type(source).__name__ == "ModelProto" and module.startswith("onnx"):
        return "onnx"
    if isinstance(source, str | os.PathLike):
        kind = path_kind(Path(source))
        require(kind, f"{source}")
        return kind
    from tensorbridge.converters.pytorch import is_pytorch_model

    if is_pytorch_model(source):
        return "pytorch"
    from tensorbridge.converters.tensorflow import is_tensorflow_model

    if is_tensorflow_model(source):
        return "tensorflow"
    return "unknown"


def path_kind(path: Path) -> str:
    """The kind of model a path holds, read from its first bytes: 'onnx', 'pytorch' (a
    torch.export archive), 'tensorflow' (.keras, Keras HDF5, SavedModel folder) or 'unknown'
    (a folder that is not a SavedModel). A file of a known format tensorbridge does not read
    raises :class:`ModelLoadError` saying what it is and what to do instead. A path that does
    not exist is classified by its suffix; the loader then says it is missing."""
    if path.is_dir():
        return "tensorflow" if (path / "saved_model.pb").is_file() else "unknown"
    if not path.is_file():
        return _BY_SUFFIX.get(path.suffix.lower(), "onnx")
    try:
        with open(path, "rb") as f:
            head = f.read(16)
    except OSError as e:
        raise ModelLoadError(str(path), f"cannot be read ({e.strerror or e})", "Check its permissions") from e
    return _kind_from_bytes(path, head)


_BY_SUFFIX = {".pt2": "pytorch", ".keras": "tensorflow", ".h5": "tensorflow", ".hdf5": "tensorflow"}
_HDF5 = b"\x89HDF\r\n\x1a\n"
_NUMPY = b"\x93NUMPY"


def _kind_from_bytes(path: Path, head: bytes) -> str:
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _zip_kind(path)
    if head.startswith(_HDF5):
        return "tensorflow"  # a Keras HDF5 model (or weights: the Keras loader says which)
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        raise _refused(path, "a Python pickle (a legacy torch.save checkpoint or a pickled object)",
                       _TORCH_SAVE_ADVICE)
    if head[4:8] == b"TFL3":
        raise _refused(path, "a TensorFlow Lite flatbuffer", "Convert the model it was made "
                       "from instead: the Keras model (.keras) or its SavedModel folder")
    if head.startswith(b"GGUF"):
        raise _refused(path, "a GGUF file (llama.cpp weights)", "tensorbridge reads model graphs: "
                       "build the model in PyTorch (e.g. transformers) and pass the nn.Module")
    if head.startswith(_NUMPY):
        raise _refused(path, "a NumPy array file, not a model", "Pass it with --inputs instead")
    if _is_safetensors(head):
        raise _refused(path, "a safetensors file: weights without a graph",
                       "Build the model in Python, load the weights into it "
                       "(safetensors.torch.load_model) and pass the nn.Module with example inputs")
    # no magic number matched: a damaged .pt2 / .keras goes to its own loader, which says so;
    # anything else is read as ONNX (a protobuf has no magic number; the reader validates it)
    return _BY_SUFFIX.get(path.suffix.lower(), "onnx")


_TORCH_SAVE_ADVICE = (
    "tensorbridge never unpickles a file (loading a pickle can run any code). Build the model "
    "in Python, load the weights with torch.load(path, weights_only=True), and pass the "
    "nn.Module with example inputs -- or save a graph: "
    "torch.export.save(torch.export.export(model, (x,)), 'model.pt2')")


def _zip_kind(path: Path) -> str:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as e:
        raise ModelLoadError(str(path), f"is a damaged zip archive ({e})",
                             "The file is truncated or corrupt; save or download it again") from e
    leaves = {n.rsplit("/", 1)[-1] for n in names}
    tops = {n for n in names if "/" not in n}
    if "archive_format" in leaves:
        return "pytorch"  # torch.export.save
    if "constants.pkl" in leaves and any("/code/" in f"/{n}" for n in names):
        raise _refused(path, "a TorchScript archive (torch.jit.save)",
                       "TorchScript is not read: export the original nn.Module with "
                       "torch.export.save(torch.export.export(model, (x,)), 'model.pt2') or pass it "
                       "with example inputs")
    if "data.pkl" in leaves:
        raise _refused(path, "a torch.save checkpoint (a pickled state_dict or module)", _TORCH_SAVE_ADVICE)
    if "config.json" in tops and ({"metadata.json", "model.weights.h5"} & tops):
        return "tensorflow"  # a .keras archive
    if names and all(n.endswith(".npy") for n in names):
        raise _refused(path, "a NumPy .npz archive of arrays, not a model", "Pass it with --inputs instead")
    raise _refused(path, "a zip archive tensorbridge does not recognise",
                   "Pass a .onnx file, a torch.export .pt2 archive, a .keras or .h5 Keras model, "
                   "or a SavedModel folder")


def _is_safetensors(head: bytes) -> bool:
    if len(head) < 10:
        return False
    (n,) = struct.unpack("<Q", head[:8])
    return 2 <= n < 1 << 30 and head[8:9] == b"{"


def _refused(path: Path, what: str, advice: str) -> ModelLoadError:
    return ModelLoadError(str(path), f"is {what}", advice)
