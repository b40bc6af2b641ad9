"""tensorbridge's own schemas (ir/schemas.py) stay out of onnx.defs: the channels-last twins
are checked against the standard schema of the graph's own ai.onnx opset, so old-opset nodes
keep their attributes (BatchNormalization-6's is_test, MaxPool-1 without dilations), and a
TensorFlow migration leaves onnx's process-wide registry untouched (onnx.reference imports
afterwards)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tensorbridge.ir import schemas
from tensorbridge.ir.dtypes import DType
from tensorbridge.ir.errors import VerificationError
from tensorbridge.ir.graph import Graph
from tensorbridge.ir.node import Attr, AttrKind, Role
from tensorbridge.ir.passes.channels_last import DEPTHWISE, DOMAIN, OPS, to_channels_last
from tensorbridge.ir.verify import verify

ROOT = Path(__file__).resolve().parents[2]
RNG = np.random.default_rng(3)


def test_table_covers_every_twin_the_pass_makes():
    assert set(schemas.NHWC_TWINS) == {*OPS, DEPTHWISE}
    for op, base in schemas.NHWC_TWINS.items():
        for opset in (1, 6, 9, 13, schemas.latest_opset()):
            assert schemas.get_schema(op, DOMAIN, opset) is schemas.get_schema(base, "", opset)
    assert schemas.get_schema("Relu", DOMAIN, 13) is None


def _old_cnn(opset: int) -> Graph:
    g = Graph("old", opset_imports={"": opset})
    x = g.add_input("x", DType.FLOAT, (1, 3, 8, 8))

    def param(name: str, *shape: int) -> object:
        return g.add_constant(name, RNG.standard_normal(shape).astype(np.float32), role=Role.PARAMETER)

    [y] = g.add_op("Conv", [x, param("w", 4, 3, 3, 3)], {"pads": [1, 1, 1, 1]})
    [y] = g.add_op("BatchNormalization", [y, param("s", 4), param("b", 4), param("m", 4),
                                          g.add_constant("v", np.ones(4, np.float32))],
                   {"is_test": 1, "epsilon": 1e-3})
    [y] = g.add_op("MaxPool", [y], {"kernel_shape": [2, 2], "strides": [2, 2]})
    g.set_outputs([y])
    return g


def test_old_opset_twins_verify_against_their_own_version():
    g = _old_cnn(6)
    verify(g)
    assert to_channels_last(g).changed == 3
    assert g.opset_imports[DOMAIN] == 6
    verify(g)
    bn = next(n for n in g.nodes() if n.op_type == "BatchNormalization")
    assert bn.domain == DOMAIN and bn.attr("is_test") == 1


def test_twin_with_a_newer_attribute_is_rejected_naming_the_version():
    g = _old_cnn(6)
    to_channels_last(g)
    pool = next(n for n in g.nodes() if n.op_type == "MaxPool")
    pool.attrs["dilations"] = Attr.infer([1, 1], AttrKind.INTS)
    with pytest.raises(VerificationError, match="unknown attribute 'dilations' for MaxPool-1"):
        verify(g)


def test_unknown_twin_names_the_domain_ops():
    g = Graph("bad", opset_imports={"": 17, DOMAIN: 17})
    x = g.add_input("x", DType.FLOAT, (1, 2, 3, 3))
    [y] = g.add_op("Relu", [x], domain=DOMAIN)
    g.set_outputs([y])
    with pytest.raises(VerificationError, match="has no op 'Relu'"):
        verify(g)


_SCRIPT = textwrap.dedent('''
    import numpy as np
    import onnx.defs
    from onnx import TensorProto, helper, numpy_helper

    import tensorbridge as tb

    rng = np.random.default_rng(0)
    w = numpy_helper.from_array(rng.standard_normal((4, 3, 3, 3)).astype(np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
             helper.make_node("MaxPool", ["c"], ["y"], kernel_shape=[2, 2], strides=[2, 2])]
    graph = helper.make_graph(nodes, "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 4, 4])], [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    x = rng.standard_normal((1, 3, 8, 8)).astype(np.float32)
    tb.convert(model, (x,), to="tensorflow")  # validated against onnxruntime
    own = [s.name for s in onnx.defs.get_all_schemas_with_history() if s.domain == "tensorbridge.nhwc"]
    assert not own, own
    import onnx.reference  # refused to import while our twins shared names with onnx's ops

    got = onnx.reference.ReferenceEvaluator(model).run(None, {"x": x})[0]
    print("ok", got.shape)
''')


def test_tf_migration_leaves_onnx_registry_alone():
    """In a fresh process (this one may have imported onnx.reference already): migrate a
    conv model to TensorFlow, then onnx.defs holds nothing of ours and onnx.reference imports."""
    pytest.importorskip("tensorflow")
    done = subprocess.run([sys.executable, "-c", _SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=600,
                          env={"TF_CPP_MIN_LOG_LEVEL": "2", "PATH": "/usr/bin:/bin", "HOME": str(Path.home())})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "ok (1, 4, 4, 4)" in done.stdout
