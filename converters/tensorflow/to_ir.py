"""TensorFlow/Keras (Keras model, .keras, tf.function, SavedModel) -> IR Graph.

The source is captured as a frozen, call-free GraphDef (see capture.py), then walked in
topological order: Placeholders become graph inputs (``None`` dims named ``batch`` /
``<input>_dim<i>``), Consts become initializers (frozen variables keep their Keras weight
path), and every other node goes through its registered translation. Every op carries the
Keras layer and the TF op type as provenance. All unsupported ops are reported at once.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from tensorbridge.converters.builder import check_opset
from tensorbridge.converters.tensorflow import ops  # noqa: F401  (registers every translation)
from tensorbridge.converters.tensorflow.capture import Captured, Weight, capture, import_graph
from tensorbridge.converters.tensorflow.context import TfCtx, TranslationError, to_dtype
from tensorbridge.converters.tensorflow.control import Body, FunctionFailed, LoopFrame
from tensorbridge.converters.tensorflow.inline import inline_calls
from tensorbridge.converters.tensorflow.registry import TF_OPS
from tensorbridge.ir.errors import ConversionError, TensorbridgeError, UnsupportedOpError
from tensorbridge.ir.graph import Graph, WeightInfo
from tensorbridge.ir.node import Provenance, Role, Value
from tensorbridge.ir.passes.dce import eliminate_dead_code
from tensorbridge.ir.types import TensorType
from tensorbridge.ir.verify import verify

DEFAULT_OPSET = 20  # same as the PyTorch front-end; onnxruntime >= 1.17 runs it
MIN_OPSET = 17
_WRAPPERS = frozenset({"StatefulPartitionedCall", "PartitionedCall", "Func"})


def to_ir(source: Any, example_inputs: Any = None, *, opset: int | None = None,
          inputs_as_nchw: Sequence[str] | None = None, keep_weight_layout: bool = False) -> Graph:
    """Convert a TensorFlow/Keras model to an IR graph (verified).

    ``source``: a Keras model, a ``.keras`` path, a ``tf.function`` (with an input
    signature, or ``example_inputs``), a ConcreteFunction, or a SavedModel directory.
    ``inputs_as_nchw``: names of 4-D (or 3-D/5-D) inputs to accept channels-first; a
    Transpose to TF's channels-last layout is inserted after each. ``keep_weight_layout``:
    every variable stays in the shape the model holds it (a migration keeps the source's
    parameters), its other layouts computed by ops; otherwise translations may store
    re-laid-out copies (a conv kernel as OIHW), which an ONNX export wants."""
    opset = _check_opset(opset)
    cap = capture(source, example_inputs)
    g = Graph(cap.name, opset_imports={"": opset})
    g.model.producer_name = "tensorbridge"
    g.model.producer_version = f"tensorflow {tf.__version__}"
    errors: list[TensorbridgeError] = []
    ctx = TfCtx(g, opset, cap.tf_graph, cap.graph_def)
    ctx.keep_weight_layout = keep_weight_layout
    ctx.functions = Functions(cap.graph_def.library, opset, cap.scopes, errors, ctx.derived)
    ctx.functions.keep_weight_layout = keep_weight_layout
    try:
        _Translator(g, ctx, errors, cap=cap, nchw=set(inputs_as_nchw or ())).run()
    finally:
        ctx.close()
    one_initializer_per_weight(g, ctx.derived)
    eliminate_dead_code(g)  # e.g. weights whose transposed copies replaced them
    _restore_weight_names(g)
    for weight, data in cap.unread:  # unused: a migration keeps them, an ONNX export drops them
        _add_weight(g, weight, data)
    verify(g)
    return g


def _check_opset(opset: int | None) -> int:
    return check_opset("tensorflow", opset, DEFAULT_OPSET, MIN_OPSET)


def one_initializer_per_weight(g: Graph, derived: dict[int, tuple[Value, Value, str, tuple[int, ...]]]) -> None:
    """A variable read in several layouts (a kernel read by a Conv2D and also as it is, or
    transposed by one MatMul and plainly by another) was lifted as one initializer per
    layout, which would make one source variable several parameters. Then the variable's
    own initializer stays and the other layouts are computed from it (Transpose/Reshape
    ops, in whichever graph reads them). A variable read in one layout keeps its one
    re-laid-out copy (``derived``: copy -> (copy, source weight, "T" perm / "R" shape))."""
    used: dict[str, list[tuple[Graph, Value]]] = {}
    for graph in g.with_subgraphs():
        by_name = {n for node in graph.nodes() for sub in node.subgraphs() for n in sub.outer_names()}
        for v in graph.initializers():
            if v.source_name and (graph.is_used(v) or v.name in by_name):
                used.setdefault(v.source_name, []).append((graph, v))
    for readers in used.values():
        if len(readers) > 1:
            for graph, copy in readers:
                _compute_from_source(g, graph, copy, derived)


def _compute_from_source(g: Graph, graph: Graph, copy: Value,
                         derived: dict[int, tuple[Value, Value, str, tuple[int, ...]]]) -> None:
    steps: list[tuple[Value, str, tuple[int, ...]]] = []
    root = copy
    while id(root) in derived:
        made, src, how, arg = derived[id(root)]
        steps.append((made, how, arg))
        root = src
    if root is copy:
        return
    x = root if graph is g else graph.add_outer_ref(root.name, root.type)
    prov = Provenance("tensorflow", "", f"read of variable {root.source_name}")
    for made, how, arg in reversed(steps):
        if how == "T":
            ins, attrs = [x], {"perm": list(arg)}
        else:
            ins, attrs = [x, graph.add_constant(f"{made.name}_shape", np.array(arg, np.int64))], {}
        op = "Transpose" if how == "T" else "Reshape"
        x = graph.add_op(op, ins, attrs, name=f"{root.name}_{op}", provenance=prov,
                         output_types=[made.type])[0]
    graph.replace_all_uses(copy, x)


def _restore_weight_names(g: Graph) -> None:
    """Give each initializer its Keras weight path as name once the original is gone."""
    for v in g.initializers():
        if v.source_name and v.name != v.source_name and not g.has_value(v.source_name):
            g.rename(v, v.source_name)


class Functions:
    """The GraphDef's function library (While/If bodies), translated on demand: each call
    translates the body's nodes into the given graph, its arguments bound to ``args``."""

    def __init__(self, library: Any, opset: int, scopes: dict[str, str],
                 errors: list[TensorbridgeError],
                 derived: dict[int, tuple[Value, Value, str, tuple[int, ...]]] | None = None) -> None:
        self.library, self.opset, self.scopes, self.errors = library, opset, scopes, errors
        self.derived = derived if derived is not None else {}  # shared by every body's context
        self.keep_weight_layout = False
        self.fdefs = {f.signature.name: f for f in library.function}
        self._bodies: dict[tuple[str, Any], Body] = {}

    def body(self, name: str, shapes: Any = None) -> Body:
        key = (name, shapes)
        if key not in self._bodies:
            fdef = self.fdefs.get(name)
            if fdef is None:
                raise TensorbridgeError(f"function {name!r} is called but not in the graph's library")
            from tensorflow.python.framework.function_def_to_graph import function_def_to_graph_def

            tf_shapes = [tf.TensorShape(s) for s in shapes] if shapes else None
            gd, flat = function_def_to_graph_def(fdef, input_shapes=tf_shapes)
            gd.library.CopyFrom(self.library)
            gd = inline_calls(gd)
            self._bodies[key] = Body(
                gd, {n.name: n for n in gd.node}, [a.name for a in fdef.signature.input_arg],
                [flat[fdef.ret[a.name]] for a in fdef.signature.output_arg], import_graph(gd))
        return self._bodies[key]

    def call(self, name: str, args: list[Any], into: Graph, *, shapes: Any = None,
             loop: LoopFrame | None = None) -> list[Any]:
        body = self.body(name, shapes)
        ctx = TfCtx(into, self.opset, body.tf_graph)
        ctx.functions, ctx.loop, ctx.derived = self, loop, self.derived
        ctx.keep_weight_layout = self.keep_weight_layout
        t = _Translator(into, ctx, self.errors)
        for arg, value in zip(body.args, args, strict=True):
            t.env[(arg, 0)] = value
        n_errors = len(self.errors)
        try:
            t.translate(body.graph_def.node, body.rets)
        finally:
            ctx.close()
        if len(self.errors) > n_errors:
            raise FunctionFailed(f"function {name!r} did not translate")
        return [t.lookup(r) for r in body.rets]


