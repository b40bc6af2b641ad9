"""Payloads of the IR's two node kinds: :class:`Value` (a tensor or container) and
:class:`Node` (an op), plus typed attributes and provenance."""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.types import (
    MapType,
    OptionalType,
    SequenceType,
    ShapeT,
    SparseTensorType,
    TensorType,
    ValueType,
)
from tensorbridge.ir.values import SparseTensor

if TYPE_CHECKING:  # types only: graph.py imports this module
    from tensorbridge.ir.graph import Graph


class _EditClock:
    __slots__ = ("ticks",)

    def __init__(self) -> None:
        self.ticks = 0


CLOCK = _EditClock()
"""Counts edits to the IR anywhere in the process: every assignment to a field of a
:class:`Node` or :class:`Value`, every change to a node's ``attrs`` dict and every
structural edit of a graph (each bump of ``Graph.version``). Two equal readings mean no IR
object was edited in between, except numpy data changed in place (which nothing here does).
Plan caches compare it to skip re-checking a graph they already planned."""


def edit_ticks() -> int:
    """The current reading of :data:`CLOCK`."""
    return CLOCK.ticks


class AttrDict(dict[str, "Attr"]):
    """A node's attributes: a plain dict whose every change ticks :data:`CLOCK`."""

    __slots__ = ()

    def __setitem__(self, key: str, value: Attr) -> None:
        super().__setitem__(key, value)
        CLOCK.ticks += 1

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        CLOCK.ticks += 1

    def __ior__(self, other: Any) -> AttrDict:  # type: ignore[override,misc]
        self.update(other)
        return self

    def update(self, *args: Any, **kwargs: Any) -> None:
        super().update(*args, **kwargs)
        CLOCK.ticks += 1

    def pop(self, *args: Any) -> Any:
        CLOCK.ticks += 1
        return super().pop(*args)

    def popitem(self) -> tuple[str, Attr]:
        CLOCK.ticks += 1
        return super().popitem()

    def setdefault(self, key: str, default: Any = None) -> Any:
        CLOCK.ticks += 1
        return super().setdefault(key, default)

    def clear(self) -> None:
        super().clear()
        CLOCK.ticks += 1


class GraphBase:
    """The base class of :class:`tensorbridge.ir.graph.Graph`: lets an attribute recognise a
    subgraph value without importing graph.py (which imports this module)."""

    __slots__ = ()


class Role(enum.Enum):
    INPUT = "input"
    PARAMETER = "parameter"  # trainable weight (state_dict parameter, Keras trainable variable)
    BUFFER = "buffer"  # non-trainable state (running_mean, ...)
    CONSTANT = "constant"  # any other initializer
    INTERMEDIATE = "intermediate"
    OUTER = "outer"  # a subgraph's reference to a value of an enclosing graph

    @property
    def is_initializer(self) -> bool:
        return self in (Role.PARAMETER, Role.BUFFER, Role.CONSTANT)


