"""ONNX node conformance cases run through an emitter (IR -> PyTorch / TensorFlow), compared
with onnx's stored outputs as onnx's own runner does (rtol 1e-3, atol 1e-7, dtype, shape)."""

from __future__ import annotations

from typing import Any

import numpy as np

import tensorbridge as tb
from tests.conformance import RANDOM_OUTPUT, as_arrays, compare


def _op_types(graph: Any) -> set[tuple[str, str]]:
    ops = set()
    for node in graph.node:
        ops.add(("" if node.domain == "ai.onnx" else node.domain, node.op_type))
        for attr in node.attribute:
            for sub in [attr.g] if attr.HasField("g") else list(attr.graphs):
                ops |= _op_types(sub)
    return ops


def registry(target: str) -> Any:
    if target == "torch":
        from tensorbridge.converters.pytorch.from_ir.module import EMITTERS
    else:
        from tensorbridge.converters.tensorflow.from_ir.module import EMITTERS
    return EMITTERS


def covered(cases: Any, target: str) -> list[Any]:
    """The cases whose ops all have an emitter for ``target``."""
    reg = registry(target)
    return [c for c in cases if all(op in reg for op in _op_types(c.model.graph))]


def run_emitted(case: Any, target: str) -> None:
    graph = tb.load(case.model)
    if target == "torch":
        import torch

        from tensorbridge.converters.pytorch.from_ir import from_ir

        module = from_ir(graph)
        for inputs, expected in case.data_sets:
            with torch.no_grad():
                outs = module(*[_torch_value(x) for x in as_arrays(inputs)])
            outs = outs if isinstance(outs, tuple) else (outs,)
            for e, g in zip(as_arrays(expected), outs, strict=True):
                compare(e, _numpy(g), random=case.name in RANDOM_OUTPUT)
    elif target == "tf":

        from tensorbridge.converters.tensorflow.from_ir import from_ir as tf_from_ir

        tf_module = tf_from_ir(graph)
        for inputs, expected in case.data_sets:
            outs = tf_module(*[_tf_value(x) for x in as_arrays(inputs)])
            outs = outs if isinstance(outs, tuple) else (outs,)
            for e, g in zip(as_arrays(expected), outs, strict=True):
                compare(e, _numpy(g), random=case.name in RANDOM_OUTPUT)
    else:
        raise ValueError(f"unknown emitter target {target!r}")


def _torch_value(x: Any) -> Any:
    """A conformance input as the emitted module takes it: tensors (bfloat16 included),
    sequences as lists of tensors, an empty optional as None."""
    from tensorbridge.converters.pytorch.from_ir.dtypes import to_torch

    if x is None:
        return None
    if isinstance(x, list):
        return [_torch_value(v) for v in x]
    if np.asarray(x).dtype == object:  # strings: torch has none, the emitter takes numpy str arrays
        return np.asarray(x)
    return to_torch(np.asarray(x))


def _tf_value(x: Any) -> Any:
    import tensorflow as tf

    if x is None:
        return None
    if isinstance(x, list):
        return [_tf_value(v) for v in x]
    return tf.constant(x)


def _numpy(t: Any) -> Any:
    """An emitted output as numpy (lists element-wise; bfloat16 through ml_dtypes)."""
    if t is None or isinstance(t, np.ndarray):
        return t
    if isinstance(t, list | tuple):
        return [_numpy(v) for v in t]
    if hasattr(t, "detach"):  # torch
        import ml_dtypes
        import torch

        if t.dtype == torch.bfloat16:
            return t.detach().view(torch.int16).numpy().view(ml_dtypes.bfloat16)
        if t.dtype in (torch.float8_e4m3fn, torch.float8_e5m2, torch.float8_e4m3fnuz, torch.float8_e5m2fnuz):  # numpy has no float8: view the bits
            return t.detach().view(torch.uint8).numpy().view(getattr(ml_dtypes, str(t.dtype)[6:]))
        return t.detach().numpy()
    out = t.numpy()
    if getattr(t, "dtype", None) is not None and t.dtype.name == "string":  # tf.string: UTF-8 bytes
        return np.vectorize(lambda b: b.decode("utf-8"), otypes=[object])(out) if out.size else out.astype(object)
    return out
