"""ONNX ModelProto (or .onnx path) -> IR Graph.

Reads every standard construct: initializers (dense, sparse, external), value_info, typed
attributes (incl. subgraphs with outer-scope references), sequence/optional/map types,
model-local functions, opset imports, metadata_props and node provenance.

Every model file may be hostile, so every field is validated before it is used (see
docs/security.md): IR and opset versions against what the installed onnx supports, tensor
types, dims and data sizes (:mod:`converters.onnx.protos`), external-data keys
(:mod:`converters.onnx.external`), unique graph input/output/initializer names, values
assigned once, and a model-local function call graph without cycles. ``verify`` then checks
the graph's structure (including If/Loop/Scan body arity). Each problem is a
:class:`ModelLoadError` whose first line says what is wrong and what to do.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import AttributeProto

from tensorbridge.converters.onnx import external
from tensorbridge.converters.onnx.protos import (
    PROV_KEYS,
    checked_dims,
    show,
    to_array,
    type_from_proto,
)
from tensorbridge.ir import schemas
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import ModelLoadError, TensorbridgeError, VerificationError
from tensorbridge.ir.graph import Function, Graph
from tensorbridge.ir.node import Attr, AttrKind, LazyTensor, Provenance, Role, Value
from tensorbridge.ir.types import ValueType
from tensorbridge.ir.values import SparseTensor
from tensorbridge.ir.verify import verify

_SHOWN = 4  # problems listed after the first one; the rest are counted
_PROBLEM_CHARS = 360  # one problem's share of a message (names in it can be huge)
# Python errors a malformed file may still provoke somewhere we do not check yet: reported
# as a ModelLoadError (the original chained) rather than as a traceback.
_UNEXPECTED = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
               RecursionError, UnicodeError, MemoryError)


def load_model_proto(path: str | os.PathLike[str]) -> onnx.ModelProto:
    """Parse a .onnx file without following external data (that is resolved lazily)."""
    p = Path(path)
    try:
        if p.is_file() and p.stat().st_size > external.PROTOBUF_LIMIT:
            raise ModelLoadError(str(p), f"the file has {p.stat().st_size:,} bytes, more than an ONNX "
                                 "protobuf can hold (2 GiB)", "Save the weights as external data")
        if p.exists() and not p.is_file():
            raise ModelLoadError(str(p), "not a regular file", "Pass the path of a .onnx file")
        data = p.read_bytes()
    except FileNotFoundError:
        raise ModelLoadError(str(p), "no such file", "Check the path") from None
    except OSError as e:
        raise ModelLoadError(str(p), f"cannot read the file ({e.strerror})", "Check the path") from e
    try:
        model = onnx.ModelProto.FromString(data)
    except (DecodeError, RuntimeWarning, ValueError) as e:
        raise ModelLoadError(str(p), f"not a valid ONNX protobuf ({str(e)[:120]})",
                             "The file is truncated or corrupt; re-export or re-download it") from e
    if not model.HasField("graph"):
        raise ModelLoadError(str(p), "the ModelProto has no graph",
                             "The file is empty, truncated or not an ONNX model")
    return model


def to_ir(model: onnx.ModelProto | str | os.PathLike[str], *, check: bool = True,
          path: str | os.PathLike[str] | None = None) -> Graph:
    """Convert an ONNX model (object or path) to an IR graph; ``verify`` it unless told not to.

    ``path``: for a ModelProto read from a file, that file (errors name it, and external
    data is looked up next to it). Raises :class:`ModelLoadError` for any malformed model."""
    if isinstance(model, onnx.ModelProto):
        origin = str(path) if path is not None else "<ModelProto>"
        base_dir = Path(path).resolve().parent if path is not None else None
        proto = model
    else:
        origin, base_dir = str(model), Path(model).resolve().parent
        proto = load_model_proto(model)
    # a model we parsed ourselves is ours to consume: drop each tensor's bytes once copied
    reader = _Reader(origin, base_dir, consume=not isinstance(model, onnx.ModelProto))
    try:
        graph = reader.model(proto)
        if check:
            verify(graph)
    except VerificationError as e:
        raise load_error(origin, e.problems, "Fix the model in its exporter") from e
    except _UNEXPECTED as e:
        raise ModelLoadError(origin, f"the model is malformed in a way tensorbridge does not "
                             f"check yet ({type(e).__name__}: {_clip(str(e), 160)})",
                             "Please report it; re-exporting the model may fix it") from e
    return graph


def load_error(origin: str, problems: Sequence[str], hint: str = "") -> ModelLoadError:
    """One error for ``problems``: the first on the first line (with ``hint``), a few more
    listed after it, the rest counted. The list is kept on the error as ``problems``."""
    shown = [_clip(p, _PROBLEM_CHARS) for p in problems[: _SHOWN + 1]]
    detail = hint
    if len(problems) > 1:
        more = len(problems) - 1 - _SHOWN
        detail += f"\n{len(problems) - 1} more problem(s):\n" + "\n".join(f"  - {p}" for p in shown[1:])
        detail += f"\n  ... and {more} more" if more > 0 else ""
    err = ModelLoadError(origin, shown[0].rstrip(". "), detail.strip())
    err.problems = list(problems)  # type: ignore[attr-defined]
    return err


def _clip(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, keeping its end (where the fix is said)."""
    text = text.replace("\n", " ")
    if len(text) <= limit:
        return text
    tail = limit // 3
    return f"{text[: limit - tail - 5]} ... {text[-tail:]}"


