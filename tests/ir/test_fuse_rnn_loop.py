"""fuse_rnn_loops on its own: the Loops a Keras LSTM, GRU and SimpleRNN become (TF has no
RNN ops) turn into ONNX LSTM / GRU / RNN ops computing the same; with ``keep_weights`` the
weights stay the source's (named, same roles, the re-layout done by graph ops)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from tensorbridge.ir import verify
from tensorbridge.ir.passes.fold_constants import fold_constants
from tensorbridge.ir.passes.fuse_rnn_loop import fuse_rnn_loops
from tensorbridge.runtime.evaluate import evaluate_node
from tensorbridge.runtime.session import Session
from tests.ir import pass_harness as H
from tests.ir import pass_sources as S


@pytest.mark.parametrize("keep_weights", [False, True])
def test_keras_rnn_loops_become_onnx_rnn_ops(keep_weights):
    _, source, feeds = S.keras_rnn()
    g = copy.deepcopy(source)
    expected = Session(g, fuse=False).run(feeds)[0]
    fold_constants(g, evaluate_node)  # as in the pipeline: the cells read folded weights
    report = fuse_rnn_loops(g, keep_weights=keep_weights)
    verify(g)
    ops = [n.op_type for n in g.nodes()]
    assert report.changed == 3 and "Loop" not in ops
    assert ops.count("LSTM") == ops.count("GRU") == ops.count("RNN") == 1
    np.testing.assert_allclose(Session(g, fuse=False).run(feeds)[0], expected, rtol=1e-5, atol=1e-5)
    if keep_weights:
        assert H.named_weights(source) <= H.named_weights(g)


def test_a_loop_that_is_no_rnn_is_left_alone():
    _, g, _ = S.fixture("control_flow.onnx")  # h = tanh(h W), +1 on odd steps: no sequence read
    g = copy.deepcopy(g)
    assert fuse_rnn_loops(g).changed == 0