class _Translator:
    """Translates GraphDef nodes into an IR graph: the model's own graph, or (through
    ``Functions``) the body of a While/If function into a subgraph."""

    def __init__(self, g: Graph, ctx: TfCtx, errors: list[TensorbridgeError], *,
                 cap: Captured | None = None, nchw: set[str] | None = None) -> None:
        self.g, self.ctx, self.errors = g, ctx, errors
        self.cap, self.nchw = cap, nchw or set()
        self.env: dict[tuple[str, int], Any] = {}  # Values, and tensor-list stand-ins
        self.failed: set[str] = set()
        self.weights: dict[str, Value] = {}
        self.scopes = cap.scopes if cap is not None else (ctx.functions.scopes if ctx.functions else {})
        self.symbolic = cap.symbolic if cap is not None else {}

    def run(self) -> None:
        assert self.cap is not None
        unknown = self.nchw - {s.name for s in self.cap.inputs}
        if unknown:
            raise TensorbridgeError(f"inputs_as_nchw names {sorted(unknown)} are not inputs of the "
                                    f"model ({', '.join(s.name for s in self.cap.inputs)})")
        for spec in self.cap.inputs:
            self.env[(spec.name, 0)] = self._input(spec)
        self.translate(self.cap.graph_def.node, [t for _, t in self.cap.outputs])
        if self.errors:
            raise ConversionError("TensorFlow -> IR", self.errors)
        self._outputs()

    def translate(self, nodes: Iterable[Any], roots: Sequence[str]) -> None:
        """Translate the nodes the tensors ``roots`` compute from (bound Placeholders stay)."""
        nodes = list(nodes)
        needed = data_ancestors(nodes, [_tensor_key(t)[0] for t in roots])
        for node in topological(n for n in nodes if n.name in needed):
            if node.op == "Placeholder":
                if (node.name, 0) not in self.env:
                    self._fail(node, UnsupportedOpError(
                        "tensorflow", "Placeholder", node=node.name,
                        hint="a placeholder that is not an input of the function; freeze the "
                             "model with its inputs bound"))
            elif node.op == "Const":
                self._const(node)
            else:
                self._call(node)

    def lookup(self, tensor: str) -> Any:
        """The translation of TF tensor ``node:i`` (None when its node failed)."""
        return self.env.get(_tensor_key(tensor))

    # ---------------------------------------------------------------- leaves
    def _input(self, spec: Any) -> Value:
        if spec.name not in self.nchw:
            return self.g.add_input(spec.name, spec.dtype, spec.shape)
        shape = spec.shape
        if shape is None or len(shape) < 3:
            raise TensorbridgeError(f"inputs_as_nchw: input {spec.name!r} has shape {shape}; "
                                    "only inputs of rank 3 to 5 have a channels axis to move")
        r = len(shape)
        v = self.g.add_input(spec.name, spec.dtype, (shape[0], shape[-1], *shape[1:-1]))
        self.ctx.set_node(None, Provenance("tensorflow", "", "inputs_as_nchw"))
        self.ctx.name_base = spec.name
        return self.ctx.to_channels_last(v, r)

    def _const(self, node: Any) -> None:
        arr = tf.make_ndarray(node.attr["value"].tensor)
        weight = self.cap.weights.get(node.name) if self.cap is not None else None
        if weight is None:
            value = self.g.add_constant(node.name, arr)
        elif weight.path in self.weights:
            value = self.weights[weight.path]
        else:
            value = _add_weight(self.g, weight, arr)
            self.weights[weight.path] = value
        self.env[(node.name, 0)] = value

    # ---------------------------------------------------------------- ops
    def _call(self, node: Any) -> None:
        prov = Provenance("tensorflow", layer_of(node.name, self.scopes), node.op)
        inputs = self._inputs(node)
        fn = TF_OPS.lookup(node.op)
        if inputs is None and fn is not None:
            self.failed.add(node.name)  # the root cause is already reported
            return
        if fn is None or inputs is None:  # an unsupported op is reported even after a failure
            self._fail(node, UnsupportedOpError(
                "tensorflow", node.op, node=node.name, source=_where(prov),
                close=TF_OPS.close_matches(node.op),
                hint=_unsupported_hint(node.op)))
            return
        self.ctx.set_node(node, prov)
        try:
            result = fn(self.ctx, *inputs, **{k: v for k, v in self.ctx.attrs.items() if not k.startswith("_")})
        except FunctionFailed:
            self.failed.add(node.name)  # the body's errors are already reported
            return
        except TensorbridgeError as e:
            self._fail(node, e)
            return
        except (TypeError, ValueError, KeyError, IndexError) as e:  # a translation bug: keep going
            err = TranslationError("tensorflow", node.op, node=node.name, source=_where(prov),
                                   hint=f"internal error ({type(e).__name__}: {e}); please open an issue")
            err.__cause__ = e
            self._fail(node, err)
            return
        self._bind(node, result)

    def _inputs(self, node: Any) -> list[Value | None] | None:
        values: list[Value | None] = []
        for name in node.input:
            if name.startswith("^"):
                continue  # control dependencies: the frozen graph has no side effects to order
            key = _tensor_key(name)
            if key[0] in self.failed:
                return None
            values.append(self.env.get(key))
        return values

    def _fail(self, node: Any, error: TensorbridgeError) -> None:
        self.errors.append(error)
        self.failed.add(node.name)

    def _bind(self, node: Any, result: Any) -> None:
        outs = list(result) if isinstance(result, list | tuple) else [result]
        tf_op = self.ctx.tf_op
        for i, v in enumerate(outs):
            self.env[(node.name, i)] = v
            if isinstance(v, Value):
                self.ctx.tensor_names.setdefault(id(v), f"{node.name}:{i}")
            if isinstance(v, Value) and v.role is Role.INTERMEDIATE and i < len(tf_op.outputs):
                _annotate(v, tf_op.outputs[i], self.symbolic.get(f"{node.name}:{i}"))

    # ---------------------------------------------------------------- outputs
    def _outputs(self) -> None:
        assert self.cap is not None
        outs: list[Value] = []
        for name, tensor in self.cap.outputs:
            key = _tensor_key(tensor)
            v = self.env.get(key)
            if v is None:
                raise ConversionError("TensorFlow -> IR", [UnsupportedOpError(
                    "tensorflow", "output", node=tensor, hint="this output is computed by no translated op")])
            if v.role is not Role.INTERMEDIATE or v in outs:
                typed = v.type
                self.ctx.set_node(None, Provenance("tensorflow", "", "Identity"))
                self.ctx.name_base = name
                v = self.ctx.op("Identity", [v])
                v.type = typed
            self.g.rename(v, name)
            outs.append(v)
        self.g.set_outputs(outs)