def _problems_of(e: TensorbridgeError) -> list[str]:
    found = getattr(e, "problems", None)
    if isinstance(found, list):
        return found
    if isinstance(e, ModelLoadError):
        return [f"{e.problem}. {e.hint}" if e.hint else e.problem]
    return [str(e)]


# ------------------------------------------------------------------ model-level checks
def check_versions(proto: onnx.ModelProto, origin: str) -> None:
    """IR version and opset imports within what the installed onnx package supports."""
    ir = int(proto.ir_version)
    if not 1 <= ir <= onnx.IR_VERSION:
        fix = ("Re-export the model for an older IR version, or upgrade the onnx package"
               if ir > onnx.IR_VERSION else "The IR version must be set; re-export the model")
        raise ModelLoadError(origin, f"IR version {ir} is outside what onnx {onnx.__version__} "
                             f"supports (1..{onnx.IR_VERSION})", fix)
    _check_opsets(proto.opset_import, "the model", origin)
    for f in proto.functions:
        _check_opsets(f.opset_import, f"function {show(f.name)}", origin)


def _check_opsets(imports: Iterable[onnx.OperatorSetIdProto], who: str, origin: str) -> None:
    seen: dict[str, int] = {}
    for o in imports:
        domain, version = schemas.norm_domain(o.domain), int(o.version)
        label = domain or "ai.onnx"
        if seen.setdefault(domain, version) != version:
            raise ModelLoadError(origin, f"{who} imports domain {show(label)} twice (opsets "
                                 f"{seen[domain]} and {version})", "Keep one opset import per domain")
        if domain in schemas.STANDARD_DOMAINS:
            top = schemas.latest_opset(domain)
            if not 1 <= version <= top:
                raise ModelLoadError(
                    origin, f"{who} imports opset {version} of {show(label)}, outside what onnx "
                    f"{onnx.__version__} supports (1..{top})",
                    f"Convert the model to opset {top} or lower (onnx.version_converter), or "
                    "upgrade the onnx package")
        elif version < 0:
            raise ModelLoadError(origin, f"{who} imports a negative opset {version} of domain "
                                 f"{show(label)}", "Opset versions are >= 0; re-export the model")


def check_functions(proto: onnx.ModelProto, origin: str) -> None:
    """Model-local functions: unique, with unique input/output names, and a call graph
    without cycles (ONNX functions are inlined; a recursive one never terminates)."""
    keys: dict[tuple[str, str], onnx.FunctionProto] = {}
    for f in proto.functions:
        key = (schemas.norm_domain(f.domain), f.name)
        label = _fn_label(key)
        if key in keys:
            raise ModelLoadError(origin, f"model-local function {label} is defined twice"
                                 + (" (overloads are not supported)" if f.overload or keys[key].overload else ""),
                                 "Keep one definition per domain and name")
        keys[key] = f
        for kind, names in (("input", f.input), ("output", f.output)):
            twice = _first_duplicate(names)
            if twice is not None:
                raise ModelLoadError(origin, f"function {label} lists {kind} {show(twice)} twice",
                                     f"Give each function {kind} its own name")
    calls = {key: sorted(set(_calls(f.node, keys))) for key, f in keys.items()}
    cycle = _find_cycle(calls)
    if cycle:
        path = " -> ".join(_fn_label(k) for k in cycle)
        what = (f"model-local function {_fn_label(cycle[0])} calls itself" if len(cycle) == 2
                else f"model-local functions call each other in a cycle ({path})")
        raise ModelLoadError(origin, what, "A function may not call itself, directly or through "
                             "others (functions are inlined, so it would never end); express the "
                             "repetition with a Loop")


def _fn_label(key: tuple[str, str]) -> str:
    return show(f"{key[0]}::{key[1]}" if key[0] else key[1])


