"""What a sweep measures about one result, independently of tensorbridge's own validation:
the source framework's eager output, the error of a result against it, the source's own
float32 noise floor, and the unsupported ops named by an error."""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Verdict:
    """A result against eager on every input set, each set with its own tolerance."""

    err: float  # the error on the input set that is furthest outside (or closest to) its tolerance
    tolerance: float  # that input set's tolerance
    input_set: int
    why: str  # why the error is inf, when it is

    @property
    def ok(self) -> bool:
        return self.err <= self.tolerance


def judged(run: Callable[[list[np.ndarray]], Sequence[Any]], feed_sets: list[list[np.ndarray]],
           expected: list[list[np.ndarray]], tolerances: Sequence[float]) -> Verdict:
    """``run`` on every input set, each error held to that set's tolerance (the source's
    noise is measured on the same input as the error); the worst set by error / tolerance."""
    found = []
    for i, (feeds, want, tol) in enumerate(zip(feed_sets, expected, tolerances)):
        err, why = error(run(list(feeds)), want)
        found.append(Verdict(err, tol, i, why))
    return max(found, key=lambda v: (v.err / v.tolerance, v.err))


def _wide_twin(source: Any, kind: str, wide: Callable[[], Any] | None) -> Any:
    """The same model with the same weights in float64 (None when there is no way to make it)."""
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
        return model
    return copy.deepcopy(source).double()


def ulp_nudged(feeds: Sequence[np.ndarray], seed: int = 11) -> list[np.ndarray]:
    """``feeds`` with each float element moved by about one float32 ulp (relative 2**-23,
    random sign and size): an input no float32 computation can tell from the original."""
    rng = np.random.default_rng(seed)
    return [(f * (1 + 2.0**-23 * rng.standard_normal(f.shape))).astype(f.dtype) if f.dtype.kind == "f" else f
            for f in feeds]


def noise_floors(source: Any, kind: str, feed_sets: Sequence[Sequence[np.ndarray]],
                 expected: Sequence[list[np.ndarray]], wide: Callable[[], Any] | None) -> list[float | None]:
    """On each input set, what no float32 converter can be asked to beat: the larger of the
    float32 source's error against the same model in float64, and how far the float32
    source's own output moves when its input moves by one ulp (a random network can amplify
    rounding so much that float32-vs-float64 on one input is a lucky underestimate). None when
    neither can be measured."""
    try:
        model = _wide_twin(source, kind, wide)
    except Exception:  # noqa: BLE001 - some models pin float32 inside; then there is no twin
        model = None
    floors: list[float | None] = []
    for feeds, want in zip(feed_sets, expected):
        found = []
        try:
            found.append(error(want, eager(source, kind, ulp_nudged(feeds)))[0])
        except Exception:  # noqa: BLE001 - the nudge is a measurement, not a requirement
            pass
        if model is not None:
            wide_feeds = [f.astype(np.float64) if f.dtype.kind == "f" else f for f in feeds]
            try:
                found.append(error(want, eager(model, kind, wide_feeds))[0])
            except Exception:  # noqa: BLE001 - as above
                pass
        floors.append(max(found) if found else None)
    return floors


def noise_floor(source: Any, kind: str, feeds: Sequence[np.ndarray], expected: list[np.ndarray],
                wide: Callable[[], Any] | None) -> float | None:
    """:func:`noise_floors` on one input set."""
    return noise_floors(source, kind, [feeds], [expected], wide)[0]


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
