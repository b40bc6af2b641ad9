"""How a PyTorch model is called with its example inputs: positional arguments, keyword
arguments, or both (``tb.convert(model, {"input_ids": ids, "attention_mask": mask})``,
``tb.convert(model, (ids,), kwargs={...})``).

One binding serves the capture (torch.export) and every eager reference run, so the graph's
inputs and the reference's inputs are the same tensors in the same order: positional
arguments first, then keyword arguments in ``forward``'s parameter order. ``None`` arguments
are dropped (an optional input left out, not an input of the graph); a positional argument
after a dropped one is passed by its parameter's name."""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from tensorbridge.ir.errors import TensorbridgeError


class ExampleInputsError(TensorbridgeError):
    """The example inputs do not fit the model's forward signature."""


@dataclass(frozen=True)
class CallArgs:
    """A call's positional and keyword arguments. The tensors among them (``leaves``) are
    the graph's inputs, in graph order."""

    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)

    def leaves(self) -> list[Any]:
        return [x for x in (*self.args, *self.kwargs.values()) if _is_tensor(x)]

    def names(self) -> list[str | None]:
        """The keyword of each leaf (None for a positional one)."""
        return ([None for x in self.args if _is_tensor(x)]
                + [k for k, x in self.kwargs.items() if _is_tensor(x)])

    def with_leaves(self, arrays: list[Any]) -> CallArgs:
        """The same call with its tensors replaced, in order, by ``arrays`` (numpy arrays
        become tensors); non-tensor arguments are kept."""
        it = iter(arrays)
        n = len(self.leaves())
        if len(arrays) != n:
            raise ExampleInputsError(f"the model takes {n} tensor input(s), got {len(arrays)}")
        args = tuple(_tensor(next(it)) if _is_tensor(x) else x for x in self.args)
        kwargs = {k: _tensor(next(it)) if _is_tensor(x) else x for k, x in self.kwargs.items()}
        return CallArgs(args, kwargs)

    def as_torch(self) -> CallArgs:
        return self.with_leaves(self.leaves())


def bind(module: Any, example_inputs: Any, kwargs: dict[str, Any] | None = None) -> CallArgs:
    """``example_inputs`` (a tuple/list of arguments, one tensor, a dict of keyword
    arguments, or a :class:`CallArgs`) plus ``kwargs``, bound to ``module.forward``."""
    if isinstance(example_inputs, CallArgs):
        args, kw = example_inputs.args, dict(example_inputs.kwargs)
    elif isinstance(example_inputs, dict):
        args, kw = (), dict(example_inputs)
    elif isinstance(example_inputs, list | tuple):
        args, kw = tuple(example_inputs), {}
    elif example_inputs is None:
        args, kw = (), {}
    else:
        args, kw = (example_inputs,), {}
    for k in kwargs or {}:
        if k in kw:
            raise ExampleInputsError(f"example input {k!r} is given twice (in the inputs and in kwargs=)")
    kw.update(kwargs or {})
    return _drop_none(_parameters(module), args, kw).as_torch()


def _parameters(module: Any) -> list[inspect.Parameter] | None:
    """forward's parameters after ``self``; None when it takes ``*args`` (nothing to bind by name)."""
    forward = getattr(module, "forward", None)
    if forward is None:
        return None
    try:
        params = list(inspect.signature(forward).parameters.values())
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        return None
    return params


def _drop_none(params: list[inspect.Parameter] | None, args: tuple[Any, ...],
               kwargs: dict[str, Any]) -> CallArgs:
    if params is None:
        if any(a is None for a in args):
            raise ExampleInputsError("a None positional example input cannot be dropped: forward takes "
                                     "*args; leave it out or pass the others by keyword")
        return CallArgs(args, {k: v for k, v in kwargs.items() if v is not None})
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(args) > len(positional):
        raise ExampleInputsError(f"{len(args)} positional example inputs, but forward takes "
                                 f"{len(positional)} ({', '.join(p.name for p in positional)})")
    named = {p.name for p in params}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params)
    unknown = [k for k in kwargs if k not in named and not takes_any]
    if unknown:
        raise ExampleInputsError(f"example inputs {unknown} are not parameters of forward "
                                 f"({', '.join(p.name for p in params)})")
    keep = next((i for i, a in enumerate(args) if a is None), len(args))
    by_name = dict(kwargs)
    for p, a in zip(positional[keep:], args[keep:]):
        if p.name in by_name:
            raise ExampleInputsError(f"example input {p.name!r} is given both by position and by name")
        if p.kind is p.POSITIONAL_ONLY and a is not None:
            raise ExampleInputsError(f"{p.name!r} is positional-only and follows a None input: "
                                     "pass a tensor for the earlier argument")
        by_name[p.name] = a
    order = {p.name: i for i, p in enumerate(params)}
    ordered = sorted((k for k in by_name if by_name[k] is not None), key=lambda k: order.get(k, len(order)))
    return CallArgs(args[:keep], {k: by_name[k] for k in ordered})


def _is_tensor(x: Any) -> bool:
    return isinstance(x, torch.Tensor | np.ndarray)


def _tensor(x: Any) -> Any:
    return torch.from_numpy(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else x
