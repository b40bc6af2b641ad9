"""Lower a graph's ai.onnx opset: every op whose schema at the target opset is older than
the one the graph uses is rewritten into what the target has.

- Ops that do not exist at the target are decomposed into the ops their ONNX schema
  defines them by (:data:`DECOMPOSITIONS`: Gelu, LayerNormalization, RMSNormalization,
  GroupNormalization, Attention, Mish, HardSwish, Swish).
- Ops whose inputs or attributes changed take their older form (:data:`FORMS`): Reduce*
  axes as an attribute before 18 (ReduceSum: 13), Squeeze/Unsqueeze axes and Split sizes
  as attributes before 13, Split's num_outputs as split sizes, Shape's start/end as a
  Slice, Pad's axes folded into full pads, Reshape's allowzero dropped where it changes
  nothing, GridSample's mode renamed, Resize's omitted roi/scales given as empty tensors,
  Softmax-13's single axis kept only where the older 2-D coercion means the same.
- Any other version change is accepted when the node uses nothing the older schema lacks:
  attributes added later only at their default value (dropped), no input or output the
  older schema does not have. Element types are checked by ``verify`` afterwards.

Ops that cannot be lowered are all reported at once, each with its node and source, in one
:class:`ConversionError`. Targets below :data:`MIN_TARGET` are not handled here: lower to
it, then convert the ModelProto (``onnx.version_converter``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import onnx.defs

from tensorbridge.ir import schemas
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import ConversionError, TensorbridgeError, UnsupportedOpError
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Attr, AttrKind, Node
from tensorbridge.ir.passes.base import PassReport
from tensorbridge.ir.passes.decompose_attention import attention
from tensorbridge.ir.passes.decompositions import (
    gelu,
    group_normalization,
    hard_swish,
    layer_normalization,
    mish,
    rms_normalization,
    swish,
    unsupported,
)
from tensorbridge.ir.passes.opset_builder import OpBuilder

MIN_TARGET = 11  # below, Clip/Pad/Slice/Upsample change form again: onnx.version_converter's job

Rule = Callable[[OpBuilder], None]

DECOMPOSITIONS: dict[str, Rule] = {
    "Attention": attention,
    "Gelu": gelu,
    "GroupNormalization": group_normalization,
    "HardSwish": hard_swish,
    "LayerNormalization": layer_normalization,
    "Mish": mish,
    "RMSNormalization": rms_normalization,
    "Swish": swish,
}


def lower_opset(graph: Graph, opset: int) -> PassReport:
    """Rewrite ``graph`` (in place, subgraphs and local functions included) to ai.onnx
    ``opset``. A graph already at or below ``opset`` is left as it is."""
    if opset < MIN_TARGET:
        raise UnsupportedOpError("opset lowering", f"opset {opset}",
                                 hint=f"lower to opset {MIN_TARGET} or newer here; older opsets are "
                                 "reached from there with onnx.version_converter")
    report = PassReport(f"lower_opset({opset})")
    errors: list[TensorbridgeError] = []
    source = graph.opset()
    _lower_graph(graph, opset, report, errors)
    for function in graph.functions.values():
        _lower_graph(function.body, opset, report, errors)
    if errors:
        raise ConversionError(f"lowering graph {graph.name!r} from opset {source} to {opset}", errors)
    return report


def _lower_graph(g: Graph, opset: int, report: PassReport, errors: list[TensorbridgeError]) -> None:
    source = g.opset_imports.get("")
    if source is None or source <= opset:
        return
    for node in g.nodes():
        for sub in node.subgraphs():
            _lower_graph(sub, opset, report, errors)
        if node.domain:
            continue
        try:
            _lower_node(g, node, source, opset, report)
        except UnsupportedOpError as e:
            errors.append(e)
    g.opset_imports[""] = opset


def _lower_node(g: Graph, node: Node, source: int, opset: int, report: PassReport) -> None:
    new = schemas.get_schema(node.op_type, "", source)
    if new is None:
        return  # not an ai.onnx op at all: verify reports it
    old = schemas.get_schema(node.op_type, "", opset)
    if old is not None and old.since_version == new.since_version:
        return
    b = OpBuilder(g, node, opset, int(new.since_version))
    if old is None:
        rule = DECOMPOSITIONS.get(node.op_type)
        if rule is None:
            raise unsupported(b, f"{node.op_type} exists from opset {new.since_version} on and has no "
                              f"decomposition into opset-{opset} ops")
        rule(b)
        report.note(f"{node.name}: {node.op_type}-{new.since_version} decomposed")
        return
    FORMS.get(node.op_type, keep_compatible)(b, old)
    report.note(f"{node.name}: {node.op_type}-{new.since_version} -> {node.op_type}-{old.since_version}")


# ---------------------------------------------------------------- the generic check
def keep_compatible(b: OpBuilder, old: onnx.defs.OpSchema) -> None:
    """Keep the node as it is for the older schema: attributes the older schema lacks are
    dropped when they hold their default (what the older version always did); inputs and
    outputs must be ones the older schema has."""
    node = b.node
    for name in sorted(set(node.attrs) - set(old.attributes)):
        new = schemas.get_schema(node.op_type, "", b.source_since)
        declared = new.attributes.get(name) if new is not None else None
        if declared is None or not _is_default(node.attrs[name], declared):
            raise unsupported(b, f"attribute {name}={node.attr(name)!r} does not exist before "
                              f"{node.op_type}-{b.source_since}")
        del node.attrs[name]
    _check_formals(b, old, b.inputs(), "input")
    _check_formals(b, old, [v if v is not None and b.graph.is_used(v) else None for v in b.outputs()], "output")


def _check_formals(b: OpBuilder, old: onnx.defs.OpSchema, actual: list[Any], kind: str) -> None:
    new = schemas.get_schema(b.node.op_type, "", b.source_since)
    formals_new = (new.inputs if kind == "input" else new.outputs) if new is not None else []
    formals_old = old.inputs if kind == "input" else old.outputs
    variadic = bool(formals_old) and formals_old[-1].option == onnx.defs.OpSchema.FormalParameterOption.Variadic
    for i, v in enumerate(actual):
        if v is None:
            continue
        if i >= len(formals_old) and not variadic:
            raise unsupported(b, f"{kind} {i} ({_formal_name(formals_new, i)}) does not exist before "
                              f"{b.node.op_type}-{b.source_since}")
        if i < len(formals_old) and i < len(formals_new) and formals_old[i].name != formals_new[i].name \
                and not _renamed_only(b.node.op_type, kind):
            raise unsupported(b, f"{kind} {i} is {formals_new[i].name!r} in {b.node.op_type}-{b.source_since} "
                              f"but {formals_old[i].name!r} before")


def _renamed_only(op_type: str, kind: str) -> bool:
    """BatchNormalization-14 renamed mean/var to input_mean/input_var (same meaning)."""
    return op_type == "BatchNormalization" and kind == "input"


def _formal_name(formals: Any, i: int) -> str:
    return repr(formals[i].name) if i < len(formals) else "variadic"


def _is_default(attr: Attr, declared: onnx.defs.OpSchema.Attribute) -> bool:
    """Whether ``attr`` holds the value the schema declares as its default."""
    d = declared.default_value
    if not d.name:
        return False  # no default: any value is a choice the older version cannot make
    kind = AttrKind(int(d.type))
    default: Any = {AttrKind.INT: lambda: int(d.i), AttrKind.FLOAT: lambda: float(d.f),
                    AttrKind.STRING: lambda: d.s.decode(), AttrKind.INTS: lambda: tuple(d.ints),
                    AttrKind.FLOATS: lambda: tuple(d.floats),
                    AttrKind.STRINGS: lambda: tuple(s.decode() for s in d.strings)}.get(kind, lambda: None)()
    value = attr.value.decode() if isinstance(attr.value, bytes) else attr.value
    return default is not None and value == default


# ---------------------------------------------------------------- form rules
def _const_ints(b: OpBuilder, index: int, what: str) -> list[int] | None:
    ins = b.inputs()
    v = ins[index] if index < len(ins) else None
    if v is None:
        return None
    if not v.is_const:
        raise unsupported(b, f"its {what} are computed at run time; the older form takes them as an attribute")
    return [int(a) for a in np.asarray(v.const_array()).reshape(-1)]


def _drop_input(b: OpBuilder, index: int) -> None:
    b.graph.set_input(b.node, index, None)
    ins = b.inputs()
    while ins and ins[-1] is None:
        ins.pop()
    b.node.n_inputs = len(ins)


def _set_attr(b: OpBuilder, name: str, value: Any, kind: AttrKind) -> None:
    b.node.attrs[name] = Attr.infer(value, kind)


def reduce_axes_attribute(b: OpBuilder, old: onnx.defs.OpSchema) -> None:
    """Reduce*-18 (ReduceSum-13) -> older: the axes input becomes the axes attribute; an
    empty reduction with noop_with_empty_axes=1 is the identity."""
    if old.since_version >= (13 if b.node.op_type == "ReduceSum" else 18):
        keep_compatible(b, old)  # e.g. ReduceMax-20 -> 18: only types changed
        return
    axes = _const_ints(b, 1, "axes")
    noop = int(b.attr("noop_with_empty_axes", 0))
    if noop and not axes:
        x = b.inputs()[0]
        b.replace([b.op("Identity", [x], dtype=x.dtype if x is not None else None)])
        return
    b.node.attrs.pop("noop_with_empty_axes", None)
    if axes is not None:
        _drop_input(b, 1)
        if axes:
            _set_attr(b, "axes", axes, AttrKind.INTS)
    keep_compatible(b, old)


def split_sizes(b: OpBuilder, old: onnx.defs.OpSchema) -> None:
    """Split-18's num_outputs -> Split-13: equal parts need nothing; an uneven split (the
    last part smaller) gets its sizes as the split input, which needs the static size."""
    n = b.attr("num_outputs")
    if n is not None and "num_outputs" not in old.attributes:
        del b.node.attrs["num_outputs"]
        x, axis = b.inputs()[0], int(b.attr("axis", 0))
        size = b.static_dim(x, axis)
        if size is None or size % int(n):
            if size is None:
                raise unsupported(b, "num_outputs with an axis of unknown size (the older Split needs "
                                  "the sizes of an uneven split)")
            chunk = -(-size // int(n))
            sizes = [chunk] * (int(n) - 1) + [size - chunk * (int(n) - 1)]
            b.graph.set_input(b.node, 1, b.ints(sizes, "split"))
    axes_attribute(b, old)


def shape_slice(b: OpBuilder, old: onnx.defs.OpSchema) -> None:
    """Shape-15's start/end -> Shape followed by a Slice of the shape."""
    start, end = b.attr("start"), b.attr("end")
    if old.since_version >= 15 or (start is None and end is None):
        keep_compatible(b, old)
        return
    x = b.inputs()[0]
    shape = b.op("Shape", [x], dtype=DType.INT64)
    stop = int(end) if end is not None else int(np.iinfo(np.int64).max)
    sliced = b.op("Slice", [shape, b.ints([int(start or 0)], "start"), b.ints([stop], "end"),
                            b.ints([0], "axis")], dtype=DType.INT64)
    b.replace([sliced])


