"""A model's trainable structure, and what a migration changed in it.

A migration must train what its source trains: one emitted parameter per source tensor
however many ops read it (tied weights stay one object), frozen parameters stay frozen,
buffers stay buffers. :func:`trainable_structure` reads that structure from a model the
way its framework reports it; :func:`compare_structure` lists, in words, how two
structures differ::

    problems = compare_structure(source, tb.convert(source, x, to="torch"))
    assert problems == [], problems

What is read, per kind of model:

- PyTorch ``nn.Module``: ``named_parameters(remove_duplicate=False)`` and
  ``named_buffers(remove_duplicate=False)``, grouped by object identity (every name of a
  tied weight), ``requires_grad``, and whether a buffer is in the ``state_dict``
  (persistent). An emitted module's own constants (under ``constant_roots``) are left out.
- ``ExportedProgram`` / ``.pt2``: the graph signature's parameters and buffers, grouped by
  the memory they view (a loaded program's tied weights share storage).
- Keras model / layer / ``.keras``: ``model.weights`` by variable; a non-trainable variable
  is "frozen" when its layer would train it unfrozen (a layer set ``trainable=False``),
  else a buffer (BatchNormalization's moving statistics).
- ``tf.Module`` (an emitted one, a loaded SavedModel, any other): ``trainable_variables``
  and ``non_trainable_variables`` by variable; a loaded SavedModel without ``weights`` is
  read through its serving signature's variables, like the converter reads it.
- ``tf.function`` / ConcreteFunction: the variables its concrete function reads.
- ONNX model / ``ir.Graph``: the graph's weights (initializers), as the emitters hold them
  (an integer parameter as frozen: no framework trains it).

Names. A weight is named by its framework name: state_dict key, Keras weight path,
variable name without ``:0``; where a TensorFlow model has several variables of one name,
the later ones are ``<name>_1``, ``<name>_2`` in the order above (as the converter names
them). To compare, each source name is mapped the way the emitter of the *emitted*
model's framework names weights: for PyTorch ``converters.pytorch.from_ir.weights.module_path``
(``dense/kernel`` -> ``dense.kernel``; a segment that is an ``nn.Module`` attribute gets a
trailing ``_``), for TensorFlow ``converters.tensorflow.from_ir.module.variable_name``
(characters outside ``[A-Za-z0-9_.-/]`` -> ``_``). A TensorFlow variable has one name: a
tied weight's further names are looked up in an emitted module's ``weight_aliases`` and
are not required of other TensorFlow modules.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tensorbridge.ir.errors import TensorbridgeError
from tensorbridge.ir.graph import Graph

# kinds of weight: "parameter" trains; "frozen" is a parameter that does not (requires_grad
# False, a frozen Keras layer); "buffer" is state (running statistics, masks);
# "non_trainable" is a variable that does not train where the framework cannot tell which
KINDS = ("parameter", "frozen", "buffer", "non_trainable")
_NOT_TRAINING = frozenset({"frozen", "buffer", "non_trainable"})
_WORDS = {"parameter": "trainable parameter", "frozen": "frozen parameter (not trainable)",
          "buffer": "buffer", "non_trainable": "non-trainable variable"}


@dataclass(frozen=True)
class Weight:
    """One tensor of a model, under every name it is reachable by (``names[0]`` first)."""

    names: tuple[str, ...]
    shape: tuple[int, ...] | None
    kind: str  # one of KINDS
    persistent: bool | None = None  # a PyTorch buffer saved in the state_dict; None: not told

    @property
    def trainable(self) -> bool:
        return self.kind == "parameter"

    def describe(self) -> str:
        shape = "?" if self.shape is None else "x".join(map(str, self.shape)) or "scalar"
        note = " (not persistent)" if self.persistent is False else ""
        return f"{_WORDS.get(self.kind, self.kind)}{note} of shape {shape}"


@dataclass(frozen=True)
class Structure:
    """The weights of a model as its framework reports them (``framework``: "torch",
    "tensorflow" or "ir"), in the framework's order."""

    framework: str
    weights: tuple[Weight, ...]

    def trainable_count(self) -> int:
        """Trainable elements (each tied tensor counted once)."""
        return sum(_numel(w.shape) for w in self.weights if w.trainable)

    def __str__(self) -> str:
        lines = [f"{self.framework}: {len(self.weights)} tensors, {self.trainable_count()} trainable elements"]
        lines += [f"  {' = '.join(w.names)}: {w.describe()}" for w in self.weights]
        return "\n".join(lines)


