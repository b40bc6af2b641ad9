"""The one conversion route. Every way in (``tb.convert``, ``tb.check``, ``tensorbridge
convert|check``, zoo sweeps) takes it, once: classify the source, read it once, lower it to
the IR, run one named pass pipeline (``ir.passes.pipeline``), then emit the target. What
was produced is validated by :mod:`tensorbridge.check` (``validate``), never here."""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tensorbridge.ir.errors import TensorbridgeError
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.passes import PassReport
from tensorbridge.ir.verify import verify
from tensorbridge.sources import kind_of, require

TARGETS = ("onnx", "torch", "tensorflow")
_TARGET_NAMES = {"onnx": "onnx", "torch": "torch", "pytorch": "torch", "tensorflow": "tensorflow",
                 "tf": "tensorflow"}


class UnsupportedSourceError(TensorbridgeError):
    """The object or file given to load() is not a model tensorbridge can read (yet)."""


def normalize_target(to: Any, where: str = "convert") -> str:
    """'onnx', 'torch' or 'tensorflow' for any accepted spelling ('pytorch', 'tf', any case)."""
    name = _TARGET_NAMES.get(to.lower()) if isinstance(to, str) else None
    if name is None:
        raise TensorbridgeError(f"{where}: unknown target {to!r}; use one of {', '.join(TARGETS)}")
    require(name, f"{where} --to {name}")
    return name


@dataclass
class Conversion:
    """One source converted once, and what validation needs of it."""

    kind: str  # the source: 'onnx', 'pytorch', 'tensorflow' or 'ir'
    target: str  # 'onnx', 'torch' or 'tensorflow'
    source: Any  # the source read once (a path becomes its framework object): the reference
    name: str  # how reports name the source
    graph: Graph  # the IR the target was emitted from (for TensorFlow: before channels-last)
    artifact: Any = None  # onnx.ModelProto, torch.nn.Module or tf.Module
    opset: int | None = None
    pipeline: str | None = None
    passes: list[PassReport] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    # by input index: the permutation from the source's layout to the artifact's (inputs_as_nchw)
    input_perms: dict[int, tuple[int, ...]] = field(default_factory=dict)


def pipeline_for(kind: str, target: str) -> str | None:
    """The pass pipeline a conversion runs: none for a graph that is already ONNX (it is
    re-emitted as it is), ``deploy`` for a framework source exported to ONNX, ``migrate``
    for a framework source emitted into another framework."""
    if kind not in ("pytorch", "tensorflow"):
        return None
    return "deploy" if target == "onnx" else "migrate"


def lower(source: Any, example_inputs: Any = None, dynamic_shapes: Any = None, *,
          kind: str | None = None, opset: int | None = None, strict_shapes: bool = True,
          keep_weight_layout: bool = False) -> Graph:
    """The source as an IR graph, verified, before any pass pipeline."""
    kind = kind or kind_of(source)
    if kind == "ir":
        verify(source)
        return source
    if kind == "onnx":
        from tensorbridge.converters.onnx import to_ir

        return to_ir(source)
    if kind == "pytorch":
        from tensorbridge.converters.pytorch.to_ir import to_ir as torch_to_ir

        return torch_to_ir(source, example_inputs, dynamic_shapes=dynamic_shapes, opset=opset,
                           strict_shapes=strict_shapes, keep_weight_layout=keep_weight_layout)
    if kind == "tensorflow":
        if dynamic_shapes is not None:
            raise UnsupportedSourceError("dynamic_shapes is for PyTorch; TensorFlow takes dynamic dims "
                                         "from the input signature (None dims)")
        from tensorbridge.converters.tensorflow.to_ir import to_ir as tf_to_ir

        return tf_to_ir(source, example_inputs, opset=opset, keep_weight_layout=keep_weight_layout)
    if isinstance(source, str | os.PathLike) and Path(source).is_dir():
        raise UnsupportedSourceError(
            f"{source}: is a directory without saved_model.pb; pass a SavedModel directory, "
            "a .keras, .pt2 or .onnx file")
    raise UnsupportedSourceError(
        f"cannot load a {type(source).__module__}.{type(source).__name__}: this version reads "
        "ONNX models (ModelProto or .onnx), PyTorch models (nn.Module, ExportedProgram, .pt2) "
        "and TensorFlow models (Keras model, tf.function, .keras, SavedModel)")


