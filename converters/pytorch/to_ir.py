"""PyTorch (nn.Module / ExportedProgram / .pt2) -> IR Graph, through torch.export.

Parameters and buffers become initializers named by their state_dict keys; every op
carries the nn.Module path, the ATen op and the source line; torch.export dynamic dims
become named symbolic dims. All unsupported ops are reported at once.
"""

from __future__ import annotations

import operator
import re
import warnings
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from torch.export import ExportedProgram
from torch.export.graph_signature import InputKind, OutputKind

from tensorbridge.converters.builder import check_opset
from tensorbridge.converters.pytorch import ops  # noqa: F401  (registers every translation)
from tensorbridge.converters.pytorch.capture import ShapeSpecializationError, capture
from tensorbridge.converters.pytorch.context import Ctx, TranslationError, to_dtype
from tensorbridge.converters.pytorch.registry import ATEN, op_key
from tensorbridge.ir.errors import ConversionError, TensorbridgeError, UnsupportedOpError
from tensorbridge.ir.graph import Graph, WeightInfo
from tensorbridge.ir.node import Provenance, Role, Value
from tensorbridge.ir.passes.dce import eliminate_dead_code
from tensorbridge.ir.types import TensorType
from tensorbridge.ir.verify import verify

DEFAULT_OPSET = 20  # what torch.onnx.export emits by default; onnxruntime >= 1.17 runs it
MIN_OPSET = 17


def to_ir(source: Any, example_inputs: Any = None, *, dynamic_shapes: Any = None,
          opset: int | None = None, strict_shapes: bool = True,
          kwargs: dict[str, Any] | None = None, keep_weight_layout: bool = False) -> Graph:
    """Convert a PyTorch model to an IR graph (verified). ``keep_weight_layout``: weights stay
    exactly as the state_dict holds them (a migration back to a framework keeps every
    parameter); otherwise translations may re-lay them out at conversion time (e.g. RNN
    gates into ONNX order), which an ONNX export wants."""
    opset = _check_opset(opset)
    ep = capture(source, example_inputs, dynamic_shapes, kwargs, strict_shapes=strict_shapes)
    ep = _functionalize(ep)
    name = type(source).__name__ if isinstance(source, torch.nn.Module) else "main"
    g = Graph(name, opset_imports={"": opset})
    g.model.producer_name = "tensorbridge"
    g.model.producer_version = f"torch {torch.__version__}"
    requested = _requested_dynamic(ep, source, dynamic_shapes)
    dim_names = _dim_names(ep, requested, strict_shapes, g)
    _Translator(ep, g, Ctx(g, opset, dim_names, fold_weights=not keep_weight_layout)).run()
    # e.g. original RNN weights once reordered copies replace them; a migration keeps them all
    eliminate_dead_code(g, keep_weights=keep_weight_layout)
    verify(g)
    return g


def _check_opset(opset: int | None) -> int:
    return check_opset("pytorch", opset, DEFAULT_OPSET, MIN_OPSET)


def _functionalize(ep: ExportedProgram) -> ExportedProgram:
    """Functional ATen with high-level ops kept; decompose only ops we cannot translate
    but torch knows how to decompose."""
    table = torch.export.default_decompositions()
    calls = [n.target for n in ep.graph.nodes if n.op == "call_function"]
    missing = {t for t in calls if ATEN.lookup(op_key(t)) is None and t in table}
    mutating = any(getattr(getattr(t, "_schema", None), "is_mutable", False) for t in calls)
    if not missing and not mutating:
        return ep  # already functional and translatable: run_decompositions costs ~0.3 s
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ep.run_decompositions({op: table[op] for op in missing})


