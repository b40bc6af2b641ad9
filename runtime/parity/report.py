"""The parity report: what was compared, how close, and where a mismatch starts.

``ParityReport.to_json()`` emits a stable schema (``schema_version`` 1, documented in
docs/parity.md); ``to_html(path)`` writes one self-contained page (runtime.parity.html).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

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


@dataclass
class LayerComparison:
    """One source layer's output, reference vs converted graph (in execution order)."""

    module: str
    value: str
    max_abs: float
    max_rel: float
    ok: bool


@dataclass
class Divergence:
    module: str  # nn.Module path / Keras layer name
    ops: list[str]  # the IR ops (op types) that module's own code became
    source_op: str
    location: str  # file:line
    max_abs: float
    max_rel: float
    detail: str = ""


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
    schema_version: int = SCHEMA_VERSION

    # compatibility accessors
    @property
    def rtol(self) -> float:
        return self.tolerance.rtol

    def worst(self) -> OutputComparison | None:
        return max(self.comparisons, key=lambda c: (not c.ok, c.max_rel), default=None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self, path: str | Path | None = None) -> str:
        text = json.dumps(self.to_dict(), indent=2, allow_nan=True)
        if path is not None:
            _atomic_write(Path(path), text)
        return text

    def to_html(self, path: str | Path | None = None) -> str:
        from tensorbridge.runtime.parity.html import render

        page = render(self)
        if path is not None:
            _atomic_write(Path(path), page)
        return page

    def verdict(self) -> str:
        if self.ok:
            w = self.worst()
            worst = f"; worst max rel error {w.max_rel:.2e}" if w else ""
            return f"PASS: {self.source} -> {self.target} matches {self.reference}{worst}"
        where = ""
        if self.first_divergence is not None:
            d = self.first_divergence
            where = f"; first divergence in {d.module or '<top level>'} ({', '.join(d.ops[:4])})"
            where += f" at {d.location}" if d.location else ""
        return f"FAIL: {self.source} -> {self.target} differs from {self.reference}{where}"

    def __str__(self) -> str:
        lines = [self.verdict(), f"  tolerance: rtol {self.tolerance.rtol:g}, atol {self.tolerance.atol_scale:g} "
                 f"x max|reference| ({self.tolerance.reason})"]
        for c in self.comparisons:
            lines.append(f"  {c.input_set:10s} {c.runtime:13s} {c.output:10s} max abs {c.max_abs:.3e}  "
                         f"max rel {c.max_rel:.3e}  {'ok' if c.ok else 'MISMATCH'} {c.detail}")
        lines += [f"  error: {e}" for e in self.errors]
        return "\n".join(lines)


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
