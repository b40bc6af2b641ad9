"""One self-contained HTML page for a parity report, from the report's plain data (the dict
``ParityReport.to_dict()`` returns, the same fields as its JSON), so this module imports
nothing from ``report`` and a saved JSON report renders too.

Order of the page, most important first: the model's name, the verdict with the rule it
applies, errors, the first divergence, the per-layer table, the per-output table, the chart
of each layer's error divided by its allowed error (1.0 = the pass line, log scale) with the
worst layers and the first divergence labelled, then the error histograms and the op
histogram. Plots are inline SVG (no scripts, no network), so the page opens anywhere."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Data = Mapping[str, Any]

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{margin-bottom:.1em}.sub{color:#555;margin-top:0}
.verdict{padding:.8em 1em;border-radius:6px;font-size:1.1em;font-weight:600}
.pass{background:#e3f6e6;color:#145c25}.fail{background:#fde4e4;color:#8a1111}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;font-size:.85em}
th{background:#f3f3f3;position:sticky;top:0}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.bad td{background:#fff1f1}tr.first td{background:#fdd;font-weight:600}.bad{color:#a00;font-weight:600}
.scroll{max-height:26em;overflow:auto;border:1px solid #ddd;display:inline-block}
figure{margin:1em 0}figcaption{font-size:.9em;color:#555}.hists{display:flex;flex-wrap:wrap;gap:0 1.5em}.hists figure{width:340px}
svg text{font-size:11px;fill:#333}svg .label{font-size:11px;font-weight:600}
"""

# Ratios are plotted on a log scale clamped to this many decades either side of 1.0.
_DECADES = 9
_WORST_LABELS = 4  # worst layers labelled in the chart, besides the first divergence
# Chart colours, distinct from each other and from the histograms' blue.
PASS_LINE, PASS_POINT, FAIL_POINT = "#b71c1c", "#2e7d32", "#f44336"


def render(data: Data) -> str:
    """The page for a report's data (``ParityReport.to_dict()``)."""
    name = data.get("model") or data["source"]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_e(name)} - tensorbridge parity report</title><style>{_CSS}</style></head><body>",
        f"<h1 id='model'>{_e(name)}</h1>",
        f"<p class='sub'>tensorbridge parity report: {_e(data['source'])} &rarr; {_e(data['target'])}, "
        f"compared with {_e(data['reference'])}</p>",
        f"<div class='verdict {'pass' if data['ok'] else 'fail'}' id='verdict'>{_e(data['verdict'])}</div>",
        _rule(data), _errors(data), _divergence(data), _layer_table(data), _output_table(data),
        _chart(data), _histograms(data), _ops(data), "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


def _e(text: object) -> str:
    return html.escape(str(text))


def _num(x: float, fmt: str = ".3g") -> str:
    return format(x, fmt) if math.isfinite(x) else str(x)


def _layer_name(module: str) -> str:
    return module or "<model>"


def _rule(d: Data) -> str:
    t = d["tolerance"]
    return (f"<p id='rule'>An element passes when |got &minus; ref| &le; atol + rtol&middot;|ref|, with rtol "
            f"{t['rtol']:.2g} and atol {t['atol_scale']:.2g} &times; max|ref| of each tensor "
            f"({_e(t['reason'])}). <b>error / allowed</b> below is the largest |got &minus; ref| / "
            "(atol + rtol&middot;|ref|) of a tensor (with the tolerance that tensor was checked at): at most "
            "1.0 passes, so 0.37 means the worst element used 37% of its allowance. Input sets: "
            f"{_e(', '.join(d['input_sets']))}.</p>")


def _errors(d: Data) -> str:
    if not d["errors"]:
        return ""
    return "<h2>Errors</h2><ul id='errors'>" + "".join(f"<li>{_e(e)}</li>" for e in d["errors"]) + "</ul>"


def _divergence(d: Data) -> str:
    f = d["first_divergence"]
    if f is None:
        return ""
    where = f" at <code>{_e(f['location'])}</code>" if f["location"] else ""
    return (f"<h2>First divergence</h2><p id='first-divergence'><b>{_e(_layer_name(f['module']))}</b>"
            f" &mdash; ops {_e(', '.join(f['ops']))}; {_e(f['source_op'])}{where}; error / allowed "
            f"{_num(f.get('error_ratio', math.nan))}, max abs {f['max_abs']:.3e}, max rel {f['max_rel']:.3e} "
            f"({_e(f['detail'])})</p>")


