"""A newcomer's transformers models, as the README shows them: BERT and GPT-2 (small random
configs) passed as modules with keyword inputs, and a BERT saved with torch.export.save and
converted from the command line. Outputs are named by the ModelOutput's keys and match
PyTorch eager."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

import tensorbridge as tb

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def bert():
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=100, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=4, intermediate_size=64, max_position_embeddings=64)
    return transformers.BertModel(config).eval()


@pytest.fixture(scope="module")
def gpt2():
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=100, n_embd=32, n_layer=2, n_head=4, n_positions=64)
    return transformers.GPT2Model(config).eval()


def _feeds(batch: int = 2, seq: int = 8) -> dict[str, torch.Tensor]:
    ids = torch.randint(0, 100, (batch, seq), generator=torch.Generator().manual_seed(1))
    return {"input_ids": ids, "attention_mask": torch.ones(batch, seq, dtype=torch.int64)}


def test_bert_with_keyword_inputs_to_onnx(bert):
    feeds = _feeds()
    model = tb.convert(bert, feeds, to="onnx")
    assert [i.name for i in model.graph.input] == ["input_ids", "attention_mask"]
    assert [o.name for o in model.graph.output] == ["last_hidden_state", "pooler_output"]
    got = dict(zip(["last_hidden_state", "pooler_output"],
                   tb.run(model, {k: v.numpy() for k, v in feeds.items()})))
    with torch.no_grad():
        ref = bert(**feeds)
    for key in got:
        np.testing.assert_allclose(got[key], getattr(ref, key).numpy(), rtol=1e-4, atol=1e-5)


def test_gpt2_with_kwargs_checks_and_migrates(gpt2):
    with pytest.raises(tb.TensorbridgeError, match="pass use_cache=False"):
        tb.convert(gpt2, _feeds(), to="onnx", validate=False)  # the KV cache a newcomer hits first
    feeds = {**_feeds(), "use_cache": False}
    report = tb.check(gpt2, (), kwargs=feeds, to="onnx")
    assert report.ok, report.verdict()
    assert {c.output for c in report.comparisons} >= {"last_hidden_state"}
    module = tb.convert(gpt2, feeds, to="torch")
    with torch.no_grad():
        ref = gpt2(**feeds).last_hidden_state.numpy()
        out = module(feeds["input_ids"], feeds["attention_mask"])  # use_cache is not an input
    first = out[0] if isinstance(out, tuple | list) else out
    np.testing.assert_allclose(first.detach().numpy(), ref, rtol=1e-4, atol=1e-5)


def test_bert_pt2_converts_from_the_command_line(bert, tmp_path):
    ep = torch.export.export(bert, (), kwargs=_feeds())
    torch.export.save(ep, tmp_path / "bert.pt2")
    done = subprocess.run([sys.executable, "-m", "tensorbridge", "convert", "bert.pt2", "-o", "bert.onnx",
                           "--check"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    shown = done.stdout + done.stderr
    assert done.returncode == 0 and "Traceback" not in shown, shown
    assert "validated against the source" in done.stdout
    import onnx

    assert [o.name for o in onnx.load(tmp_path / "bert.onnx").graph.output][:1] == ["last_hidden_state"]
