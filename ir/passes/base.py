"""What every pass returns: the graph (edited in place) and a report of what changed."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class PassReport:
    name: str
    changed: int = 0
    details: list[str] = field(default_factory=list)

    def note(self, detail: str) -> None:
        self.changed += 1
        self.details.append(detail)

    def __str__(self) -> str:
        return f"{self.name}: {self.changed} change(s)"
