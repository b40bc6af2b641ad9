"""Old spellings of ONNX ops, rewritten once into a newer spelling for every layer.

Between opsets many ops changed spelling, not meaning: an attribute became an input
(Split-2's ``split``, Squeeze-1's ``axes``, Pad-2's ``pads``, TopK-1's ``k``), a mode was
renamed (GridSample-16's ``bilinear`` is GridSample-20's ``linear``), an op was renamed
(Upsample is Resize-10). Each such change is one :class:`Upgrade` here: a pure function from
the old node's inputs and attributes to the newer spelling's, constants made numpy arrays.
:class:`~tensorbridge.ir.op_registry.OpRegistry` applies them when it looks an op up, so the
runtime and both emitters implement only the newer spelling, and a layer that still
registers a version an upgrade covers is flagged by ``tests/ir/test_op_versions.py``.

Changes of meaning (Softmax-1's 2-D coercion, BatchNormalization-7's training outputs,
GroupNormalization-18's per-group scale) are not spelling and stay versioned in each layer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.types import TensorType

# fn(inputs, attributes, input types) -> (inputs, attributes) of the newer spelling.
# ``inputs`` are the layer's values (framework tensors or numpy arrays) and are passed
# through untouched; the constants an upgrade makes are numpy arrays.
Rewrite = Callable[[list[Any], dict[str, Any], Sequence[Any]], tuple[list[Any], dict[str, Any]]]


@dataclass(frozen=True)
class Upgrade:
    """Nodes of ``op_type`` whose opset import is below ``below`` are run as ``to_op`` at
    opset ``to_opset`` after ``fn``; ``consumes`` are the old attributes ``fn`` takes away."""

    op_type: str
    below: int
    to_op: str
    to_opset: int
    fn: Rewrite
    consumes: frozenset[str]


UPGRADES: dict[str, Upgrade] = {}


def upgrade(op_type: str, *, below: int, to_op: str | None = None, to_opset: int | None = None,
            consumes: Sequence[str] = ()) -> Callable[[Rewrite], Rewrite]:
    """Declare ``fn`` as the rewrite of ``op_type`` below opset ``below`` (into ``to_op`` at
    ``to_opset``, by default the same op at ``below``)."""

    def deco(fn: Rewrite) -> Rewrite:
        if op_type in UPGRADES:
            raise ValueError(f"op_versions: {op_type} has an upgrade already")
        UPGRADES[op_type] = Upgrade(op_type, below, to_op or op_type, to_opset or below, fn,
                                    frozenset(consumes))
        return fn

    return deco


def upgrade_for(op_type: str, domain: str, opset: int) -> Upgrade | None:
    """The upgrade that applies to an ``op_type`` node of ``domain`` at ``opset``, if any."""
    if domain not in ("", "ai.onnx"):
        return None
    up = UPGRADES.get(op_type)
    return up if up is not None and opset < up.below else None


def input_types(old: Sequence[Any], new: Sequence[Any], old_types: Sequence[Any]) -> tuple[Any, ...]:
    """The types of the rewritten inputs: a passed-through input keeps its type, a numpy
    constant gets its own, anything else is unknown (None)."""
    out: list[Any] = []
    for v in new:
        if v is None:
            out.append(None)
            continue
        i = next((k for k, o in enumerate(old) if o is v), None)
        if i is not None:
            out.append(old_types[i] if i < len(old_types) else None)
        elif isinstance(v, np.ndarray):
            out.append(TensorType(DType.from_numpy(v.dtype), tuple(v.shape)))
        else:
            out.append(None)
    return tuple(out)


# ----------------------------------------------------------------------------- helpers


def _ints(v: Any) -> np.ndarray:
    return np.asarray(list(v), dtype=np.int64)


def _scalar_like(value: float, types: Sequence[Any], i: int = 0) -> np.ndarray:
    """``value`` as a 0-d array of input ``i``'s element type (float32 when unknown)."""
    t = types[i] if i < len(types) else None
    dt = t.dtype.np_dtype if isinstance(t, TensorType) and t.dtype is not None else np.float32
    return np.asarray(value, dtype=dt)


