"""ONNX <-> IR, both directions."""

from tensorbridge.converters.onnx.from_ir import from_ir
from tensorbridge.converters.onnx.to_ir import load_model_proto, to_ir

__all__ = ["from_ir", "load_model_proto", "to_ir"]