def trainable_structure(obj: Any, example_inputs: Any = None) -> Structure:
    """The trainable structure of ``obj``: a PyTorch module, ExportedProgram or ``.pt2``
    path; a Keras model, ``.keras`` path, ``tf.Module``, SavedModel (directory or loaded),
    ``tf.function`` or ConcreteFunction; an ONNX ModelProto or ``.onnx`` path; an
    ``ir.Graph``. ``example_inputs`` traces a ``tf.function`` that has no input signature
    and was never traced. See the module docstring for what is read."""
    if isinstance(obj, Structure):
        return obj
    if isinstance(obj, Graph):
        return _graph_structure(obj)
    if isinstance(obj, str | os.PathLike):
        return trainable_structure(_read_path(Path(obj)), example_inputs)
    kind = type(obj).__module__ or ""
    if type(obj).__name__ == "ModelProto" and kind.startswith("onnx"):
        from tensorbridge.converters.onnx import to_ir

        return _graph_structure(to_ir(obj))
    if hasattr(obj, "graph_signature") and hasattr(obj, "state_dict"):
        return _exported_structure(obj)
    if callable(getattr(obj, "named_parameters", None)) and callable(getattr(obj, "named_buffers", None)):
        return _torch_structure(obj)
    if kind.startswith("keras") or _is_keras(obj):
        return _keras_structure(obj)
    if callable(getattr(obj, "get_concrete_function", None)) or _is_concrete_function(obj):
        return _function_structure(obj, example_inputs)
    if hasattr(obj, "trainable_variables") or hasattr(obj, "signatures") or hasattr(obj, "variables"):
        return _tf_module_structure(obj)
    raise TensorbridgeError(
        f"trainable_structure: cannot read the weights of a {type(obj).__module__}.{type(obj).__name__}; "
        "pass a PyTorch module, ExportedProgram, Keras model, tf.Module, tf.function, ONNX model or ir.Graph")


def compare_structure(source: Any, emitted: Any, *, example_inputs: Any = None,
                      allow_relayout: bool = False) -> list[str]:
    """How the trainable structure of ``emitted`` differs from that of ``source``, one
    sentence per difference (``[]`` when they agree): weights missing or extra, shapes
    (between two frameworks, the same dims in another order are the target's layout, not a
    difference), trainability (trainable / frozen / buffer; a variable the framework only calls
    non-trainable agrees with frozen and buffer), buffer persistence when both sides tell
    it, and tie groups (one source tensor held as several emitted tensors, or several
    source tensors merged into one). Either argument may be anything
    :func:`trainable_structure` reads, or a :class:`Structure`; ``example_inputs`` is
    passed on for the source. Source names are mapped to the emitted framework's naming
    (module docstring) before they are compared. ``allow_relayout`` also accepts a weight
    held with the same elements in another shape (transposed or reshaped, within one
    framework too): the emitted model then trains the same numbers, but the source's own
    weights no longer load into it by name."""
    src = trainable_structure(source, example_inputs)
    out = trainable_structure(emitted)
    rename = _renamer(out.framework)
    one_name = out.framework == "tensorflow"  # a tf.Variable has one name of its own
    by_name = {n: w for w in out.weights for n in w.names}
    problems: list[str] = []
    sources_of: dict[int, list[str]] = {}
    for w in src.weights:
        names = [rename(n) for n in w.names]
        found = [by_name.get(n) for n in names]
        held = list({id(e): e for e in found if e is not None}.values())
        label = _label(w.names[0], names[0])
        if not held:
            problems.append(f"{label}: {w.describe()} in the source, missing from the emitted model")
            continue
        if len(held) > 1:
            problems.append(f"{', '.join(names)}: one tied tensor in the source, {len(held)} separate "
                            "tensors in the emitted model")
        missing = [n for n, e in zip(names, found, strict=True) if e is None]
        if missing and not one_name:
            problems.append(f"{', '.join(missing)}: another name of the tied weight {names[0]} in the "
                            "source, missing from the emitted model")
        for e in held:
            sources_of.setdefault(id(e), []).append(names[0])
            # TensorFlow holds layout-bearing weights channels-last (conv kernels HWIO, depthwise
            # ones as grouped HWIO), even when the source is Keras itself
            permuted_ok = src.framework != out.framework or out.framework == "tensorflow"
            problems += _differences(label, w, e, same_framework=not permuted_ok,
                                     relayout=allow_relayout)
    for e in out.weights:
        merged = sources_of.get(id(e))
        if merged is None:
            problems.append(f"{e.names[0]}: {e.describe()} in the emitted model, not in the source")
        elif len(merged) > 1:
            problems.append(f"{', '.join(merged)}: separate tensors in the source, one tensor "
                            f"({e.names[0]}) in the emitted model")
    return problems


