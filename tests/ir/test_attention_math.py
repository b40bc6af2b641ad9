"""The shared Attention maths (ir/attention_math.py), run with the runtime's numpy array
operations, against onnx.reference's Attention on small cases: boolean and additive masks,
masks shorter than the keys, is_causal after a past cache, fully masked rows, softcap, the
default scale, grouped-query heads, 3-D inputs, key padding and every
qk_matmul_output_mode; then the torch and TF spellings against the numpy one."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import helper
from onnx.reference import ReferenceEvaluator

from tensorbridge.ir.attention_math import (
    attention_bias,
    attention_body,
    default_scale,
    key_bias,
    kv_group_size,
    needs_split,
    precision,
    query_offset,
    rotate,
    safe_softmax,
    work_types,
)
from tensorbridge.runtime.kernels.attention import OPS

RNG = np.random.default_rng(0)
INPUTS = ("Q", "K", "V", "attn_mask", "past_key", "past_value", "nonpad_kv_seqlen")


def _reference(inputs: dict[str, np.ndarray], opset: int = 24, **attrs: object) -> list:
    """onnx.reference's Attention: Y, present_key, present_value, qk_matmul_output."""
    names = [n if n in inputs else "" for n in INPUTS]
    while names and not names[-1]:
        names.pop()
    node = helper.make_node("Attention", names, ["Y", "present_key", "present_value", "qk"],
                            **attrs)
    graph = helper.make_graph(
        [node], "attention",
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
         for n, v in inputs.items()],
        [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None)
         for n in ("Y", "present_key", "present_value", "qk")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    return ReferenceEvaluator(model).run(None, inputs)


