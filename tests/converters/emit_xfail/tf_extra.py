"""Conformance cases the tf emitters of the quantization, random, signal and misc families
cannot pass, with the reason."""

_RANDOM = ("random output: values cannot match numpy's generator; shape/dtype/statistics "
           "checked in tests/converters/test_tf_emit_random.py")
_NO_INT4 = "TensorFlow has int4/uint4 dtypes but no Cast (nor Bitcast) kernels for them"
_NO_INT2 = "TensorFlow has int2/uint2 dtypes but no Cast (nor Bitcast) kernels for them"
_NO_FP4 = "TensorFlow has a float4_e2m1fn dtype but no Cast (nor Bitcast) kernels for it"

EXPECTED: dict[str, str] = {
    "test_bernoulli": _RANDOM,
    "test_bernoulli_double": _RANDOM,
    "test_bernoulli_seed": _RANDOM,
    "test_bernoulli_expanded": _RANDOM,
    "test_bernoulli_double_expanded": _RANDOM,
    "test_bernoulli_seed_expanded": _RANDOM,
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
