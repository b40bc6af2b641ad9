"""onnxruntime as tensorbridge runs it beside numpy code: one intra-op thread, thread
spinning off (spinning threads starve numpy's BLAS in the same process), CPU provider."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np


def ort_session(model: Any) -> Any:
    """An InferenceSession for a ModelProto, serialized bytes or a path.

    A ModelProto whose weights are too big for one protobuf message (2 GiB) is written with
    external data to a temporary folder, as ``tb.save`` writes it, and loaded from there;
    the folder lives as long as the session."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    opts.log_severity_level = 3  # errors reach the caller as exceptions; no warnings on stderr
    folder = None
    if hasattr(model, "SerializeToString"):
        from tensorbridge.converters.onnx import external

        if external.needs_external_data(model):
            path, folder = external.temporary_external_copy(model, "tensorbridge-ort-")
            model = str(path)
        else:
            model = model.SerializeToString()
    elif isinstance(model, os.PathLike):
        model = str(model)
    sess = ort.InferenceSession(model, opts, providers=["CPUExecutionProvider"])
    if folder is not None:
        sess._tensorbridge_folder = folder  # removed with the session
    return sess


def ort_run(model: Any, inputs: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Run ``model`` on positional ``inputs`` (in graph-input order)."""
    sess = ort_session(model)
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, dict(zip(names, inputs)))
