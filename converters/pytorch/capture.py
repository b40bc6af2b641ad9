"""Capture a PyTorch model as a torch.export ExportedProgram.

Accepts an ``nn.Module`` with example inputs, an ``ExportedProgram``, or a ``.pt2`` file
(torch.export.save). Non-strict export first, strict as fallback. Capture failures are
re-raised as one short :class:`CaptureError` with the model location and a hint.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch.export import Dim, ExportedProgram

from ir.errors import ModelLoadError, TensorbridgeError


class CaptureError(TensorbridgeError):
    """torch.export could not capture the model."""


def capture(source: Any, example_inputs: Any = None, dynamic_shapes: Any = None,
            kwargs: dict[str, Any] | None = None) -> ExportedProgram:
    if isinstance(source, ExportedProgram):
        return source
    if isinstance(source, str | os.PathLike):
        return load_pt2(Path(source))
    if not isinstance(source, torch.nn.Module):
        raise CaptureError(f"cannot capture a {type(source).__name__}: pass an nn.Module with "
                           "example inputs, an ExportedProgram or a .pt2 file")
    args = _as_args(example_inputs)
    dyn = normalize_dynamic_shapes(source, args, kwargs or {}, dynamic_shapes)
    errors: list[str] = []
    for strict in (False, True):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return torch.export.export(source.eval(), args, kwargs=kwargs or None,
                                           dynamic_shapes=dyn, strict=strict)
        except Exception as e:  # torch raises many unrelated types here
            errors.append(f"{'strict' if strict else 'non-strict'}: {_short(e)}")
            if _is_dynamic_shape_error(e):
                break  # strict mode will not help; report the shape problem
    raise CaptureError(
        f"torch.export could not capture {type(source).__name__}:\n  " + "\n  ".join(errors)
        + "\nHints: data-dependent Python control flow must become torch.cond / torch.where; "
        "a dim that the model forces to a constant cannot be dynamic (drop it from "
        "dynamic_shapes or fix the model); unsupported Python constructs are named above.")


def load_pt2(path: Path) -> ExportedProgram:
    if not path.is_file():
        raise ModelLoadError(str(path), "no such file", "Check the path")
    try:
        with no_arbitrary_unpickling():
            return torch.export.load(str(path))
    except UnsafePickleError as e:
        raise ModelLoadError(str(path), f"refused to unpickle an object ({e})",
                             "Only tensors are loaded from .pt2 files; re-export without custom objects") from e
    except Exception as e:
        raise ModelLoadError(str(path), f"not a readable torch.export archive ({_short(e)})",
                             "Re-save it with torch.export.save") from e


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


def _as_args(example_inputs: Any) -> tuple[Any, ...]:
    if example_inputs is None:
        raise CaptureError("a PyTorch module needs example_inputs (a tuple of tensors)")
    if isinstance(example_inputs, torch.Tensor):
        return (example_inputs,)
    if isinstance(example_inputs, list):
        return tuple(example_inputs)
    if isinstance(example_inputs, tuple):
        return example_inputs
    return (example_inputs,)


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
