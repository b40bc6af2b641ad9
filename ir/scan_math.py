"""The ONNX Scan rules written once: which inputs are states and which are scanned, the
defaults and normalisation of ``scan_input_axes`` / ``scan_input_directions`` /
``scan_output_axes`` / ``scan_output_directions``, the number of steps (every scanned
input's length on its scan axis, where known, must agree), which element step ``t`` reads
(a reverse input reads ``steps - 1 - t``), the order of a reverse scan output, the shape of
a scan output after zero steps, and Scan-8's batch form (batch axis 0, time axis 1, one
Scan per batch entry, ``sequence_lens`` cutting each entry's scan and zero-padding its scan
outputs, as onnxruntime does).

The runtime kernel and the PyTorch emitter run :func:`run_scan` / :func:`run_scan_8` with
their own array operations (an object following :class:`ScanOps`); the TensorFlow
emitter keeps its ``tf.while_loop`` and takes the plan's axes, directions and steps.
Shapes are sequences whose dims are Python ints, or anything else (a symbol, a framework
scalar) when only known at run time. Bad attributes or inputs raise ``ValueError`` naming
Scan, the attribute and the values; each layer reports it as its error for the node.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from tensorbridge.ir.axis_math import norm_axis
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.types import TensorType

Runner = Callable[[Graph, list[Any]], Sequence[Any]]  # (body, body inputs) -> body outputs


class ScanOps(Protocol):
    """The array operations the step loop calls (numpy, torch spellings)."""

    def take(self, x: Any, index: int, axis: int) -> Any:
        """Entry ``index`` of ``x`` along ``axis``, that axis removed."""
    def stack(self, items: list[Any], axis: int) -> Any:
        """The body's per-step outputs ``items`` stacked along a new ``axis``."""
    def rank(self, y: Any) -> int:
        """The rank of one body output."""
    def zeros(self, shape: list[int], dtype: DType | None) -> Any:
        """A zero tensor (float32 when ``dtype`` is None)."""
    def pad_steps(self, y: Any, length: int) -> Any:
        """``y`` zero-padded at the end of axis 0 to ``length`` entries."""


@dataclass(frozen=True)
class ScanPlan:
    """One Scan: ``n_state`` states, the scanned inputs' normalised axes and directions,
    the scan outputs' axes (as given: :meth:`out_axis` normalises them against the output's
    rank) and directions, and the number of steps (None when not known statically)."""

    n_state: int
    in_axes: tuple[int, ...]
    in_dirs: tuple[int, ...]
    out_axes: tuple[int, ...]
    out_dirs: tuple[int, ...]
    steps: int | None

    @property
    def n_scan(self) -> int:
        return len(self.in_axes)

    @property
    def n_out(self) -> int:
        return len(self.out_axes)

    def index(self, j: int, t: Any, steps: Any = None) -> Any:
        """The element of scanned input ``j`` that step ``t`` reads (``steps`` overrides the
        plan's, e.g. with a run-time count)."""
        if not self.in_dirs[j]:
            return t
        n = self.steps if steps is None else steps
        if n is None:
            raise ValueError("Scan: a reverse scanned input needs the number of steps")
        return n - 1 - t

    def out_axis(self, k: int, element_rank: int) -> int:
        """Scan output ``k``'s axis in [0, element_rank]: the output has one more dim than
        a body output, and a negative axis counts from its back."""
        return _axis(self.out_axes[k], element_rank + 1, "scan_output_axes", k)


def _axis(axis: int, rank: int, attr: str, k: int) -> int:
    return norm_axis(axis, rank, "Scan", f"{attr}[{k}]")


def _entries(values: Sequence[int] | None, n: int, attr: str) -> tuple[int, ...]:
    """An attribute with one entry per tensor, defaulting to zeros."""
    if values is None:
        return (0,) * n
    got = tuple(int(v) for v in values)
    if len(got) != n:
        raise ValueError(f"Scan: {attr} has {len(got)} entries {list(got)} for {n} tensors; "
                         "give one per tensor")
    return got


def _directions(values: Sequence[int] | None, n: int, attr: str) -> tuple[int, ...]:
    got = _entries(values, n, attr)
    bad = [d for d in got if d not in (0, 1)]
    if bad:
        raise ValueError(f"Scan: {attr} is {list(got)}; each entry must be 0 (forward) or 1 "
                         "(reverse)")
    return got


def split_counts(n_inputs: int, n_body_outputs: int, num_scan_inputs: int) -> tuple[int, int]:
    """(number of states, number of scan outputs): the inputs are the states then
    ``num_scan_inputs`` scanned tensors, the body returns the states then the scan outputs."""
    if not 1 <= num_scan_inputs <= n_inputs:
        raise ValueError(f"Scan: num_scan_inputs is {num_scan_inputs} but the node has {n_inputs} "
                         f"state and scanned inputs; set it to the number of scanned inputs "
                         f"(1..{n_inputs})")
    n_state = n_inputs - num_scan_inputs
    if n_body_outputs < n_state:
        raise ValueError(f"Scan: the body returns {n_body_outputs} outputs but the node has "
                         f"{n_state} states; the body returns the states, then the scan outputs")
    return n_state, n_body_outputs - n_state


