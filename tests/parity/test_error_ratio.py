"""The error ratio every comparison carries is the verdict's own rule: the largest
|got - ref| / (atol + rtol*|ref|), checked against numpy's ``isclose`` (the same rule,
written independently) and against a direct float64 computation; and reports are titled
by the model's own name."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import tensorbridge as tb
from tensorbridge.runtime.parity.compare import compare_output, errors
from tensorbridge.runtime.parity.report import Tolerance, share

TOL = Tolerance(1e-4, 1e-5, "test")


def _independent_ratio(got: np.ndarray, exp: np.ndarray, tol: Tolerance) -> float:
    g, e = got.astype(np.float64), exp.astype(np.float64)
    atol = tol.atol_scale * np.abs(e).max()
    return float((np.abs(g - e) / (atol + tol.rtol * np.abs(e))).max())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1e-6, 1e-5, 1e-4, 1e-3])
def test_ratio_matches_isclose_and_direct_computation(dtype, scale):
    rng = np.random.default_rng(int(scale * 1e6))
    exp = rng.normal(size=(64, 32)).astype(dtype)
    got = (exp * (1 + scale * rng.normal(size=exp.shape)) + scale * 1e-2 * rng.normal(size=exp.shape)).astype(dtype)
    err = errors(got, exp, TOL)
    atol = TOL.atol_scale * float(np.abs(exp).max())
    assert err.ok == bool(np.isclose(got, exp, rtol=TOL.rtol, atol=atol).all())
    assert err.ok == (err.ratio <= 1.0)
    assert err.ratio == pytest.approx(_independent_ratio(got, exp, TOL), rel=1e-4 if dtype == np.float32 else 1e-9)


def test_passing_elements_with_large_relative_error_stay_under_the_line():
    """A small reference element: relative error 9x rtol is still within the absolute term
    (atol = 1e-5 x max|ref| = 1e-3), so the ratio is below 1 where a plot of relative error
    against rtol put it above."""
    exp = np.array([100.0, 1.0, -50.0], np.float32)
    got = exp + np.array([0.0, 9e-4, 0.0], np.float32)
    err = errors(got, exp, TOL)
    assert err.max_rel > TOL.rtol * 5 and err.ok and err.ratio < 1.0
    assert err.ratio == pytest.approx(9e-4 / (1e-5 * 100 + 1e-4 * 1.0), rel=1e-3)


def test_non_finite_and_exact_cases():
    exp = np.array([1.0, np.nan, np.inf], np.float32)
    assert errors(exp.copy(), exp, TOL).ratio == 0.0
    assert errors(np.array([1.0, 0.0, np.inf], np.float32), exp, TOL).ratio == float("inf")
    shape = compare_output("s", "rt", "y", np.zeros(3), np.zeros(4), TOL)
    assert not shape.ok and shape.error_ratio == float("inf")
    ints = compare_output("s", "rt", "y", np.arange(3), np.arange(3), TOL)
    assert ints.ok and ints.error_ratio == 0.0


@pytest.mark.parametrize("ratio,text", [(0.0, "0%"), (0.0123, "1.2%"), (0.37, "37%"), (0.9999, "99%"),
                                        (1.5, "1.50x"), (42000.0, "42,000x")])
def test_share_wording(ratio, text):
    assert share(ratio) == text


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.fc(x))


def test_report_is_titled_by_the_model_name(tmp_path):
    torch.manual_seed(0)
    x = torch.randn(3, 4)
    module_report = tb.check(Tiny().eval(), (x,), generated=False)
    assert module_report.model == "Tiny" and "<title>Tiny" in module_report.to_html()
    path = tmp_path / "my_tiny_net.onnx"
    tb.save(tb.convert(Tiny().eval(), (x,)), path)
    file_report = tb.check(path, inputs=[x.numpy()], generated=False)
    assert file_report.model == "my_tiny_net", file_report.model
    assert "<title>my_tiny_net" in file_report.to_html() and "PosixPath" not in file_report.to_html()
