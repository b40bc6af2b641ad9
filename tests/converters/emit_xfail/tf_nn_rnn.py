"""Conformance cases the tf emitters of this family cannot pass, with the reason."""

# The stored data put the fractional output length (in * scale, e.g. 2.4) into the
# align_corners formula; the spec text, onnxruntime, PyTorch and our runtime use the integer
# output length, and so does the emitter.
_FRACTIONAL = "data uses the fractional output length in align_corners (spec/runtime/ORT use floor)"

EXPECTED: dict[str, str] = {
    "test_resize_downsample_scales_linear_align_corners": _FRACTIONAL,
    "test_resize_downsample_scales_cubic_align_corners": _FRACTIONAL,
}
