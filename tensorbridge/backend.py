"""``onnx.backend.base.Backend`` over the numpy runtime, so onnx's backend test harness
(and anyone used to that interface) can drive it. This module is itself a backend module
as ``onnx.backend.test.BackendTest`` takes one::

    from tensorbridge import backend
    outputs = backend.run_model(model_proto, [x])       # or TensorbridgeBackend.run_model
    tests = onnx.backend.test.BackendTest(backend, __name__)

``run`` takes the graph's required inputs positionally (an IR < 4 file's initializers,
listed as inputs too, keep their values) or a dict by name (which may also replace such a
defaulted input). It lives in the hub, above both the ONNX converter and the runtime: it
reads ModelProtos and builds one for ``run_node``, and the runtime never touches protobuf.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import onnx
import onnx.backend.base as base
from onnx import helper

from tensorbridge.converters.onnx.to_ir import to_ir
from tensorbridge.ir.dtypes import DType
from tensorbridge.runtime.session import Session


class TensorbridgeBackendRep(base.BackendRep):
    """A prepared model: one planned :class:`Session`, run as many times as needed."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def run(self, inputs: Any, **kwargs: Any) -> tuple[Any, ...]:
        if isinstance(inputs, np.ndarray):
            inputs = [inputs]
        return tuple(self.session.run(dict(inputs) if isinstance(inputs, Mapping) else list(inputs)))


class TensorbridgeBackend(base.Backend):
    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> TensorbridgeBackendRep:
        if not cls.supports_device(device):
            raise ValueError(f"tensorbridge runs on the CPU only, not on {device!r}")
        return TensorbridgeBackendRep(Session(to_ir(model)))

    @classmethod
    def run_node(cls, node: onnx.NodeProto, inputs: Any, device: str = "CPU",
                 outputs_info: Sequence[tuple[np.dtype, tuple[int, ...]]] | None = None,
                 **kwargs: Any) -> tuple[Any, ...]:
        """``node`` alone in a model at ``opset_version`` (default: the latest) and run."""
        opset = int(kwargs.get("opset_version", onnx.defs.onnx_opset_version()))
        names = [n for n in node.input if n]
        ins = [helper.make_tensor_value_info(n, int(DType.from_numpy(np.asarray(x).dtype)), None)
               for n, x in zip(names, inputs)]
        outs = [helper.make_empty_tensor_value_info(n) for n in node.output if n]
        graph = helper.make_graph([node], "run_node", ins, outs)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid(node.domain, opset)])
        return cls.run_model(model, list(inputs), device)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device.upper() == "CPU"


prepare = TensorbridgeBackend.prepare
run_model = TensorbridgeBackend.run_model
run_node = TensorbridgeBackend.run_node
supports_device = TensorbridgeBackend.supports_device

__all__ = ["TensorbridgeBackend", "TensorbridgeBackendRep", "prepare", "run_model", "run_node",
           "supports_device"]