class _Translator:
    def __init__(self, ep: ExportedProgram, g: Graph, ctx: Ctx) -> None:
        self.ep, self.g, self.ctx = ep, g, ctx
        self.env: dict[torch.fx.Node, Any] = {}
        self.errors: list[TensorbridgeError] = []
        # one initializer per source tensor: torch.export lifts a tied weight once per name
        self.weights: dict[tuple[Any, ...], Value] = {}

    def run(self) -> None:
        specs = {s.arg.name: s for s in self.ep.graph_signature.input_specs if hasattr(s.arg, "name")}
        for node in self.ep.graph.nodes:
            if node.op == "placeholder":
                self.env[node] = self._placeholder(node, specs.get(node.name))
            elif node.op == "call_function":
                self._call(node)
            elif node.op == "output":
                self._outputs(node)
        if self.errors:
            raise ConversionError("PyTorch -> IR", self.errors)

    def _placeholder(self, node: torch.fx.Node, spec: Any) -> Value:
        kind = spec.kind if spec is not None else InputKind.USER_INPUT
        val = node.meta.get("val")
        if kind == InputKind.USER_INPUT:
            if not isinstance(val, torch.Tensor):
                return self._scalar_input(node, val)
            return self.g.add_input(node.name, to_dtype(val.dtype), self._shape(val))
        target = spec.target
        tensor = self.ep.state_dict.get(target)
        if tensor is None:
            tensor = self.ep.constants.get(target)
        if not isinstance(tensor, torch.Tensor):
            raise ConversionError("PyTorch -> IR", [UnsupportedOpError(
                "pytorch", f"input kind {kind.name}", node=node.name,
                hint="custom objects and tokens cannot be exported")])
        role = {InputKind.PARAMETER: Role.PARAMETER, InputKind.BUFFER: Role.BUFFER}.get(kind, Role.CONSTANT)
        key = (role, *_tensor_identity(tensor))
        tied = self.weights.get(key)
        if tied is not None:  # another name of a tensor already lifted (tied weights)
            info = self.g.weight_info[tied.source_name]
            self.g.weight_info[tied.source_name] = replace(info, aliases=(*info.aliases, target))
            return tied
        value = self.g.add_constant(target, _numpy(tensor), role=role, source_name=target)
        self.weights[key] = value
        self.g.weight_info[target] = WeightInfo(
            trainable=role is Role.PARAMETER and bool(tensor.requires_grad),
            persistent=getattr(spec, "persistent", None) is not False)
        return value

    def _scalar_input(self, node: torch.fx.Node, val: Any) -> Value:
        if isinstance(val, bool | int | float) and not isinstance(val, torch.SymInt | torch.SymFloat):
            # a plain Python argument (use_cache=False, a scale): torch.export specialised the
            # program on its value, so it is a constant of the graph, not an input to feed
            return self.g.add_constant(node.name, np.asarray(val, np.float32 if isinstance(val, float)
                                                              else np.bool_ if isinstance(val, bool)
                                                              else np.int64))
        dtype = to_dtype(torch.float32 if isinstance(val, float) else torch.int64)
        return self.g.add_input(node.name, dtype, ())

    def _call(self, node: torch.fx.Node) -> None:
        if node.target is operator.getitem:
            src = self._arg(node.args[0])
            self.env[node] = None if src is None else src[node.args[1]]
            return
        key = op_key(node.target)
        fn = ATEN.lookup(key)
        prov = provenance(node)
        if self._depends_on_failure(node):
            self.env[node] = None  # the root cause is already reported
            return
        if fn is None:
            close = ATEN.close_matches(key)
            self.errors.append(UnsupportedOpError(
                "pytorch", key, node=node.name, source=_where(prov), close=close,
                hint="no translation and no torch decomposition; rewrite with supported ops "
                     "or open an issue"))
            self.env[node] = None
            return
        self.ctx.node, self.ctx.provenance = node, prov
        try:
            res = fn(self.ctx, *self._arg(node.args), **self._arg(node.kwargs))
        except TranslationError as e:
            self.errors.append(e)
            res = None
        except TensorbridgeError as e:
            self.errors.append(e)
            res = None
        self._annotate(node, res)
        self.env[node] = res

    def _depends_on_failure(self, node: torch.fx.Node) -> bool:
        return bool(self.errors) and any(self.env.get(n, 0) is None and n.op != "placeholder"
                                         and isinstance(n.meta.get("val"), torch.Tensor)
                                         for n in node.all_input_nodes)

    def _arg(self, a: Any) -> Any:
        if isinstance(a, torch.fx.Node):
            return self.env[a]
        if isinstance(a, list | tuple):
            return type(a)(self._arg(x) for x in a)
        if isinstance(a, dict):
            return {k: self._arg(v) for k, v in a.items()}
        return a

    def _annotate(self, node: torch.fx.Node, res: Any) -> None:
        """Give translation outputs the dtype and (symbolic) shape torch computed."""
        val = node.meta.get("val")
        pairs = zip(res, val) if isinstance(res, list | tuple) and isinstance(val, list | tuple) else [(res, val)]
        for v, meta in pairs:
            if isinstance(v, Value) and v.role is Role.INTERMEDIATE:
                if isinstance(meta, torch.Tensor):
                    v.type = TensorType(to_dtype(meta.dtype), self._shape(meta))
                elif isinstance(meta, torch.SymInt | int):
                    v.type = TensorType(to_dtype(torch.int64), ())
                elif isinstance(meta, torch.SymFloat | float):
                    v.type = TensorType(to_dtype(torch.float32), ())
                elif isinstance(meta, torch.SymBool | bool):
                    v.type = TensorType(to_dtype(torch.bool), ())

    def _shape(self, t: torch.Tensor) -> tuple[int | str, ...]:
        return tuple(d if isinstance(d, int) else self._dim(d) for d in t.shape)

    def _dim(self, d: Any) -> str | int:
        expr = str(d.node.expr) if hasattr(d, "node") else str(d)
        if expr.isdigit():
            return int(expr)
        names = self.ctx.dim_names
        return re.sub(r"\b[su]\d+\b", lambda m: names.get(m.group(0), m.group(0)), expr)

    def _outputs(self, node: torch.fx.Node) -> None:
        values = self._arg(node.args[0])
        kinds = [s.kind for s in self.ep.graph_signature.output_specs]
        user = [v for v, k in zip(values, kinds) if k == OutputKind.USER_OUTPUT]
        names = output_names(self.ep.call_spec.out_spec, len(user))
        outs: list[Value] = []
        out_names: list[str | None] = []
        for v, out_name in zip(user, names):
            if v is None:
                continue
            if not isinstance(v, Value):
                v = self.ctx.const(v)
            if v.role is not Role.INTERMEDIATE or v in outs:
                self.ctx.node = None
                typed = v.type
                v = self.ctx.op("Identity", [v])
                v.type = typed
            outs.append(v)
            out_names.append(out_name)
        for i, (v, out_name) in enumerate(zip(outs, out_names)):
            positional = f"output_{i}" if len(outs) > 1 else "output"  # numbered as they are kept
            self.g.rename(v, out_name or positional)
        self.g.set_outputs(outs)


