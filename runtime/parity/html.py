"""One self-contained HTML page for a parity report: verdict, tolerance, per-output error
histograms, the per-layer error curve with the first divergence marked, and the model's op
histogram. Plots are inline SVG (no scripts, no network), so the page opens anywhere."""

from __future__ import annotations

import html
import math

from tensorbridge.runtime.parity.report import OutputComparison, ParityReport

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
.verdict{padding:.8em 1em;border-radius:6px;font-size:1.2em;font-weight:600}
.pass{background:#e3f6e6;color:#145c25}.fail{background:#fde4e4;color:#8a1111}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.25em .6em;font-size:.9em}
th{background:#f3f3f3}.bad{color:#a00;font-weight:600}figure{margin:1em 0}figcaption{font-size:.9em;color:#555}
svg text{font-size:10px;fill:#333}
"""


def render(report: ParityReport) -> str:
    status = "pass" if report.ok else "fail"
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>tensorbridge parity: {_e(report.source)}</title><style>{_CSS}</style></head><body>",
        f"<h1>Parity report: {_e(report.source)} &rarr; {_e(report.target)}</h1>",
        f"<div class='verdict {status}' id='verdict'>{_e(report.verdict())}</div>",
        f"<p>Reference: {_e(report.reference)}. Tolerance: rtol {report.tolerance.rtol:g}, atol "
        f"{report.tolerance.atol_scale:g} &times; max|reference| ({_e(report.tolerance.reason)}). "
        f"Input sets: {_e(', '.join(report.input_sets))}.</p>",
        _divergence(report), _comparisons(report), _histograms(report), _layer_curve(report),
        _ops(report), _errors(report), "</body></html>",
    ]
    return "\n".join(p for p in parts if p)


def _e(text: object) -> str:
    return html.escape(str(text))


def _divergence(r: ParityReport) -> str:
    d = r.first_divergence
    if d is None:
        return ""
    return (f"<h2>First divergence</h2><p id='first-divergence'><b>{_e(d.module or '<model top level>')}</b>"
            f" &mdash; ops {_e(', '.join(d.ops))}; {_e(d.source_op)} at <code>{_e(d.location)}</code>; "
            f"max abs error {d.max_abs:.3e}, max rel {d.max_rel:.3e} ({_e(d.detail)})</p>")


def _comparisons(r: ParityReport) -> str:
    rows = "".join(
        f"<tr><td>{_e(c.input_set)}</td><td>{_e(c.runtime)}</td><td>{_e(c.output)}</td><td>{_e(c.shape)}</td>"
        f"<td>{c.max_abs:.3e}</td><td>{c.max_rel:.3e}</td><td>{c.quantiles.get('p99', 0):.2e}</td>"
        f"<td class='{'' if c.ok else 'bad'}'>{'ok' if c.ok else 'MISMATCH'}</td></tr>" for c in r.comparisons)
    return ("<h2>Outputs</h2><table><tr><th>inputs</th><th>runtime</th><th>output</th><th>shape</th>"
            f"<th>max abs</th><th>max rel</th><th>p99 abs</th><th>verdict</th></tr>{rows}</table>")


def _histograms(r: ParityReport) -> str:
    shown = [c for c in r.comparisons if c.histogram][:6]
    figs = "".join(_histogram_svg(c) for c in shown)
    return f"<h2>Error histograms</h2>{figs}" if figs else ""


def _histogram_svg(c: OutputComparison) -> str:
    w, h, pad = 420, 140, 24
    n = len(c.histogram)
    top = max(c.histogram) or 1
    bw = (w - 2 * pad) / n
    bars = "".join(
        f"<rect class='bar' x='{pad + i * bw:.1f}' y='{h - pad - (h - 2 * pad) * k / top:.1f}' "
        f"width='{bw - 2:.1f}' height='{(h - 2 * pad) * k / top:.1f}' fill='#4a7bd0'/>"
        for i, k in enumerate(c.histogram))
    labels = "".join(f"<text x='{pad + i * bw:.1f}' y='{h - 6}'>{c.histogram_edges[i]:g}</text>"
                     for i in range(0, n, 2))
    return (f"<figure><svg class='plot' width='{w}' height='{h}' role='img'>{bars}{labels}</svg>"
            f"<figcaption>{_e(c.input_set)} / {_e(c.runtime)} / {_e(c.output)}: count of log10 |error|"
            "</figcaption></figure>")


def _layer_curve(r: ParityReport) -> str:
    if not r.layers:
        return ""
    w, h, pad = 900, 220, 40
    ys = [math.log10(max(layer.max_rel, 1e-12)) for layer in r.layers]
    lo, hi = min(ys + [-8.0]), max(ys + [0.0])
    step = (w - 2 * pad) / max(len(ys) - 1, 1)

    def py(y: float) -> float:
        return h - pad - (h - 2 * pad) * (y - lo) / (hi - lo or 1)

    pts = " ".join(f"{pad + i * step:.1f},{py(y):.1f}" for i, y in enumerate(ys))
    tol_y = py(math.log10(r.tolerance.rtol)) if r.tolerance.rtol > 0 else None
    marks = ""
    if r.first_divergence is not None:
        idx = next((i for i, layer in enumerate(r.layers) if not layer.ok), None)
        if idx is not None:
            marks = (f"<circle id='divergence-marker' cx='{pad + idx * step:.1f}' cy='{py(ys[idx]):.1f}' r='6' "
                     f"fill='none' stroke='#c00' stroke-width='2'/><text x='{pad + idx * step + 8:.1f}' "
                     f"y='{py(ys[idx]) - 8:.1f}'>{_e(r.layers[idx].module)}</text>")
    tol = (f"<line x1='{pad}' x2='{w - pad}' y1='{tol_y:.1f}' y2='{tol_y:.1f}' stroke='#999' "
           "stroke-dasharray='4'/>" if tol_y is not None else "")
    return (f"<h2>Error along the network</h2><figure><svg class='plot' id='layer-curve' width='{w}' height='{h}'>"
            f"{tol}<polyline points='{pts}' fill='none' stroke='#4a7bd0' stroke-width='1.5'/>{marks}"
            f"<text x='4' y='{pad}'>{hi:.0f}</text><text x='4' y='{h - pad}'>{lo:.0f}</text></svg>"
            f"<figcaption>log10 max relative error of each layer's output ({len(ys)} layers, execution "
            "order); dashed: rtol</figcaption></figure>")


def _ops(r: ParityReport) -> str:
    if not r.op_histogram:
        return ""
    items = list(r.op_histogram.items())[:30]
    top = max(v for _, v in items)
    rows = "".join(f"<tr><td>{_e(k)}</td><td><svg width='200' height='10'><rect width='{200 * v / top:.0f}' "
                   f"height='10' fill='#7aa5e8'/></svg> {v}</td></tr>" for k, v in items)
    return f"<h2>Op histogram</h2><table id='ops'>{rows}</table>"


def _errors(r: ParityReport) -> str:
    if not r.errors:
        return ""
    return "<h2>Errors</h2><ul>" + "".join(f"<li>{_e(e)}</li>" for e in r.errors) + "</ul>"
