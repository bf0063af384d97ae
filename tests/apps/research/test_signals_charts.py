"""Rule alpha panels are point in time and members only; SVG charts escape their text."""

from __future__ import annotations

import numpy as np
import pytest

from apps.research import charts
from apps.research.services.rule_signals import RULES

pytestmark = pytest.mark.django_db


@pytest.fixture
def panel(tiny_data):
    import datetime as dt

    from apps.research.services.panel import panel_build

    return panel_build(
        universe=tiny_data, frequency="1d", start=dt.date(2016, 1, 1), end=dt.date(2018, 1, 1)
    ).panel


@pytest.mark.parametrize(
    ("rule", "params"),
    [
        ("ma_crossover", {"fast": 5, "slow": 20}),
        ("momentum", {"lookback": 60, "skip": 5}),
        ("mean_reversion", {"lookback": 20, "entry_z": 0.5}),
    ],
)
def test_rule_alpha_reads_no_future_and_only_members(panel, rule, params):
    full = RULES[rule](panel, **params)
    cut = 300
    head = RULES[rule](panel.slice_rows(cut), **params)
    np.testing.assert_array_equal(full[:cut], head)  # row t depends on rows <= t only
    assert np.isnan(full[~panel.member]).all()  # GE after it left the universe
    assert np.isfinite(full).sum() > 100


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
