"""PyTorch <-> IR. Importing this package does not import torch; its functions do."""

from __future__ import annotations

from typing import Any


def to_ir(source: Any, example_inputs: Any = None, **kwargs: Any) -> Any:
    """PyTorch model -> ir.Graph; see converters.pytorch.to_ir.to_ir."""
    from tensorbridge.converters.pytorch.to_ir import to_ir as _to_ir

    return _to_ir(source, example_inputs, **kwargs)


def is_pytorch_model(obj: Any) -> bool:
    """An nn.Module or ExportedProgram (checked without importing torch if it isn't loaded:
    then the object cannot be one)."""
    import sys

    if "torch" not in sys.modules:
        return False
    import torch

    return isinstance(obj, torch.nn.Module | torch.export.ExportedProgram)


__all__ = ["is_pytorch_model", "to_ir"]