def _first_duplicate(names: Iterable[str]) -> str | None:
    seen: set[str] = set()
    for n in names:
        if n and n in seen:
            return n
        seen.add(n)
    return None


def _calls(nodes: Iterable[onnx.NodeProto], keys: dict[tuple[str, str], onnx.FunctionProto]
           ) -> Iterator[tuple[str, str]]:
    """The functions that ``nodes`` call, including from inside their subgraphs."""
    stack = [iter(nodes)]
    while stack:
        node = next(stack[-1], None)
        if node is None:
            stack.pop()
            continue
        key = (schemas.norm_domain(node.domain), node.op_type)
        if key in keys:
            yield key
        for a in node.attribute:
            if a.type == AttributeProto.GRAPH:
                stack.append(iter(a.g.node))
            elif a.type == AttributeProto.GRAPHS:
                stack.extend(iter(g.node) for g in a.graphs)


def _find_cycle(calls: dict[tuple[str, str], list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """A call cycle as [f, g, ..., f], or [] (iterative DFS: a hostile file can nest deep)."""
    state: dict[tuple[str, str], int] = {}  # 1: on the current path, 2: done
    for root in calls:
        if state.get(root):
            continue
        path = [root]
        todo = [iter(calls[root])]
        state[root] = 1
        while todo:
            nxt = next(todo[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                todo.pop()
                continue
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                todo.append(iter(calls.get(nxt, ())))
    return []


def _check_graph_names(gp: onnx.GraphProto, where: str) -> list[str]:
    """Graph inputs, outputs and initializers each have unique, non-empty names."""
    problems = []
    groups = (("initializer", [t.name for t in gp.initializer] + [s.values.name for s in gp.sparse_initializer]),
              ("input", [vi.name for vi in gp.input]), ("output", [vi.name for vi in gp.output]))
    for kind, names in groups:
        if any(not n for n in names):
            problems.append(f"a graph {kind} has an empty name; name it")
        twice = _first_duplicate(names)
        if twice is not None:
            problems.append(f"graph {kind} {show(twice)} is listed twice; each graph {kind} needs "
                            "its own name (rename or remove the duplicate)")
    return [f"{where}: {p}" if where else p for p in problems]


class _Reader:
    def __init__(self, origin: str, base_dir: Path | None, consume: bool = False) -> None:
        self.origin = origin
        self.base_dir = base_dir
        self.consume = consume
        # per graph: name as written in the file -> IR value (names may be made unique)
        self.scopes: dict[Graph, dict[str, Value]] = {}

    def model(self, proto: onnx.ModelProto) -> Graph:
        check_versions(proto, self.origin)
        check_functions(proto, self.origin)
        opsets = {schemas.norm_domain(o.domain): int(o.version) for o in proto.opset_import}
        if "" not in opsets and proto.ir_version < 3:
            opsets[""] = 1
        g = Graph(proto.graph.name or "main", opset_imports=opsets)
        m = g.model
        m.ir_version = int(proto.ir_version)
        m.producer_name, m.producer_version = proto.producer_name, proto.producer_version
        m.domain, m.model_version, m.doc = proto.domain, int(proto.model_version), proto.doc_string
        g.metadata = {p.key: p.value for p in proto.metadata_props}
        for f in proto.functions:
            self.function(g, f)
        self.graph_body(g, proto.graph, "")
        return g

    def function(self, g: Graph, f: onnx.FunctionProto) -> None:
        body = Graph(f.name, opset_imports={schemas.norm_domain(o.domain): int(o.version)
                                            for o in f.opset_import})
        for name in f.input:
            self._define(body, name, body.add_input(name, None))
        where = f"in function {show(f.name)}"
        self.nodes(body, f.node, where)
        body.set_outputs(self._lookup(body, n, f"{where}: output") for n in f.output)
        defaults = {a.name: self.attr(a, body) for a in f.attribute_proto}
        g.functions[(f.domain, f.name)] = Function(
            f.name, f.domain, body, tuple(f.attribute) + tuple(defaults), defaults, f.doc_string)

    def graph_body(self, g: Graph, gp: onnx.GraphProto, where: str) -> None:
        """``where``: "" for the main graph, else the subgraph's place (for errors)."""
        problems = _check_graph_names(gp, where)
        if problems:
            raise load_error(self.origin, problems)
        g.doc = gp.doc_string
        self.scopes.setdefault(g, {})
        for t in gp.initializer:
            self.initializer(g, t)
        for st in gp.sparse_initializer:
            self._define(g, st.values.name, g.add_constant(st.values.name, self.sparse(st)))
        scope = self.scopes[g]
        inputs = []
        for vi in gp.input:
            if vi.name in scope:  # an initializer also listed as input (IR < 4): a default
                inputs.append(scope[vi.name])
                continue
            vtype = self.value_type(vi, "graph input") if vi.HasField("type") else None
            inputs.append(self._define(g, vi.name, g.add_input(vi.name, vtype)))
        g.set_inputs(inputs)
        self.nodes(g, gp.node, where)
        outputs = {vi.name for vi in gp.output}
        for vi in list(gp.value_info) + list(gp.output):
            v = scope.get(vi.name)
            if v is None or not vi.HasField("type"):
                continue
            if vi.name not in outputs and _undefined_elem(vi.type):
                continue  # an intermediate annotated as "tensor of UNDEFINED" says nothing
            vtype = self.value_type(vi, "graph output" if vi.name in outputs else "value_info")
            if not v.role.is_initializer and v.role is not Role.OUTER:
                v.type = vtype
            v.doc = v.doc or vi.doc_string
        what = f"{where}: graph output" if where else "graph output"
        g.set_outputs(self._lookup(g, vi.name, what) for vi in gp.output)

    def value_type(self, vi: onnx.ValueInfoProto, kind: str) -> ValueType | None:
        return type_from_proto(vi.type, f"{kind} {show(vi.name)}", self.origin)

    def initializer(self, g: Graph, t: onnx.TensorProto) -> Value:
        data: LazyTensor | np.ndarray
        if external.is_external(t):
            data = external.lazy_tensor(t, self.base_dir, self.origin)
        else:
            data = to_array(t, self.origin)
            if self.consume:  # peak memory: weights held once, not proto + arrays
                t.ClearField("raw_data")
        v = self._define(g, t.name, g.add_constant(t.name, data))
        v.doc = t.doc_string
        return v

    def tensor(self, t: onnx.TensorProto) -> np.ndarray:
        """A tensor that is not an initializer (an attribute, a sparse tensor's part), read now."""
        if external.is_external(t):
            return external.lazy_tensor(t, self.base_dir, self.origin).load()
        return to_array(t, self.origin)

    def sparse(self, st: onnx.SparseTensorProto) -> SparseTensor:
        """A sparse tensor whose values and indices are checked against its dims: a bad index
        would otherwise write outside the dense tensor, or wrap around silently."""
        what = f"sparse tensor {show(st.values.name)}"
        dims = checked_dims(st.dims, what, self.origin)
        values, indices = self.tensor(st.values), self.tensor(st.indices)
        nnz = values.shape[0] if values.ndim == 1 else -1
        problem = ""
        if nnz < 0:
            problem = f"has values of rank {values.ndim}; they must be 1-D [NNZ]"
        elif indices.dtype != np.int64 or indices.shape not in ((nnz,), (nnz, len(dims))):
            problem = (f"has indices {indices.dtype}{list(indices.shape)}; with {nnz} values and "
                       f"rank {len(dims)} they must be int64 [{nnz}] or [{nnz}, {len(dims)}]")
        elif nnz:
            bound = np.array([int(np.prod(dims, dtype=object))] if indices.ndim == 1 else dims, dtype=object)
            if indices.min() < 0 or (indices.astype(object) >= bound).any():
                problem = f"has an index outside its dims {list(dims)}"
        if problem:
            raise ModelLoadError(self.origin, f"{what} {problem}", "Re-export the model")
        return SparseTensor(values, indices, dims)

    def nodes(self, g: Graph, nodes: Iterable[onnx.NodeProto], where: str) -> None:
        problems: list[str] = []
        for i, n in enumerate(nodes):
            try:
                self.node(g, n, i)
            except TensorbridgeError as e:
                problems.extend(f"{where}: {p}" if where else p for p in _problems_of(e))
        if problems:
            raise load_error(self.origin, problems)

    def node(self, g: Graph, n: onnx.NodeProto, index: int) -> None:
        label = show(n.name or f"#{index} ({n.op_type})")
        inputs = [self._lookup(g, name, f"node {label} input {k}") if name else None
                  for k, name in enumerate(n.input)]
        twice = _first_duplicate(a.name for a in n.attribute)
        if twice is not None:
            raise ModelLoadError(self.origin, f"node {label} sets attribute {show(twice)} twice",
                                 "Keep one value per attribute")
        attrs = {a.name: self.attr(a, g, f"node {label}") for a in n.attribute}
        meta = {p.key: p.value for p in n.metadata_props}
        prov = Provenance(**{f: meta.pop(k) for f, k in PROV_KEYS.items() if k in meta})
        if not prov.framework:
            prov = Provenance("onnx", source_op=n.name)
        node = g.add_node(n.op_type, inputs, attrs, domain=n.domain, name=n.name or n.op_type.lower(),
                          provenance=prov, n_outputs=len(n.output))
        node.overload, node.doc = n.overload, n.doc_string
        scope = self.scopes[g]
        for k, name in enumerate(n.output):
            if not name:
                continue
            if name in scope:
                raise ModelLoadError(self.origin, f"node {label} writes {show(name)}, which is already "
                                     "defined in this graph (a graph input, an initializer or an "
                                     "earlier output)", "ONNX values are assigned once; rename one of them")
            scope[name] = g.add_node_output(node, k, name)

    def attr(self, a: onnx.AttributeProto, g: Graph, owner: str = "a function") -> Attr:
        t = a.type
        if t not in _ATTR_KINDS:
            raise ModelLoadError(self.origin, f"{owner}: attribute {show(a.name)} has unknown type "
                                 f"code {t}", "The model was written by a newer or broken exporter")
        if a.ref_attr_name:
            return Attr(AttrKind(t), None, ref=a.ref_attr_name)
        if t == AttributeProto.GRAPH:
            return Attr(AttrKind.GRAPH, self.subgraph(g, a.g, f"{owner} attribute {show(a.name)}"))
        if t == AttributeProto.GRAPHS:
            return Attr(AttrKind.GRAPHS, tuple(self.subgraph(g, s, f"{owner} attribute {show(a.name)}")
                                               for s in a.graphs))
        if t == AttributeProto.TENSOR:
            return Attr(AttrKind.TENSOR, self.tensor(a.t))
        if t == AttributeProto.TENSORS:
            return Attr(AttrKind.TENSORS, tuple(self.tensor(x) for x in a.tensors))
        if t == AttributeProto.SPARSE_TENSOR:
            return Attr(AttrKind.SPARSE_TENSOR, self.sparse(a.sparse_tensor))
        if t == AttributeProto.SPARSE_TENSORS:
            return Attr(AttrKind.SPARSE_TENSORS, tuple(self.sparse(s) for s in a.sparse_tensors))
        what = f"{owner} attribute {show(a.name)}"
        if t == AttributeProto.TYPE_PROTO:
            return Attr(AttrKind.TYPE_PROTO, type_from_proto(a.tp, what, self.origin))
        if t == AttributeProto.TYPE_PROTOS:
            return Attr(AttrKind.TYPE_PROTOS, tuple(type_from_proto(x, what, self.origin) for x in a.type_protos))
        simple = {
            AttributeProto.FLOAT: lambda: float(np.float32(a.f)),
            AttributeProto.INT: lambda: int(a.i),
            AttributeProto.STRING: lambda: a.s.decode("utf-8", errors="surrogateescape"),
            AttributeProto.FLOATS: lambda: tuple(float(np.float32(x)) for x in a.floats),
            AttributeProto.INTS: lambda: tuple(int(x) for x in a.ints),
            AttributeProto.STRINGS: lambda: tuple(s.decode("utf-8", errors="surrogateescape") for s in a.strings),
        }
        return Attr(AttrKind(t), simple[t]())

    def subgraph(self, parent: Graph, gp: onnx.GraphProto, where: str) -> Graph:
        sub = parent.subgraph(gp.name or "body")
        self.graph_body(sub, gp, f"in subgraph {show(sub.name)} of {where}")
        return sub

    def _define(self, g: Graph, original: str, v: Value) -> Value:
        self.scopes.setdefault(g, {})[original] = v
        return v

    def _lookup(self, g: Graph, name: str, what: str) -> Value:
        """Resolve ``name`` in ``g``'s scope, then in enclosing scopes (an outer reference)."""
        scope = self.scopes.setdefault(g, {})
        if name in scope:
            return scope[name]
        outer: Graph | None = g.parent
        while outer is not None:
            found = self.scopes.get(outer, {}).get(name)
            if found is not None:
                return self._define(g, name, g.add_outer_ref(found.name, found.type))
            outer = outer.parent
        raise ModelLoadError(self.origin, f"{what} refers to {show(name)}, which is not defined before "
                             "it is used (not a graph input, initializer, earlier node output or "
                             "outer-scope value)", "The model is not topologically sorted or is "
                             "missing a value; re-export it or sort it")


def _undefined_elem(tp: onnx.TypeProto) -> bool:
    return tp.WhichOneof("value") == "tensor_type" and tp.tensor_type.elem_type == 0


_ATTR_KINDS = frozenset(int(k) for k in AttrKind)

__all__ = ["DType", "check_functions", "check_versions", "load_error", "load_model_proto", "to_ir"]
