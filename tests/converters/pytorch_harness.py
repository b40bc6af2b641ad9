"""Shared checks for PyTorch front-end tests: convert, verify, then compare the built-in
runtime and onnxruntime with PyTorch *eager* outputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import torch

from tensorbridge.converters.onnx import from_ir
from tensorbridge.converters.pytorch.eager import flatten_outputs as flat_outputs
from tensorbridge.converters.pytorch.to_ir import to_ir
from tensorbridge.ir import Graph, verify
from tensorbridge.ort import ort_run
from tensorbridge.runtime.session import Session
from tests.converters.migrate_harness import assert_emittable


def assert_close(got: list[np.ndarray], expected: list[np.ndarray], rtol: float, atol: float, who: str) -> None:
    assert len(got) == len(expected), f"{who}: {len(got)} outputs, eager has {len(expected)}"
    for i, (g, e) in enumerate(zip(got, expected)):
        g = np.asarray(g)
        assert g.shape == e.shape, f"{who} output {i}: shape {g.shape} != eager {e.shape}"
        if e.dtype.kind in "biu":
            np.testing.assert_array_equal(g, e, err_msg=f"{who} output {i}")
        else:
            np.testing.assert_allclose(g.astype(np.float64), e.astype(np.float64), rtol=rtol, atol=atol,
                                       err_msg=f"{who} output {i}")


def check_module(module: torch.nn.Module, inputs: tuple, *, rtol: float = 1e-4, atol: float = 1e-5,
                 dynamic_shapes: Any = None, other_inputs: tuple | None = None, opset: int | None = None,
                 use_ort: bool = True) -> Graph:
    """Export ``module`` and check runtime + onnxruntime against eager on ``inputs`` (and on
    ``other_inputs``, e.g. another batch size, when the export is dynamic)."""
    module = module.eval()
    graph = to_ir(module, inputs, dynamic_shapes=dynamic_shapes, opset=opset)
    verify(graph)
    assert_emittable(graph)  # migration can emit whatever the front-end produces
    model = from_ir(graph)
    onnx.checker.check_model(model, full_check=True)
    session = Session(graph)
    for feed in [inputs] + ([other_inputs] if other_inputs is not None else []):
        with torch.no_grad():
            expected = flat_outputs(module(*feed))
        arrays = [t.numpy() if isinstance(t, torch.Tensor) else np.asarray(t) for t in feed]
        assert_close(session.run(arrays), expected, rtol, atol, "tensorbridge runtime")
        if use_ort:
            assert_close(ort_run(model, arrays), expected, rtol, atol, "onnxruntime")
    return graph


class Fn(torch.nn.Module):
    """Wrap a function of tensors as a module (for one-op test rows)."""

    def __init__(self, fn: Any) -> None:
        super().__init__()
        self.fn = fn

    def forward(self, *args: Any) -> Any:
        return self.fn(*args)
