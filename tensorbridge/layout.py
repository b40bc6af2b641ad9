"""Input layouts of an exported model: ``inputs_as_nchw`` (tf2onnx's ``--inputs-as-nchw``).

A Keras image model takes NHWC inputs; a deployment stack fed by NCHW tensors (most ONNX
runtimes' image pipelines, a PyTorch data loader) wants the exported model to take NCHW.
The named 4-D inputs are re-declared NCHW and a Transpose back to NHWC is put in front of
their consumers, before the pass pipeline, so that the transpose pass cancels it against the
NHWC -> NCHW transposes the front-end wrote around convolutions.

Validation still runs the source on its own layout: a conversion records, per input, the
permutation from the source's layout to the artifact's (``Conversion.input_perms``), and the
reference transposes the artifact-layout inputs back before calling the framework.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tensorbridge.ir.errors import TensorbridgeError
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.passes.transpose_rules import inverse_perm
from tensorbridge.ir.types import TensorType

NHWC_TO_NCHW = (0, 3, 1, 2)
NCHW_TO_NHWC = inverse_perm(NHWC_TO_NCHW)
Perms = dict[int, tuple[int, ...]]


def inputs_as_nchw(graph: Graph, names: Sequence[str]) -> Perms:
    """Re-declare the graph inputs ``names`` (4-D, NHWC) as NCHW; returns, by input index,
    the permutation that turns a source (NHWC) array into the model's (NCHW) one."""
    user = list(graph.required_inputs)
    by_name = {v.name: i for i, v in enumerate(user)}
    perms: Perms = {}
    for name in dict.fromkeys(names):
        if name not in by_name:
            raise TensorbridgeError(f"--inputs-as-nchw: {name!r} is not an input of the model; it "
                                    f"takes {list(by_name)}")
        v = user[by_name[name]]
        if not isinstance(v.type, TensorType) or v.type.shape is None or len(v.type.shape) != 4:
            raise TensorbridgeError(f"--inputs-as-nchw: input {name!r} is {v.type}, not a 4-D "
                                    "(N, H, W, C) tensor")
        consumers = graph.consumers(v)
        (nhwc,) = graph.add_op("Transpose", [v], {"perm": list(NCHW_TO_NHWC)}, name=f"{name}_nchw_to_nhwc",
                               output_types=[v.type])
        for node, port in consumers:
            graph.set_input(node, port, nhwc)
        if v in graph.outputs:
            graph.set_outputs([nhwc if o is v else o for o in graph.outputs])
        n, h, w, c = v.type.shape
        v.type = TensorType(v.type.dtype, (n, c, h, w))
        perms[by_name[name]] = NHWC_TO_NCHW
    return perms


def to_artifact(feeds: Sequence[np.ndarray], perms: Perms) -> list[np.ndarray]:
    """Source-layout arrays -> the produced model's layout."""
    return [np.ascontiguousarray(np.transpose(x, perms[i])) if i in perms else x for i, x in enumerate(feeds)]


def to_source(feeds: Sequence[np.ndarray], perms: Perms) -> list[np.ndarray]:
    """The produced model's arrays -> the source's layout."""
    return [np.ascontiguousarray(np.transpose(x, inverse_perm(perms[i]))) if i in perms else x
            for i, x in enumerate(feeds)]
