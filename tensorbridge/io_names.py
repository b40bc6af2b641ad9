"""``input_names=`` / ``output_names=`` of tb.load / tb.convert / tb.check (CLI
``--input-names a,b --output-names y,z``): the graph's inputs and outputs renamed, so the
ONNX file and the emitted modules carry the names the user chose."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from tensorbridge.ir.errors import TensorbridgeError
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Value

# what ONNX tooling, Python keyword arguments and TensorFlow signatures all accept
_VALID = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-/:]*")


def split_names(text: str | None) -> list[str] | None:
    """The CLI's comma-separated list (``"ids,mask"``) as names; None when not given."""
    if text is None:
        return None
    return [part.strip() for part in text.split(",")]


def apply_io_names(graph: Graph, input_names: Sequence[str] | None = None,
                   output_names: Sequence[str] | None = None) -> None:
    """Rename ``graph``'s (non-weight) inputs and its outputs, in order. Counts must match,
    names must be unique and valid; an intermediate value holding a wanted name gives it up."""
    inputs = [v for v in graph.inputs if not v.role.is_initializer]
    outputs = list(dict.fromkeys(graph.outputs))
    wanted: list[tuple[Value, str]] = []
    if input_names is not None:
        wanted += zip(inputs, _checked("input_names", input_names, [v.name for v in inputs]))
    if output_names is not None:
        if len(outputs) != len(graph.outputs):
            raise TensorbridgeError("output_names: one value is several outputs of this graph; "
                                    "it cannot take several names")
        wanted += zip(outputs, _checked("output_names", output_names, [v.name for v in outputs]))
    if not wanted:
        return
    names = [n for _, n in wanted]
    clash = sorted({n for n in names if names.count(n) > 1})
    if clash:
        raise TensorbridgeError(f"input_names/output_names: {clash} given twice; an input and an "
                                "output cannot share a name either")
    _rename(graph, wanted)


def _checked(what: str, names: Any, current: list[str]) -> list[str]:
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise TensorbridgeError(f"{what}: expected a list of names, got {type(names).__name__} "
                                f"(CLI: a comma-separated list)")
    names = list(names)
    if len(names) != len(current):
        raise TensorbridgeError(f"{what}: {len(names)} name(s) for {len(current)} "
                                f"{what.split('_')[0]}(s) ({', '.join(current)}); give one per "
                                f"{what.split('_')[0]}, in order")
    bad = [n for n in names if not isinstance(n, str) or not _VALID.fullmatch(n)]
    if bad:
        raise TensorbridgeError(f"{what}: {bad} are not valid names: start with a letter or '_', "
                                "then letters, digits, '_', '.', '-', '/', ':'")
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise TensorbridgeError(f"{what}: {dup} given more than once; names must be unique")
    return names


def _rename(graph: Graph, wanted: list[tuple[Value, str]]) -> None:
    """Two steps, so that swapping two names works: every renamed value first takes a
    placeholder, then values holding a wanted name move aside, then the names are set."""
    targets = {id(v) for v, _ in wanted}
    for v, name in wanted:
        graph.rename(v, f"{name}__renaming")  # the name authority makes it unique
    for _, name in wanted:
        if graph.has_value(name):
            other = graph.value(name)
            if id(other) not in targets:
                graph.rename(other, f"{name}_inner")
    for v, name in wanted:
        graph.rename(v, name)
