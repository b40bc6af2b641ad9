"""What a sweep measures about one result, independently of tensorbridge's own validation:
the source framework's eager output, the error of a result against it, the source's own
float32 noise floor, and the unsupported ops named by an error."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from tensorbridge.ir.errors import ConversionError, UnsupportedOpError

TOLERANCE = 1e-4  # float32: max|got - eager| / max|eager|
NOISE_FACTOR = 10  # ... or 10x the source's own float32-vs-float64 error, when that is larger


def numpy_of(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def redraw(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Another input like ``x``: same shape and dtype, same kind of values."""
    if x.dtype.kind in "iu":
        return rng.integers(int(x.min()), int(x.max()) + 1, x.shape).astype(x.dtype)
    if x.size and x.min() >= 0:
        return rng.uniform(0, float(x.max()), x.shape).astype(x.dtype)
    return (rng.standard_normal(x.shape) * float(x.std() or 1.0)).astype(x.dtype)


def eager(source: Any, kind: str, feeds: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The source framework's own outputs (flattened) on numpy ``feeds``."""
    if kind == "keras":
        import tensorflow as tf  # noqa: TID251 - the sweep runs the source framework on purpose

        out = source(*[tf.constant(f) for f in feeds], training=False)
        return [np.asarray(o) for o in tf.nest.flatten(out)]
    import torch  # noqa: TID251
    from torch.utils._pytree import tree_leaves  # noqa: TID251

    with torch.no_grad():
        out = source(*[torch.from_numpy(np.ascontiguousarray(f)) for f in feeds])
    return [numpy_of(o) for o in tree_leaves(out) if isinstance(o, torch.Tensor)]


def error(got: Sequence[Any], expected: Sequence[np.ndarray]) -> tuple[float, str]:
    """max over outputs of max|got - eager| / max|eager| (inf on a shape or count mismatch,
    integer outputs must be equal), and why it is inf."""
    if len(got) != len(expected):
        return float("inf"), f"{len(got)} outputs, the source has {len(expected)}"
    worst = 0.0
    for i, (g, e) in enumerate(zip(got, expected)):
        g = numpy_of(g)
        if g.shape != e.shape:
            return float("inf"), f"output {i}: shape {g.shape}, the source's is {e.shape}"
        if e.dtype.kind in "biu":
            err = 0.0 if np.array_equal(g, e) else float("inf")
        else:
            diff = np.abs(g.astype(np.float64) - e.astype(np.float64))
            if not np.all(np.isfinite(diff)):
                if np.array_equal(np.isnan(g), np.isnan(e)) and np.array_equal(g[~np.isfinite(g)], e[~np.isfinite(e)]):
                    diff = np.where(np.isfinite(diff), diff, 0.0)
                else:
                    return float("inf"), f"output {i}: non-finite values differ"
            scale = float(np.max(np.abs(e[np.isfinite(e)]))) if np.isfinite(e).any() else 0.0
            err = float(diff.max()) / scale if scale > 0 else float(diff.max()) if diff.size else 0.0
        worst = max(worst, err)
    return worst, ""


def worst_error(run: Callable[[list[np.ndarray]], Sequence[Any]], feed_sets: list[list[np.ndarray]],
                expected: list[list[np.ndarray]]) -> tuple[float, str]:
    """The largest :func:`error` of ``run`` over every input set."""
    return max(error(run(list(f)), e) for f, e in zip(feed_sets, expected))


def noise_floor(source: Any, kind: str, feeds: Sequence[np.ndarray], expected: list[np.ndarray],
                wide: Callable[[], Any] | None) -> float | None:
    """The float32 source's own error against the same model in float64 (None when the model
    does not run in float64): what no converter can be asked to beat."""
    wide_feeds = [f.astype(np.float64) if f.dtype.kind == "f" else f for f in feeds]
    try:
        if kind == "keras":
            import keras

            if wide is None:
                return None
            keras.config.set_dtype_policy("float64")
            try:
                model = wide()
            finally:
                keras.config.set_dtype_policy("float32")
            model.set_weights([w.astype(np.float64) if w.dtype.kind == "f" else w for w in source.get_weights()])
        else:
            model = copy.deepcopy(source).double()
        exact = eager(model, kind, wide_feeds)
    except Exception:  # noqa: BLE001 - some models pin float32 inside; then there is no floor
        return None
    return error(expected, exact)[0]


def tolerance_for(noise: float | None) -> float:
    return max(TOLERANCE, NOISE_FACTOR * noise) if noise is not None else TOLERANCE


def first_line(e: BaseException) -> str:
    """The message's first line and the next one (a report's first finding, a problem list's
    first problem), at most 300 characters."""
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    return " ".join(lines[:2])[:300] if lines else "(no message)"


def unsupported_ops(e: BaseException) -> list[str]:
    """Every op an error says is unsupported, as ``layer: op`` (walking ConversionError lists
    and exception chains)."""
    found: dict[str, None] = {}
    seen: set[int] = set()
    todo: list[BaseException] = [e]
    while todo:
        err = todo.pop()
        if id(err) in seen:
            continue
        seen.add(id(err))
        if isinstance(err, UnsupportedOpError):
            qual = f"{err.domain}::{err.op_type}" if err.domain and err.domain != "ai.onnx" else err.op_type
            found[f"{err.layer}: {qual}"] = None
        if isinstance(err, ConversionError):
            todo.extend(err.errors)
        todo.extend(x for x in (err.__cause__, err.__context__) if x is not None)
    return list(found)
