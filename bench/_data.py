"""Readers that turn the real data files (../shared/data formats) into engine Panels, for the
benchmarks and the tests (never the application, which builds Panels from the database with
`apps.marketdata.selectors.panel`); both end in the same engine `Panel` through the same engine
helpers (`workers.engine.market`, `workers.engine.panel.wide_panel`).

Membership convention (the same as apps.universes): a name is a member from its start date
inclusive to its end date exclusive; a blank end date means still a member.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from workers.engine.corporate_actions import contradicted_splits, split_adjust, vendor_splits
from workers.engine.market import daily_stamp_utc, hourly_stamp_utc
from workers.engine.panel import Panel, wide_panel

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
SHARED_DATA = REPO.parent / "shared" / "data"
DAILY_PARQUET = SHARED_DATA / "daily" / "pooksoft_sp500_daily_adjusted_1999_2021.parquet"
MEMBERSHIP_INTERVALS = SHARED_DATA / "membership" / "fja05680_sp500_ticker_start_end.csv"
SECTORS = SHARED_DATA / "membership" / "gics_sector_union_datasets_history.csv"
SPY_DAILY = SHARED_DATA / "daily" / "benchmarks" / "spy_daily_from_finfeatures_hourly_2004_2021.csv"
SPY_HOURLY = SHARED_DATA / "hourly" / "finfeatures_spy_hour_2004_2021.csv"
NASDAQ_HOURLY = SHARED_DATA / "hourly" / "aitrader_nasdaq100_60min_2025-10_11.csv"
ZIPLINE_CSVDIR = SHARED_DATA / "zipline_samples"
FIXTURE_DAILY = FIXTURES / "daily" / "pooksoft_subset_10sym_2018_2021_raw_adj_div_split.csv.gz"
FIXTURE_SPY_DAILY = FIXTURES / "daily" / "spy_daily_from_finfeatures_2004_2021.csv.gz"
FIXTURE_MEMBERSHIP = FIXTURES / "membership" / "fja05680_sp500_ticker_start_end.csv"
FIXTURE_SECTORS = FIXTURES / "membership" / "gics_sector_union_datasets_history.csv"


def read_membership(path: Path = MEMBERSHIP_INTERVALS) -> pd.DataFrame:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    return df[["ticker", "start_date", "end_date"]]


def read_sectors(path: Path = SECTORS) -> dict[str, str]:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    return dict(zip(df["symbol"], df["sector_last"], strict=True))


def daily_sp500_splits(*, path: Path = DAILY_PARQUET, bars: pd.DataFrame | None = None) -> pd.DataFrame:
    """The daily set's splits as (symbol, ex_date, ratio), from its `split_coefficient` column with
    vendor float noise snapped, minus the ones its own raw prices contradict (ANTM 2002-03-18,
    GNRC 2010-02-12: see corporate_actions.contradicted_splits). `bars`: the already-read file."""
    if bars is None:
        bars = pd.read_parquet(
            path, columns=["symbol", "date", "open", "close", "dividend_amount", "split_coefficient"]
        )
        bars = bars[bars["symbol"].astype(str).str.len() > 0]
    splits = vendor_splits(bars)
    bad = contradicted_splits(bars, splits)
    keep = ~splits.set_index(["symbol", "ex_date"]).index.isin(bad.set_index(["symbol", "ex_date"]).index)
    return splits[keep].reset_index(drop=True)


def load_daily_sp500(
    *,
    start: str | None = None,
    end: str | None = None,
    symbols: list[str] | None = None,
    path: Path = DAILY_PARQUET,
    adjust_splits: bool = True,
) -> Panel:
    """The real 504-stock daily set as a point-in-time Panel (SPY benchmark, fja05680 membership,
    GICS sectors). Rows with a blank symbol are dropped (the file has 5,402).

    Prices are raw cash prices, back-adjusted for splits by default (`adjust_splits`): the backtest
    holds shares and marks them to the close, so a raw 2:1 ex-date would book a fake -50% loss.
    The adjustment uses the splits with an ex-date before `end` (the price level is as of the end
    of the window) and is kept as the panel's `split_factor` (as-traded prices for level rules).
    Dividends are not folded into prices (see workers.engine.corporate_actions)."""
    cols = ["symbol", "date", "open", "high", "low", "close", "volume"]
    if adjust_splits:
        cols += ["dividend_amount", "split_coefficient"]
    df = pd.read_parquet(path, columns=cols)
    df = df[df["symbol"].astype(str).str.len() > 0]
    if symbols is not None:
        df = df[df["symbol"].isin(symbols)]
    return _daily_panel(df, start=start, end=end, adjust_splits=adjust_splits, spy=SPY_DAILY)


def load_fixture_daily(
    *, start: str | None = None, end: str | None = None, symbols: list[str] | None = None
) -> Panel:
    """The repository's own daily fixture (fixtures/daily/pooksoft_subset_10sym_2018_2021...: ten
    large caps, raw prices with split coefficients, AAPL 4:1 and TSLA 5:1 on 2020-08-31) as a
    point-in-time Panel like `load_daily_sp500`, with the fixture SPY, membership and sectors.
    Always present (no ../shared needed), so tests on it never skip."""
    df = pd.read_csv(FIXTURE_DAILY)
    df["date"] = pd.to_datetime(df["date"])
    if symbols is not None:
        df = df[df["symbol"].isin(symbols)]
    return _daily_panel(
        df,
        start=start,
        end=end,
        adjust_splits=True,
        spy=FIXTURE_SPY_DAILY,
        membership=FIXTURE_MEMBERSHIP,
        sectors=FIXTURE_SECTORS,
    )


def _daily_panel(
    df: pd.DataFrame,
    *,
    start: str | None,
    end: str | None,
    adjust_splits: bool,
    spy: Path,
    membership: Path = MEMBERSHIP_INTERVALS,
    sectors: Path = SECTORS,
) -> Panel:
    splits = daily_sp500_splits(bars=df) if adjust_splits else None
    if start is not None:
        df = df[df["date"] >= pd.Timestamp(start)]
    if end is not None:
        df = df[df["date"] < pd.Timestamp(end)]
    df = df[["symbol", "date", "open", "high", "low", "close", "volume"]]
    if splits is not None:
        if end is not None:
            splits = splits[splits["ex_date"] < pd.Timestamp(end)]
        df = split_adjust(df, splits, time_col="date", keep_factor=True)
    df = df.assign(ts=daily_stamp_utc(df["date"]), volume=df["volume"].astype(np.float64)).drop(
        columns="date"
    )
    spy_bars = pd.read_csv(spy)
    bench = pd.Series(spy_bars["close"].to_numpy(dtype=np.float64), index=daily_stamp_utc(spy_bars["date"]))
    return wide_panel(
        df,
        freq="1d",
        benchmark_close=bench,
        intervals=read_membership(membership),
        sectors=read_sectors(sectors),
    )


def load_hourly_csv(
    path: Path, *, benchmark_path: Path | None = SPY_HOURLY, bars_per_day: int | None = None
) -> Panel:
    """A long hourly CSV (symbol,timestamp,open,high,low,close,volume; New York bar-end stamps)."""
    df = pd.read_csv(path)
    df = df.assign(ts=hourly_stamp_utc(df["timestamp"]), volume=df["volume"].astype(np.float64)).drop(
        columns="timestamp"
    )
    # The benchmark: SPY (else QQQ) when the file carries it, else the SPY hourly file.
    bench_syms = df["symbol"].isin(["SPY", "QQQ"])
    bench = None
    for sym in ("SPY", "QQQ"):
        b = df[df["symbol"] == sym]
        if len(b):
            bench = pd.Series(b["close"].to_numpy(dtype=np.float64), index=pd.DatetimeIndex(b["ts"]))
            break
    if bench is None and benchmark_path is not None:
        spy = pd.read_csv(benchmark_path)
        bench = pd.Series(spy["close"].to_numpy(dtype=np.float64), index=hourly_stamp_utc(spy["timestamp"]))
    return wide_panel(
        df[~bench_syms], freq="1h", benchmark_close=bench, sectors=read_sectors(), bars_per_day=bars_per_day
    )


def load_csvdir(symbol: str) -> pd.DataFrame:
    """A zipline csvdir sample (date, open, high, low, close, volume, dividend, split)."""
    path = ZIPLINE_CSVDIR / f"csvdir_{symbol}.csv"
    if not path.exists():
        raise FileNotFoundError(f"zipline csvdir sample {path} is absent")
    return pd.read_csv(path, parse_dates=["date"])
