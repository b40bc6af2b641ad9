"""Array comparison with a tolerance scaled to each tensor's magnitude."""

from __future__ import annotations

import numpy as np

from tensorbridge.runtime.parity.report import OutputComparison, Tolerance

# Defaults by dtype. float32: re-associating sums in a deep network moves results by ~1e-6
# relative (measured: float32 vs float64 runs of the runtime on BERT differ by 2e-6), so
# 1e-4 leaves margin and still catches a wrong formula (a tanh GELU instead of the exact
# one moves BERT outputs by ~1e-3).
DEFAULT_RTOL = {"float32": 1e-4, "float64": 1e-9, "float16": 1e-2, "bfloat16": 3e-2}
HIST_EDGES = [-12.0, -10.0, -8.0, -7.0, -6.0, -5.0, -4.0, -3.0, -2.0, -1.0, 0.0, 2.0]


def default_tolerance(dtype: str) -> Tolerance:
    rtol = DEFAULT_RTOL.get(dtype, 1e-4)
    return Tolerance(rtol, rtol / 10, f"default for {dtype} (noise floor ~1e-6 relative)")


def errors(got: np.ndarray, exp: np.ndarray, tol: Tolerance) -> tuple[float, float, bool, np.ndarray]:
    """(max abs, max rel, within tolerance, |diff| array) of two same-shape arrays."""
    got, exp = np.asarray(got), np.asarray(exp)
    if got.dtype == exp.dtype and got.dtype.kind == "f" and got.size:
        fast = _finite_errors(got, exp, tol)
        if fast is not None:
            return fast
    g, e = np.asarray(got, np.float64), np.asarray(exp, np.float64)
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
    ok = bool(same_nan.all() and same_inf.all() and np.all(diff <= atol + tol.rtol * np.abs(e)))
    return max_abs, max_rel, ok, diff


def _finite_errors(got: np.ndarray, exp: np.ndarray, tol: Tolerance) -> tuple[float, float, bool, np.ndarray] | None:
    """The common case, in the arrays' own precision (checking every layer of a model
    is dominated by this): everything finite. None sends the caller to the general path."""
    diff = np.abs(got - exp)
    mag = np.abs(exp)
    scale = float(mag.max())
    if not (np.isfinite(scale) and np.isfinite(float(diff.max()))):
        return None
    atol = tol.atol_scale * max(scale, 1e-30)
    ok = bool(np.all(diff <= atol + tol.rtol * mag))
    max_rel = float((diff / np.maximum(mag, atol)).max())
    return float(diff.max()), max_rel, ok, diff


def compare_output(input_set: str, runtime: str, name: str, got: object, exp: np.ndarray,
                   tol: Tolerance) -> OutputComparison:
    got = np.asarray(got)
    if got.shape != exp.shape:
        return OutputComparison(input_set, runtime, name, list(got.shape), str(got.dtype), float("inf"),
                                float("inf"), {}, False, f"shape {list(got.shape)} != reference {list(exp.shape)}")
    if exp.dtype.kind in "biuOUS" or exp.size == 0:
        same = bool(np.array_equal(got, exp))
        return OutputComparison(input_set, runtime, name, list(got.shape), str(got.dtype), 0.0 if same else 1.0,
                                0.0 if same else 1.0, {}, same, "" if same else "values differ")
    max_abs, max_rel, ok, diff = errors(got, exp, tol)
    q = np.quantile(diff, [0.5, 0.9, 0.99]) if diff.size else np.zeros(3)
    logs = np.log10(np.maximum(diff.reshape(-1), 1e-13))
    hist, _ = np.histogram(np.clip(logs, HIST_EDGES[0], HIST_EDGES[-1]), bins=HIST_EDGES)
    return OutputComparison(input_set, runtime, name, list(got.shape), str(got.dtype), max_abs, max_rel,
                            {"p50": float(q[0]), "p90": float(q[1]), "p99": float(q[2])}, ok,
                            "" if ok else "outside tolerance", hist.tolist(), HIST_EDGES)