def output_names(spec: Any, count: int) -> list[str | None]:
    """Names of the flattened user outputs from the output's pytree structure: the keys of a
    ModelOutput / dict / namedtuple / dataclass (``last_hidden_state``, ``pooler_output``),
    joined by '.' when nested (``hidden_states.0``); None for a positional output."""
    paths = _leaf_paths(spec) if spec is not None else []
    if len(paths) != count:
        return [None] * count
    return [re.sub(r"[^A-Za-z0-9_.]", "_", ".".join(path)) if any(not k.isdigit() for k in path) else None
            for path in paths]


def _leaf_paths(spec: Any) -> list[list[str]]:
    if spec.is_leaf():
        return [[]]
    children = list(spec.children()) if callable(getattr(spec, "children", None)) else list(spec.children_specs)
    keys = _child_keys(spec, len(children))
    return [[key, *rest] for key, child in zip(keys, children) for rest in _leaf_paths(child)]


def _child_keys(spec: Any, n: int) -> list[str]:
    """The keys a pytree node's children sit under: a dict's / ModelOutput's keys (its
    context), a namedtuple's fields, a dataclass's fields; else their positions."""
    import dataclasses

    ctx = spec.context
    if isinstance(ctx, list | tuple) and len(ctx) == n and all(isinstance(k, str) for k in ctx):
        return list(ctx)
    fields = getattr(ctx, "_fields", None) or getattr(spec.type, "_fields", None)
    if isinstance(fields, tuple) and len(fields) == n:
        return [str(f) for f in fields]
    if isinstance(spec.type, type) and dataclasses.is_dataclass(spec.type):
        names = [f.name for f in dataclasses.fields(spec.type)]
        if len(names) == n:
            return names
    return [str(i) for i in range(n)]