def _add_weight(g: Graph, weight: Weight, data: np.ndarray) -> Value:
    """The initializer of a model variable: a parameter (frozen with its layer, or
    training) or, for state such as moving statistics, a buffer."""
    role = Role.PARAMETER if weight.parameter else Role.BUFFER
    g.weight_info[weight.path] = WeightInfo(trainable=weight.trainable)
    return g.add_constant(weight.path, data, role=role, source_name=weight.path)


def _annotate(v: Value, t: Any, named: tuple[Any, ...] | None = None) -> None:
    """Give a translation output the dtype and static shape TensorFlow inferred, with the
    input dims' names where TF only says "unknown" (``named``, see shapes.py)."""
    try:
        dtype = to_dtype(t.dtype)
    except UnsupportedOpError:
        return
    shape: tuple[Any, ...] | None = None
    if t.shape.rank is not None:
        dims = list(t.shape.as_list())
        for known in (named, v.shape):
            if known is not None and len(known) == len(dims):
                dims = [k if d is None and isinstance(k, str) else d for d, k in zip(dims, known)]
        shape = tuple(dims)
    elif v.shape is not None:
        shape = v.shape
    v.type = TensorType(dtype, shape)


def _tensor_key(name: str) -> tuple[str, int]:
    node, _, index = name.partition(":")
    return node, int(index) if index else 0


