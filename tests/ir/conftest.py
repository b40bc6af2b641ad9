"""The channels-last twins (ir/passes/channels_last.py) register ops named like standard
ones (Conv, MaxPool, BatchNormalization) in the tensorbridge.nhwc domain with onnx.defs;
onnx.reference, which onnx's backend test cases import, refuses to import once a name
exists in two domains. Import it before any test can register the twins (pytest collects
this file in every worker), so test order does not matter."""

import onnx.reference  # noqa: F401
