"""Run a PyTorch source eagerly (the reference for parity checks)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from converters.pytorch.capture import load_pt2


def eager_outputs(source: Any, feeds: Any) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(inputs as numpy, outputs as numpy) of the eager model on ``feeds``. For an
    ExportedProgram or .pt2 the eager callable is ``ep.module()``; feeds default to the
    program's example inputs."""
    if isinstance(source, str | os.PathLike):
        source = load_pt2(Path(source))
    if isinstance(source, torch.export.ExportedProgram):
        if feeds is None:
            feeds = source.example_inputs[0] if source.example_inputs else None
        module = source.module()
    else:
        module = source.eval()
    args = feeds if isinstance(feeds, tuple | list) else (feeds,)
    with torch.no_grad():
        out = module(*args)
    arrays = [a.detach().numpy() if isinstance(a, torch.Tensor) else np.asarray(a) for a in args]
    return arrays, _flatten(out)


def _flatten(out: Any) -> list[np.ndarray]:
    if isinstance(out, torch.Tensor):
        return [out.detach().numpy()]
    if isinstance(out, list | tuple):
        return [a for o in out for a in _flatten(o)]
    if isinstance(out, dict):
        return [a for o in out.values() for a in _flatten(o)]
    if hasattr(out, "to_tuple"):  # transformers ModelOutput
        return _flatten(out.to_tuple())
    return [] if out is None else [np.asarray(out)]