def _rank(shape: Sequence[Any] | None, j: int) -> int:
    if shape is None:
        raise ValueError(f"Scan: scanned input {j} has an unknown rank; give it a shape")
    if len(shape) == 0:
        raise ValueError(f"Scan: scanned input {j} is a scalar; a scanned input needs an axis "
                         "to scan")
    return len(shape)


def common_length(lengths: Sequence[Any], what: str) -> int | None:
    """The one length every known (int) entry of ``lengths`` has; None if none is known."""
    known = [n for n in lengths if isinstance(n, int)]
    if any(n != known[0] for n in known):
        raise ValueError(f"Scan: the scanned inputs have different lengths {list(lengths)} on "
                         f"{what}; every scanned input must have the same number of steps")
    return known[0] if known else None


def scan_plan(body: Graph, shapes: Sequence[Sequence[Any] | None], *, num_scan_inputs: int,
              scan_input_axes: Sequence[int] | None = None,
              scan_input_directions: Sequence[int] | None = None,
              scan_output_axes: Sequence[int] | None = None,
              scan_output_directions: Sequence[int] | None = None) -> ScanPlan:
    """The plan of a Scan (opset 9+) from its attributes and its inputs' ``shapes`` (one
    per input, states first; a state's entry is not read)."""
    n_state, n_out = split_counts(len(shapes), len(body.outputs), num_scan_inputs)
    scanned = shapes[n_state:]
    raw_axes = _entries(scan_input_axes, num_scan_inputs, "scan_input_axes")
    in_axes = tuple(_axis(a, _rank(s, j), "scan_input_axes", j)
                    for j, (a, s) in enumerate(zip(raw_axes, scanned, strict=True)))
    lengths = [s[a] for s, a in zip(scanned, in_axes, strict=True) if s is not None]
    plan = ScanPlan(n_state, in_axes,
                    _directions(scan_input_directions, num_scan_inputs, "scan_input_directions"),
                    _entries(scan_output_axes, n_out, "scan_output_axes"),
                    _directions(scan_output_directions, n_out, "scan_output_directions"),
                    common_length(lengths, f"their scan axes {list(in_axes)}"))
    for k in range(n_out):  # check the output axes whose rank the body's types tell
        rank = _type_rank(body, n_state + k)
        if rank is not None:
            plan.out_axis(k, rank)
    return plan


def _type_rank(body: Graph, i: int) -> int | None:
    t = body.outputs[i].type
    return t.rank if isinstance(t, TensorType) else None


def empty_output(plan: ScanPlan, body: Graph, k: int) -> tuple[list[int], DType | None]:
    """(shape, dtype) of scan output ``k`` after zero steps: the body output's declared shape
    (unknown dims taken as 0) with a 0-length dim at the output axis."""
    t = body.outputs[plan.n_state + k].type
    if not isinstance(t, TensorType) or t.shape is None:
        return [0], t.dtype if isinstance(t, TensorType) else None
    dims = [d if isinstance(d, int) else 0 for d in t.shape]
    dims.insert(plan.out_axis(k, len(dims)), 0)
    return dims, t.dtype


def scan_output(plan: ScanPlan, body: Graph, k: int, items: list[Any], xp: ScanOps) -> Any:
    """Scan output ``k`` from the body's per-step values ``items`` (in step order)."""
    if not items:
        return xp.zeros(*empty_output(plan, body, k))
    if plan.out_dirs[k]:  # a reverse output's first entry is the last step's
        items = items[::-1]
    return xp.stack(items, plan.out_axis(k, xp.rank(items[0])))


def run_scan(plan: ScanPlan, body: Graph, inputs: Sequence[Any], run: Runner, xp: ScanOps,
             steps: int | None = None) -> list[Any]:
    """The final states then the scan outputs: the body runs once per step on the states and
    one element of each scanned input. ``steps`` overrides the plan's (which must be known)."""
    n = plan.steps if steps is None else steps
    if n is None:
        raise ValueError("Scan: the number of steps is not known; give the scanned inputs a "
                         "static length on their scan axes")
    state = list(inputs[:plan.n_state])
    xs = inputs[plan.n_state:]
    per_step: list[list[Any]] = [[] for _ in range(plan.n_out)]
    for t in range(n):
        args = [xp.take(x, plan.index(j, t, n), a)
                for j, (x, a) in enumerate(zip(xs, plan.in_axes, strict=True))]
        res = run(body, [*state, *args])
        state = list(res[:plan.n_state])
        for acc, y in zip(per_step, res[plan.n_state:], strict=True):
            acc.append(y)
    return [*state, *(scan_output(plan, body, k, acc, xp) for k, acc in enumerate(per_step))]


