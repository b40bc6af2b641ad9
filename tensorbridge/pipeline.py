"""The IR cleanups run between a front-end and a back-end: pattern fusion, constant folding
(with the runtime's kernels), transpose sinking/cancelling, conv bias folding, no-op removal,
common-subexpression and dead-code elimination. The result is verified; the reports say
what changed."""

from __future__ import annotations

from ir.graph import Graph
from ir.passes import PassReport, eliminate_common_subexpressions, eliminate_dead_code
from ir.passes.fold_constants import fold_constants
from ir.passes.fuse_conv_bias import fuse_conv_bias
from ir.passes.fuse_conv_bn import fuse_conv_batchnorm
from ir.passes.fuse_pad import fuse_pad_into_conv
from ir.passes.fuse_patterns import fuse_patterns
from ir.passes.fuse_rnn_loop import fuse_rnn_loops
from ir.passes.simplify import remove_no_ops
from ir.passes.transpose import optimize_transposes
from ir.verify import verify


def optimize(graph: Graph, *, deployment: bool = False, keep_weights: bool = False) -> list[PassReport]:
    """Neutral cleanups; with ``deployment`` also folds that change weights (BatchNorm into
    Conv), which an ONNX export for inference wants but a trainable migration must not.
    ``keep_weights``: unused parameters and buffers stay (a migration keeps them all)."""
    from runtime.evaluate import evaluate_node

    reports = [
        fuse_patterns(graph),
        fold_constants(graph, evaluate_node),
        fuse_rnn_loops(graph, keep_weights=keep_weights),  # reads the folded weights
        remove_no_ops(graph),  # also Reshapes that only insert 1s -> Unsqueeze, which transposes cross
        optimize_transposes(graph),
        fuse_conv_bias(graph),  # after the transposes: a TF BiasAdd is per-channel only then
        fuse_pad_into_conv(graph),
    ]
    if any(r.changed for r in reports[-3:]):  # re-laid-out weights: fold their layout ops
        reports.append(fold_constants(graph, evaluate_node))
    if deployment:
        reports.append(fuse_conv_batchnorm(graph))
    reports += [
        remove_no_ops(graph),
        eliminate_common_subexpressions(graph),
        eliminate_dead_code(graph, keep_weights=keep_weights),
    ]
    verify(graph)
    return reports
