"""One-node version cases shared by the op-version tests (tests/ir/test_op_versions.py,
tests/converters/test_torch_emit_versions.py): a row names an op at an opset with its inputs
and attributes, and the oracle its outputs are checked against."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import helper

# "reference": onnx.reference (which implements every version itself); "onnxruntime";
# "identity": the first input; or a function of the inputs returning the outputs
Oracle = str | Callable[..., list[np.ndarray]]


@dataclass
class Case:
    name: str
    op: str
    opset: int
    inputs: dict[str, np.ndarray]
    attrs: dict[str, Any] = field(default_factory=dict)
    n_out: int = 1
    oracle: Oracle = "reference"


def case_model(case: Case) -> onnx.ModelProto:
    """The case's node alone in a model at the case's opset."""
    outs = [f"y{i}" for i in range(case.n_out)]
    node = helper.make_node(case.op, list(case.inputs), outs, **case.attrs)
    graph = helper.make_graph(
        [node], case.name,
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
         for n, v in case.inputs.items()],
        [helper.make_empty_tensor_value_info(o) for o in outs])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", case.opset)],
                             ir_version=8)


def expected_outputs(case: Case, model: onnx.ModelProto) -> list[np.ndarray]:
    """The outputs the case's oracle gives for its inputs."""
    if callable(case.oracle):
        return case.oracle(*case.inputs.values())
    if case.oracle == "identity":
        return [next(iter(case.inputs.values()))]
    if case.oracle == "onnxruntime":
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sess = ort.InferenceSession(model.SerializeToString(), opts,
                                    providers=["CPUExecutionProvider"])
        return list(sess.run(None, dict(case.inputs)))
    if case.oracle != "reference":
        raise ValueError(f"case {case.name}: unknown oracle {case.oracle!r} (use 'reference', "
                         "'onnxruntime', 'identity' or a function of the inputs)")
    from onnx.reference import ReferenceEvaluator

    return list(ReferenceEvaluator(model).run(None, dict(case.inputs)))