# ------------------------------------------------------------------------ Scan-8


@dataclass(frozen=True)
class Scan8Plan:
    """A Scan-8: inputs [batch, ...] states and [batch, time, ...] scanned tensors; each
    batch entry is one Scan over axis 0 of its slices. ``lens`` are the validated
    ``sequence_lens`` (None: every entry scans ``max_len`` steps)."""

    n_state: int
    n_out: int
    dirs: tuple[int, ...]
    batch: int | None
    max_len: int | None
    lens: tuple[int, ...] | None

    def entry(self, steps: Any = None) -> ScanPlan:
        """The Scan of one batch entry (time is axis 0 of its slices); ``steps`` None means
        ``max_len``."""
        return ScanPlan(self.n_state, (0,) * len(self.dirs), self.dirs, (0,) * self.n_out,
                        (0,) * self.n_out, self.max_len if steps is None else steps)

    def steps_of(self, b: int) -> int | None:
        return self.max_len if self.lens is None else self.lens[b]


def scan8_plan(body: Graph, shapes: Sequence[Sequence[Any] | None], sequence_lens: Any, *,
               num_scan_inputs: int, directions: Sequence[int] | None = None) -> Scan8Plan:
    """The plan of a Scan-8 from its inputs' ``shapes`` (states and scanned tensors, after
    ``sequence_lens``) and ``sequence_lens`` as host ints (None when absent or not known
    before run time)."""
    n_state, n_out = split_counts(len(shapes), len(body.outputs), num_scan_inputs)
    for j, s in enumerate(shapes[n_state:]):
        if s is not None and len(s) < 2:
            raise ValueError(f"Scan: scanned input {j} has rank {len(s)}; Scan-8 scans axis 1 "
                             "of [batch, time, ...] inputs")
    batch = _batch(shapes)
    max_len = common_length([s[1] for s in shapes[n_state:] if s is not None], "axis 1 (time)")
    lens = None if sequence_lens is None else _lens(sequence_lens, batch, max_len)
    return Scan8Plan(n_state, n_out, _directions(directions, num_scan_inputs, "directions"),
                     batch, max_len, lens)


def _batch(shapes: Sequence[Sequence[Any] | None]) -> int | None:
    dims = [s[0] for s in shapes if s]
    known = [d for d in dims if isinstance(d, int)]
    if any(d != known[0] for d in known):
        raise ValueError(f"Scan: the inputs have different batch sizes {dims} on axis 0; "
                         "Scan-8 inputs share their batch axis")
    return known[0] if known else None


def _lens(sequence_lens: Sequence[Any], batch: int | None, max_len: int | None) -> tuple[int, ...]:
    lens = tuple(int(n) for n in sequence_lens)
    if batch is not None and len(lens) != batch:
        raise ValueError(f"Scan: sequence_lens has {len(lens)} entries {list(lens)} for a batch "
                         f"of {batch}; give one length per batch entry")
    top = max_len if max_len is not None else max(lens, default=1)
    bad = [n for n in lens if not 1 <= n <= top]
    if bad:
        raise ValueError(f"Scan: sequence_lens is {list(lens)}; each entry must be in 1..{top} "
                         "(the scanned inputs' time axis)")
    return lens


def run_scan_8(plan: Scan8Plan, body: Graph, inputs: Sequence[Any], run: Runner,
               xp: ScanOps) -> list[Any]:
    """The final states [batch, ...] then the scan outputs [batch, time, ...]: one Scan per
    batch entry over its first ``sequence_lens[b]`` steps, scan outputs zero-padded to the
    time axis's length."""
    if plan.batch is None or plan.max_len is None:
        raise ValueError("Scan: Scan-8 needs a static batch size and time length")
    if plan.batch == 0:
        return [*inputs[:plan.n_state], *(_empty_batch(plan, body, k, xp) for k in range(plan.n_out))]
    per_entry = []
    for b in range(plan.batch):
        one = [xp.take(x, b, 0) for x in inputs]
        steps = plan.steps_of(b)
        res = run_scan(plan.entry(steps), body, one, run, xp)
        if steps != plan.max_len:
            res[plan.n_state:] = [xp.pad_steps(y, plan.max_len) for y in res[plan.n_state:]]
        per_entry.append(res)
    return [xp.stack([r[k] for r in per_entry], 0) for k in range(plan.n_state + plan.n_out)]


def _empty_batch(plan: Scan8Plan, body: Graph, k: int, xp: ScanOps) -> Any:
    """Scan output ``k`` of a batch of 0: [0, time, *element shape]."""
    shape, dtype = empty_output(plan.entry(0), body, k)
    return xp.zeros([0, plan.max_len or 0, *shape[1:]], dtype)
