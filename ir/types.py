"""Value types: tensors with symbolic shapes, and the ONNX container types.

A dim is an ``int`` (static), a ``str`` (a named symbol such as ``"batch"``) or ``None``
(unknown). A tensor's ``shape`` is a tuple of dims, or ``None`` when even the rank is unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

from tensorbridge.ir.dtypes import DType

Dim = int | str | None
ShapeT = tuple[Dim, ...] | None


def format_shape(shape: ShapeT) -> str:
    if shape is None:
        return "[?rank]"
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


@dataclass(frozen=True)
class TensorType:
    dtype: DType
    shape: ShapeT = None

    def __str__(self) -> str:
        return f"{self.dtype.name.lower()}{format_shape(self.shape)}"

    @property
    def rank(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    @property
    def is_static(self) -> bool:
        return self.shape is not None and all(isinstance(d, int) for d in self.shape)


@dataclass(frozen=True)
class SparseTensorType:
    dtype: DType
    shape: ShapeT = None

    def __str__(self) -> str:
        return f"sparse_{self.dtype.name.lower()}{format_shape(self.shape)}"


@dataclass(frozen=True)
class SequenceType:
    elem: ValueType | None

    def __str__(self) -> str:
        return f"seq({self.elem})"


@dataclass(frozen=True)
class OptionalType:
    elem: ValueType | None

    def __str__(self) -> str:
        return f"optional({self.elem})"


@dataclass(frozen=True)
class MapType:
    key: DType
    value: ValueType | None

    def __str__(self) -> str:
        return f"map({self.key.name.lower()},{self.value})"


ValueType = TensorType | SparseTensorType | SequenceType | OptionalType | MapType
