"""Conformance cases the tf emitters of this family cannot pass, with the reason."""

from tests.converters.emit_xfail import VALUES_DIFFER, Xfail

# The stored data put the fractional output length (in * scale, e.g. 2.4) into the
# align_corners formula; the spec text, onnxruntime, PyTorch and our runtime use the integer
# output length, and so does the emitter.
_FRACTIONAL = Xfail("data uses the fractional output length in align_corners (spec/runtime/ORT use "
                    "floor)", AssertionError, VALUES_DIFFER)

EXPECTED: dict[str, Xfail] = {
    "test_resize_downsample_scales_linear_align_corners": _FRACTIONAL,
    "test_resize_downsample_scales_cubic_align_corners": _FRACTIONAL,
}
