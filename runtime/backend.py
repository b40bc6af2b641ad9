"""``onnx.backend.base.Backend`` over the numpy runtime, so onnx's backend test harness
(and anyone used to that interface) can drive it:

    from tensorbridge.runtime.backend import TensorbridgeBackend
    outputs = TensorbridgeBackend.run_model(model_proto, [x])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
import onnx.backend.base as base

from tensorbridge.runtime.session import Session


class TensorbridgeBackendRep(base.BackendRep):
    def __init__(self, session: Session) -> None:
        self.session = session

    def run(self, inputs: Any, **kwargs: Any) -> tuple[Any, ...]:
        if isinstance(inputs, np.ndarray):
            inputs = [inputs]
        return tuple(self.session.run(inputs if isinstance(inputs, dict) else list(inputs)))


class TensorbridgeBackend(base.Backend):
    @classmethod
    def prepare(cls, model: onnx.ModelProto, device: str = "CPU", **kwargs: Any) -> TensorbridgeBackendRep:
        from tensorbridge.converters.onnx import (
            to_ir,  # runtime stays free of converters at import time
        )

        return TensorbridgeBackendRep(Session(to_ir(model)))

    @classmethod
    def run_node(cls, node: onnx.NodeProto, inputs: Any, device: str = "CPU",
                 outputs_info: Sequence[tuple[np.dtype, tuple[int, ...]]] | None = None,
                 **kwargs: Any) -> tuple[Any, ...]:
        opset = int(kwargs.get("opset_version", onnx.defs.onnx_opset_version()))
        from tensorbridge.ir.dtypes import DType

        names = [n for n in node.input if n]
        ins = [onnx.helper.make_tensor_value_info(n, int(DType.from_numpy(np.asarray(x).dtype)), None)
               for n, x in zip(names, inputs)]
        outs = [onnx.helper.make_empty_tensor_value_info(n)
                for n in node.output if n]
        graph = onnx.helper.make_graph([node], "run_node", ins, outs)
        model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid(node.domain, opset)])
        return cls.run_model(model, list(inputs), device)

    @classmethod
    def supports_device(cls, device: str) -> bool:
        return device.upper() == "CPU"


prepare = TensorbridgeBackend.prepare
run_model = TensorbridgeBackend.run_model
run_node = TensorbridgeBackend.run_node
supports_device = TensorbridgeBackend.supports_device
