"""Conformance cases the tf emitters of the quantization, random, signal and misc families
cannot pass, with the reason."""

from tensorbridge.ir.errors import UnsupportedOpError
from tests.converters.emit_xfail import Xfail

_NO_INT4 = Xfail("TensorFlow has int4/uint4 dtypes but no Cast (nor Bitcast) kernels for them",
                 UnsupportedOpError, r"TensorFlow has no (Cast kernel between .*|kernels producing )u?int4\b")
_NO_INT2 = Xfail("TensorFlow has int2/uint2 dtypes but no Cast (nor Bitcast) kernels for them",
                 UnsupportedOpError, r"TensorFlow has no (Cast kernel between .*|kernels producing )u?int2\b")
_NO_FP4 = Xfail("TensorFlow has a float4_e2m1fn dtype but no Cast (nor Bitcast) kernels for it",
                UnsupportedOpError,
                r"TensorFlow has no (Cast kernel between .*|kernels producing )float4_e2m1fn")

EXPECTED: dict[str, Xfail] = {
    "test_quantizelinear_int4": _NO_INT4,
    "test_quantizelinear_uint4": _NO_INT4,
    "test_quantizelinear_int2": _NO_INT2,
    "test_quantizelinear_uint2": _NO_INT2,
    "test_quantizelinear_float4e2m1": _NO_FP4,
    "test_dequantizelinear_int4": _NO_INT4,
    "test_dequantizelinear_uint4": _NO_INT4,
    "test_dequantizelinear_int2": _NO_INT2,
    "test_dequantizelinear_uint2": _NO_INT2,
    "test_dequantizelinear_float4e2m1": _NO_FP4,
}
