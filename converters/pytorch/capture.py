"""Capture a PyTorch model as a torch.export ExportedProgram.

Accepts an ``nn.Module`` with example inputs, an ``ExportedProgram``, or a ``.pt2`` file
(torch.export.save). Non-strict export first, strict as fallback. Capture failures are
re-raised as one short :class:`CaptureError` with the model location and a hint.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import pickle
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch.export import Dim, ExportedProgram

from tensorbridge.converters.pytorch.archive import HINT, check_pt2
from tensorbridge.converters.pytorch.call_inputs import CallArgs, bind
from tensorbridge.ir.errors import ModelLoadError, TensorbridgeError


class CaptureError(TensorbridgeError):
    """torch.export could not capture the model."""


class ShapeSpecializationError(TensorbridgeError):
    """A dim requested as dynamic was specialised to a constant by torch.export."""


def capture(source: Any, example_inputs: Any = None, dynamic_shapes: Any = None,
            kwargs: dict[str, Any] | None = None, *, strict_shapes: bool = True) -> ExportedProgram:
    """``source`` as an ExportedProgram. ``example_inputs``: a tuple of arguments, a dict of
    keyword arguments or a :class:`CallArgs` (see :mod:`call_inputs`); None dropped. With
    ``strict_shapes``, a dim requested dynamic whose example size is 1 is refused up front
    (torch.export would specialise it)."""
    if isinstance(source, ExportedProgram):
        return source
    if isinstance(source, str | os.PathLike):
        return load_pt2(Path(source))
    if not isinstance(source, torch.nn.Module):
        raise CaptureError(f"cannot capture a {type(source).__name__}: pass an nn.Module with "
                           "example inputs, an ExportedProgram or a .pt2 file")
    if example_inputs is None and not kwargs:
        raise CaptureError("a PyTorch module needs example_inputs (a tuple of tensors, or a dict of "
                           "keyword arguments)")
    call = bind(source, example_inputs, kwargs)
    dyn = normalize_dynamic_shapes(source, call.args, call.kwargs, dynamic_shapes)
    if strict_shapes:
        check_size_one(source, call, dynamic_shapes)
    errors: list[str] = []
    for strict in (False, True):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return torch.export.export(source.eval(), call.args, kwargs=call.kwargs or None,
                                           dynamic_shapes=dyn, strict=strict)
        except Exception as e:  # torch raises many unrelated types here
            errors.append(f"{'strict' if strict else 'non-strict'}: {_short(e)}")
            if _is_dynamic_shape_error(e):
                break  # strict mode will not help; report the shape problem
    cache = "Cache" in " ".join(errors) and "not a known type" in " ".join(errors)
    raise CaptureError(
        f"torch.export could not capture {type(source).__name__}:\n  " + "\n  ".join(errors)
        + ("\nThe model returns a transformers KV cache object: pass use_cache=False (in its config "
           "or as a keyword input) to export it without one." if cache else "")
        + "\nHints: data-dependent Python control flow must become torch.cond / torch.where; "
        "a dim that the model forces to a constant cannot be dynamic (drop it from "
        "dynamic_shapes or fix the model); unsupported Python constructs are named above.")


def load_pt2(path: Path) -> ExportedProgram:
    """Load a torch.export archive without letting it run code or write files.

    The archive is opened once; :func:`converters.pytorch.archive.check_pt2` checks that
    handle's member list and JSON (pure Python) before torch sees a byte, and torch then
    reads the same handle, so a file swapped in between is never the one loaded. torch
    stays quiet while it reads; the only thing a user sees of a bad file is our error."""
    if not path.is_file():
        raise ModelLoadError(str(path), "no such file", "Check the path")
    try:
        f = path.open("rb")
    except OSError as e:
        raise ModelLoadError(str(path), f"cannot be opened ({e.strerror})", "Check the file's permissions") from e
    with f:
        check_pt2(str(path), f)
        registered: set[str] = set()
        while True:
            f.seek(0)
            try:
                with quiet_torch(), no_arbitrary_unpickling():
                    ep = _torch_load(f)
                break
            except UnsafePickleError as e:
                raise ModelLoadError(str(path), f"refused to unpickle an object ({e})",
                                     "Only tensors are loaded from .pt2 files; re-export without custom "
                                     "objects") from e
            except Exception as e:  # torch raises many unrelated types here
                missing = _unregistered_type(e)
                if missing is None:
                    raise ModelLoadError(str(path), f"not a readable torch.export archive "
                                         f"({_short(_root_cause(e))})", "Re-save it with torch.export.save") from e
                if missing in registered or not _register_model_outputs(missing):
                    raise _unregistered_error(path, missing) from e
                registered.add(missing)  # transformers' own classes now registered: read again
    _check_call_targets(path, ep)
    return ep


_UNREGISTERED = re.compile(r"Deserializing (\S+) in pytree is not registered")
# the one module imported to resolve a .pt2's output type: a fixed name, never one read from the file
_MODEL_OUTPUTS_MODULE = "transformers.modeling_outputs"


def _unregistered_type(e: Exception) -> str | None:
    """The pytree type a .pt2 names but this process has not registered, if that failed."""
    m = _UNREGISTERED.search(str(_root_cause(e)))
    return m.group(1) if m else None


def _register_model_outputs(type_name: str) -> bool:
    """A transformers ModelOutput named by the archive (check_pt2 let through only names of
    that form) is registered as a pytree node when transformers defines the class. Only
    ``transformers.modeling_outputs`` is ever imported, and only when installed."""
    import importlib

    if type_name.rpartition(".")[0] != _MODEL_OUTPUTS_MODULE:
        return False
    try:
        importlib.import_module(_MODEL_OUTPUTS_MODULE)
    except Exception:  # not installed, or a broken install: the advice still holds
        return False
    return True


def _unregistered_error(path: Path, type_name: str) -> ModelLoadError:
    module = type_name.rpartition(".")[0]
    if module == _MODEL_OUTPUTS_MODULE:
        hint = ("pip install transformers (its output types are registered when it is imported), or export "
                "with a plain tuple/dict output (e.g. return_dict=False)")
    else:
        hint = (f"import {module} before loading (importing it registers the type; tensorbridge never imports "
                "modules an archive names), or export with a plain tuple/dict output (e.g. return_dict=False)")
    return ModelLoadError(str(path), f"the archive's output type {type_name} is not registered as a pytree "
                          "node in this process", hint)


def _torch_load(f: Any) -> ExportedProgram:
    """torch.export.load without its fallback to the legacy layout (which check_pt2
    refuses): that fallback replaces torch's real error with "check the warnings above"."""
    from torch.export.pt2_archive import _package

    loader = getattr(_package, "load_pt2", None)
    if loader is None:  # torch reorganised its archive code
        return torch.export.load(f)
    return loader(f).exported_programs["model"]


