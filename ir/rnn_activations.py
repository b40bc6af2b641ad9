"""The ONNX RNN/GRU/LSTM ``activations`` attribute, bound once for every back-end (runtime
kernels and both emitters pass their own function table)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

# name -> (fn(x, alpha, beta), default alpha or None when unused, default beta or None)
Table = Mapping[str, tuple[Callable[[Any, float, float], Any], float | None, float | None]]


def _apply(fn: Callable[[Any, float, float], Any], alpha: float, beta: float, x: Any) -> Any:
    return fn(x, alpha, beta)


def bind_activations(table: Table, names: Sequence[str] | None, defaults: Sequence[str],
                     num_directions: int, alphas: Sequence[float] | None,
                     betas: Sequence[float] | None, op: str) -> list[list[Callable[[Any], Any]]]:
    """Per-direction lists of bound activation functions. As in onnxruntime, the alphas and
    betas are consumed in order only by the functions that take that parameter (a Sigmoid
    does not use up an alpha). Bad names or counts raise ValueError."""
    names = list(names) if names else list(defaults) * num_directions
    per_dir = len(defaults)
    if len(names) == per_dir and num_directions == 2:
        names = names * 2
    if len(names) != per_dir * num_directions:
        raise ValueError(f"{op} expects {per_dir * num_directions} activations, got {names}")
    alpha_it, beta_it = iter(alphas or []), iter(betas or [])
    bound: list[Callable[[Any], Any]] = []
    for name in names:
        try:
            fn, a_def, b_def = table[name.lower()]
        except KeyError:
            raise ValueError(f"{op}: unsupported activation {name!r}; expected one of "
                             f"{sorted(table)}") from None
        a = next(alpha_it, a_def) if a_def is not None else 0.0
        b = next(beta_it, b_def) if b_def is not None else 0.0
        bound.append(functools.partial(_apply, fn, a, b))
    return [bound[d * per_dir:(d + 1) * per_dir] for d in range(num_directions)]
