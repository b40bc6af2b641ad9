"""Recognise what kind of model a source is, without importing any framework."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def kind_of(source: Any) -> str:
    """'ir', 'onnx', 'pytorch', 'tensorflow', or 'unknown'."""
    from tensorbridge.ir.graph import Graph

    if isinstance(source, Graph):
        return "ir"
    module = type(source).__module__ or ""
    if type(source).__name__ == "ModelProto" and module.startswith("onnx"):
        return "onnx"
    if isinstance(source, str | os.PathLike):
        from tensorbridge.converters.tensorflow import is_tensorflow_path

        if is_tensorflow_path(source):  # a .keras file or a SavedModel directory
            return "tensorflow"
        suffix = Path(source).suffix.lower()
        return {".onnx": "onnx", ".pt2": "pytorch"}.get(suffix, "onnx" if not Path(source).is_dir() else "unknown")
    from tensorbridge.converters.pytorch import is_pytorch_model

    if is_pytorch_model(source):
        return "pytorch"
    from tensorbridge.converters.tensorflow import is_tensorflow_model

    if is_tensorflow_model(source):
        return "tensorflow"
    return "unknown"
