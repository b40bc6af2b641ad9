"""IR -> PyTorch: :class:`IRModule` (an ``nn.Module`` with real, named parameters) and its
readable source + safetensors form. Imports torch."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tensorbridge.converters.pytorch.from_ir.module import IRModule, module_class
from tensorbridge.ir.graph import Graph


def from_ir(graph: Graph) -> IRModule:
    """An ``nn.Module`` computing ``graph``; parameters named after the source weights."""
    return module_class(graph)(graph)


def run_numpy(module: IRModule, feeds: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Run the module on numpy inputs (no autograd); numpy outputs."""
    import torch

    with torch.no_grad():
        outs = module(*[torch.from_numpy(np.ascontiguousarray(x)) for x in feeds])
    return [_numpy(o) for o in (outs if isinstance(outs, tuple) else (outs,))]


def capture_numpy(module: IRModule, feeds: Sequence[np.ndarray],
                  names: frozenset[str]) -> dict[str, np.ndarray]:
    """One run on numpy inputs keeping the values ``names`` of ``module.graph`` (the IR value
    names): what a parity check compares layer by layer with the source."""
    import torch

    plan = module._plan
    with torch.no_grad():
        env = module._interp.run(plan, dict(zip(plan.inputs, [torch.from_numpy(np.ascontiguousarray(x))
                                                               for x in feeds], strict=True)),
                                 module._static_results(), keep=names)
    return {n: env[n].detach().numpy() for n in names if isinstance(env.get(n), torch.Tensor)}


def save(module: IRModule, folder: str | os.PathLike[str], example_inputs: Sequence[np.ndarray],
         *, origin: str = "") -> Path:
    """``model.py`` (readable source, needs only torch) + ``model.safetensors`` in ``folder``."""
    import torch

    from tensorbridge.converters.pytorch.from_ir import codegen

    examples = tuple(torch.from_numpy(np.ascontiguousarray(x)) for x in example_inputs)
    return codegen.save(module, folder, examples, origin=origin)


__all__ = ["IRModule", "capture_numpy", "from_ir", "run_numpy", "save"]


def _numpy(o: Any) -> Any:
    """An output as numpy: a tensor -> ndarray; a sequence (list) or map (dict, ZipMap's rows)
    element by element; numpy strings as they are."""
    if isinstance(o, list | tuple):
        return [_numpy(v) for v in o]
    if isinstance(o, dict):
        return {k: _numpy(v) for k, v in o.items()}
    if isinstance(o, np.ndarray):
        return o
    return o.detach().numpy()
