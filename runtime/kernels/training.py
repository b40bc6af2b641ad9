"""Kernels: optimiser steps of the ``ai.onnx.preview.training`` domain.

Each optimiser takes a flat variadic list ``[X_1..X_n, G_1..G_n, state_1..]`` and returns the
updated tensors in the same grouped order. The scalar learning-rate algebra is done in
float64 and every result is cast back to the dtype of the tensor it replaces, so float32
models stay float32.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tensorbridge.runtime.registry import kernel

_DOMAIN = "ai.onnx.preview.training"


def _groups(inputs: tuple[np.ndarray, ...], n_groups: int, op: str) -> list[tuple[np.ndarray, ...]]:
    """Split the flat variadic input into per-tensor tuples (X_i, G_i, state_i, ...)."""
    if len(inputs) == 0 or len(inputs) % n_groups:
        raise ValueError(
            f"{op} expects its variadic inputs in {n_groups} equal groups "
            f"(tensors, gradients, states...), got {len(inputs)} tensors"
        )
    n = len(inputs) // n_groups
    return [tuple(inputs[g * n + i] for g in range(n_groups)) for i in range(n)]


def _flatten(per_tensor: Sequence[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """Inverse of `_groups` for outputs: all first outputs, then all second outputs, ..."""
    return tuple(out[k] for k in range(len(per_tensor[0])) for out in per_tensor)


@kernel("Adagrad", since=1, domain=_DOMAIN)
def adagrad(R: np.ndarray, T: np.ndarray, *inputs: np.ndarray, decay_factor: float = 0.0,
            epsilon: float = 1e-6, norm_coefficient: float = 0.0) -> tuple[np.ndarray, ...]:
    """Adagrad-1 (preview.training): R, T, X..., G..., H... -> X_new..., H_new..."""
    r = float(R) / (1.0 + float(T) * decay_factor)
    results: list[tuple[np.ndarray, ...]] = []
    for x, g, h in _groups(inputs, 3, "Adagrad"):
        g_reg = norm_coefficient * x + g
        h_new = h + g_reg * g_reg
        x_new = x - r * g_reg / (np.sqrt(h_new) + epsilon)
        results.append((x_new.astype(x.dtype, copy=False), h_new.astype(h.dtype, copy=False)))
    return _flatten(results)


@kernel("Adam", since=1, domain=_DOMAIN)
def adam(R: np.ndarray, T: np.ndarray, *inputs: np.ndarray, alpha: float = 0.9,
         beta: float = 0.999, epsilon: float = 1e-6, norm_coefficient: float = 0.0,
         norm_coefficient_post: float = 0.0) -> tuple[np.ndarray, ...]:
    """Adam-1 (preview.training): R, T, X..., G..., V..., H... -> X_new..., V_new..., H_new..."""
    t = float(T)
    r = float(R)
    # The bias correction is undefined at T == 0 (0/0), so the spec uses the raw rate there.
    r_adj = r * np.sqrt(1.0 - beta**t) / (1.0 - alpha**t) if t > 0 else r
    results: list[tuple[np.ndarray, ...]] = []
    for x, g, v, h in _groups(inputs, 4, "Adam"):
        g_reg = norm_coefficient * x + g
        v_new = alpha * v + (1.0 - alpha) * g_reg
        h_new = beta * h + (1.0 - beta) * g_reg * g_reg
        x_new = (x - r_adj * v_new / (np.sqrt(h_new) + epsilon)) * (1.0 - norm_coefficient_post)
        results.append((x_new.astype(x.dtype, copy=False), v_new.astype(v.dtype, copy=False),
                        h_new.astype(h.dtype, copy=False)))
    return _flatten(results)


@kernel("Momentum", since=1, domain=_DOMAIN)
def momentum(R: np.ndarray, T: np.ndarray, *inputs: np.ndarray, alpha: float, beta: float,
             mode: str, norm_coefficient: float) -> tuple[np.ndarray, ...]:
    """Momentum-1 (preview.training): R, T, X..., G..., V... -> X_new..., V_new..."""
    if mode not in ("standard", "nesterov"):
        raise ValueError(f"Momentum mode must be 'standard' or 'nesterov', got {mode!r}")
    r = float(R)
    # The first step has no history to blend with, so the gradient enters unscaled.
    beta_adj = beta if float(T) > 0 else 1.0
    results: list[tuple[np.ndarray, ...]] = []
    for x, g, v in _groups(inputs, 3, "Momentum"):
        g_reg = norm_coefficient * x + g
        v_new = alpha * v + beta_adj * g_reg
        step = g_reg + alpha * v_new if mode == "nesterov" else v_new
        x_new = x - r * step
        results.append((x_new.astype(x.dtype, copy=False), v_new.astype(v.dtype, copy=False)))
    return _flatten(results)