def read_source(source: Any, kind: str) -> Any:
    """A framework model file read into its framework's object (ExportedProgram, Keras
    model, loaded SavedModel), so that lowering and the reference run share one read. An
    ``.onnx`` path stays a path: its external data resolve next to it."""
    if not isinstance(source, str | os.PathLike):
        return source
    if kind == "pytorch":
        from tensorbridge.converters.pytorch.capture import load_pt2

        return load_pt2(Path(source))
    if kind == "tensorflow":
        from tensorbridge.converters.tensorflow.capture import load_source

        return load_source(source)
    return source


def build(source: Any, example_inputs: Any = None, to: str = "onnx", *, opset: int | None = None,
          dynamic_shapes: Any = None, strict_shapes: bool = True,
          inputs_as_nchw: Sequence[str] | None = None) -> Conversion:
    """Lower ``source`` and run its pipeline; the target is emitted by :func:`emit_target`
    (validation runs the IR in between, before emission may consume the graph).
    ``inputs_as_nchw``: NHWC inputs of a TensorFlow/Keras source that the ONNX model takes
    as NCHW (see :mod:`tensorbridge.layout`)."""
    target = normalize_target(to)
    kind = kind_of(source)
    t0 = time.perf_counter()
    model = read_source(source, kind)
    graph = lower(model, example_inputs, dynamic_shapes, kind=kind, opset=capture_opset(kind, opset),
                  strict_shapes=strict_shapes, keep_weight_layout=target != "onnx")
    perms = {}
    if inputs_as_nchw:
        if kind != "tensorflow" or target != "onnx":
            raise TensorbridgeError("inputs_as_nchw (--inputs-as-nchw) is for a TensorFlow/Keras model "
                                    f"exported to ONNX, not a {kind} model to {target}")
        from tensorbridge.layout import inputs_as_nchw as relayout

        perms = relayout(graph, inputs_as_nchw)
    pipeline = pipeline_for(kind, target)
    passes: list[PassReport] = []
    if pipeline is not None:
        from tensorbridge.pipeline import optimize

        passes = optimize(graph, pipeline)
    if target == "onnx" and opset is not None and opset < graph.opset():
        graph = graph if kind != "ir" else copy.deepcopy(graph)  # never edit the caller's graph
        passes.append(lower_to_opset(graph, opset))
    return Conversion(kind, target, model, describe(source), graph, opset=opset, pipeline=pipeline,
                      passes=passes, timings={"lower_s": time.perf_counter() - t0}, input_perms=perms)


def capture_opset(kind: str, opset: int | None) -> int | None:
    """The opset a framework front-end builds at: the requested one, or the front-end's
    oldest when an older one is requested (the graph is then lowered, see lower_to_opset)."""
    if opset is None or kind not in ("pytorch", "tensorflow"):
        return opset
    if kind == "pytorch":
        from tensorbridge.converters.pytorch.to_ir import MIN_OPSET
    else:
        from tensorbridge.converters.tensorflow.to_ir import MIN_OPSET
    return max(opset, MIN_OPSET)


def lower_to_opset(graph: Graph, opset: int) -> PassReport:
    """Rewrite ``graph`` for an ONNX export at an older ``opset``: newer ops decomposed and
    changed ones in their older form (``ir.passes.lower_opset``), verified. Opsets below
    that pass's minimum are reached from it by the ONNX writer's version conversion."""
    from tensorbridge.ir.passes.lower_opset import MIN_TARGET, lower_opset

    report = lower_opset(graph, max(opset, MIN_TARGET))
    verify(graph)
    return report


def emit_target(conv: Conversion) -> Any:
    """Emit ``conv.graph`` as the target. A graph the route lowered itself is consumed
    (weights move into the ModelProto; TensorFlow's channels-last rewrite edits it)."""
    t0 = time.perf_counter()
    own = conv.kind in ("pytorch", "tensorflow")  # a graph we made, not the user's
    if conv.target == "onnx":
        from tensorbridge.converters.onnx import from_ir

        conv.artifact = from_ir(conv.graph, opset=conv.opset, release_weights=own)
    else:
        from tensorbridge.migrate import emit

        conv.artifact = emit(conv.graph, conv.target, consume=own)
    conv.timings["emit_s"] = time.perf_counter() - t0
    return conv.artifact


def describe(source: Any) -> str:
    """How reports and errors name a source: its path, or its class and graph name."""
    if isinstance(source, str | os.PathLike):
        return str(source)
    if isinstance(source, Graph):
        return f"Graph {source.name!r}"
    if type(source).__name__ == "ModelProto":
        return f"ModelProto {source.graph.name!r}" if source.graph.name else "ModelProto"
    name = getattr(source, "name", None)
    cls = type(source).__name__
    return f"{cls} {name!r}" if isinstance(name, str) and name and name != cls else cls
