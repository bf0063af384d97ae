"""Metrics against empyrical(-reloaded) and zipline's own published figures, on real returns."""

import json

import empyrical
import numpy as np
import pandas as pd
import pytest

from bench._data import SHARED_DATA
from tests.engine.conftest import random_panel
from workers.engine import metrics as M
from workers.engine.backtest import BacktestConfig, run_backtest

REFERENCE = SHARED_DATA / "reference"
SPY_DAILY = SHARED_DATA / "daily" / "benchmarks" / "spy_daily_from_finfeatures_hourly_2004_2021.csv"
ZIPLINE = ["buy_and_hold", "buyapple", "dual_ema_talib", "dual_moving_average", "momentum_pipeline"]
needs_reference = pytest.mark.skipif(
    not REFERENCE.exists(), reason=f"reference data folder {REFERENCE} is absent"
)
needs_spy = pytest.mark.skipif(not SPY_DAILY.exists(), reason=f"real SPY daily file {SPY_DAILY} is absent")


def zipline_frame(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / f"zipline_expected_perf_{name}.csv")


def close(a: float, b: float) -> bool:
    return np.isclose(a, b, rtol=1e-9, atol=1e-12) or (np.isnan(a) and np.isnan(b))


@needs_spy
@pytest.mark.parametrize("ppy", [252, 252 * 7])
def test_every_metric_matches_empyrical_on_real_spy_returns(ppy):
    spy = pd.read_csv(SPY_DAILY)
    r = spy["close"].pct_change().dropna().to_numpy()
    # a second real series as the "benchmark": SPY lagged one day is a different, real return path
    b = np.concatenate(([np.nan], r[:-1]))
    assert len(r) > 4000
    ok = np.isfinite(b)
    pairs = {
        "total_return": (M.total_return(r), empyrical.cum_returns_final(r)),
        "cagr": (M.cagr(r, periods_per_year=ppy), empyrical.annual_return(r, annualization=ppy)),
        "vol": (
            M.annual_volatility(r, periods_per_year=ppy),
            empyrical.annual_volatility(r, annualization=ppy),
        ),
        "sharpe": (M.sharpe(r, periods_per_year=ppy), empyrical.sharpe_ratio(r, annualization=ppy)),
        "sharpe_rf": (
            M.sharpe(r, periods_per_year=ppy, risk_free=1e-4),
            empyrical.sharpe_ratio(r, risk_free=1e-4, annualization=ppy),
        ),
        "sortino": (M.sortino(r, periods_per_year=ppy), empyrical.sortino_ratio(r, annualization=ppy)),
        "downside": (
            M.downside_deviation(r, periods_per_year=ppy),
            empyrical.downside_risk(r, annualization=ppy),
        ),
        "max_dd": (M.max_drawdown(r), empyrical.max_drawdown(r)),
        "calmar": (M.calmar(r, periods_per_year=ppy), empyrical.calmar_ratio(r, annualization=ppy)),
        "ir": (
            M.information_ratio(r, b, periods_per_year=ppy),
            empyrical.excess_sharpe(r[ok], b[ok]) * np.sqrt(ppy),
        ),
        "beta": (M.alpha_beta(r, b, periods_per_year=ppy)[1], empyrical.beta(r[ok], b[ok])),
        "alpha": (
            M.alpha_beta(r, b, periods_per_year=ppy)[0],
            empyrical.alpha(r[ok], b[ok], annualization=ppy),
        ),
    }
    bad = {k: v for k, v in pairs.items() if not close(float(v[0]), float(v[1]))}
    assert not bad


@needs_reference
@pytest.mark.parametrize("name", ZIPLINE)
def test_final_metrics_match_zipline_running_columns(name):
    df = zipline_frame(name)
    r = df["returns"].to_numpy()
    last = df.iloc[-1]
    assert close(M.max_drawdown(r), last["max_drawdown"])
    assert close(M.annual_volatility(r, periods_per_year=252), last["algo_volatility"])
    assert close(M.sharpe(r, periods_per_year=252), last["sharpe"])
    assert close(M.sortino(r, periods_per_year=252), last["sortino"])
    assert np.isclose(M.total_return(r), last["algorithm_period_return"], rtol=1e-6)