def _split(x: np.ndarray, heads: int | None, name: str) -> np.ndarray:
    if not needs_split(x.ndim, heads, x.shape[-1], name):
        return x
    b, s, hidden = x.shape
    assert heads is not None
    return x.reshape(b, s, heads, hidden // heads).transpose(0, 2, 1, 3)


def _shared(inputs: dict[str, np.ndarray], *, is_causal: int = 0, q_num_heads: int | None = None,
            kv_num_heads: int | None = None, scale: float | None = None, softcap: float = 0.0,
            qk_matmul_output_mode: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Y and qk_matmul_output from the shared functions alone (float32 inputs)."""
    q = _split(inputs["Q"], q_num_heads, "Q")
    k, v = _split(inputs["K"], kv_num_heads, "K"), _split(inputs["V"], kv_num_heads, "V")
    past = inputs.get("past_key")
    if past is not None:
        k = np.concatenate((past, k), axis=2)
        v = np.concatenate((inputs["past_value"], v), axis=2)
    dt, soft = work_types(False, False, None, q.dtype, lambda t: t.np_dtype)
    mask, nonpad = inputs.get("attn_mask"), inputs.get("nonpad_kv_seqlen")
    bias = key_bias(mask, None if mask is None else mask.shape[-1],
                    mask is not None and mask.dtype == np.bool_, q.shape[2], k.shape[2],
                    None if past is None else past.shape[2], nonpad, is_causal, -1, -1, dt, OPS)
    heads = (q.shape[1], k.shape[1])
    kv_group_size(*heads)
    y, stages = attention_body(q, k, v, bias, default_scale(q.shape[-1], scale), softcap, heads,
                               dt, soft, False, OPS)
    if inputs["Q"].ndim == 3:
        b, h, s, d = y.shape
        y = y.transpose(0, 2, 1, 3).reshape(b, s, h * d)
    return y, stages[qk_matmul_output_mode]


def _qkv(b: int = 2, hq: int = 2, hkv: int = 2, lq: int = 3, lk: int = 5,
         d: int = 4) -> dict[str, np.ndarray]:
    def r(*shape: int) -> np.ndarray:
        return RNG.standard_normal(shape).astype(np.float32)
    return {"Q": r(b, hq, lq, d), "K": r(b, hkv, lk, d), "V": r(b, hkv, lk, d)}


def _bool_mask(shape: tuple[int, ...], full_row: int | None = None) -> np.ndarray:
    m = RNG.random(shape) > 0.4
    m[..., 0] = True
    if full_row is not None:
        m[..., full_row, :] = False  # every key masked in this query row
    return m


def _cases() -> list[tuple[str, dict[str, np.ndarray], dict[str, object]]]:
    rows = [("plain", _qkv(), {}), ("scale_softcap", _qkv(), {"scale": 0.3, "softcap": 2.0}),
            ("causal", _qkv(lq=5), {"is_causal": 1}), ("gqa", _qkv(hq=4, hkv=2), {}),
            ("gqa_causal", _qkv(hq=6, hkv=3, lq=4, lk=4), {"is_causal": 1})]
    x = _qkv()
    rows.append(("bool_mask", {**x, "attn_mask": _bool_mask((3, 5))}, {}))
    x = _qkv()
    rows.append(("bool_mask_4d", {**x, "attn_mask": _bool_mask((2, 1, 3, 5))}, {}))
    x = _qkv()
    rows.append(("float_mask", {**x, "attn_mask": RNG.standard_normal((2, 2, 3, 5))
                                .astype(np.float32)}, {}))
    x = _qkv()
    rows.append(("short_float_mask", {**x, "attn_mask": RNG.standard_normal((3, 3))
                                      .astype(np.float32)}, {}))
    x = _qkv()
    rows.append(("short_bool_mask", {**x, "attn_mask": _bool_mask((3, 4))}, {}))
    x = _qkv(lq=2, lk=2)
    past = _qkv(lk=3)
    rows.append(("causal_after_past", {**x, "past_key": past["K"], "past_value": past["V"]},
                 {"is_causal": 1}))
    x = _qkv(lq=2, lk=2)
    rows.append(("mask_shorter_than_past_plus_new",
                 {**x, "attn_mask": _bool_mask((2, 4)), "past_key": past["K"],
                  "past_value": past["V"]}, {}))
    x = _qkv(lq=1, lk=6)
    rows.append(("nonpad_kv_seqlen", {**x, "nonpad_kv_seqlen": np.array([4, 6], np.int64)},
                 {}))
    q = RNG.standard_normal((2, 3, 8)).astype(np.float32)
    kv = RNG.standard_normal((2, 5, 4)).astype(np.float32)
    rows.append(("three_d_gqa", {"Q": q, "K": kv, "V": kv.copy()},
                 {"q_num_heads": 4, "kv_num_heads": 2}))
    return rows


@pytest.mark.parametrize("qk_mode", [0, 1, 2, 3])
@pytest.mark.parametrize(("name", "inputs", "attrs"), _cases(), ids=[c[0] for c in _cases()])
def test_shared_attention_matches_the_reference(name, inputs, attrs, qk_mode):
    y, qk = _shared(inputs, **attrs, qk_matmul_output_mode=qk_mode)
    ref = _reference(inputs, **attrs, qk_matmul_output_mode=qk_mode)
    np.testing.assert_allclose(y, ref[0], rtol=1e-5, atol=1e-6)
    want = ref[3]
    if qk_mode == 0 and attrs.get("softcap"):
        # the spec: mode 0 is the qk matmul's output (mode 1 adds the softcap); onnx.reference
        # returns the softcapped scores for both, so compute mode 0 independently
        want = attrs["scale"] * np.einsum("bhld,bhsd->bhls", inputs["Q"], inputs["K"])
    np.testing.assert_allclose(qk, want, rtol=1e-5, atol=1e-6)


def test_a_fully_masked_row_gives_zeros_not_nan():
    x = _qkv()
    mask = _bool_mask((3, 5), full_row=1)
    y, _ = _shared({**x, "attn_mask": mask})
    np.testing.assert_array_equal(y[:, :, 1], 0.0)
    assert np.isfinite(y).all()
    # the other rows are the reference's
    ref = _reference({**x, "attn_mask": mask})[0]
    np.testing.assert_allclose(y[:, :, [0, 2]], ref[:, :, [0, 2]], rtol=1e-5, atol=1e-6)


def test_safe_softmax_is_softmax_on_finite_rows():
    x = RNG.standard_normal((3, 7))
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    np.testing.assert_allclose(safe_softmax(x, OPS), e / e.sum(axis=-1, keepdims=True))


def test_precision_rules():
    from tensorbridge.ir.dtypes import DType
    assert precision(True, False, None) == (None, None)  # half: T throughout
    assert precision(True, False, int(DType.FLOAT)) == (None, DType.FLOAT)
    assert precision(False, False, None) == (DType.FLOAT, DType.FLOAT)
    assert precision(False, True, None) == (DType.DOUBLE, DType.DOUBLE)
    assert precision(False, False, int(DType.DOUBLE)) == (DType.DOUBLE, DType.DOUBLE)


def test_work_types_are_the_precision_rules_in_the_framework_s_types():
    from tensorbridge.ir.dtypes import DType
    f16 = np.dtype(np.float16)
    assert work_types(True, False, None, f16, lambda t: t.np_dtype) == (f16, f16)
    assert work_types(True, False, int(DType.FLOAT), f16, lambda t: t.np_dtype) == (
        f16, np.dtype(np.float32))
    assert work_types(False, True, None, f16, lambda t: t.np_dtype) == (
        np.dtype(np.float64), np.dtype(np.float64))


def test_default_scale_is_the_attribute_when_given():
    assert default_scale(16) == pytest.approx(0.25)
    assert default_scale(16, 0.5) == 0.5


def test_key_bias_places_the_queries_after_the_past():
    """Causal rows after a 3-key cache, written out as loops: query i sees keys j <= 3 + i."""
    bias = key_bias(None, None, False, 2, 5, 3, None, 1, -1, -1, np.dtype(np.float32), OPS)
    want = np.array([[0.0 if j <= 3 + i else -np.inf for j in range(5)] for i in range(2)])
    np.testing.assert_array_equal(bias, want)


def _reference_rotary(x: np.ndarray, cos: np.ndarray, sin: np.ndarray, pos: np.ndarray,
                      **attrs: object) -> np.ndarray:
    node = helper.make_node("RotaryEmbedding", ["X", "cos", "sin", "pos"], ["Y"], **attrs)
    feeds = {"X": x, "cos": cos, "sin": sin, "pos": pos}
    graph = helper.make_graph(
        [node], "rotary",
        [helper.make_tensor_value_info(n, helper.np_dtype_to_tensor_dtype(v.dtype), v.shape)
         for n, v in feeds.items()],
        [helper.make_tensor_value_info("Y", onnx.TensorProto.FLOAT, None)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 23)])
    return ReferenceEvaluator(model).run(None, feeds)[0]


@pytest.mark.parametrize("interleaved", [0, 1])
@pytest.mark.parametrize("rot", [8, 4])
def test_rotate_matches_the_reference_rotary_embedding(interleaved, rot):
    """X [B, H, S, D] with D = 8, rotating the first ``rot`` features (the rest pass)."""
    x = RNG.standard_normal((2, 3, 5, 8)).astype(np.float32)
    cos = RNG.standard_normal((7, rot // 2)).astype(np.float32)
    sin = RNG.standard_normal((7, rot // 2)).astype(np.float32)
    pos = RNG.integers(0, 7, (2, 5)).astype(np.int64)
    c, s = cos[pos][:, None], sin[pos][:, None]  # [B, 1, S, rot/2]
    got = np.concatenate((rotate(x[..., :rot], rot, c, s, interleaved, OPS), x[..., rot:]), -1)
    want = _reference_rotary(x, cos, sin, pos, interleaved=interleaved,
                             rotary_embedding_dim=rot if rot < 8 else 0)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("interleaved", [0, 1])
def test_torch_and_tf_ops_rotate_as_numpy(interleaved):
    torch = pytest.importorskip("torch")
    tf = pytest.importorskip("tensorflow")
    from tensorbridge.converters.pytorch.from_ir.ops.attention import OPS as TORCH_OPS
    from tensorbridge.converters.tensorflow.from_ir.ops.attention import OPS as TF_OPS

    x = RNG.standard_normal((2, 3, 6)).astype(np.float32)
    c, s = RNG.standard_normal((2, 3, 3)).astype(np.float32), RNG.standard_normal(3).astype(np.float32)
    want = rotate(x, 6, c, s, interleaved, OPS)
    for xp, convert in ((TORCH_OPS, torch.from_numpy), (TF_OPS, tf.constant)):
        got = rotate(convert(x), 6, convert(c), convert(s), interleaved, xp)
        np.testing.assert_allclose(np.asarray(got), want, rtol=1e-6)


@pytest.mark.parametrize(("rank", "heads", "hidden", "message"), [
    (3, None, 8, "head-count attribute"), (3, 3, 8, "divisible"), (2, 2, 8, "rank 2")])
def test_bad_layouts_say_what_is_wrong(rank, heads, hidden, message):
    with pytest.raises(ValueError, match=message):
        needs_split(rank, heads, hidden, "Q")


def test_kv_heads_must_divide_query_heads():
    assert kv_group_size(6, 2) == 3
    with pytest.raises(ValueError, match="multiple of kv_num_heads"):
        kv_group_size(6, 4)


# ------------------------------------------------------- the framework array namespaces


def _bias_cases() -> list[tuple[np.ndarray | None, dict[str, object]]]:
    return [(None, {"is_causal": 1, "offset": 2}),
            (_bool_mask((3, 4)), {"is_causal": 1, "left": 1}),
            (RNG.standard_normal((2, 1, 3, 6)).astype(np.float32), {"right": 0}),
            (None, {"nonpad": np.array([3, 6], np.int64), "is_causal": 1})]


def _bias(mask, xp, to_framework, dt, *, is_causal=0, left=-1, right=-1, offset=0, nonpad=None):
    m = None if mask is None else to_framework(mask)
    if nonpad is not None:
        offset = query_offset(None, to_framework(nonpad), 3, xp)
    return attention_bias(m, None if mask is None else mask.shape[-1],
                          mask is not None and mask.dtype == np.bool_, 3, 6, offset, is_causal,
                          left, right, None if nonpad is None else to_framework(nonpad), dt, xp)


@pytest.mark.parametrize("case", range(len(_bias_cases())))
def test_torch_and_tf_ops_build_the_numpy_bias_and_softmax(case):
    torch = pytest.importorskip("torch")
    tf = pytest.importorskip("tensorflow")
    from tensorbridge.converters.pytorch.from_ir.ops.attention import OPS as TORCH_OPS
    from tensorbridge.converters.tensorflow.from_ir.ops.attention import OPS as TF_OPS

    mask, kw = _bias_cases()[case]
    expected = _bias(mask, OPS, lambda a: a, np.dtype(np.float32), **kw)
    scores = RNG.standard_normal((2, 2, 3, 6)).astype(np.float32)
    want = safe_softmax(scores + expected, OPS)
    for xp, convert, dt in ((TORCH_OPS, torch.from_numpy, torch.float32),
                            (TF_OPS, tf.constant, tf.float32)):
        got = _bias(mask, xp, convert, dt, **kw)
        np.testing.assert_array_equal(np.broadcast_to(np.asarray(got), want.shape),
                                      np.broadcast_to(expected, want.shape))
        probs = safe_softmax(convert(scores) + got, xp)
        np.testing.assert_allclose(np.asarray(probs), want, rtol=1e-6, atol=1e-7)
