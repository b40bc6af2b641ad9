"""The parity report: what was compared, how close, and where a mismatch starts.

``ParityReport.to_json()`` emits a stable schema (``schema_version`` 1, documented in
docs/parity.md); ``to_html(path)`` writes one self-contained page: runtime.parity.html
renders that same plain data (it imports nothing from here, so the dependency is one-way).

Every comparison carries ``error_ratio``, the verdict's own measure: the largest
|got - ref| / (atol + rtol * |ref|) over the elements, so 1.0 is the pass line.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tensorbridge.runtime.parity.html import render

SCHEMA_VERSION = 1


@dataclass
class Tolerance:
    rtol: float
    atol_scale: float  # atol = atol_scale * max|reference| of each compared tensor
    reason: str


@dataclass
class OutputComparison:
    input_set: str
    runtime: str
    output: str
    shape: list[int]
    dtype: str
    max_abs: float
    max_rel: float
    quantiles: dict[str, float]  # of |got - expected|: p50, p90, p99
    ok: bool
    detail: str = ""
    histogram: list[int] = field(default_factory=list)  # counts of log10|err| in bins
    histogram_edges: list[float] = field(default_factory=list)
    error_ratio: float = math.nan  # max |err| / (atol + rtol*|ref|): <= 1 passes


@dataclass
class LayerComparison:
    """One source layer's output, reference vs converted graph (in execution order)."""

    module: str
    value: str
    max_abs: float
    max_rel: float
    ok: bool
    error_ratio: float = math.nan  # max |err| / (atol + rtol*|ref|): <= 1 passes
    ops: list[str] = field(default_factory=list)  # op types that computed it
    source_op: str = ""
    location: str = ""  # file:line of its first op, when known


@dataclass
class Divergence:
    module: str  # nn.Module path / Keras layer name
    ops: list[str]  # the IR ops (op types) that module's own code became
    source_op: str
    location: str  # file:line
    max_abs: float
    max_rel: float
    detail: str = ""
    error_ratio: float = math.nan


@dataclass
class ParityReport:
    source: str
    target: str
    reference: str
    ok: bool
    tolerance: Tolerance
    input_sets: list[str] = field(default_factory=list)
    comparisons: list[OutputComparison] = field(default_factory=list)
    layers: list[LayerComparison] = field(default_factory=list)
    first_divergence: Divergence | None = None
    op_histogram: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what was not checked, and why
    # generated input sets judged at their own (higher) noise floor instead of ``tolerance``
    set_tolerances: dict[str, Tolerance] = field(default_factory=dict)
    model: str = ""  # the model's own name (file stem, class name, Keras name): the page title
    schema_version: int = SCHEMA_VERSION

    # compatibility accessors
    @property
    def rtol(self) -> float:
        return self.tolerance.rtol

    def worst(self) -> OutputComparison | None:
        """The comparison that used the most of its allowance (failures first)."""
        return max(self.comparisons, key=lambda c: (not c.ok, _ratio_key(c.error_ratio)), default=None)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict()}

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2, allow_nan=True)
        if path is not None:
            _atomic_write(Path(path), text)
        return text

    def to_html(self, path: str | Path | None = None) -> str:
        page = render(self.to_dict())
        if path is not None:
            _atomic_write(Path(path), page)
        return page

    def verdict(self) -> str:
        """One sentence: PASS/FAIL, where it diverges, and how much of the allowed error the
        worst element used, with the rule the verdict applies."""
        if self.ok:
            return (f"PASS: {self.source} -> {self.target} matches {self.reference}: every output within "
                    f"atol + rtol*|ref| ({self.rule()}){self._worst_share()}")
        where = ""
        if self.first_divergence is not None:
            d = self.first_divergence
            where = f"; first divergence in {d.module or '<top level>'} ({', '.join(d.ops[:4])})"
            where += f" at {d.location}" if d.location else ""
        return f"FAIL: {self.source} -> {self.target} differs from {self.reference}{where}{self._worst_share()}"

    def tolerance_for(self, input_set: str) -> Tolerance:
        """The tolerance the comparisons of ``input_set`` were judged at."""
        return self.set_tolerances.get(input_set, self.tolerance)

    def rule(self, input_set: str = "example") -> str:
        """The pass rule with this report's numbers (for ``input_set``)."""
        t = self.tolerance_for(input_set)
        return f"rtol={t.rtol:.2g}, atol={t.atol_scale:.2g} x max|ref| of each tensor"

    def _worst_share(self) -> str:
        w = self.worst()
        if w is None or math.isnan(w.error_ratio):
            return ""
        if math.isinf(w.error_ratio):
            return f"; {w.output} ({w.runtime}, inputs {w.input_set!r}): {w.detail or 'not finite'}"
        if w.ok:
            return f"; the worst element used {share(w.error_ratio)} of its allowance"
        return (f"; the worst element is {share(w.error_ratio)} its allowance ({w.output}, inputs "
                f"{w.input_set!r}, {w.runtime}; allowance atol + rtol*|ref|, {self.rule(w.input_set)})")

    def __str__(self) -> str:
        lines = [self.verdict(), f"  tolerance: rtol {self.tolerance.rtol:g}, atol {self.tolerance.atol_scale:g} "
                 f"x max|reference| ({self.tolerance.reason})"]
        for c in self.comparisons:
            lines.append(f"  {c.input_set:10s} {c.runtime:13s} {c.output:10s} max abs {c.max_abs:.3e}  "
                         f"max rel {c.max_rel:.3e}  error/allowed {c.error_ratio:.3g}  {'ok' if c.ok else 'MISMATCH'} "
                         f"{c.detail}")
        lines += [f"  error: {e}" for e in self.errors]
        return "\n".join(lines)


def share(ratio: float) -> str:
    """An error ratio as a share of the allowance: '37%' below the line (rounded down, so a
    pass never reads 100%), '42x' above it."""
    if ratio < 1:
        pct = ratio * 100
        return f"{math.floor(pct)}%" if pct >= 10 else f"{pct:.2g}%"
    return f"{ratio:.2f}x" if ratio < 10 else f"{ratio:,.0f}x"


def _ratio_key(ratio: float) -> float:
    return -1.0 if math.isnan(ratio) else ratio


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
