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


def test_axis_ticks_are_round_and_labels_fit():
    assert charts.nice_ticks(931_000, 1_612_000) == [
        800_000,
        1_000_000,
        1_200_000,
        1_400_000,
        1_600_000,
        1_800_000,
    ]
    assert charts.nice_ticks(-0.1245, 0.0) == [-0.15, -0.1, -0.05, 0.0]
    ticks = charts.nice_ticks(-0.1245, 0.0)
    assert [charts.tick_label(v, 0.05, "pct") for v in ticks] == ["-15%", "-10%", "-5%", "0%"]
    assert charts.tick_label(1_200_000, 200_000, "money", 1_800_000) == "$1.2M"
    assert charts.tick_label(800_000, 200_000, "money", 1_800_000) == "$0.8M"
    svg = charts.line_chart(
        ["2016-01-04", "2016-06-01", "2017-12-29"],
        {"strategy": [1e6, 1.2e6, 1.5e6]},
        title="E",
        fmt="money",
        unit="equity, USD",
    )
    assert ">$1.6M<" in svg and ">equity, USD<" in svg
    # the first and last date labels hang inwards, so neither is cut at the edge of the chart
    assert 'text-anchor="start" fill="#8a9aaa">2016-01-04<' in svg
    assert 'text-anchor="end" fill="#8a9aaa">2017-12-29<' in svg


def test_every_sector_has_its_own_colour_and_empty_series_have_no_legend():
    colours = list(charts.SECTOR_COLOURS.values())
    assert len(set(colours)) == len(colours)
    sectors = {name: [0.05, 0.05] for name in charts.SECTOR_COLOURS}
    svg = charts.stacked_area_chart(["a", "b"], sectors, title="S", unit="% of equity")
    for name, colour in charts.SECTOR_COLOURS.items():
        assert f'fill="{colour}" fill-opacity="0.8" stroke="none"><title>{name}</title>' in svg
    svg = charts.line_chart(["a", "b"], {"strategy": [1.0, 2.0], "SPY (benchmark)": [None, None]}, title="E")
    assert "SPY (benchmark)" not in svg


def test_date_labels_do_not_crowd_a_half_width_chart():
    labels = [f"2016-01-{d:02d}" for d in range(1, 29)]
    full = charts.line_chart(labels, {"s": list(range(28))}, title="F")
    half = charts.line_chart(labels, {"s": list(range(28))}, title="H", width=charts.HALF_W)
    assert full.count('y="242"') == 6 and half.count('y="242"') == 4


def test_sector_weights_use_the_sector_a_name_had_at_the_bar():
    from types import SimpleNamespace

    import numpy as np

    from apps.research.sectors import sector_labels
    from apps.research.services.results import _sector_weights

    days = ["2018-09-21", "2018-09-24"]
    assert sector_labels(["GOOGL", "XOM"], ["Communication Services", "Energy"], days).tolist() == [
        ["Information Technology", "Energy"],
        ["Communication Services", "Energy"],
    ]
    # GOOGL is stored with its latest sector; before 2018-09-24 it counts as Information Technology
    panel = SimpleNamespace(
        symbols=("GOOGL", "XOM"),
        sector=np.array([0, 1]),
        sector_names=("Communication Services", "Energy"),
        index=np.array(["2018-09-21T20:00", "2018-09-24T20:00"], dtype="datetime64[m]"),
    )
    result = SimpleNamespace(panel=panel, realised_weights=np.array([[0.6, 0.4], [0.5, 0.5]]))
    assert _sector_weights(result, np.array([0, 1])) == {
        "Communication Services": [0.0, 0.5],
        "Energy": [0.4, 0.5],
        "Information Technology": [0.6, 0.0],
    }