class LazyTensor:
    """Constant data read on first use (e.g. an external-data file, memory-mapped)."""

    def __init__(self, dtype: DType, shape: tuple[int, ...], loader: Callable[[], np.ndarray],
                 origin: str = "") -> None:
        self.dtype = dtype
        self.shape = shape
        self.origin = origin
        self._loader = loader
        self._array: np.ndarray | None = None

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * max(1, self.dtype.itemsize_bits // 8)

    def load(self) -> np.ndarray:
        if self._array is None:
            self._array = self._loader()
        return self._array


ConstData = np.ndarray | LazyTensor | SparseTensor


@dataclass(eq=False)
class Value:
    """A tensor (or sequence/optional/map) flowing along the graph's edges."""

    name: str
    type: ValueType | None = None
    const: ConstData | None = None
    role: Role = Role.INTERMEDIATE
    source_name: str = ""  # state_dict key / Keras weight path when it came from a framework
    doc: str = ""

    @property
    def dtype(self) -> DType | None:
        t = self.type
        return getattr(t, "dtype", None)

    @property
    def shape(self) -> ShapeT:
        t = self.type
        return t.shape if isinstance(t, TensorType) else None

    @property
    def is_const(self) -> bool:
        return self.const is not None

    def const_array(self) -> np.ndarray:
        """The constant data as a dense numpy array (loads lazy data)."""
        c = self.const
        if c is None:
            raise ValueError(f"value {self.name!r} is not a constant")
        if isinstance(c, LazyTensor):
            return c.load()
        if isinstance(c, SparseTensor):
            return c.to_dense()
        return c

    def __repr__(self) -> str:
        return f"Value({self.name!r}, {self.type}, {self.role.value})"

    def __setattr__(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)
        CLOCK.ticks += 1


class AttrKind(enum.IntEnum):
    """Attribute kinds; values are ``onnx.AttributeProto.AttributeType`` codes."""

    FLOAT = 1
    INT = 2
    STRING = 3
    TENSOR = 4
    GRAPH = 5
    SPARSE_TENSOR = 11
    TYPE_PROTO = 13
    FLOATS = 6
    INTS = 7
    STRINGS = 8
    TENSORS = 9
    GRAPHS = 10
    SPARSE_TENSORS = 12
    TYPE_PROTOS = 14


_SCALAR_CHECK: dict[AttrKind, Callable[[Any], bool]] = {
    AttrKind.FLOAT: lambda v: isinstance(v, float),
    AttrKind.INT: lambda v: isinstance(v, int) and not isinstance(v, bool),
    AttrKind.STRING: lambda v: isinstance(v, str),
    AttrKind.TENSOR: lambda v: isinstance(v, np.ndarray),
    AttrKind.SPARSE_TENSOR: lambda v: isinstance(v, SparseTensor),
}
_LIST_OF = {
    AttrKind.FLOATS: AttrKind.FLOAT,
    AttrKind.INTS: AttrKind.INT,
    AttrKind.STRINGS: AttrKind.STRING,
    AttrKind.TENSORS: AttrKind.TENSOR,
    AttrKind.SPARSE_TENSORS: AttrKind.SPARSE_TENSOR,
}


@dataclass(frozen=True)
class Attr:
    """A typed attribute value. ``ref`` names the enclosing function's attribute this one
    refers to (ONNX ``ref_attr_name``); then ``value`` is None."""

    kind: AttrKind
    value: Any
    ref: str = ""

    def __post_init__(self) -> None:
        if self.ref:
            return
        if self.kind in _SCALAR_CHECK and not _SCALAR_CHECK[self.kind](self.value):
            raise TypeError(f"attribute of kind {self.kind.name} got {type(self.value).__name__}")
        if self.kind in _LIST_OF:
            check = _SCALAR_CHECK[_LIST_OF[self.kind]]
            if not isinstance(self.value, tuple) or not all(check(v) for v in self.value):
                raise TypeError(f"attribute of kind {self.kind.name} needs a tuple of "
                                f"{_LIST_OF[self.kind].name.lower()}s")

    @staticmethod
    def infer(value: Any, kind: AttrKind | None = None) -> Attr:
        """Build an Attr from a Python value; ``kind`` (usually from the op's schema) settles
        ambiguous cases such as an empty list or an int given for a float attribute."""
        if isinstance(value, Attr):
            return value
        if kind is None:
            kind = _guess_kind(value)
        if kind == AttrKind.FLOAT:
            value = float(value)
        elif kind == AttrKind.INT:
            value = int(value)
        elif kind == AttrKind.FLOATS:
            value = tuple(float(v) for v in value)
        elif kind == AttrKind.INTS:
            value = tuple(int(v) for v in value)
        elif kind in _LIST_OF or kind in (AttrKind.GRAPHS, AttrKind.TYPE_PROTOS):
            value = tuple(value)
        return Attr(kind, value)


def _guess_kind(value: Any) -> AttrKind:
    if isinstance(value, bool | int | np.integer):
        return AttrKind.INT
    if isinstance(value, float | np.floating):
        return AttrKind.FLOAT
    if isinstance(value, str):
        return AttrKind.STRING
    if isinstance(value, np.ndarray):
        return AttrKind.TENSOR
    if isinstance(value, SparseTensor):
        return AttrKind.SPARSE_TENSOR
    if isinstance(value, GraphBase):
        return AttrKind.GRAPH
    if isinstance(value, Sequence) and value:
        first = _guess_kind(value[0])
        for list_kind, elem in _LIST_OF.items():
            if elem == first:
                if first == AttrKind.INT and any(isinstance(v, float) for v in value):
                    return AttrKind.FLOATS
                return list_kind
        if first == AttrKind.GRAPH:
            return AttrKind.GRAPHS
    if isinstance(value, TensorType | SparseTensorType | SequenceType | OptionalType | MapType):
        return AttrKind.TYPE_PROTO
    if isinstance(value, Sequence) and not value:
        raise TypeError("cannot infer the kind of an empty list attribute; "
                        "pass ir.Attr(AttrKind.INTS, ()) (or FLOATS, STRINGS, ...)")
    raise TypeError(f"unsupported attribute value {value!r}")


@dataclass(frozen=True)
class Provenance:
    """Where an op came from. All fields optional; empty means unknown."""

    framework: str = ""  # "pytorch", "tensorflow", "onnx"
    module: str = ""  # nn.Module path / Keras layer name
    source_op: str = ""  # aten.addmm.default / TF Conv2D / original ONNX node name
    location: str = ""  # file.py:123

    def __str__(self) -> str:
        parts = [p for p in (self.framework, self.module, self.source_op, self.location) if p]
        return " ".join(parts)


@dataclass(eq=False)
class Node:
    """An op. Its inputs/outputs are the graph's edges; ask the Graph for them."""

    name: str
    op_type: str
    domain: str = ""
    attrs: dict[str, Attr] = field(default_factory=dict)
    provenance: Provenance = field(default_factory=Provenance)
    n_inputs: int = 0
    n_outputs: int = 0
    overload: str = ""
    doc: str = ""

    def attr(self, name: str, default: Any = None) -> Any:
        """The attribute's value, or ``default`` when absent."""
        a = self.attrs.get(name)
        return default if a is None else a.value

    def subgraphs(self) -> list[Graph]:
        out: list[Graph] = []
        for a in self.attrs.values():
            if a.kind == AttrKind.GRAPH and a.value is not None:
                out.append(a.value)
            elif a.kind == AttrKind.GRAPHS:
                out.extend(a.value)
        return out

    def __repr__(self) -> str:
        return f"Node({self.name!r}, {self.op_type})"

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "attrs" and type(value) is not AttrDict:
            value = AttrDict(value)
        object.__setattr__(self, name, value)
        CLOCK.ticks += 1
