"""Stand-ins for TF values that have no ONNX tensor of their own, used while translating
functional control flow.

TensorFlow passes ``TensorList`` handles (``DT_VARIANT``) through While loops: Keras'
RNN loop reads its input sequence from a list built by ``TensorListFromTensor`` and writes
its outputs into a list made by ``TensorListReserve``, one ``TensorListSetItem`` per
iteration. In the IR a read-only list is the stacked tensor itself (items along axis 0),
and a list a loop body writes at its iteration index is one of the ONNX Loop's scan
outputs. Nothing of these classes reaches the IR graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import TensorbridgeError
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Value


class FunctionFailed(TensorbridgeError):
    """A While/If body did not translate; its errors are already reported."""


@dataclass(frozen=True)
class StackedList:
    """A TensorList whose items are the slices of ``tensor`` along axis 0."""

    tensor: Value


@dataclass(frozen=True)
class ReservedList:
    """``TensorListReserve(element_shape, num_elements)``: nothing written yet."""

    num_elements: Value
    dtype: DType | None


@dataclass
class ScanSlot:
    """Inside a loop body: loop variable ``var`` holds a reserved list the body writes once
    per iteration, at the iteration index or (``at`` set) always at that same index;
    ``item`` is the tensor written this iteration."""

    var: int
    item: Value | None = None
    at: int | None = None


@dataclass
class LoopFrame:
    """What a translation inside a While body needs to know about the loop."""

    index_args: dict[int, int] = field(default_factory=dict)  # id(body arg Value) -> start value


@dataclass
class Body:
    """A library function as a GraphDef: its nodes by name, the Placeholder naming each
    argument, and the tensor ("node:i") each result is."""

    graph_def: Any
    nodes: dict[str, Any]
    args: list[str]
    rets: list[str]
    tf_graph: Any  # the body imported into a tf.Graph: output dtypes and static shapes

    def source(self, tensor: str) -> tuple[Any, int]:
        """The NodeDef (and output index) computing ``tensor``, looking through Identity."""
        name, _, index = tensor.partition(":")
        node = self.nodes[name]
        while node.op in ("Identity", "Snapshot"):
            name, _, index = node.input[0].partition(":")
            node = self.nodes[name]
        return node, int(index or 0)


class FunctionLibrary(Protocol):
    """The GraphDef's function library, translated on demand (see to_ir.Functions)."""

    scopes: dict[str, str]

    def body(self, name: str, shapes: Any = None) -> Body: ...

    def call(self, name: str, args: list[Any], into: Graph, *, shapes: Any = None,
             loop: LoopFrame | None = None) -> list[Any]: ...
