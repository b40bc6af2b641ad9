"""Parity checking, framework-free: comparing arrays with dtype-aware tolerances, mapping
source layers to IR values through provenance, locating the first divergence, and the
report (terminal, JSON, HTML). The frameworks' own runs live in converters/<fw>/eager.py."""

from tensorbridge.runtime.parity.report import (
    Divergence,
    LayerComparison,
    OutputComparison,
    ParityReport,
    Tolerance,
)

__all__ = ["Divergence", "LayerComparison", "OutputComparison", "ParityReport", "Tolerance"]