def _short_location(location: str) -> str:
    """``/long/path/to/file.py:31`` -> ``file.py:31`` (the full path is the cell's tooltip)."""
    return location.replace("\\", "/").rsplit("/", 1)[-1]


def _first_index(d: Data) -> int | None:
    """The layer the chart and table mark as the first divergence: the blamed module's row
    when it was compared, else the first failing layer."""
    layers, f = d["layers"], d["first_divergence"]
    if f is None:
        return None
    hit = next((i for i, r in enumerate(layers) if r["module"] == f["module"] and not r["ok"]), None)
    return hit if hit is not None else next((i for i, r in enumerate(layers) if not r["ok"]), None)


def _layer_table(d: Data) -> str:
    layers = d["layers"]
    if not layers:
        return ("<h2>Layers</h2><p id='layers-note'>Layers are compared one by one only when an output "
                "differs; every output is within its allowance, so the table and chart below are per "
                "output.</p>" if d["ok"] else "")
    first = _first_index(d)
    rows = "".join(_layer_row(i, r, i == first) for i, r in enumerate(layers))
    n_bad = sum(not r["ok"] for r in layers)
    return (f"<h2>Layers</h2><p>{len(layers)} layers in the order their calls finished (children "
            f"before parents), {n_bad} outside their allowance.</p><div class='scroll'><table id='layers'>"
            "<tr><th>#</th><th>layer</th><th>op</th><th>source location</th><th>error / allowed</th>"
            f"<th>max abs</th><th>max rel</th><th>verdict</th></tr>{rows}</table></div>")


def _layer_row(i: int, r: Data, first: bool) -> str:
    cls = "first" if first else ("" if r["ok"] else "bad")
    loc = r.get("location", "")
    verdict = "first divergence" if first else ("ok" if r["ok"] else "MISMATCH")
    return (f"<tr class='{cls}'><td class='num'>{i}</td><td title='IR value {_e(r['value'])}'>"
            f"{_e(_layer_name(r['module']))}</td><td>{_e(', '.join(r.get('ops', [])))}</td>"
            f"<td title='{_e(loc)}'><code>{_e(_short_location(loc))}</code></td>"
            f"<td class='num'>{_num(r.get('error_ratio', math.nan))}</td><td class='num'>{r['max_abs']:.2e}</td>"
            f"<td class='num'>{r['max_rel']:.2e}</td><td class='{'' if r['ok'] else 'bad'}'>{verdict}</td></tr>")


def _output_table(d: Data) -> str:
    rows = "".join(
        f"<tr class='{'' if c['ok'] else 'bad'}'><td>{_e(c['input_set'])}</td><td>{_e(c['runtime'])}</td>"
        f"<td>{_e(c['output'])}</td><td>{_e(c['shape'])}</td><td class='num'>{_num(c.get('error_ratio', math.nan))}"
        f"</td><td class='num'>{c['max_abs']:.2e}</td><td class='num'>{c['max_rel']:.2e}</td>"
        f"<td class='num'>{c['quantiles'].get('p99', 0):.2e}</td>"
        f"<td class='{'' if c['ok'] else 'bad'}'>{'ok' if c['ok'] else 'MISMATCH'} {_e(c['detail'])}</td></tr>"
        for c in d["comparisons"])
    if not rows:
        return ""
    return ("<h2>Outputs</h2><div class='scroll'><table id='outputs'><tr><th>inputs</th><th>runtime</th>"
            "<th>output</th><th>shape</th><th>error / allowed</th><th>max abs</th><th>max rel</th>"
            f"<th>p99 abs</th><th>verdict</th></tr>{rows}</table></div>")


@dataclass
class _Point:
    name: str
    ratio: float
    ok: bool


def _chart_points(d: Data) -> tuple[list[_Point], str]:
    """One point per layer; a passing report (no layers compared) plots its outputs."""
    if d["layers"]:
        return ([_Point(_layer_name(r["module"]), r.get("error_ratio", math.nan), r["ok"]) for r in d["layers"]],
                "layers in execution order")
    return ([_Point(f"{c['output']} {c['input_set']} ({c['runtime']})", c.get("error_ratio", math.nan), c["ok"])
             for c in d["comparisons"]], "outputs (input set, runtime)")


