"""The public API: load, convert, save, run. Frameworks are imported lazily."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tensorbridge.inputs import with_kwargs
from tensorbridge.ir.errors import ModelLoadError, TensorbridgeError
from tensorbridge.ir.graph import Graph
from tensorbridge.route import TARGETS, UnsupportedSourceError, build, emit_target, lower
from tensorbridge.sources import kind_of

if TYPE_CHECKING:
    import onnx

# Above this many bytes of weights, save() writes external data (protobuf's hard limit is 2 GiB).


def load(source: Any, example_inputs: Any = None, dynamic_shapes: Any = None, *,
         opset: int | None = None, optimize: bool = True, strict_shapes: bool = True,
         keep_weight_layout: bool = False, kwargs: dict[str, Any] | None = None,
         input_names: list[str] | None = None, output_names: list[str] | None = None) -> Graph:
    """Load a model into the IR (verified).

    ``source``: an ``ir.Graph``; an ``onnx.ModelProto`` or ``.onnx`` path; a PyTorch
    ``nn.Module`` (with ``example_inputs``), ``ExportedProgram`` or ``.pt2`` path; a Keras
    model, ``tf.function`` (with an input signature), ``.keras`` file or SavedModel dir.
    ``dynamic_shapes`` (PyTorch): torch.export's spec or ``{"x": {0: "batch"}}``.
    Framework graphs go through the ``clean`` pass pipeline (constant folding, no-op
    removal, CSE, DCE) unless ``optimize=False``; ONNX graphs are read as they are.
    ``keep_weight_layout`` keeps every source weight as the source holds it (for migration
    to a framework) instead of re-laying some out for ONNX.

    PyTorch ``example_inputs``: a tuple of arguments or a dict of keyword arguments (or
    both: a tuple plus ``kwargs=``); ``None`` arguments are left out. Graph inputs are named
    after ``forward``'s parameters, outputs after the keys of a ModelOutput / dict /
    namedtuple / dataclass output; ``input_names`` / ``output_names`` rename them (one name
    per input / output, in order)."""
    from tensorbridge.io_names import apply_io_names

    kind = kind_of(source)
    graph = lower(source, with_kwargs(example_inputs, kwargs), dynamic_shapes, kind=kind, opset=opset,
                  strict_shapes=strict_shapes, keep_weight_layout=keep_weight_layout)
    if optimize and kind in ("pytorch", "tensorflow"):
        from tensorbridge.pipeline import optimize as run_pipeline

        run_pipeline(graph, "migrate" if keep_weight_layout else "clean")
    apply_io_names(graph, input_names, output_names)
    return graph


def convert(source: Any, example_inputs: Any = None, to: str = "onnx", *, opset: int | None = None,
            dynamic_shapes: Any = None, strict_shapes: bool = True,
            validate: bool | str = True, kwargs: dict[str, Any] | None = None,
            input_names: list[str] | None = None, output_names: list[str] | None = None,
            inputs_as_nchw: list[str] | None = None) -> Any:
    """Convert ``source`` (anything :func:`load` takes) to ``to``: "onnx" gives an
    ``onnx.ModelProto``; "torch" a ``torch.nn.Module`` and "tensorflow" a ``tf.Module``,
    both with trainable weights named after the source's (see tensorbridge.migrate).

    What is returned has been validated: an ONNX model passes ``onnx.checker``'s full check,
    and the converted model, run on the example inputs (generated from the input types when
    the source carries none), matches the source framework's own output at tolerances
    derived from the graph's float32 noise floor; a migration also keeps the source's
    trainable structure. Otherwise :class:`ParityError` is raised with the report (which
    layer diverges first). ``validate="full"`` adds generated inputs (other random draws,
    zeros, negatives, large values; and, for a PyTorch source, every layer against its own
    float32 noise floor); ``validate=False`` skips validation. ``kwargs``,
    ``input_names`` and ``output_names`` are as in :func:`load`. ``inputs_as_nchw`` (Keras /
    TensorFlow -> ONNX): names of NHWC image inputs the ONNX model takes as NCHW instead
    (tf2onnx's ``--inputs-as-nchw``); validation feeds the source the same data in NHWC."""
    from tensorbridge.check import ParityError
    from tensorbridge.check import validate as run_validation
    from tensorbridge.io_names import apply_io_names

    if validate not in (True, False, "full"):
        raise TensorbridgeError(f"convert: validate={validate!r}; use True, False or 'full'")
    example_inputs = with_kwargs(example_inputs, kwargs)
    conv = build(source, example_inputs, to, opset=opset, dynamic_shapes=dynamic_shapes,
                 strict_shapes=strict_shapes, inputs_as_nchw=inputs_as_nchw)
    apply_io_names(conv.graph, input_names, output_names)
    if validate is False:
        return emit_target(conv)
    report = run_validation(conv, example_inputs, generated=validate == "full")
    if not report.ok:
        raise ParityError(report)
    return conv.artifact


def save(model: Any, path: str | os.PathLike[str], *, external_data: bool | None = None) -> Path:
    """Write a Graph or ModelProto to ``path`` atomically.

    Weights go to a data file next to the model, ``<name>.<digest>.data`` (named after its
    content), when ``external_data`` is True, or, by default, when they exceed what one
    protobuf can hold. The model and its data appear together or not at all: the data file
    is written first under its own name, then one rename puts the model that reads it in
    place, then the previous data file is removed; a kill at any point leaves the old
    model with its data or the new one with its. Temporary files are removed on error,
    SIGTERM and SIGINT, and after SIGKILL by the next save into the same folder (see
    docs/security.md). A module from ``convert(..., to="torch")`` is written as a folder
    (``model.py`` + ``model.safetensors``), one from ``to="tensorflow"`` as a SavedModel
    folder, each replaced in one step. Returns the path written."""
    import onnx

    from tensorbridge.converters.onnx import from_ir
    from tensorbridge.migrate import emitted_kind, save_emitted

    if emitted_kind(model) is not None:
        return save_emitted(model, path)
    if not isinstance(model, Graph | onnx.ModelProto):
        raise TensorbridgeError(f"save: expected an ir.Graph or onnx.ModelProto, got {type(model).__name__}")
    from tensorbridge.converters.files import check_file_target
    from tensorbridge.converters.onnx import external

    target = Path(path)
    check_file_target(target)  # before the (possibly long) serialization
    proto = from_ir(model) if isinstance(model, Graph) else model
    if external_data is None:
        external_data = external.needs_external_data(proto)
    # a proto built here from a Graph is ours to consume: its weights move to the data file
    return _with_external_data(proto, target, external_data, owned=isinstance(model, Graph))


def _with_external_data(proto: onnx.ModelProto, target: Path, external: bool, *, owned: bool) -> Path:
    """``proto`` written to ``target`` as one atomic unit with its data file (if ``external``)."""
    from tensorbridge.converters.onnx.external import save_model

    return save_model(proto, target, external=external, owned=owned)


def run(model: Any, *inputs: Any) -> list[np.ndarray]:
    """Run a Graph, ModelProto or .onnx path on the built-in numpy runtime: inputs in graph
    order (``tb.run(g, x, mask)``), or one dict by input name (``tb.run(g, {"x": x})``).

    An ``ir.Graph`` is planned once per input signature and kept in a small LRU cache of
    plans (``runtime.plan_cache``): calling ``run`` again on the same graph costs what
    ``Session.run`` costs; a graph edited in between is planned again. Files and
    ModelProtos are read and planned on every call (keep the ``tb.load`` graph to reuse it)."""
    feeds: dict[str, Any] | list[Any]
    if len(inputs) == 1 and isinstance(inputs[0], dict):
        feeds = {k: _feed(x) for k, x in inputs[0].items()}
    else:
        feeds = [_feed(x) for x in inputs]
    if isinstance(model, Graph):
        return _plans().session(model, feeds, prepare=load).run(feeds)
    from tensorbridge.runtime.session import Session

    return Session(load(model)).run(feeds)


def _plans() -> Any:
    """The process's plan cache for :func:`run` (created on first use: importing
    tensorbridge does not import the runtime)."""
    global _PLANS
    if _PLANS is None:
        from tensorbridge.runtime.plan_cache import PlanCache

        _PLANS = PlanCache(size=4)
    return _PLANS


_PLANS: Any = None


def _feed(x: Any) -> Any:
    # lists are sequences and None an empty optional: passed through untouched
    return x if x is None or isinstance(x, list) else np.asarray(x)


__all__ = ["TARGETS", "ModelLoadError", "TensorbridgeError", "UnsupportedSourceError", "convert", "load",
           "run", "save"]