def reshape_allowzero(b: OpBuilder, old: onnx.defs.OpSchema) -> None:
    """Reshape-14 allowzero=1 means the same as the older Reshape when the target shape has
    no 0 (a 0 would copy the input's dim there instead of making it empty)."""
    if int(b.attr("allowzero", 0)) and "allowzero" not in old.attributes:
        shape = _const_ints(b, 1, "target shape")
        if shape is None or 0 in shape:
            raise unsupported(b, "allowzero=1 with a target shape that has (or may have) a 0")
        del b.node.attrs["allowzero"]
    keep_compatible(b, old)


def pad_axes(b: OpBuilder, old: onnx.defs.OpSchema) -> None:
    """Pad-18's axes input -> full pads (zeros on the other axes); Pad-19's "wrap" mode has
    no older equivalent."""
    if b.attr("mode", "constant") == "wrap" and old.since_version < 19:
        raise unsupported(b, 'mode="wrap" exists from Pad-19 on')
    axes = _const_ints(b, 3, "axes") if old.since_version < 18 else None
    if axes is not None:
        pads = _const_ints(b, 1, "pads")
        rank = b.rank(b.inputs()[0])
        if pads is None or rank is None:
            raise unsupported(b, "the axes input needs constant pads and an input of known rank")
        full = [0] * (2 * rank)
        for i, a in enumerate(axes):
            full[a % rank], full[a % rank + rank] = pads[i], pads[i + len(axes)]
        _drop_input(b, 3)
        b.graph.set_input(b.node, 1, b.ints(full, "pads"))
    keep_compatible(b, old)