@dataclass
class _Frame:
    """The chart's geometry: x by point index, y by log10 of the ratio."""

    n: int
    lo: int
    hi: int
    w: int = 1000
    h: int = 320
    left: int = 64
    right: int = 150  # room for labels of the last points
    top: int = 20
    bottom: int = 44

    def x(self, i: int) -> float:
        return self.left + (self.w - self.left - self.right) * (i + 0.5) / self.n

    def y(self, ratio: float) -> float:
        exp = max(self.lo, _log10_clamped(ratio))
        return self.top + (self.h - self.top - self.bottom) * (self.hi - exp) / (self.hi - self.lo)


def _log10_clamped(ratio: float) -> float:
    """An exact match (ratio 0, or unknown) sits on the chart's floor."""
    if math.isnan(ratio) or ratio <= 0:
        return -_DECADES
    return max(-_DECADES, min(_DECADES, math.log10(ratio)))


def _frame(points: Sequence[_Point]) -> _Frame:
    """Whole decades from below the best nonzero point to above the worst, 1.0 inside."""
    logs = [_log10_clamped(p.ratio) for p in points if p.ratio > 0]
    lo = max(-_DECADES, min([math.floor(x) for x in logs] + [-1]))
    hi = min(_DECADES, max([math.ceil(x) for x in logs] + [1]))
    return _Frame(len(points), lo, hi)


def _chart(d: Data) -> str:
    points, what = _chart_points(d)
    if not points:
        return ""
    fr = _frame(points)
    first = _first_index(d) if d["layers"] else None
    body = (_grid(fr) + _polyline(fr, points) + "".join(_point_svg(fr, i, p) for i, p in enumerate(points))
            + _labels(fr, points, first))
    return (f"<h2>Error / allowed error, per {'layer' if d['layers'] else 'output'}</h2><figure>"
            f"<svg class='plot' id='ratio-chart' width='{fr.w}' height='{fr.h}' role='img' "
            f"aria-label='error divided by allowed error'>{body}</svg><figcaption>Each point: the largest "
            "|got &minus; ref| / (atol + rtol&middot;|ref|) of one tensor, log scale, for "
            f"{len(points)} {what}. At or below the dashed line (1.0) passes: green points pass, red points fail. Labelled: "
            "the worst points and the first divergence.</figcaption></figure>")


def _grid(fr: _Frame) -> str:
    step = 1 if fr.hi - fr.lo <= 10 else 2
    lines = []
    for k in range(fr.lo, fr.hi + 1, step):
        y = fr.y(10.0 ** k)
        if k != 0:
            lines.append(f"<line x1='{fr.left}' x2='{fr.w - fr.right}' y1='{y:.1f}' y2='{y:.1f}' stroke='#e4e4e4'/>")
        lines.append(f"<text x='{fr.left - 6}' y='{y + 4:.1f}' text-anchor='end'>{_decade(k)}</text>")
    y1 = fr.y(1.0)
    lines.append(f"<line id='pass-line' data-ratio='1.0' x1='{fr.left}' x2='{fr.w - fr.right}' y1='{y1:.1f}' "
                 f"y2='{y1:.1f}' stroke='{PASS_LINE}' stroke-width='1.5' stroke-dasharray='6 3'/>")
    lines.append(f"<text x='{fr.w - fr.right + 4}' y='{y1 + 4:.1f}' fill='{PASS_LINE}'>1.0 = allowed</text>")
    lines.append(f"<line x1='{fr.left}' x2='{fr.left}' y1='{fr.top}' y2='{fr.h - fr.bottom}' stroke='#888'/>")
    lines.append(f"<text x='{(fr.left + fr.w - fr.right) / 2:.0f}' y='{fr.h - 8}' text-anchor='middle'>"
                 "execution order &rarr;</text>")
    return "".join(lines)


def _decade(k: int) -> str:
    return "1" if k == 0 else f"1e{k}"


def _polyline(fr: _Frame, points: Sequence[_Point]) -> str:
    pts = " ".join(f"{fr.x(i):.1f},{fr.y(p.ratio):.1f}" for i, p in enumerate(points))
    return f"<polyline points='{pts}' fill='none' stroke='#9fb7e0' stroke-width='1'/>"


