"""Small server-side SVG charts (no JavaScript library, no CDN: the desk runs offline).

Each function returns an SVG string marked safe for templates; every text that comes from data
(series names, dates, labels) is escaped. Series are downsampled to at most `MAX_POINTS` points
so a 5,000-bar hourly curve stays a few kilobytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

MAX_POINTS = 600
PALETTE = (
    "#1f6feb",
    "#d1242f",
    "#2da44e",
    "#bf8700",
    "#8250df",
    "#0a7f8c",
    "#cf222e",
    "#57606a",
    "#6639ba",
    "#953800",
    "#1a7f37",
    "#9a6700",
)
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 760, 240, 64, 12, 14, 26


def _finite(v) -> bool:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v)


def _sample(n: int) -> list[int]:
    if n <= MAX_POINTS:
        return list(range(n))
    step = (n - 1) / (MAX_POINTS - 1)
    return sorted({round(i * step) for i in range(MAX_POINTS)})


def _fmt(v: float, pct: bool) -> str:
    return f"{v * 100:.0f}%" if pct else (f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.3g}")


def _frame(lo: float, hi: float, labels: Sequence[str], pct: bool, title: str) -> list[str]:
    parts = [
        f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="11" font-family="sans-serif" fill="#d8e0e8">',
        f"<title>{escape(title)}</title>",
    ]
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        y = _y(v, lo, hi)
        parts.append(
            f'<line x1="{PAD_L}" x2="{W - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#2a3642" stroke-width="0.5"/>'
        )
        parts.append(
            f'<text x="{PAD_L - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#8a9aaa">{escape(_fmt(v, pct))}</text>'
        )
    n = len(labels)
    for k in range(min(6, n)):
        i = round(k * (n - 1) / max(1, min(6, n) - 1)) if n > 1 else 0
        parts.append(
            f'<text x="{_x(i, n):.1f}" y="{H - 8}" text-anchor="middle" fill="#8a9aaa">{escape(str(labels[i])[:10])}</text>'
        )
    return parts


def _x(i: int, n: int) -> float:
    return PAD_L + (W - PAD_L - PAD_R) * (i / max(1, n - 1))


def _y(v: float, lo: float, hi: float) -> float:
    return PAD_T + (H - PAD_T - PAD_B) * (1 - (v - lo) / (hi - lo if hi > lo else 1.0))


def _bounds(values: list[float], zero: bool = False) -> tuple[float, float]:
    vals = [v for v in values if _finite(v)] + ([0.0] if zero else [])
    if not vals:
        return 0.0, 1.0
    lo, hi = min(vals), max(vals)
    if hi == lo:
        hi, lo = hi + 1e-9 + abs(hi) * 0.01, lo - 1e-9 - abs(lo) * 0.01
    pad = (hi - lo) * 0.04
    return lo - pad, hi + pad


def _legend(names: Sequence[str]) -> str:
    items = "".join(
        f'<span class="legend-item"><i style="background:{PALETTE[k % len(PALETTE)]}"></i>{escape(n)}</span>'
        for k, n in enumerate(names)
    )
    return f'<div class="legend">{items}</div>'


def line_chart(
    labels: Sequence[str], series: dict[str, Sequence[float | None]], *, title: str, pct: bool = False
) -> SafeString:
    """One or more lines over shared x labels; gaps (None) break the line."""
    if not labels or not series:
        return mark_safe('<p class="muted">no data</p>')
    idx = _sample(len(labels))
    labs = [labels[i] for i in idx]
    pts = {name: [vals[i] if i < len(vals) else None for i in idx] for name, vals in series.items()}
    lo, hi = _bounds([v for vals in pts.values() for v in vals])
    parts = _frame(lo, hi, labs, pct, title)
    for k, (name, vals) in enumerate(pts.items()):
        path, pen = [], "M"
        for i, v in enumerate(vals):
            if _finite(v):
                path.append(f"{pen}{_x(i, len(vals)):.1f},{_y(v, lo, hi):.1f}")
                pen = "L"
            else:
                pen = "M"
        parts.append(
            f'<path d="{" ".join(path)}" fill="none" stroke="{PALETTE[k % len(PALETTE)]}" '
            f'stroke-width="1.4"><title>{escape(name)}</title></path>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts) + _legend(list(pts)))


def area_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    title: str,
    pct: bool = True,
    color: str = "#d1242f",
) -> SafeString:
    """A filled area from zero (drawdown: pass negative values to hang below the axis)."""
    if not labels:
        return mark_safe('<p class="muted">no data</p>')
    idx = _sample(len(labels))
    vals = [values[i] if _finite(values[i]) else 0.0 for i in idx]
    lo, hi = _bounds(vals, zero=True)
    n = len(vals)
    parts = _frame(lo, hi, [labels[i] for i in idx], pct, title)
    y0 = _y(0.0, lo, hi)
    pts = " ".join(f"L{_x(i, n):.1f},{_y(v, lo, hi):.1f}" for i, v in enumerate(vals))
    parts.append(
        f'<path d="M{_x(0, n):.1f},{y0:.1f} {pts} L{_x(n - 1, n):.1f},{y0:.1f} Z" fill="{color}" fill-opacity="0.35" stroke="{color}" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def stacked_area_chart(
    labels: Sequence[str], series: dict[str, Sequence[float | None]], *, title: str
) -> SafeString:
    """Stacked areas (weights by sector): each band sits on the sum of the ones before it."""
    if not labels or not series:
        return mark_safe('<p class="muted">no data</p>')
    n = len(labels)
    base = [0.0] * n
    tops = {}
    for name, vals in series.items():
        top = [base[i] + (vals[i] if _finite(vals[i]) else 0.0) for i in range(n)]
        tops[name] = (list(base), top)
        base = top
    lo, hi = _bounds(base, zero=True)
    parts = _frame(min(lo, 0.0), hi, labels, True, title)
    for k, (name, (bottom, top)) in enumerate(tops.items()):
        upper = " ".join(f"L{_x(i, n):.1f},{_y(v, min(lo, 0.0), hi):.1f}" for i, v in enumerate(top))
        lower = " ".join(f"L{_x(i, n):.1f},{_y(bottom[i], min(lo, 0.0), hi):.1f}" for i in reversed(range(n)))
        d = f"M{_x(0, n):.1f},{_y(bottom[0], min(lo, 0.0), hi):.1f} {upper} {lower} Z"
        parts.append(
            f'<path d="{d}" fill="{PALETTE[k % len(PALETTE)]}" fill-opacity="0.75" stroke="none"><title>{escape(name)}</title></path>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts) + _legend(list(series)))


def bar_chart(items: Sequence[tuple[str, float]], *, title: str, money: bool = True) -> SafeString:
    """Horizontal bars with their value printed (cost breakdown)."""
    if not items:
        return mark_safe('<p class="muted">no data</p>')
    top = max((abs(v) for _, v in items if _finite(v)), default=1.0) or 1.0
    row_h, label_w, width = 24, 120, 520
    height = row_h * len(items) + 8
    parts = [
        f'<svg class="chart" viewBox="0 0 {width + label_w + 110} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="12" font-family="sans-serif" fill="#d8e0e8"><title>{escape(title)}</title>'
    ]
    for k, (name, v) in enumerate(items):
        y = 4 + k * row_h
        length = width * (abs(v) / top) if _finite(v) else 0
        text = (f"{v:,.2f}" if money else f"{v:.4g}") if _finite(v) else "n/a"
        parts.append(f'<text x="{label_w - 6}" y="{y + 15}" text-anchor="end">{escape(name)}</text>')
        parts.append(
            f'<rect x="{label_w}" y="{y + 3}" width="{length:.1f}" height="{row_h - 8}" fill="{PALETTE[k % len(PALETTE)]}"/>'
        )
        parts.append(f'<text x="{label_w + length + 6:.1f}" y="{y + 15}">{escape(text)}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))


def heatmap(rows: dict[str, dict[str, float | None]], *, title: str) -> SafeString:
    """Monthly returns: a year x month grid, red for losses and green for gains, value in each cell."""
    if not rows:
        return mark_safe('<p class="muted">no data</p>')
    cols = [str(m) for m in range(1, 13)] + ["year"]
    heads = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec", "Year"]
    vals = [v for r in rows.values() for c, v in r.items() if c != "year" and _finite(v)]
    scale = max((abs(v) for v in vals), default=0.01) or 0.01
    cw, ch, lw = 52, 22, 48
    width, height = lw + cw * len(cols), ch * (len(rows) + 1) + 4
    parts = [
        f'<svg class="chart heatmap" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="11" font-family="sans-serif" fill="#d8e0e8"><title>{escape(title)}</title>'
    ]
    for j, h in enumerate(heads):
        parts.append(
            f'<text x="{lw + j * cw + cw / 2}" y="15" text-anchor="middle" fill="#8a9aaa">{h}</text>'
        )
    for i, (year, row) in enumerate(rows.items()):
        y = ch * (i + 1)
        parts.append(f'<text x="{lw - 6}" y="{y + 15}" text-anchor="end">{escape(year)}</text>')
        for j, c in enumerate(cols):
            v = row.get(c)
            if _finite(v):
                a = min(1.0, abs(v) / scale) * 0.85 + 0.1
                fill = f"rgba(45,164,78,{a:.2f})" if v >= 0 else f"rgba(209,36,47,{a:.2f})"
                label = f"{v * 100:.1f}"
            else:
                fill, label = "#0c1116", ""
            parts.append(
                f'<rect x="{lw + j * cw}" y="{y}" width="{cw - 2}" height="{ch - 2}" fill="{fill}"/>'
            )
            parts.append(f'<text x="{lw + j * cw + cw / 2}" y="{y + 15}" text-anchor="middle">{label}</text>')
    parts.append("</svg>")
    return mark_safe("".join(parts))