def topological(nodes: Iterable[Any]) -> list[Any]:
    """GraphDef nodes in dependency order (ties: GraphDef order); data and control inputs."""
    nodes = list(nodes)
    by_name = {n.name: i for i, n in enumerate(nodes)}
    deps = [{by_name[d] for d in (_dep(i) for i in n.input) if d in by_name} for n in nodes]
    users: list[list[int]] = [[] for _ in nodes]
    for i, ds in enumerate(deps):
        for d in ds:
            users[d].append(i)
    missing = [len(ds) for ds in deps]
    ready = [i for i, m in enumerate(missing) if m == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        i = heapq.heappop(ready)
        order.append(nodes[i])
        for u in users[i]:
            missing[u] -= 1
            if missing[u] == 0:
                heapq.heappush(ready, u)
    if len(order) != len(nodes):
        stuck = [nodes[i].name for i, m in enumerate(missing) if m][:5]
        raise TensorbridgeError(f"the TF graph has a cycle through {stuck} (NextIteration/Merge "
                                "loops are not supported: save the model without lowering control flow)")
    return order


def data_ancestors(nodes: Iterable[Any], roots: Iterable[str]) -> set[str]:
    """Names of the nodes the ``roots`` compute from, through data inputs only: what
    hangs off control edges (asserts, prints, the NoOps ordering variable reads) is not
    part of the model's computation and is not translated."""
    by_name = {n.name: n for n in nodes}
    seen: set[str] = set()
    stack = [r for r in roots if r in by_name]
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(d for d in (_tensor_key(i)[0] for i in by_name[name].input if not i.startswith("^"))
                     if d in by_name and d not in seen)
    return seen


def _dep(name: str) -> str:
    return _tensor_key(name.lstrip("^"))[0]


def layer_of(node_name: str, scopes: dict[str, str]) -> str:
    """The Keras layer path a TF node belongs to: its recorded name scope when known,
    otherwise its name scope with function-call wrappers dropped."""
    parts = node_name.split("/")
    for k in range(len(parts) - 1, 0, -1):
        path = scopes.get("/".join(parts[:k]))
        if path is not None:
            return path
    return "/".join(p for p in parts[:-1] if p not in _WRAPPERS)


_CONTROL_FLOW = frozenset({"Case", "StatelessCase", "Switch", "_SwitchN", "Merge", "Enter", "Exit",
                           "NextIteration", "TensorListPushBack", "TensorListPopBack",
                           "TensorListScatterIntoExistingList", "TensorListGather", "TensorListSplit"})


def _unsupported_hint(op_type: str) -> str:
    if op_type in _CONTROL_FLOW:
        return ("tf.switch_case, TF1-style (Switch/Merge) control flow and tensor lists other than a "
                "fixed-size TensorArray are not translated; use tf.cond / tf.while_loop with a "
                "TensorArray written at the loop index, or open an issue")
    return "no translation for this TF op; rewrite the layer with supported ops or open an issue"


def _where(p: Provenance) -> str:
    return f"layer {p.module}" if p.module else ""

