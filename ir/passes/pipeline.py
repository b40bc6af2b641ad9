"""The named pass pipelines run between a front-end and a back-end. Each conversion runs
exactly one of them, once:

- ``clean``: what ``tb.load`` gives for a framework source: pattern fusion, constant
  folding, RNN-loop recognition, no-op removal, transpose sinking/cancelling, conv bias and
  pad folding, CSE, DCE. Weights keep their meaning (no folds that change what trains).
- ``deploy``: ``clean`` plus the folds an inference export wants but a trainable migration
  must not have (BatchNormalization into the Conv before it).
- ``migrate``: ``clean`` keeping every source weight, used or not, in the source's own
  layout (a migrated model carries all of the source's parameters, shaped as they were).

Constant folding evaluates nodes through the runtime's kernels; ``ir`` cannot import the
runtime, so the caller passes its ``evaluate`` function in."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tensorbridge.ir.errors import TensorbridgeError
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.passes.base import PassReport
from tensorbridge.ir.passes.cse import eliminate_common_subexpressions
from tensorbridge.ir.passes.dce import eliminate_dead_code
from tensorbridge.ir.passes.fold_constants import fold_constants
from tensorbridge.ir.passes.fuse_conv_bias import fuse_conv_bias
from tensorbridge.ir.passes.fuse_conv_bn import fuse_conv_batchnorm
from tensorbridge.ir.passes.fuse_pad import fuse_pad_into_conv
from tensorbridge.ir.passes.fuse_patterns import fuse_patterns
from tensorbridge.ir.passes.fuse_rnn_loop import fuse_rnn_loops
from tensorbridge.ir.passes.simplify import remove_no_ops
from tensorbridge.ir.passes.transpose import optimize_transposes
from tensorbridge.ir.verify import verify

PIPELINES = ("clean", "deploy", "migrate")

Evaluate = Callable[..., Any]


def run_pipeline(graph: Graph, name: str, evaluate: Evaluate) -> list[PassReport]:
    """Run the pipeline ``name`` (one of :data:`PIPELINES`) on ``graph`` in place; the
    result is verified. Returns each pass's report, in order."""
    if name not in PIPELINES:
        raise TensorbridgeError(f"unknown pass pipeline {name!r}; available: {', '.join(PIPELINES)}")
    keep_weights = name == "migrate"  # every source weight stays, in its source layout
    reports = [
        fuse_patterns(graph),
        fold_constants(graph, evaluate, relayout_weights=not keep_weights),
        fuse_rnn_loops(graph, keep_weights=keep_weights),  # reads the folded weights
        remove_no_ops(graph),  # also Reshapes that only insert 1s -> Unsqueeze, which transposes cross
        optimize_transposes(graph, keep_weight_layout=keep_weights),
        fuse_conv_bias(graph),  # after the transposes: a TF BiasAdd is per-channel only then
        fuse_pad_into_conv(graph),
    ]
    if any(r.changed for r in reports[-3:]):  # re-laid-out weights: fold their layout ops
        reports.append(fold_constants(graph, evaluate, relayout_weights=not keep_weights))
    if name == "deploy":
        reports.append(fuse_conv_batchnorm(graph))
    reports += [
        remove_no_ops(graph),
        eliminate_common_subexpressions(graph),
        eliminate_dead_code(graph, keep_weights=keep_weights),
    ]
    verify(graph)
    return reports