def _attr_to_input(name: str, *, keep: int, cast: Callable[[Any], Any] = _ints) -> Rewrite:
    """The attribute ``name`` becomes the input after the first ``keep`` ones (absent -> None)."""

    def fn(inputs: list[Any], attrs: dict[str, Any], types: Sequence[Any]) -> tuple[list[Any], dict[str, Any]]:
        value = attrs.pop(name, None)
        head = (inputs + [None] * keep)[:keep]
        return [*head, None if value is None else cast(value)], attrs

    return fn


# --------------------------------------------------------------- attribute -> input

for _op in ("Squeeze", "Unsqueeze"):
    upgrade(_op, below=13, consumes=("axes",))(_attr_to_input("axes", keep=1))

for _op in ("ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean",
            "ReduceMin", "ReduceProd", "ReduceSumSquare"):
    upgrade(_op, below=18, consumes=("axes",))(_attr_to_input("axes", keep=1))
upgrade("ReduceSum", below=13, consumes=("axes",))(_attr_to_input("axes", keep=1))

upgrade("TopK", below=10, consumes=("k",))(_attr_to_input("k", keep=1, cast=lambda k: _ints([k])))


@upgrade("Reshape", below=5, consumes=("shape", "consumed_inputs"))
def _reshape_1(inputs: list[Any], attrs: dict[str, Any], types: Sequence[Any]) -> tuple[list[Any], dict[str, Any]]:
    attrs.pop("consumed_inputs", None)
    return [inputs[0], _ints(attrs.pop("shape", ()))], attrs


@upgrade("Split", below=13, consumes=("split",))
def _split_1(inputs: list[Any], attrs: dict[str, Any], types: Sequence[Any]) -> tuple[list[Any], dict[str, Any]]:
    """Split-1 takes the lengths as an optional input or attribute, Split-2/11 as attribute."""
    lengths = attrs.pop("split", None)
    given = inputs[1] if len(inputs) > 1 else None
    if given is not None:
        return [inputs[0], given], attrs
    return [inputs[0], None if not lengths else _ints(lengths)], attrs


@upgrade("Slice", below=10, consumes=("starts", "ends", "axes"))
def _slice_1(inputs: list[Any], attrs: dict[str, Any], types: Sequence[Any]) -> tuple[list[Any], dict[str, Any]]:
    axes = attrs.pop("axes", None)
    starts, ends = _ints(attrs.pop("starts")), _ints(attrs.pop("ends"))
    return [inputs[0], starts, ends, None if axes is None else _ints(axes)], attrs


@upgrade("Pad", below=11, consumes=("pads", "paddings", "value"))
def _pad_2(inputs: list[Any], attrs: dict[str, Any], types: Sequence[Any]) -> tuple[list[Any], dict[str, Any]]:
    """Pad-1 names the pads ``paddings``, Pad-2 ``pads``; both give the fill as ``value``."""
    pads = attrs.pop("pads", None)
    pads = attrs.pop("paddings", None) if pads is None else pads
    value = attrs.pop("value", 0.0)
    return [inputs[0], _ints(pads or ()), _scalar_like(value, types)], attrs


_FLT_MAX = float(np.finfo(np.float32).max)


@upgrade("Clip", below=11, consumes=("min", "max", "consumed_inputs"))
def _clip_6(inputs: list[Any], attrs: dict[str, Any], types: Sequence[Any]) -> tuple[list[Any], dict[str, Any]]:
    """Clip-1/6's bounds default to float32's limits: those mean "no bound" (taken literally
    they would overflow float16)."""
    attrs.pop("consumed_inputs", None)
    lo, hi = attrs.pop("min", None), attrs.pop("max", None)
    lo = None if lo is None or lo <= -_FLT_MAX else _scalar_like(lo, types)
    hi = None if hi is None or hi >= _FLT_MAX else _scalar_like(hi, types)
    return [inputs[0], lo, hi], attrs