@needs_reference
def test_side_by_side_reference_values():
    side = pd.read_csv(REFERENCE / "metrics_side_by_side_zipline_examples.csv", index_col=0)
    for name in ("buy_and_hold", "buyapple", "dual_moving_average", "momentum_pipeline"):
        r = zipline_frame(name)["returns"].to_numpy()
        col = side[name]
        assert len(r) == int(col["n"])
        assert close(M.sharpe(r, periods_per_year=252), col["empyrical_sharpe"])
        assert close(M.sortino(r, periods_per_year=252), col["empyrical_sortino"])
        assert close(M.max_drawdown(r), col["empyrical_max_drawdown"])
        assert close(M.cagr(r, periods_per_year=252), col["quantstats_cagr"])
        assert close(M.calmar(r, periods_per_year=252), col["empyrical_calmar"])


@needs_reference
def test_ffn_expected_max_drawdown():
    prices = pd.read_csv(REFERENCE / "ffn_test_data_AAPL_MSFT_C_2004_2014.csv", index_col=0, parse_dates=True)
    expected = json.loads((REFERENCE / "ffn_expected.json").read_text())["expected"][
        "calc_max_drawdown first 10 rows"
    ]
    for sym, value in expected.items():
        r = prices[sym].iloc[:10].pct_change().dropna().to_numpy()
        assert round(M.max_drawdown(r), 3) == pytest.approx(value, abs=1e-12), sym


def test_drawdown_duration_and_hit_rate_by_hand():
    r = np.array([0.1, -0.1, 0.05, 0.0, 0.2, -0.01, 0.0])
    # wealth 1.1, .99, 1.0395, 1.0395, 1.2474 (new peak), 1.2349, 1.2349
    assert M.max_drawdown_duration(r) == 3
    assert M.hit_rate(r) == pytest.approx(3 / 5)
    assert M.max_drawdown(np.array([-0.1, 0.05])) == pytest.approx(-0.1)  # the start is a peak
    assert M.max_drawdown_duration(np.array([0.01, 0.02])) == 0


def test_monthly_table_compounds_by_new_york_month():
    index = pd.DatetimeIndex(["2021-01-29 21:00", "2021-02-01 04:30", "2021-02-26 21:00", "2021-03-01 21:00"])
    # 2021-02-01 04:30 UTC is still January 31 in New York
    table = M.monthly_returns(np.array([0.1, 0.1, -0.5, 0.2]), index)
    assert table.loc[2021, 1] == pytest.approx(0.21)
    assert table.loc[2021, 2] == pytest.approx(-0.5)
    assert table.loc[2021, 3] == pytest.approx(0.2)
    assert table.loc[2021, "year"] == pytest.approx(1.21 * 0.5 * 1.2 - 1)
    assert np.isnan(table.loc[2021, 12])


def test_bad_returns_are_named():
    with pytest.raises(M.MetricsError, match="non-finite"):
        M.sharpe(np.array([0.1, np.nan]), periods_per_year=252)
    with pytest.raises(M.MetricsError, match="empty"):
        M.total_return(np.array([]))
    with pytest.raises(M.MetricsError, match="benchmark returns must have shape"):
        M.tracking_error(np.zeros(3), np.zeros(4), periods_per_year=252)


def test_backtest_metrics_annualise_with_the_panel_frequency():
    daily = random_panel(2, T=80, N=4, gaps=False)
    result = run_backtest(daily, BacktestConfig(), targets=np.full(daily.shape, 0.25))
    m = M.backtest_metrics(result)
    assert m["periods_per_year"] == 252
    assert m["sharpe"] == pytest.approx(M.sharpe(result.returns, periods_per_year=252))
    assert 0.9 < m["average_exposure"] <= 0.99
    assert m["cost_drag_bps_per_year"] > 0
    expected_drag = np.mean(result.cost_paid / np.concatenate(([1e6], result.equity[:-1]))) * 252 * 1e4
    assert m["cost_drag_bps_per_year"] == pytest.approx(expected_drag)
    assert m["turnover_annual"] == pytest.approx(result.turnover.mean() * 252)