def _differences(label: str, s: Weight, e: Weight, *, same_framework: bool, relayout: bool) -> list[str]:
    out = []
    if s.shape is not None and e.shape is not None and not _same_shape(s.shape, e.shape, same_framework,
                                                                        relayout):
        out.append(f"{label}: shape {_shape(s.shape)} in the source, {_shape(e.shape)} in the emitted model")
    if not _kinds_agree(s.kind, e.kind):
        out.append(f"{label}: {_WORDS[s.kind]} in the source, {_WORDS[e.kind]} in the emitted model")
    elif s.kind == e.kind == "buffer" and None not in (s.persistent, e.persistent) and s.persistent != e.persistent:
        says = {True: "persistent (in the state_dict)", False: "not persistent"}
        out.append(f"{label}: a {says[bool(s.persistent)]} buffer in the source, "
                   f"{says[bool(e.persistent)]} in the emitted model")
    return out


def _same_shape(a: tuple[int, ...], b: tuple[int, ...], same_framework: bool, relayout: bool) -> bool:
    """Equal; across frameworks a weight may be held in the target's layout (a PyTorch conv
    kernel O,I,H,W as TensorFlow's H,W,I,O): the same dims in another order; with
    ``relayout``, any shape of as many elements."""
    if relayout:
        return _numel(a) == _numel(b)
    return tuple(a) == tuple(b) or (not same_framework and sorted(a) == sorted(b))


def _kinds_agree(a: str, b: str) -> bool:
    return a == b or ("non_trainable" in (a, b) and {a, b} <= _NOT_TRAINING)


def _label(source_name: str, mapped: str) -> str:
    return source_name if source_name == mapped else f"{source_name} (emitted as {mapped})"


def _shape(shape: tuple[int, ...]) -> str:
    return str(tuple(shape))


def _numel(shape: tuple[int, ...] | None) -> int:
    n = 1
    for d in shape or ():
        n *= int(d)
    return n


def _renamer(framework: str) -> Callable[[str], str]:
    if framework == "torch":
        from tensorbridge.converters.pytorch.from_ir.weights import module_path

        return module_path
    if framework == "tensorflow":
        from tensorbridge.converters.tensorflow.from_ir.module import variable_name

        return variable_name
    return lambda name: name


# ---------------------------------------------------------------- grouping
class _Groups:
    """Names collected per tensor identity, in first-seen order."""

    def __init__(self) -> None:
        self._order: list[Any] = []
        self._names: dict[Any, list[str]] = {}
        self._facts: dict[Any, tuple[tuple[int, ...] | None, str, bool | None]] = {}

    def add(self, key: Any, name: str, shape: tuple[int, ...] | None, kind: str,
            persistent: bool | None = None) -> None:
        if key not in self._names:
            self._order.append(key)
            self._names[key] = []
            self._facts[key] = (shape, kind, persistent)
        self._names[key].append(name)

    def structure(self, framework: str) -> Structure:
        return Structure(framework, tuple(Weight(tuple(self._names[k]), *self._facts[k]) for k in self._order))


def _dims(shape: Any) -> tuple[int, ...] | None:
    if shape is None:
        return None
    dims = shape.as_list() if hasattr(shape, "as_list") else list(shape)
    return None if any(d is None for d in dims) else tuple(int(d) for d in dims)


# ---------------------------------------------------------------- PyTorch
def _torch_structure(module: Any) -> Structure:
    skip = tuple(f"{root}." for root in getattr(module, "constant_roots", ()))
    saved = set(module.state_dict(keep_vars=True))
    groups = _Groups()
    for name, p in module.named_parameters(remove_duplicate=False):
        if not name.startswith(skip):  # () skips nothing
            groups.add(id(p), name, _dims(p.shape), "parameter" if p.requires_grad else "frozen")
    for name, b in module.named_buffers(remove_duplicate=False):
        if not name.startswith(skip):
            groups.add(id(b), name, _dims(b.shape), "buffer", name in saved)
    return groups.structure("torch")


def _exported_structure(ep: Any) -> Structure:
    groups = _Groups()
    for spec in ep.graph_signature.input_specs:
        kind = spec.kind.name
        if kind not in ("PARAMETER", "BUFFER"):
            continue
        t = ep.state_dict.get(spec.target)
        if t is None:
            t = ep.constants.get(spec.target)
        if t is None:
            continue
        if kind == "PARAMETER":
            groups.add(("p", *_memory(t)), spec.target, _dims(t.shape),
                       "parameter" if t.requires_grad else "frozen")
        else:
            groups.add(("b", *_memory(t)), spec.target, _dims(t.shape), "buffer",
                       getattr(spec, "persistent", None) is not False)
    return groups.structure("torch")


def _memory(t: Any) -> tuple[Any, ...]:
    """Same memory viewed the same way: one tensor (a loaded .pt2 keeps ties only so)."""
    if t.numel() == 0 or t.device.type == "meta":
        return ("object", id(t))
    return (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), tuple(t.stride()), str(t.dtype))