@upgrade("DFT", below=20, consumes=("axis",))
def _dft_17(inputs: list[Any], attrs: dict[str, Any], types: Sequence[Any]) -> tuple[list[Any], dict[str, Any]]:
    """DFT-17's axis attribute (default 1) is DFT-20's third input (default -2)."""
    axis = attrs.pop("axis", 1)
    head = (inputs + [None, None])[:2]
    return [*head, np.asarray(axis, dtype=np.int64)], attrs


# ------------------------------------------------------------------ renamed values


@upgrade("Cast", below=6, consumes=("to",))
def _cast_1(inputs: list[Any], attrs: dict[str, Any], types: Sequence[Any]) -> tuple[list[Any], dict[str, Any]]:
    """Cast-1 names the target type ("FLOAT"), Cast-6 gives its number."""
    to = attrs.pop("to")
    if isinstance(to, bytes):
        to = to.decode()
    try:
        attrs["to"] = int(DType[str(to).upper()])
    except KeyError:
        raise ValueError(f"Cast-1: 'to'={to!r} is not an ONNX element type name") from None
    return inputs, attrs


_GRID_MODES = {"bilinear": "linear", "nearest": "nearest", "bicubic": "cubic"}


@upgrade("GridSample", below=20, consumes=("mode",))
def _grid_sample_16(inputs: list[Any], attrs: dict[str, Any], types: Sequence[Any]) -> tuple[list[Any], dict[str, Any]]:
    mode = attrs.pop("mode", "bilinear")
    if mode not in _GRID_MODES:
        raise ValueError(f"GridSample-16: mode must be bilinear, nearest or bicubic, got {mode!r}")
    attrs["mode"] = _GRID_MODES[mode]
    return inputs, attrs


@upgrade("RoiAlign", below=16, consumes=("coordinate_transformation_mode",))
def _roi_align_10(inputs: list[Any], attrs: dict[str, Any], types: Sequence[Any]) -> tuple[list[Any], dict[str, Any]]:
    """RoiAlign-10 has no half-pixel shift: RoiAlign-16's "output_half_pixel"."""
    attrs["coordinate_transformation_mode"] = "output_half_pixel"
    return inputs, attrs


@upgrade("Concat", below=4, consumes=("axis",))
def _concat_1(inputs: list[Any], attrs: dict[str, Any], types: Sequence[Any]) -> tuple[list[Any], dict[str, Any]]:
    """Concat-1's axis is optional (default 1); Concat-4 requires it."""
    attrs.setdefault("axis", 1)
    return inputs, attrs


# ------------------------------------------------------------------------ renamed ops


@upgrade("Upsample", below=11, to_op="Resize", to_opset=10, consumes=("scales", "height_scale", "width_scale"))
def _upsample(inputs: list[Any], attrs: dict[str, Any], types: Sequence[Any]) -> tuple[list[Any], dict[str, Any]]:
    """Upsample-1 (4-D, height/width scales), -7 (scales attribute) and -9/10 (scales input)
    are Resize-10 (asymmetric coordinates, out = floor(in * scale))."""
    h, w, scales = attrs.pop("height_scale", None), attrs.pop("width_scale", None), attrs.pop("scales", None)
    if len(inputs) > 1 and inputs[1] is not None:
        return [inputs[0], inputs[1]], attrs
    if scales is None:
        if h is None or w is None:
            raise ValueError("Upsample: give the scales (input or attribute), or Upsample-1's "
                             "height_scale and width_scale")
        t = types[0] if types else None
        rank = len(t.shape) if isinstance(t, TensorType) and t.shape is not None else 4
        if rank != 4:
            raise ValueError(f"Upsample-1 takes a 4-D input, got rank {rank}")
        scales = [1.0, 1.0, h, w]
    return [inputs[0], np.asarray(list(scales), dtype=np.float32)], attrs
