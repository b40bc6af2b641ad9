"""Less common layers' ATen ops."""

from __future__ import annotations

from converters.pytorch.context import Ctx
from converters.pytorch.registry import aten
from ir.node import Value


@aten("aten::_weight_norm_interface.default")
def aten_weight_norm_interface(ctx: Ctx, v: Value, g: Value, dim: int = 0) -> tuple[Value, Value]:
    """_weight_norm_interface(Tensor v, Tensor g, int dim=0) -> (Tensor, Tensor)

    w = g * v / ||v||, the norm taken over every axis but ``dim`` (weight_norm's
    parametrisation); also returns the norm."""
    rank = ctx.rank(v)
    axes = [a for a in range(rank) if a != dim % rank]
    dt = ctx.dtype(v)
    norm = ctx.op("Sqrt", [ctx.reduce("ReduceSumSquare", v, axes, keepdims=True)], dtype=dt)
    w = ctx.op("Mul", [v, ctx.op("Div", [g, norm], dtype=dt)], dtype=dt)
    return w, norm
