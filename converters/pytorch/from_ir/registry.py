"""The PyTorch emitter registry: ``@emits("Conv")`` on one function per ONNX op, whose
signature is the spec's (inputs positional, attributes keyword-only with the spec's
defaults; a keyword-only ``ctx`` receives a :class:`converters.emitting.EmitContext`).

An emitter receives torch tensors -- or *host values* for small integer tensors (see
:mod:`converters.pytorch.from_ir.host`) -- and returns torch tensors (a tuple for several
outputs). It runs eagerly, under autograd, under ``torch.export`` and under ``torch.fx``
symbolic tracing, so it may branch on attributes and static IR types, never on tensor data."""

from __future__ import annotations

from typing import Any

from tensorbridge.converters.emitting import EmitContext
from tensorbridge.ir.op_registry import OpRegistry


def _constant(array: Any) -> Any:
    """A numpy constant as the emitter holds constants: a host value when small integer (or
    a setting), else a tensor."""
    import torch

    from tensorbridge.converters.pytorch.from_ir.dtypes import torch_dtype
    from tensorbridge.converters.pytorch.from_ir.host import host_constant
    from tensorbridge.ir.dtypes import DType

    dtype = torch_dtype(DType.from_numpy(array.dtype))
    host = host_constant(array, dtype, setting=True)
    return host if host is not None else torch.from_numpy(array.copy())


EMITTERS = OpRegistry("PyTorch emitter", constant=_constant)
emits = EMITTERS.register


def out_dtype(ctx: EmitContext, i: int = 0) -> Any:
    """The torch dtype of output ``i`` (None when the IR does not know it)."""
    from tensorbridge.converters.pytorch.from_ir.dtypes import torch_dtype

    t = ctx.output_type(i)
    return torch_dtype(t.dtype) if t is not None and t.dtype is not None else None
