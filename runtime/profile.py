"""Time per plan step and per op type, recorded by ``Session(graph, profile=True)``.

What onnxruntime's profiler reports, for the numpy runtime: every run of a profiled
session adds each step's wall time to its step's total, so ``session.profile()`` after N
runs holds N runs' worth. A fused step is reported under its fused kernel's name (e.g.
``Fused:conv_bn_relu``), as onnxruntime reports its fused nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StepTime:
    index: int  # position in the plan
    node: str  # the (last) node the step runs
    op_type: str  # the node's op type, or "Fused:<kernel>" for a fused chain
    seconds: float  # total over the profiled runs
    calls: int


@dataclass(frozen=True)
class OpTypeTime:
    op_type: str
    seconds: float
    steps: int  # plan steps of this type
    share: float  # of the total step time


@dataclass
class Profile:
    """Accumulated step times of a session's runs."""

    labels: list[tuple[str, str]]  # (node name, op type) per step
    seconds: list[float] = field(default_factory=list)
    runs: int = 0

    def __post_init__(self) -> None:
        if not self.seconds:
            self.seconds = [0.0] * len(self.labels)

    @property
    def total(self) -> float:
        return sum(self.seconds)

    def by_step(self, top: int | None = None) -> list[StepTime]:
        """Steps, slowest first (``top`` of them)."""
        rows = [StepTime(i, n, op, s, self.runs) for i, ((n, op), s) in enumerate(zip(self.labels, self.seconds))]
        rows.sort(key=lambda r: -r.seconds)
        return rows[:top] if top is not None else rows

    def by_op_type(self) -> list[OpTypeTime]:
        """Op types, slowest first, with their share of the total."""
        acc: dict[str, list[float]] = {}
        for (_, op), s in zip(self.labels, self.seconds):
            slot = acc.setdefault(op, [0.0, 0])
            slot[0] += s
            slot[1] += 1
        total = self.total or 1.0
        rows = [OpTypeTime(op, s, int(n), s / total) for op, (s, n) in acc.items()]
        rows.sort(key=lambda r: -r.seconds)
        return rows

    def reset(self) -> None:
        self.seconds = [0.0] * len(self.labels)
        self.runs = 0


__all__ = ["OpTypeTime", "Profile", "StepTime"]