def _root_cause(e: Exception) -> Exception:
    while isinstance(e.__cause__, Exception):
        e = e.__cause__
    return e


def _check_call_targets(path: Path, ep: ExportedProgram) -> None:
    """Defence in depth behind the JSON check: every call in every (sub)graph must be an
    operator overload, a higher-order op or a symbolic-int helper, never an arbitrary
    Python callable (which running or decomposing the program would call)."""
    helpers = _symbolic_helpers()
    for module in ep.graph_module.modules():
        graph = getattr(module, "graph", None)
        if not isinstance(graph, torch.fx.Graph):
            continue
        for node in graph.nodes:
            if node.op in ("placeholder", "output", "get_attr"):
                continue
            target = node.target
            if node.op == "call_function" and (
                    isinstance(target, torch._ops.OpOverload | torch._ops.HigherOrderOperator)
                    or any(target is h for h in helpers)):
                continue
            raise ModelLoadError(str(path), f"node {node.name!r} calls {target!r}, which is not an operator",
                                 HINT)


def _symbolic_helpers() -> tuple[Any, ...]:
    import math
    import operator

    return (operator.getitem, operator.add, operator.sub, operator.mul, operator.floordiv, operator.mod,
            operator.pow, operator.truediv, operator.neg, operator.pos, operator.eq, operator.ne, operator.le,
            operator.ge, operator.lt, operator.gt, operator.and_, operator.or_, operator.lshift,
            operator.rshift, math.trunc, math.floor, math.ceil, torch.sym_int, torch.sym_float, torch.sym_not,
            torch.sym_ite, torch.sym_max, torch.sym_min, torch.sym_sum,
            torch._sym_sqrt)  # type: ignore[attr-defined]


@contextlib.contextmanager
def quiet_torch() -> Iterator[None]:
    """torch.export.load logs a full traceback (``log.warning(..., exc_info=True)``) for every
    archive it cannot read, then raises; the ModelLoadError that follows must be all the
    user sees. Silence torch's loggers (and Python warnings) for the attempt: existing
    ``torch.*`` loggers are disabled, and ones created meanwhile inherit the raised level.
    Logging configuration is process-wide, so other threads' torch logs pause too."""
    manager = logging.Logger.manager
    top = logging.getLogger("torch")
    loggers = [top] + [lg for name, lg in list(manager.loggerDict.items())
                       if name.startswith("torch.") and isinstance(lg, logging.Logger)]
    saved = [(lg, lg.disabled) for lg in loggers]
    level = top.level
    for lg in loggers:
        lg.disabled = True
    top.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        top.setLevel(level)
        for lg, disabled in saved:
            lg.disabled = disabled