def scatter_reduction(b: OpBuilder, old: onnx.defs.OpSchema) -> None:
    """ScatterElements/ScatterND: reduction max/min exist from 18, add/mul from 16."""
    reduction = b.attr("reduction", "none")
    if reduction in ("max", "min") and old.since_version < 18:
        raise unsupported(b, f'reduction="{reduction}" exists from {b.node.op_type}-18 on')
    keep_compatible(b, old)


def pool_dilations(b: OpBuilder, old: onnx.defs.OpSchema) -> None:
    """AveragePool-19 / LpPool-18 dilations: all ones is what the older version does."""
    dilations = b.attr("dilations")
    if dilations is not None and "dilations" not in old.attributes and all(int(d) == 1 for d in dilations):
        del b.node.attrs["dilations"]
    keep_compatible(b, old)


def resize_modes(b: OpBuilder, old: onnx.defs.OpSchema) -> None:
    """Resize-19 added coordinate_transformation_mode="half_pixel_symmetric"."""
    if b.attr("coordinate_transformation_mode") == "half_pixel_symmetric" and old.since_version < 19:
        raise unsupported(b, 'coordinate_transformation_mode="half_pixel_symmetric" exists from Resize-19 on')
    keep_compatible(b, old)


def grid_sample_modes(b: OpBuilder, old: onnx.defs.OpSchema) -> None:
    """GridSample-20 renamed bilinear/bicubic to linear/cubic and added volumetric (5-D) input."""
    if old.since_version < 20:
        if b.rank(b.inputs()[0]) != 4:
            raise unsupported(b, "GridSample before 20 samples 4-D inputs only")
        mode = b.attr("mode", "linear")
        _set_attr(b, "mode", {"linear": "bilinear", "cubic": "bicubic"}.get(mode, mode), AttrKind.STRING)
    keep_compatible(b, old)


