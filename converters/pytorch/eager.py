"""Run a PyTorch source eagerly (the reference for parity checks)."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from tensorbridge.converters.pytorch.call_inputs import CallArgs, bind
from tensorbridge.converters.pytorch.capture import load_pt2
from tensorbridge.ir.records import LayerRecord


def eager_outputs(source: Any, feeds: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(inputs as numpy, outputs as numpy) of the eager model on ``feeds``. For an
    ExportedProgram or .pt2 the eager callable is ``ep.module()``; feeds default to the
    program's example inputs."""
    module, call = _callable(source, feeds)
    with torch.no_grad():
        out = module(*call.args, **call.kwargs)
    arrays = [a.detach().numpy() if isinstance(a, torch.Tensor) else np.asarray(a) for a in call.leaves()]
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
    module, call = _callable(source, feeds)

    def hook(name: str) -> Any:
        def fn(_mod: Any, inputs: Any, output: Any) -> None:
            on_record(LayerRecord(name, flatten_outputs(inputs), flatten_outputs(output)))
        return fn

    # the root too (name ""): code in the top-level forward, between layers, is a layer of its own
    handles = [m.register_forward_hook(hook(name)) for name, m in module.named_modules()]
    try:
        with torch.no_grad():
            out = module(*call.args, **call.kwargs)
    finally:
        for h in handles:
            h.remove()
    return flatten_outputs(out)


def wide_layer_outputs(source: Any, feeds: Sequence[np.ndarray]) -> dict[str, np.ndarray] | None:
    """Every module's first output with the model run as a float64 copy of itself on the
    same (widened) inputs: what the source's own float32 rounding is measured against. None
    when the model does not run in float64 (a module that cannot be copied, code that fixes
    dtypes)."""
    module, _ = _callable(source, feeds)
    try:
        wide = copy.deepcopy(module).double()
    except Exception:  # a module that cannot be copied or widened: no source calibration
        return None
    template = source.call if isinstance(source, BoundModel) else None
    wide_feeds = [np.asarray(f, np.float64) if np.asarray(f).dtype == np.float32 else f for f in feeds]
    outputs: dict[str, np.ndarray] = {}

    def keep(r: LayerRecord) -> None:
        if r.outputs and r.outputs[0].dtype == np.float64:
            outputs.setdefault(r.module, r.outputs[0])

    try:
        eager_stream(BoundModel(wide, template) if template is not None else wide, wide_feeds, keep)
    except Exception:  # the model's own code refuses float64 (a fixed dtype, an integer-only op)
        return None
    return outputs


@dataclass(frozen=True)
class BoundModel:
    """A model with the call its example inputs make: flat feeds (the graph's inputs, in
    order) are passed the way the example passed them (positionally or by keyword)."""

    model: Any  # nn.Module or ExportedProgram
    call: CallArgs


def bind_source(source: Any, example: Any) -> BoundModel:
    """``source`` bound to ``example`` (a tuple, dict, CallArgs, or None: an
    ExportedProgram's own example inputs)."""
    model, template = _unbound(source)
    return BoundModel(model, _bind(model, example, template))


def _unbound(source: Any) -> tuple[Any, CallArgs | None]:
    model, template = (source.model, source.call) if isinstance(source, BoundModel) else (source, None)
    if isinstance(model, str | os.PathLike):
        model = load_pt2(Path(model))
    return model, template


def _bind(model: Any, feeds: Any, template: CallArgs | None) -> CallArgs:
    """The call ``feeds`` make: flat feeds follow ``template``'s structure."""
    if feeds is None and template is not None:
        return template
    if template is not None and isinstance(feeds, list | tuple):
        return template.with_leaves(list(feeds))
    if isinstance(model, torch.export.ExportedProgram):
        if feeds is None:
            args, kwargs = model.example_inputs or ((), {})
            return CallArgs(tuple(args), dict(kwargs)).as_torch()
        return bind(None, feeds)  # the unflattened module takes what export was given
    return bind(model, feeds)


def _callable(source: Any, feeds: Any) -> tuple[Any, CallArgs]:
    model, template = _unbound(source)
    call = _bind(model, feeds, template)
    module = torch.export.unflatten(model) if isinstance(model, torch.export.ExportedProgram) else model.eval()
    return module, call