class UnsafePickleError(pickle.UnpicklingError):
    """A .pt2 archive asked to unpickle something other than tensors."""


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        raise UnsafePickleError(f"global {module}.{name}")


class _SafePickleModule:
    """Stands in for the ``pickle`` module inside torch's archive reader."""

    UnpicklingError = pickle.UnpicklingError

    @staticmethod
    def loads(data: bytes) -> Any:
        return _RestrictedUnpickler(io.BytesIO(data)).load()

    def __getattr__(self, name: str) -> Any:
        return getattr(pickle, name)


@contextlib.contextmanager
def no_arbitrary_unpickling() -> Iterator[None]:
    """torch.export.load unpickles weights with ``weights_only=False`` and constants with
    plain ``pickle.loads``; a crafted archive could run code. While loading, force
    ``weights_only=True`` (tensors only) and refuse every pickled global."""
    from torch.export.pt2_archive import _package

    original_load, original_pickle = torch.load, _package.pickle

    def safe_load(f: Any, *args: Any, weights_only: Any = None, **kwargs: Any) -> Any:
        return original_load(f, *args, weights_only=True, **kwargs)

    torch.load = safe_load  # type: ignore[assignment]
    _package.pickle = _SafePickleModule()  # type: ignore[assignment]
    try:
        yield
    finally:
        torch.load = original_load
        _package.pickle = original_pickle


def normalize_dynamic_shapes(module: torch.nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any],
                             dynamic_shapes: Any) -> Any:
    """Accept torch.export's own spec, or the simple form ``{"x": {0: "batch"}}`` (names of
    forward's parameters -> {dim index: dim name}). Simple-form dims are exported as
    ``Dim.AUTO``: torch.export then never fails on them, and to_ir checks afterwards that
    each stayed dynamic, raising (or warning) loudly when torch specialised one."""
    if dynamic_shapes is None:
        return None
    if not isinstance(dynamic_shapes, dict) or not _is_simple(dynamic_shapes):
        return dynamic_shapes
    import inspect

    params = [p for p in inspect.signature(module.forward).parameters if p not in ("self",)]
    spec: dict[str, Any] = {}
    for name in params[: len(args)] + list(kwargs):
        given = dynamic_shapes.get(name)
        spec[name] = None if given is None else {int(i): Dim.AUTO for i in given}
    unknown = set(dynamic_shapes) - set(spec)
    if unknown:
        raise CaptureError(f"dynamic_shapes names {sorted(unknown)} are not parameters of "
                           f"{type(module).__name__}.forward ({', '.join(params)})")
    return spec


def check_size_one(module: torch.nn.Module, call: CallArgs, dynamic_shapes: Any) -> None:
    """torch.export specialises every dim whose example size is 0 or 1 (it cannot tell a
    broadcast from a batch of one), so a dim requested dynamic must not be 1 in the example."""
    import inspect

    if not dynamic_shapes:
        return
    params = [p for p in inspect.signature(module.forward).parameters if p != "self"]
    named = dict(zip(params, call.args)) | call.kwargs
    spec = dict(zip(params, dynamic_shapes)) if isinstance(dynamic_shapes, list | tuple) else dynamic_shapes
    problems = []
    for name, dims in (spec.items() if isinstance(spec, dict) else ()):
        tensor = named.get(name)
        if not isinstance(tensor, torch.Tensor):
            continue
        indices = list(dims) if isinstance(dims, dict) else \
            [i for i, d in enumerate(dims) if d is not None] if isinstance(dims, list | tuple) else []
        problems += [f"dimension {i} of input {name!r} is {tensor.shape[i]} in the example"
                     for i in indices if isinstance(i, int) and i < tensor.dim() and tensor.shape[i] in (0, 1)]
    if problems:
        raise ShapeSpecializationError(
            "; ".join(problems) + ": torch.export specialises size-0 and size-1 dimensions, so they "
            "cannot be dynamic -- give an example with a size >= 2 there (e.g. batch >= 2)")


def _is_simple(spec: dict[str, Any]) -> bool:
    return all(isinstance(v, dict) and all(isinstance(d, str) for d in v.values())
               for v in spec.values() if v is not None)


def _is_dynamic_shape_error(e: Exception) -> bool:
    text = str(e)
    return "Constraints violated" in text or "specialized" in text or "dynamic_shapes" in text


def _short(e: Exception, limit: int = 600) -> str:
    text = f"{type(e).__name__}: {e}"
    lines = [ln for ln in text.splitlines() if ln.strip()]
    text = "\n    ".join(lines[:8])
    return text if len(text) <= limit else text[:limit] + " ..."