# ---------------------------------------------------------------- TensorFlow
def _is_keras(obj: Any) -> bool:
    import sys

    keras = sys.modules.get("keras")
    return keras is not None and isinstance(obj, keras.Model | keras.layers.Layer)


def _is_concrete_function(obj: Any) -> bool:
    return hasattr(obj, "structured_outputs") and hasattr(obj, "variables")


def _keras_structure(model: Any) -> Structure:
    from tensorbridge.converters.tensorflow.capture import model_weights

    groups = _Groups()
    for var, handle, w in model_weights(None, model):
        kind = "parameter" if w.trainable else ("frozen" if w.parameter else "buffer")
        groups.add(id(handle), w.path, _dims(var.shape), kind)
    return groups.structure("tensorflow")


def _function_structure(fn: Any, example_inputs: Any) -> Structure:
    from tensorbridge.converters.tensorflow.capture import traced_functions

    funcs = traced_functions(fn, example_inputs)
    return _variables_structure(v for f in funcs for v in f.variables)


def _variables_structure(variables: Iterable[Any], *, non_trainable: str = "buffer") -> Structure:
    """Variables (deduplicated) named as the converter names them (``model_weights``)."""
    from types import SimpleNamespace

    from tensorbridge.converters.tensorflow.capture import model_weights

    unique = list({id(v.handle): v for v in variables}.values())
    groups = _Groups()
    for var, handle, w in model_weights(SimpleNamespace(variables=unique), None):
        groups.add(id(handle), w.path, _dims(var.shape), "parameter" if w.trainable else non_trainable)
    return groups.structure("tensorflow")


def _tf_module_structure(obj: Any) -> Structure:
    inner = getattr(obj, "loaded", None)  # a wrapper around a loaded SavedModel
    if inner is not None and not hasattr(obj, "weights") and hasattr(inner, "signatures"):
        obj = inner
    weights = getattr(obj, "weights", None)
    if hasattr(weights, "items") and all(hasattr(v, "trainable") for v in weights.values()):
        return _emitted_tf_structure(obj, weights)
    signatures = getattr(obj, "signatures", None)
    if signatures is not None and len(signatures):
        from tensorbridge.converters.tensorflow.capture import serving_signature

        return _variables_structure(serving_signature(signatures, type(obj).__name__).variables)
    return _variables_structure(list(obj.variables), non_trainable="non_trainable")


def _emitted_tf_structure(obj: Any, weights: Any) -> Structure:
    """A module whose ``weights`` maps names to variables (an emitted ``IRTFModule``, also
    reloaded from its SavedModel), with its ``weight_aliases`` (further names of tied
    weights, mapped to the same variables)."""
    groups = _Groups()
    named = [*weights.items(), *dict(getattr(obj, "weight_aliases", None) or {}).items()]
    for name, var in named:
        groups.add(id(var), name, _dims(var.shape), "parameter" if var.trainable else "non_trainable")
    return groups.structure("tensorflow")


# ---------------------------------------------------------------- IR / ONNX
def _graph_structure(graph: Graph) -> Structure:
    """The weights an emitter makes of ``graph``'s initializers (constants left out)."""
    from tensorbridge.converters.emitting import has_framework_roles, weight_kind, weight_names

    roles = has_framework_roles(graph)
    groups = _Groups()
    for g in graph.with_subgraphs():
        for v in g.initializers():
            kind = weight_kind(g, v, roles)
            if kind == "constant":
                continue
            if kind == "parameter" and v.dtype is not None and not v.dtype.is_float:
                kind = "frozen"  # no framework trains integers: emitters hold them frozen
            shape = v.shape if v.shape is not None and all(isinstance(d, int) for d in v.shape) else None
            persistent = graph.weight_of(v).persistent if kind == "buffer" else None
            for name in weight_names(g, v):
                groups.add(id(v), name, shape, kind, persistent)  # type: ignore[arg-type]
    return groups.structure("ir")


def _read_path(path: Path) -> Any:
    from tensorbridge.sources import kind_of

    kind = kind_of(path)
    if kind == "pytorch":
        from tensorbridge.converters.pytorch.capture import load_pt2

        return load_pt2(path)
    if kind == "tensorflow":
        from tensorbridge.converters.tensorflow.capture import load_source

        return load_source(path)
    if kind == "onnx":
        from tensorbridge.converters.onnx import to_ir

        return to_ir(str(path))
    raise TensorbridgeError(f"trainable_structure: {path} is not a model file tensorbridge reads "
                            "(.pt2, .keras, SavedModel directory, .onnx)")


__all__ = ["KINDS", "Structure", "Weight", "compare_structure", "trainable_structure"]
