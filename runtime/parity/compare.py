"""Array comparison with a tolerance scaled to each tensor's magnitude."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from tensorbridge.runtime.parity.report import OutputComparison, Tolerance

# Defaults by dtype. float32: re-associating sums in a deep network moves results by ~1e-6
# relative (measured: float32 vs float64 runs of the runtime on BERT differ by 2e-6), so
# 1e-4 leaves margin (a wrong formula that later layers damp, such as a tanh GELU in a small
# BERT, is caught by the calibrated per-layer check, not by this default).
DEFAULT_RTOL = {"float32": 1e-4, "float64": 1e-9, "float16": 1e-2, "bfloat16": 3e-2}
HIST_EDGES = [-12.0, -10.0, -8.0, -7.0, -6.0, -5.0, -4.0, -3.0, -2.0, -1.0, 0.0, 2.0]


def default_tolerance(dtype: str) -> Tolerance:
    rtol = DEFAULT_RTOL.get(dtype, 1e-4)
    return Tolerance(rtol, rtol / 10, f"default for {dtype} (noise floor ~1e-6 relative)")


class Errors(NamedTuple):
    """How far ``got`` is from ``exp``. ``ratio`` is the verdict's own measure: the largest
    |got - exp| / (atol + rtol * |exp|) over the elements, so ``ok`` is ``ratio <= 1``
    (non-finite mismatches, a NaN where the reference has none, are ``inf``)."""

    max_abs: float
    max_rel: float
    ratio: float
    ok: bool
    diff: np.ndarray


def errors(got: np.ndarray, exp: np.ndarray, tol: Tolerance) -> Errors:
    """The errors of two same-shape arrays, within ``tol`` or not."""
    got, exp = np.asarray(got), np.asarray(exp)
    if got.dtype == exp.dtype and got.dtype.kind == "f" and got.size:
        fast = _finite_errors(got, exp, tol)
        if fast is not None:
            return fast
    g, e = np.asarray(got, np.float64), np.asarray(exp, np.float64)
    with np.errstate(invalid="ignore"):  # inf - inf: handled just below
        diff = np.abs(g - e)
    same_nan = np.isnan(g) == np.isnan(e)
    same_inf = (g == e) | ~np.isinf(e)
    diff = np.where(np.isnan(diff) & same_nan, 0.0, diff)
    diff = np.where(np.isinf(e) & (g == e), 0.0, diff)
    finite = np.abs(e[np.isfinite(e)])
    scale = float(finite.max()) if finite.size else 1.0
    atol = tol.atol_scale * max(scale, 1e-30)
    max_abs = float(diff.max()) if diff.size else 0.0
    rel = diff / np.maximum(np.abs(e), atol) if diff.size else diff
    max_rel = float(np.nanmax(rel)) if diff.size else 0.0
    allowed = atol + tol.rtol * np.where(np.isfinite(e), np.abs(e), 0.0)
    ok = bool(same_nan.all() and same_inf.all() and np.all(diff <= allowed))  # NaN == NaN here
    ratio = _worst_ratio(diff, allowed) if same_nan.all() and same_inf.all() else float("inf")
    return Errors(max_abs, max_rel, ratio, ok, diff)


def _worst_ratio(diff: np.ndarray, allowed: np.ndarray) -> float:
    """max(diff / allowed); an exact match uses none of a zero allowance."""
    if not diff.size:
        return 0.0
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(diff == 0, 0.0, diff / allowed)
    return float(np.nanmax(ratio)) if not np.isnan(ratio).all() else float("inf")


def _finite_errors(got: np.ndarray, exp: np.ndarray, tol: Tolerance) -> Errors | None:
    """The common case, in the arrays' own precision (checking every layer of a model
    is dominated by this): everything finite. None sends the caller to the general path."""
    with np.errstate(invalid="ignore"):  # inf - inf: the general path handles it
        diff = np.abs(got - exp)
    mag = np.abs(exp)
    scale = float(mag.max())
    if not (np.isfinite(scale) and np.isfinite(float(diff.max()))):
        return None
    atol = tol.atol_scale * max(scale, 1e-30)
    allowed = atol + tol.rtol * mag
    ok = bool(np.all(diff <= allowed))
    max_rel = float((diff / np.maximum(mag, atol)).max())
    return Errors(float(diff.max()), max_rel, _worst_ratio(diff, allowed), ok, diff)


def compare_output(input_set: str, runtime: str, name: str, got: object, exp: Any,
                   tol: Tolerance) -> OutputComparison:
    if isinstance(exp, list | tuple | dict) or isinstance(got, list | tuple | dict):
        return _compare_nested(input_set, runtime, name, got, exp, tol)
    got = np.asarray(got)
    exp = np.asarray(exp)
    if got.shape != exp.shape:
        return OutputComparison(input_set, runtime, name, list(got.shape), str(got.dtype), float("inf"),
                                float("inf"), {}, False, f"shape {list(got.shape)} != reference {list(exp.shape)}",
                                error_ratio=float("inf"))
    if exp.dtype.kind in "biuOUS" or exp.size == 0:
        same = bool(np.array_equal(got, exp))
        return OutputComparison(input_set, runtime, name, list(got.shape), str(got.dtype), 0.0 if same else 1.0,
                                0.0 if same else 1.0, {}, same, "" if same else "values differ",
                                error_ratio=0.0 if same else float("inf"))
    err = errors(got, exp, tol)
    diff = err.diff
    q = np.quantile(diff, [0.5, 0.9, 0.99]) if diff.size else np.zeros(3)
    logs = np.log10(np.maximum(diff.reshape(-1), 1e-13))
    hist, _ = np.histogram(np.clip(logs, HIST_EDGES[0], HIST_EDGES[-1]), bins=HIST_EDGES)
    return OutputComparison(input_set, runtime, name, list(got.shape), str(got.dtype), err.max_abs,
                            err.max_rel, {"p50": float(q[0]), "p90": float(q[1]), "p99": float(q[2])},
                            err.ok, "" if err.ok else "outside tolerance", hist.tolist(), HIST_EDGES,
                            error_ratio=err.ratio)


def _leaves(x: Any, path: str = "") -> list[tuple[str, Any]]:
    """(path, array) of every tensor in a sequence / map / optional output (ZipMap's list of
    dicts, SplitToSequence's list), in a canonical order."""
    if isinstance(x, dict):
        return [leaf for k in sorted(x, key=repr) for leaf in _leaves(x[k], f"{path}[{k!r}]")]
    if isinstance(x, list | tuple):
        return [leaf for i, v in enumerate(x) for leaf in _leaves(v, f"{path}[{i}]")]
    return [(path, np.asarray(x))]


def _compare_nested(input_set: str, runtime: str, name: str, got: Any, exp: Any,
                    tol: Tolerance) -> OutputComparison:
    """A sequence or map output: the same structure, and every tensor in it within tolerance."""
    g, e = _leaves(got), _leaves(exp)
    length = [len(exp)] if isinstance(exp, list | tuple | dict) else []
    if [p for p, _ in g] != [p for p, _ in e]:
        return OutputComparison(input_set, runtime, name, length, "sequence", float("inf"), float("inf"),
                                {}, False, f"structure differs: {len(g)} tensor(s) vs the reference's "
                                f"{len(e)}", error_ratio=float("inf"))
    # float tensors are compared as one vector (the absolute term scales with the largest value
    # anywhere in the output, as for a tensor); other leaves must be equal
    floats = [i for i, (_, b) in enumerate(e) if b.dtype.kind in "fc"]
    parts = [compare_output(input_set, runtime, f"{name}{e[i][0]}", g[i][1], e[i][1], tol)
             for i in range(len(e)) if i not in set(floats)]
    if floats:
        flat = [np.concatenate([x[i][1].astype(np.float64).ravel() for i in floats]) for x in (g, e)]
        parts.append(compare_output(input_set, runtime, name, flat[0], flat[1], tol))
    bad = next((c for c in parts if not c.ok), None)
    return OutputComparison(input_set, runtime, name, length, "sequence",
                            max((c.max_abs for c in parts), default=0.0),
                            max((c.max_rel for c in parts), default=0.0), {}, bad is None,
                            "" if bad is None else f"{bad.output}: {bad.detail}",
                            error_ratio=max((c.error_ratio for c in parts), default=0.0))
