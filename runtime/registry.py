"""The kernel registry: one explicit object mapping (domain, op_type, since-version) to a
numpy function.

A kernel's signature is the ONNX spec's signature: inputs positional (a missing optional
input arrives as ``None``), attributes keyword-only with the spec's defaults and spelling.
A kernel that needs to know about its call site (number of outputs, opset, how to run a
subgraph, a random generator) declares a keyword-only ``ctx`` parameter and receives a
:class:`KernelContext`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tensorbridge.ir.op_registry import OpRegistry, OpSpec

KernelFn = Callable[..., Any]


@dataclass(frozen=True)
class KernelContext:
    """What a kernel may learn about the node it runs for."""

    node_name: str
    n_outputs: int
    opset: int
    # run_subgraph(graph, inputs) -> list of outputs; outer-scope values are bound by the
    # session that created this context.
    run_subgraph: Callable[[Any, Sequence[Any]], list[Any]] | None = None
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    output_names: tuple[str, ...] = ()
    input_types: tuple[Any, ...] = ()
    output_types: tuple[Any, ...] = ()


KernelSpec = OpSpec


KERNELS = OpRegistry("runtime")
kernel = KERNELS.register
