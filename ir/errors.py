"""Project exception classes. Every error names what failed, where, and what to do next.

They live in ``ir`` (the lowest layer) so that every layer can raise them; users see them
re-exported from ``tensorbridge``.
"""

from __future__ import annotations

from collections.abc import Sequence


class TensorbridgeError(Exception):
    """Base class of every error tensorbridge raises on purpose."""


class ModelLoadError(TensorbridgeError):
    """A model file or object could not be read."""

    def __init__(self, path: str, problem: str, hint: str = "") -> None:
        self.path = path
        self.problem = problem
        self.hint = hint
        msg = f"{path}: {problem}"
        if hint:
            msg += f". {hint}"
        super().__init__(msg)


class VerificationError(TensorbridgeError):
    """The graph breaks an IR invariant. ``problems`` lists every problem found."""

    def __init__(self, graph_name: str, problems: Sequence[str]) -> None:
        self.graph_name = graph_name
        self.problems = list(problems)
        head = f"graph {graph_name!r} failed verification ({len(self.problems)} problem"
        head += "s)" if len(self.problems) != 1 else ")"
        super().__init__(head + ":\n" + "\n".join(f"  - {p}" for p in self.problems))


class UnsupportedOpError(TensorbridgeError):
    """An op has no translation / kernel / emitter in some layer."""

    def __init__(
        self,
        layer: str,
        op_type: str,
        *,
        node: str = "",
        domain: str = "",
        source: str = "",
        close: Sequence[str] = (),
        hint: str = "",
    ) -> None:
        self.layer = layer
        self.op_type = op_type
        self.node = node
        self.domain = domain
        self.source = source
        self.close = list(close)
        qual = f"{domain}::{op_type}" if domain and domain != "ai.onnx" else op_type
        msg = f"{layer}: unsupported op {qual}"
        if node:
            msg += f" (node {node!r})"
        if source:
            msg += f" at {source}"
        if self.close:
            msg += f"; close matches: {', '.join(self.close)}"
        msg += ". " + (hint or "Please open an issue with the model, or rewrite the op in supported ops.")
        super().__init__(msg)


class ConversionError(TensorbridgeError):
    """Several problems found while converting; ``errors`` holds each one."""

    def __init__(self, what: str, errors: Sequence[TensorbridgeError]) -> None:
        self.errors = list(errors)
        lines = "\n".join(f"  - {e}" for e in self.errors)
        super().__init__(f"{what}: {len(self.errors)} problem(s):\n{lines}")


class KernelError(TensorbridgeError):
    """A runtime kernel failed on a node; names the node, its op and its input shapes."""

    def __init__(self, node: str, op_type: str, detail: str, provenance: str = "",
                 layer: str = "runtime") -> None:
        self.node = node
        self.op_type = op_type
        self.provenance = provenance
        src = f" [from {provenance}]" if provenance and not provenance.startswith("onnx") else ""
        super().__init__(f"{layer}: node {node!r} ({op_type}){src} failed: {detail}")