def axes_attribute(b: OpBuilder, old: onnx.defs.OpSchema) -> None:
    """Squeeze/Unsqueeze-13's axes input and Split-13's split input -> attributes (11)."""
    name = "split" if b.node.op_type == "Split" else "axes"
    if name not in old.attributes:
        keep_compatible(b, old)
        return
    values = _const_ints(b, 1, name)
    if values is not None:
        _drop_input(b, 1)
        _set_attr(b, name, values, AttrKind.INTS)
    keep_compatible(b, old)


def softmax_axis(b: OpBuilder, old: onnx.defs.OpSchema) -> None:
    """Softmax/LogSoftmax/Hardmax-13 normalize one axis; before, the input was coerced to
    2-D at ``axis``: the same only when ``axis`` is the last one."""
    if old.since_version < 13:
        axis, rank = int(b.attr("axis", -1)), b.rank(b.inputs()[0])
        if axis != -1 and (rank is None or axis != rank - 1):
            raise unsupported(b, f"axis={axis} is not the last axis; before {b.node.op_type}-13 the "
                              "input is flattened to 2-D at the axis")
        _set_attr(b, "axis", -1, AttrKind.INT)
    keep_compatible(b, old)


def resize_inputs(b: OpBuilder, old: onnx.defs.OpSchema) -> None:
    """Resize-13 made roi and scales optional; Resize-11 takes them (empty when unused)."""
    if old.since_version < 13:
        ins = b.inputs() + [None, None]
        for i in (1, 2):
            if ins[i] is None and (i == 1 or ins[3] is not None):
                b.graph.set_input(b.node, i, b.const(np.zeros(0, np.float32), name="empty"))
    resize_modes(b, old)


def group_norm_form(b: OpBuilder, old: onnx.defs.OpSchema) -> None:
    """GroupNormalization-21's per-channel affine is not -18's per-group one: decomposed."""
    group_normalization(b)


_REDUCES = ("ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax", "ReduceMean",
            "ReduceMin", "ReduceProd", "ReduceSumSquare", "ReduceSum")

FORMS: dict[str, Callable[[OpBuilder, onnx.defs.OpSchema], None]] = {
    **{op: reduce_axes_attribute for op in _REDUCES},
    "AveragePool": pool_dilations,
    "Hardmax": softmax_axis,
    "LogSoftmax": softmax_axis,
    "Softmax": softmax_axis,
    "Squeeze": axes_attribute,
    "Unsqueeze": axes_attribute,
    "GridSample": grid_sample_modes,
    "GroupNormalization": group_norm_form,
    "LpPool": pool_dilations,
    "Pad": pad_axes,
    "Reshape": reshape_allowzero,
    "Resize": resize_inputs,
    "ScatterElements": scatter_reduction,
    "ScatterND": scatter_reduction,
    "Shape": shape_slice,
    "Split": split_sizes,
}
