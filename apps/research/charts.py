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
    "#e8590c",
    "#2da44e",
    "#bf8700",
    "#8250df",
    "#0a7f8c",
    "#d6336c",
    "#8a9aaa",
)
# One fixed colour per GICS sector (the 11 sectors of the 2018+ structure, Telecommunication
# Services as it was called before, and "unknown"), chosen to be told apart on the dark card:
# the same sector has the same colour on every page and no two sectors share one.
SECTOR_COLOURS = {
    "Communication Services": "#4dabf7",
    "Consumer Discretionary": "#f783ac",
    "Consumer Staples": "#69db7c",
    "Energy": "#e8590c",
    "Financials": "#1971c2",
    "Health Care": "#c92a2a",
    "Industrials": "#a9a9a9",
    "Information Technology": "#9775fa",
    "Materials": "#e0a800",
    "Real Estate": "#8c6d46",
    "Telecommunication Services": "#22b8cf",
    "Utilities": "#2f9e44",
    "unknown": "#495057",
}
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 760, 250, 70, 24, 22, 28
HALF_W = 520  # charts shown side by side: a narrower viewBox keeps their text the same size
N_TICKS = 5


def _finite(v) -> bool:
    return v is not None and isinstance(v, (int, float)) and math.isfinite(v)


def _sample(n: int) -> list[int]:
    if n <= MAX_POINTS:
        return list(range(n))
    step = (n - 1) / (MAX_POINTS - 1)
    return sorted({round(i * step) for i in range(MAX_POINTS)})


def nice_ticks(lo: float, hi: float, n: int = N_TICKS) -> list[float]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten apart) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / max(1, n - 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw * (1 - 1e-9))
    first = math.floor(lo / step + 1e-9) * step
    ticks = [first]
    while ticks[-1] < hi - 1e-9 * step:
        ticks.append(first + len(ticks) * step)
    # Multiples of the step without float noise (0.1 + 0.2), and no "-0".
    return [0.0 if abs(t) < step * 1e-9 else round(t, 12) for t in ticks]


def _decimals(step: float) -> int:
    """Decimals that show a tick step exactly: 0.05 -> 2, 2.5 -> 1, 20 -> 0."""
    for d in range(0, 10):
        if abs(round(step, d) - step) <= abs(step) * 1e-6:
            return d
    return 10


def tick_label(v: float, step: float, fmt: str, top: float | None = None) -> str:
    """A tick value with as many decimals as its step needs: "12%", "$1.25M", "0.05". Money
    ticks share one multiple (k, M, B), chosen by the largest tick `top` of the axis."""
    if fmt == "pct":
        return f"{v * 100:.{_decimals(step * 100)}f}%"
    if fmt == "money":
        scale = abs(v) if top is None else abs(top)
        for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
            if scale >= div:
                return f"${v / div:,.{_decimals(step / div)}f}{suffix}"
        return f"${v:,.{_decimals(step)}f}"
    return f"{v:,.{_decimals(step)}f}"