def provenance(node: torch.fx.Node) -> Provenance:
    stack = node.meta.get("nn_module_stack") or {}
    module = ""
    if stack:
        path = list(stack.values())[-1][0]
        module = _clean_module_path(path)
    return Provenance("pytorch", module, str(node.target), _source_line(node.meta.get("stack_trace", "")))


def _clean_module_path(path: str) -> str:
    # torch.export writes paths like "L['self'].encoder.layer[0]" or "encoder.layer.0"
    path = re.sub(r"^L\['self'\]\.?", "", path)
    path = re.sub(r"\[(\d+)\]", r".\1", path)
    path = re.sub(r"\['([^']+)'\]", r".\1", path)
    return path.strip(".")


def _source_line(trace: str) -> str:
    frames = re.findall(r'File "([^"]+)", line (\d+)', trace or "")
    user = [f for f in frames if "/torch/" not in f[0]]
    pick = (user or frames)[-1] if (user or frames) else None
    return f"{pick[0]}:{pick[1]}" if pick else ""


def _where(p: Provenance) -> str:
    return " ".join(x for x in (p.module and f"module {p.module}", p.location) if x)


def _tensor_identity(t: torch.Tensor) -> tuple[Any, ...]:
    """What makes two lifted tensors one: the same memory viewed the same way. An
    in-memory export hands a tied weight over as one object under each name, a loaded
    .pt2 as tensors sharing storage; empty tensors share no memory and stay apart."""
    if t.numel() == 0 or t.device.type == "meta":
        return ("object", id(t))
    return (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.stride(), t.dtype)


def _numpy(t: torch.Tensor) -> np.ndarray:
    t = t.detach()
    if t.dtype == torch.bfloat16:
        import ml_dtypes

        return t.view(torch.int16).numpy().view(ml_dtypes.bfloat16)
    # shares memory with the tensor: weights are not copied here
    return t.contiguous().numpy() if not t.is_contiguous() else t.numpy()


def _requested_dynamic(ep: ExportedProgram, source: Any, dynamic_shapes: Any) -> dict[tuple[str, int], str]:
    """(user input name, dim) -> requested dim name, from the dynamic_shapes argument
    (the simple ``{"x": {0: "batch"}}`` form, or torch's own with ``Dim``s)."""
    if not dynamic_shapes or not isinstance(source, torch.nn.Module):
        return {}
    spec = dynamic_shapes
    if isinstance(spec, list | tuple):
        import inspect

        params = [p for p in inspect.signature(source.forward).parameters if p != "self"]
        spec = dict(zip(params, spec))
    if not isinstance(spec, dict):
        return {}
    out: dict[tuple[str, int], str] = {}
    for name, dims in spec.items():
        if not isinstance(dims, dict):
            continue
        for i, d in dims.items():
            out[(name, int(i))] = d if isinstance(d, str) else getattr(d, "__name__", f"{name}_{i}")
    return out


def _dim_names(ep: ExportedProgram, requested: dict[tuple[str, int], str], strict: bool,
               g: Graph) -> dict[str, str]:
    names: dict[str, str] = {}
    problems = []
    user = {s.arg.name for s in ep.graph_signature.input_specs if s.kind == InputKind.USER_INPUT}
    for node in ep.graph.nodes:
        if node.op != "placeholder" or node.name not in user:
            continue
        val = node.meta.get("val")
        for (inp, i), want in requested.items():
            if inp != node.name or not isinstance(val, torch.Tensor) or i >= val.dim():
                continue
            d = val.shape[i]
            if isinstance(d, int) or str(d.node.expr).isdigit():
                why = " (size-1 dims always are: give an example with a size >= 2)" if str(d) in ("0", "1") else ""
                problems.append(f"input {inp!r} dim {i} ({want!r}) was specialised to {d} by torch.export{why}")
            else:
                names.setdefault(str(d.node.expr), want)
    for sym, rng in ep.range_constraints.items():
        label = names.get(str(sym), str(sym))
        g.metadata[f"tensorbridge.dim_range.{label}"] = f"{rng.lower}..{rng.upper}"
    if problems:
        msg = ("; ".join(problems) + ". The model forces these sizes (e.g. a reshape to a "
               "constant); drop them from dynamic_shapes, or pass strict_shapes=False to export static")
        if strict:
            raise ShapeSpecializationError(msg)
        warnings.warn(msg, stacklevel=3)
    return names
