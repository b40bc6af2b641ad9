"""The HTML report renders in a real headless browser (Debian's Chromium; `make browser`
installs it): titled by the model's name, the verdict first, then the per-layer table, then
the chart of error / allowed error with its 1.0 line, points on the right side of it, and a
screenshot that really shows the chart."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import tensorbridge as tb
import tensorbridge.converters.pytorch.ops  # noqa: F401  (translations registered before tests patch them)
from tensorbridge.converters.pytorch.registry import ATEN
from tensorbridge.runtime.parity.html import FAIL_POINT, PASS_LINE, PASS_POINT, render

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WINDOW = (1280, 2000)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed: run `make browser` "
                                    "(apt-get install chromium) to render the HTML report")


class Small(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.act, self.b = nn.Linear(6, 12), nn.GELU(), nn.Linear(12, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(self.act(self.a(x)))


def _small_report() -> tb.ParityReport:
    torch.manual_seed(0)
    return tb.check(Small().eval(), (torch.randn(4, 6),))


def _browser(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    shutil.rmtree(profile, ignore_errors=True)
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


class _Page(HTMLParser):
    """What the test reads back from the DOM Chromium dumped."""

    def __init__(self) -> None:
        super().__init__()
        self.title, self.h1, self._in = "", "", ""
        self.ids: list[str] = []  # element ids in document order
        self.points: list[dict[str, str]] = []
        self.pass_line: dict[str, str] = {}
        self.labels: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "circle" and a.get("class") == "point":
            self.points.append(a)
        if tag == "line" and a.get("id") == "pass-line":
            self.pass_line = a
        self._in = "label" if a.get("class") == "label" else tag

    def handle_data(self, data: str) -> None:
        if self._in == "title" and not self.title:
            self.title = data
        elif self._in == "h1":
            self.h1 += data
        elif self._in == "label":
            self.labels.append(data)

    def handle_endtag(self, tag: str) -> None:
        self._in = ""


def _render_in_chromium(tmp_path: Path, report: tb.ParityReport) -> tuple[_Page, str, np.ndarray]:
    page = tmp_path / "report.html"
    report.to_html(page)
    dom = _browser(tmp_path, "--dump-dom", page.as_uri()).stdout
    parsed = _Page()
    parsed.feed(dom)
    shot = tmp_path / "shot.png"
    _browser(tmp_path, f"--screenshot={shot}", f"--window-size={WINDOW[0]},{WINDOW[1]}", page.as_uri())
    assert shot.exists(), "chromium wrote no screenshot"
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int16)
    return parsed, dom, pixels


def _rgb(color: str) -> np.ndarray:
    return np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)], dtype=np.int16)


def _mask(pixels: np.ndarray, color: str, tol: int = 12) -> np.ndarray:
    return np.all(np.abs(pixels - _rgb(color)) <= tol, axis=-1)


def _assert_page_layout(page: _Page, dom: str, model: str, verdict: str) -> None:
    assert page.title.startswith(model), page.title
    assert page.h1 == model
    order = {i: page.ids.index(i) for i in ("verdict", "layers", "ratio-chart")}
    assert order["verdict"] < order["layers"] < order["ratio-chart"], page.ids
    if "Error histograms" in dom:
        assert dom.index('id="ratio-chart"') < dom.index("Error histograms")
    assert f'id="verdict">{verdict}' in dom


def _assert_points_against_line(page: _Page, report: tb.ParityReport) -> float:
    """One point per layer; failing layers above the 1.0 line (smaller y), passing below."""
    assert page.pass_line.get("data-ratio") == "1.0"
    y_line = float(page.pass_line["y1"])
    assert [p["data-name"] for p in page.points] == [layer.module or "<model>" for layer in report.layers]
    for p, layer in zip(page.points, report.layers):
        above = float(p["cy"]) < y_line
        assert above == (not layer.ok), (layer, p)
        assert (p["data-ok"] == "true") == layer.ok
    return y_line


def _assert_screenshot_shows_chart(pixels: np.ndarray, *, fail: bool) -> None:
    """Not blank, and the chart is drawn: its dashed 1.0 line is a row of pixels, with the
    green points below it and (a failing report) red points above."""
    assert pixels.std() > 20, "the screenshot is blank"
    line = _mask(pixels, PASS_LINE, tol=20)
    rows = line.sum(axis=1)
    y = int(rows.argmax())
    assert rows[y] > 300, "no 1.0 line in the screenshot"
    band = slice(max(0, y - 260), min(pixels.shape[0], y + 260))
    green = np.nonzero(_mask(pixels[band], PASS_POINT).any(axis=1))[0] + band.start
    assert green.size and green.max() > y, "no passing (green) point below the line"
    if fail:
        red = np.nonzero(_mask(pixels[band], FAIL_POINT).any(axis=1))[0] + band.start
        assert red.size and red.min() < y, "no failing (red) point above the line"


@needs_chromium
def test_failing_report_in_chromium(tmp_path, monkeypatch):
    monkeypatch.setitem(ATEN._fns, "aten::gelu.default", lambda ctx, x, approximate="none": ctx.op("Relu", [x]))
    report = _small_report()
    assert not report.ok and report.first_divergence is not None
    page, dom, pixels = _render_in_chromium(tmp_path, report)
    _assert_page_layout(page, dom, "Small", "FAIL: Small")
    assert "first divergence in act" in dom and "Relu" in dom
    _assert_points_against_line(page, report)
    assert 'id="divergence-marker"' in dom
    assert any(text.startswith("first divergence: act") for text in page.labels)
    worst = sorted(report.layers, key=lambda layer: -layer.error_ratio)[:3]
    for layer in worst:  # the worst layers are labelled by name
        assert any((layer.module or "<model>") in text for text in page.labels), (layer, page.labels)
    assert dom.count('<rect class="bar"') >= 10  # error histograms drawn
    _assert_screenshot_shows_chart(pixels, fail=True)


@needs_chromium
def test_passing_report_in_chromium(tmp_path):
    report = _small_report()
    assert report.ok
    page, dom, pixels = _render_in_chromium(tmp_path, report)
    verdict_ids = "layers" if report.layers else "layers-note"
    assert verdict_ids in page.ids
    if report.layers:
        _assert_page_layout(page, dom, "Small", "PASS: Small")
        _assert_points_against_line(page, report)
    else:  # layers are compared only on a mismatch: the chart plots the outputs
        assert page.title.startswith("Small") and page.ids.index("verdict") < page.ids.index("ratio-chart")
        assert len(page.points) == len(report.comparisons)
        assert all(float(p["cy"]) > float(page.pass_line["y1"]) for p in page.points)
    assert "of its allowance" in dom and "atol + rtol*|ref|" in dom
    assert f"Input sets: {', '.join(report.input_sets)}." in dom
    _assert_screenshot_shows_chart(pixels, fail=False)


def test_page_renders_from_the_json_alone():
    """The page is drawn from the report's plain data: a saved JSON report renders the
    same page."""
    report = _small_report()
    assert render(json.loads(report.to_json())) == report.to_html()


def test_report_and_html_import_one_way():
    import ast

    import tensorbridge.runtime.parity.html as html_module

    tree = ast.parse(Path(html_module.__file__).read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not any(m and "parity.report" in m for m in imported), imported


def test_json_schema_is_stable():
    torch.manual_seed(0)
    data = json.loads(tb.check(Small().eval(), (torch.randn(2, 6),)).to_json())
    assert data["schema_version"] == 1 and data["ok"] is True
    assert set(data) >= {"source", "target", "reference", "tolerance", "input_sets", "comparisons", "layers",
                         "first_divergence", "op_histogram", "timings", "errors", "model", "verdict"}
    c = data["comparisons"][0]
    assert set(c) >= {"input_set", "runtime", "output", "max_abs", "max_rel", "quantiles", "ok", "error_ratio"}
    assert data["model"] == "Small" and data["verdict"].startswith("PASS: Small")
