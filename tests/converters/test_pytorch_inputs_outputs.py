"""PyTorch example inputs as a tuple, a dict or explicit kwargs (None dropped); inputs named by
forward's parameters, outputs by a ModelOutput / dict / namedtuple's keys; input_names /
output_names overrides; a transformers .pt2 loads; a batch-1 example with a dynamic batch
is diagnosed. Every converted model is compared with PyTorch eager on onnxruntime."""

from __future__ import annotations

import subprocess
import sys
from typing import NamedTuple

import numpy as np
import pytest
import torch
from torch import nn

import tensorbridge as tb
from tensorbridge.ir.errors import ModelLoadError, TensorbridgeError


class Optional3(nn.Module):
    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, cache: torch.Tensor | None = None,
                scale: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        y = x * 2.0
        if mask is not None:
            y = y + mask
        if cache is not None:
            y = y - cache
        if scale is not None:
            y = y * scale
        return {"hidden": y, "pooled": y.sum(1)}


class Pair(NamedTuple):
    mean: torch.Tensor
    top: torch.Tensor


class NamedOut(nn.Module):
    def forward(self, x: torch.Tensor) -> Pair:
        return Pair(x.mean(1), x.amax(1))


def _ort(model, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


X = torch.randn(2, 3, generator=torch.Generator().manual_seed(0))
M = torch.randn(2, 3, generator=torch.Generator().manual_seed(1))
S = torch.randn(2, 3, generator=torch.Generator().manual_seed(2))


@pytest.mark.parametrize("how", ["dict", "kwargs", "tuple_with_none"])
def test_inputs_as_dict_kwargs_or_tuple_with_none(how):
    model = Optional3().eval()
    call = {"dict": lambda: tb.convert(model, {"x": X, "scale": S, "mask": M}),
            "kwargs": lambda: tb.convert(model, (X,), kwargs={"scale": S, "mask": M}),
            "tuple_with_none": lambda: tb.convert(model, (X, M, None, S))}[how]
    onnx_model = call()
    assert [i.name for i in onnx_model.graph.input] == ["x", "mask", "scale"]  # forward's order, None dropped
    assert [o.name for o in onnx_model.graph.output] == ["hidden", "pooled"]
    expected = model(X, mask=M, scale=S)
    got = _ort(onnx_model, {"x": X.numpy(), "mask": M.numpy(), "scale": S.numpy()})
    np.testing.assert_allclose(got[0], expected["hidden"].numpy(), rtol=1e-6)
    np.testing.assert_allclose(got[1], expected["pooled"].numpy(), rtol=1e-6)


def test_check_with_kwargs_compares_named_outputs_on_generated_inputs():
    rep = tb.check(Optional3().eval(), {"x": X, "mask": M})
    assert rep.ok, rep.verdict()
    assert {c.output for c in rep.comparisons} == {"hidden", "pooled"}
    assert len(rep.input_sets) > 1


def test_namedtuple_outputs_are_named_by_field():
    onnx_model = tb.convert(NamedOut().eval(), (X,))
    assert [o.name for o in onnx_model.graph.output] == ["mean", "top"]


def test_input_and_output_names_override():
    model = Optional3().eval()
    onnx_model = tb.convert(model, {"x": X, "mask": M}, input_names=["a", "b"], output_names=["y", "z"])
    assert [i.name for i in onnx_model.graph.input] == ["a", "b"]
    assert [o.name for o in onnx_model.graph.output] == ["y", "z"]
    got = _ort(onnx_model, {"a": X.numpy(), "b": M.numpy()})
    np.testing.assert_allclose(got[0], model(X, mask=M)["hidden"].numpy(), rtol=1e-6)
    g = tb.load(model, (X,), output_names=["pooled", "hidden"])  # a swap of the two names
    assert [v.name for v in g.outputs] == ["pooled", "hidden"]


@pytest.mark.parametrize("kw,match", [
    ({"input_names": ["a", "b", "c"]}, r"input_names: 3 name\(s\) for 1 input"),
    ({"output_names": ["y", "y"]}, r"\['y'\] given more than once"),
    ({"output_names": ["y", "1bad"]}, r"not valid names"),
    ({"input_names": ["y"], "output_names": ["y", "z"]}, r"given twice"),
    ({"output_names": "y,z"}, r"expected a list of names"),
])
def test_bad_names_are_refused_clearly(kw, match):
    with pytest.raises(TensorbridgeError, match=match):
        tb.convert(Optional3().eval(), (X,), **kw)


def test_unknown_keyword_input_names_forward_parameters():
    with pytest.raises(TensorbridgeError, match=r"\['maks'\] are not parameters of forward \(x, mask, cache, scale\)"):
        tb.convert(Optional3().eval(), {"x": X, "maks": M})


def test_batch_one_with_dynamic_batch_names_the_real_cause():
    with pytest.raises(TensorbridgeError, match=r"dimension 0 of input 'x' is 1 in the example: torch.export "
                                                r"specialises size-0 and size-1 dimensions.*batch >= 2"):
        tb.convert(Optional3().eval(), (torch.randn(1, 3),), dynamic_shapes={"x": {0: "batch"}})
    with pytest.raises(TensorbridgeError, match=r"dimension 0 of input 'x' is 1 in the example"):
        tb.convert(Optional3().eval(), {"x": torch.randn(1, 3)},
                   dynamic_shapes={"x": {0: torch.export.Dim("batch")}})


def _bert():
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=64, max_position_embeddings=64)
    return transformers.BertModel(cfg).eval()


