"""Run a PyTorch source eagerly (the reference for parity checks)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tensorbridge.converters.pytorch.capture import load_pt2


def eager_outputs(source: Any, feeds: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(inputs as numpy, outputs as numpy) of the eager model on ``feeds``. For an
    ExportedProgram or .pt2 the eager callable is ``ep.module()``; feeds default to the
    program's example inputs."""
    module, args = _callable(source, feeds)
    with torch.no_grad():
        out = module(*args)
    arrays = [a.detach().numpy() if isinstance(a, torch.Tensor) else np.asarray(a) for a in args]
    return arrays, flatten_outputs(out)


def flatten_outputs(out: Any) -> list[np.ndarray]:
    """Every tensor in a model output (tensors, nested lists/tuples/dicts, ModelOutput), as numpy."""
    if isinstance(out, torch.Tensor):
        return [out.detach().numpy()]
    if isinstance(out, list | tuple):
        return [a for o in out for a in flatten_outputs(o)]
    if isinstance(out, dict):
        return [a for o in out.values() for a in flatten_outputs(o)]
    if hasattr(out, "to_tuple"):  # transformers ModelOutput
        return flatten_outputs(out.to_tuple())
    return [] if out is None else [np.asarray(out)]


def eager_trace(source: Any, feeds: Any) -> tuple[list[np.ndarray], list[Any]]:
    """Outputs, and every module's call (inputs and outputs, as numpy) in the order the
    calls finished, from ONE eager run with forward hooks."""
    records: list[Any] = []
    return eager_stream(source, feeds, records.append), records


def eager_stream(source: Any, feeds: Any, on_record: Callable[[Any], None]) -> list[np.ndarray]:
    """One eager run with forward hooks calling ``on_record(LayerRecord)`` as each module
    call finishes (children before parents; the root, named "", last); nothing is kept. An
    ExportedProgram (or .pt2) is unflattened back into its module hierarchy first."""
    from tensorbridge.runtime.parity.divergence import LayerRecord

    module, args = _callable(source, feeds)

    def hook(name: str) -> Any:
        def fn(_mod: Any, inputs: Any, output: Any) -> None:
            on_record(LayerRecord(name, flatten_outputs(inputs), flatten_outputs(output)))
        return fn

    # the root too (name ""): code in the top-level forward, between layers, is a layer of its own
    handles = [m.register_forward_hook(hook(name)) for name, m in module.named_modules()]
    try:
        with torch.no_grad():
            out = module(*args)
    finally:
        for h in handles:
            h.remove()
    return flatten_outputs(out)


def _callable(source: Any, feeds: Any) -> tuple[Any, tuple[Any, ...]]:
    if isinstance(source, str | os.PathLike):
        source = load_pt2(Path(source))
    if isinstance(source, torch.export.ExportedProgram):
        if feeds is None:
            feeds = source.example_inputs[0] if source.example_inputs else None
        return torch.export.unflatten(source), _as_tuple(feeds)
    return source.eval(), _as_tuple(feeds)


def _as_tuple(feeds: Any) -> tuple[Any, ...]:
    """Feeds as a tuple of torch tensors (numpy arrays are converted)."""
    items = tuple(feeds) if isinstance(feeds, tuple | list) else (feeds,)
    return tuple(torch.from_numpy(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else x for x in items)