def _point_svg(fr: _Frame, i: int, p: _Point) -> str:
    color = PASS_POINT if p.ok else FAIL_POINT
    return (f"<circle class='point' data-name='{_e(p.name)}' data-ratio='{_num(p.ratio, '.6g')}' "
            f"data-ok='{str(p.ok).lower()}' cx='{fr.x(i):.1f}' cy='{fr.y(p.ratio):.1f}' r='3.5' "
            f"fill='{color}'><title>{_e(p.name)}: error / allowed {_num(p.ratio)}</title></circle>")


def _labels(fr: _Frame, points: Sequence[_Point], first: int | None) -> str:
    """The first divergence (ringed) and the worst other points, staggered so neighbours'
    labels do not overlap."""
    ranked = sorted((i for i in range(len(points)) if i != first),
                    key=lambda i: -_log10_clamped(points[i].ratio))[:_WORST_LABELS]
    out = []
    if first is not None:
        p = points[first]
        out.append(f"<circle id='divergence-marker' cx='{fr.x(first):.1f}' cy='{fr.y(p.ratio):.1f}' r='8' "
                   f"fill='none' stroke='{PASS_LINE}' stroke-width='2'/>")
        out.append(_label(fr, first, p, f"first divergence: {p.name}", 0))
    out += [_label(fr, i, points[i], points[i].name, rank + 1) for rank, i in enumerate(sorted(ranked))]
    return "".join(out)


def _label(fr: _Frame, i: int, p: _Point, text: str, rank: int) -> str:
    x, y = fr.x(i), fr.y(p.ratio)
    dy = -12 - 13 * (rank % 3)
    y_text = y + dy if y + dy > fr.top else y + 16 + 13 * (rank % 3)
    return (f"<line x1='{x:.1f}' y1='{y:.1f}' x2='{x + 6:.1f}' y2='{y_text + 3:.1f}' stroke='#999'/>"
            f"<text class='label' x='{x + 8:.1f}' y='{y_text:.1f}'>{_e(text)} ({_num(p.ratio, '.2g')})</text>")


def _histograms(d: Data) -> str:
    with_hist = [c for c in d["comparisons"] if c["histogram"]]
    shown = sorted(with_hist, key=lambda c: (c["ok"], -_log10_clamped(c.get("error_ratio", math.nan))))[:6]
    if not shown:
        return ""
    note = f" (the {len(shown)} worst of {len(with_hist)})" if len(shown) < len(with_hist) else ""
    figs = "".join(_histogram_svg(c) for c in shown)
    return f"<h2>Error histograms{note}</h2><div class='hists'>{figs}</div>"


def _histogram_svg(c: Data) -> str:
    w, h, pad = 340, 130, 22
    counts, edges = c["histogram"], c["histogram_edges"]
    n = len(counts)
    top = max(counts) or 1
    bw = (w - 2 * pad) / n
    bars = "".join(
        f"<rect class='bar' x='{pad + i * bw:.1f}' y='{h - pad - (h - 2 * pad) * k / top:.1f}' "
        f"width='{bw - 2:.1f}' height='{(h - 2 * pad) * k / top:.1f}' fill='#4a7bd0'/>"
        for i, k in enumerate(counts))
    labels = "".join(f"<text x='{pad + i * bw:.1f}' y='{h - 6}'>{edges[i]:g}</text>" for i in range(0, n, 2))
    return (f"<figure><svg class='plot' width='{w}' height='{h}' role='img'>{bars}{labels}</svg>"
            f"<figcaption>{_e(c['input_set'])} / {_e(c['runtime'])} / {_e(c['output'])}: count of log10 "
            f"|error| (error / allowed {_num(c.get('error_ratio', math.nan))})</figcaption></figure>")


def _ops(d: Data) -> str:
    if not d["op_histogram"]:
        return ""
    items = list(d["op_histogram"].items())[:30]
    top = max(v for _, v in items)
    rows = "".join(f"<tr><td>{_e(k)}</td><td><svg width='200' height='10'><rect width='{200 * v / top:.0f}' "
                   f"height='10' fill='#7aa5e8'/></svg> {v}</td></tr>" for k, v in items)
    return f"<h2>Op histogram</h2><table id='ops'>{rows}</table>"