def _frame(
    ticks: list[float], labels: Sequence[str], fmt: str, title: str, unit: str, w: int = W
) -> list[str]:
    lo, hi = ticks[0], ticks[-1]
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 1.0
    top = max(abs(lo), abs(hi))
    parts = [
        f'<svg class="chart" viewBox="0 0 {w} {H}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="11" font-family="sans-serif" fill="#d8e0e8">',
        f"<title>{escape(title)}</title>",
    ]
    if unit:
        parts.append(f'<text x="4" y="12" fill="#8a9aaa" class="unit">{escape(unit)}</text>')
    for v in ticks:
        y = _y(v, lo, hi)
        parts.append(
            f'<line x1="{PAD_L}" x2="{w - PAD_R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#2a3642" stroke-width="0.5"/>'
        )
        parts.append(
            f'<text x="{PAD_L - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#8a9aaa">{escape(tick_label(v, step, fmt, top))}</text>'
        )
    n = len(labels)
    # One date label per ~100 units of plot width (a 10-character date is ~60 wide), so
    # neighbours never overlap, on full-width and side-by-side charts alike.
    shown = min(max(2, (w - PAD_L - PAD_R) // 100), n)
    for k in range(shown):
        i = round(k * (n - 1) / max(1, shown - 1)) if n > 1 else 0
        # The first and last labels hang inwards so they are never cut at the edges.
        anchor = "start" if k == 0 and shown > 1 else "end" if k == shown - 1 and shown > 1 else "middle"
        parts.append(
            f'<text x="{_x(i, n, w):.1f}" y="{H - 8}" text-anchor="{anchor}" fill="#8a9aaa">{escape(str(labels[i])[:10])}</text>'
        )
    return parts


def _x(i: int, n: int, w: int = W) -> float:
    return PAD_L + (w - PAD_L - PAD_R) * (i / max(1, n - 1))


def _y(v: float, lo: float, hi: float) -> float:
    return PAD_T + (H - PAD_T - PAD_B) * (1 - (v - lo) / (hi - lo if hi > lo else 1.0))


def _ticks_for(values: list[float], zero: bool = False) -> list[float]:
    vals = [v for v in values if _finite(v)] + ([0.0] if zero else [])
    if not vals:
        return nice_ticks(0.0, 1.0)
    lo, hi = min(vals), max(vals)
    if hi == lo:
        hi, lo = hi + 1e-9 + abs(hi) * 0.01, lo - 1e-9 - abs(lo) * 0.01
    return nice_ticks(lo, hi)


def _legend(items: Sequence[tuple[str, str]]) -> str:
    spans = "".join(
        f'<span class="legend-item"><i style="background:{colour}"></i>{escape(name)}</span>'
        for name, colour in items
    )
    return f'<div class="legend">{spans}</div>'


def _colours(names: Sequence[str]) -> list[str]:
    return [PALETTE[k % len(PALETTE)] for k in range(len(names))]


def line_chart(
    labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    title: str,
    fmt: str = "num",
    unit: str = "",
    width: int = W,
    connect_gaps: bool = False,
) -> SafeString:
    """One or more lines over shared x labels; gaps (None) break the line unless `connect_gaps`
    (series placed on a union of stamps, where a None only means "no bar of this run here").
    A series with no finite value is left out of the plot AND the legend."""
    series = {name: vals for name, vals in series.items() if any(_finite(v) for v in vals)}
    if not labels or not series:
        return mark_safe('<p class="muted">no data</p>')
    idx = _sample(len(labels))
    labs = [labels[i] for i in idx]
    pts = {name: [vals[i] if i < len(vals) else None for i in idx] for name, vals in series.items()}
    ticks = _ticks_for([v for vals in pts.values() for v in vals])
    lo, hi = ticks[0], ticks[-1]
    parts = _frame(ticks, labs, fmt, title, unit, width)
    colours = _colours(list(pts))
    for colour, (name, vals) in zip(colours, pts.items(), strict=True):
        path, pen = [], "M"
        for i, v in enumerate(vals):
            if _finite(v):
                path.append(f"{pen}{_x(i, len(vals), width):.1f},{_y(v, lo, hi):.1f}")
                pen = "L"
            elif not connect_gaps:
                pen = "M"
        parts.append(
            f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" '
            f'stroke-width="1.4"><title>{escape(name)}</title></path>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts) + _legend(list(zip(pts, colours, strict=True))))


def area_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    title: str,
    fmt: str = "pct",
    unit: str = "",
    color: str = "#d1242f",
    width: int = W,
) -> SafeString:
    """A filled area from zero (drawdown: pass negative values to hang below the axis)."""
    if not labels:
        return mark_safe('<p class="muted">no data</p>')
    idx = _sample(len(labels))
    vals = [values[i] if _finite(values[i]) else 0.0 for i in idx]
    ticks = _ticks_for(vals, zero=True)
    lo, hi = ticks[0], ticks[-1]
    n = len(vals)
    parts = _frame(ticks, [labels[i] for i in idx], fmt, title, unit, width)
    y0 = _y(0.0, lo, hi)
    pts = " ".join(f"L{_x(i, n, width):.1f},{_y(v, lo, hi):.1f}" for i, v in enumerate(vals))
    parts.append(
        f'<path d="M{_x(0, n, width):.1f},{y0:.1f} {pts} L{_x(n - 1, n, width):.1f},{y0:.1f} Z" fill="{color}" fill-opacity="0.35" stroke="{color}" stroke-width="1"/>'
    )
    parts.append("</svg>")
    return mark_safe("".join(parts))


def stacked_area_chart(
    labels: Sequence[str],
    series: dict[str, Sequence[float | None]],
    *,
    title: str,
    unit: str = "",
    width: int = W,
) -> SafeString:
    """Stacked areas of sector weights: each band sits on the sum of the ones before it, in the
    sector's own colour (SECTOR_COLOURS)."""
    if not labels or not series:
        return mark_safe('<p class="muted">no data</p>')
    n = len(labels)
    base = [0.0] * n
    tops = {}
    for name, vals in series.items():
        top = [base[i] + (vals[i] if i < len(vals) and _finite(vals[i]) else 0.0) for i in range(n)]
        tops[name] = (list(base), top)
        base = top
    ticks = _ticks_for(base, zero=True)
    lo, hi = ticks[0], ticks[-1]
    parts = _frame(ticks, labels, "pct", title, unit, width)
    spare = iter(c for c in PALETTE if c not in SECTOR_COLOURS.values())
    colours = [SECTOR_COLOURS.get(name) or next(spare, "#ffffff") for name in tops]
    for colour, (name, (bottom, top)) in zip(colours, tops.items(), strict=True):
        upper = " ".join(f"L{_x(i, n, width):.1f},{_y(v, lo, hi):.1f}" for i, v in enumerate(top))
        lower = " ".join(f"L{_x(i, n, width):.1f},{_y(bottom[i], lo, hi):.1f}" for i in reversed(range(n)))
        d = f"M{_x(0, n, width):.1f},{_y(bottom[0], lo, hi):.1f} {upper} {lower} Z"
        parts.append(
            f'<path d="{d}" fill="{colour}" fill-opacity="0.8" stroke="none"><title>{escape(name)}</title></path>'
        )
    parts.append("</svg>")
    return mark_safe("".join(parts) + _legend(list(zip(tops, colours, strict=True))))


def bar_chart(items: Sequence[tuple[str, float]], *, title: str, money: bool = True) -> SafeString:
    """Horizontal bars with their value printed (cost breakdown, in dollars when `money`)."""
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
        text = (f"${v:,.2f}" if money else f"{v:.4g}") if _finite(v) else "n/a"
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
