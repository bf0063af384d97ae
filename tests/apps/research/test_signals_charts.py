"""SVG charts escape their text and break lines at gaps."""

from __future__ import annotations

from apps.research import charts


def test_charts_escape_labels_and_handle_gaps():
    svg = charts.line_chart(
        ["2020-01-01", "2020-01-02", "2020-01-03"], {"<script>x</script>": [1.0, None, 2.0]}, title="T&E"
    )
    assert "<script>" not in svg and "&lt;script&gt;" in svg and 'aria-label="T&amp;E"' in svg
    assert svg.count(" M") + svg.count('d="M') >= 2  # the gap breaks the line
    assert "no data" in charts.heatmap({}, title="m")
    heat = charts.heatmap({"2020": {"1": 0.05, "2": -0.02, "year": 0.03}}, title="Monthly")
    assert "rgba(45,164,78" in heat and "rgba(209,36,47" in heat and ">5.0<" in heat
    stacked = charts.stacked_area_chart(["a", "b"], {"Energy": [0.2, 0.3], "IT": [0.5, None]}, title="S")
    assert stacked.count("<path") == 2 and "Energy" in stacked