def test_transformers_bert_with_keyword_inputs_and_model_output():
    bert = _bert()
    ids = torch.randint(0, 100, (2, 12), generator=torch.Generator().manual_seed(0))
    mask = torch.ones(2, 12, dtype=torch.int64)
    mask[1, 7:] = 0
    onnx_model = tb.convert(bert, {"input_ids": ids, "attention_mask": mask})
    assert [i.name for i in onnx_model.graph.input] == ["input_ids", "attention_mask"]
    assert [o.name for o in onnx_model.graph.output] == ["last_hidden_state", "pooler_output"]
    with torch.no_grad():
        expected = bert(input_ids=ids, attention_mask=mask)
    got = _ort(onnx_model, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
    np.testing.assert_allclose(got[0], expected.last_hidden_state.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got[1], expected.pooler_output.numpy(), rtol=1e-4, atol=1e-5)


_LOAD_WITHOUT_TRANSFORMERS = """
import sys
sys.modules["transformers"] = None  # not installed, as far as this process can tell
import tensorbridge as tb
try:
    tb.load(sys.argv[1])
except tb.TensorbridgeError as e:
    print(e)
"""


def test_bert_pt2_loads_and_unregistered_output_types_get_the_right_advice(tmp_path):
    bert = _bert()
    ids = torch.randint(0, 100, (2, 12), generator=torch.Generator().manual_seed(0))
    path = tmp_path / "bert.pt2"
    torch.export.save(torch.export.export(bert, (ids,)), path)
    # in a process that never imported transformers: the archive's ModelOutput type resolves
    code = "import sys, tensorbridge as tb; g = tb.load(sys.argv[1]); print([v.name for v in g.outputs])"
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "['last_hidden_state', 'pooler_output']" in out.stdout
    rep = tb.check(path)
    assert rep.ok, rep.verdict()
    out = subprocess.run([sys.executable, "-c", _LOAD_WITHOUT_TRANSFORMERS, str(path)], capture_output=True,
                         text=True, timeout=300)
    assert ("output type transformers.modeling_outputs.BaseModelOutputWithPoolingAndCrossAttentions is not "
            "registered") in out.stdout, out.stdout + out.stderr
    assert "pip install transformers" in out.stdout and "plain tuple/dict output" in out.stdout
    assert "Re-save" not in out.stdout and "Traceback" not in out.stderr


def test_model_specific_output_type_is_never_imported(tmp_path):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                  intermediate_size=64, max_position_embeddings=64)
    model = transformers.BertForPreTraining(cfg).eval()
    ids = torch.randint(0, 100, (2, 8), generator=torch.Generator().manual_seed(0))
    path = tmp_path / "pretrain.pt2"
    torch.export.save(torch.export.export(model, (ids,)), path)
    code = ("import sys, tensorbridge as tb\ntry:\n    tb.load(sys.argv[1])\nexcept tb.TensorbridgeError as e:\n"
            "    print(e)\nprint('modeling_bert' in str([m for m in sys.modules if m.endswith('modeling_bert')]))")
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300)
    assert "output type transformers.models.bert.modeling_bert.BertForPreTrainingOutput is not registered" \
        in out.stdout, out.stdout + out.stderr
    assert "import transformers.models.bert.modeling_bert before loading" in out.stdout
    assert out.stdout.strip().endswith("False")  # the module the archive names was not imported


def test_hostile_output_type_is_still_refused(tmp_path):
    import json
    import zipfile

    path = tmp_path / "m.pt2"
    torch.export.save(torch.export.export(Optional3().eval(), (X,)), path)
    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    name = next(n for n in members if n.endswith("models/model.json"))
    text = members[name].decode()
    assert '\\"builtins.dict\\"' in text
    members[name] = text.replace('\\"builtins.dict\\"', '\\"os.system\\"').encode()
    json.loads(members[name])
    with zipfile.ZipFile(path, "w") as z:
        for n, data in members.items():
            z.writestr(n, data)
    with pytest.raises(ModelLoadError, match="container type 'os.system'"):
        tb.load(path)
