"""Stock splits at the data boundary: back-adjust raw bars so prices are continuous across splits.

Why here, once: the backtest holds positions in SHARES and marks them to the close, so on a raw
2:1 ex-date the close halves and a holder would book a fake -50% loss (and every returns window,
feature and label would see it). Back-adjusting divides every price before an ex-date by the
cumulative split ratio (and multiplies volume), which makes the series look as if the current
share count had always existed; returns, dollar volumes and fills are then economically right.

Convention: a split is (symbol, ex_date, ratio) with ratio = NEW shares per OLD share (2.0 for a
2:1 split, 7.0 for AAPL on 2014-06-09, 0.25 for a 1-for-4 reverse split). This is the vendor
`split_coefficient` on the ex-date row (1.0 elsewhere) and the `value` of a CorporateAction of
kind "split". A bar belongs before the ex-date when its New York calendar date is earlier.

Dividends are NOT folded into prices (no total-return adjustment, deliberately): after a split
adjustment price x shares is still the raw cash notional (only the share unit changes), so fills,
participation, costs and equity stay in real cash. A total-return series instead scales every past
price by later dividends with no matching share count, so notional, costs and min-price rules
would be computed on prices nobody could trade at. Dividends are cash. Known limitation: the backtest does not credit them yet, so a held name's
return is its price return (roughly 1.5-2% a year below total return for the S&P 500). A long
frame's `dividend_amount` is divided by the split factor like a price (dividends per ADJUSTED
share), ready for a cash credit of position x dividend on each ex-date.

Back-adjustment uses the split ratios known at the end of the data, which is harmless for returns
(they are scale-free) but means an adjusted price LEVEL is not point-in-time: a $40 stock that
later splits 10:1 shows as $4 before its ex-date. So the factor is kept (a Panel's
`split_factor`, a long frame's `split_factor` column with `keep_factor=True`) and level rules
(the optimizer's "price >= min_price" filter) read the as-traded price `close x split_factor`.
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import numpy as np
import pandas as pd

from .market import MARKET_TZ, PRICE_FIELDS
from .panel import Panel

SPLIT_COLUMNS = ("symbol", "ex_date", "ratio")
# Vendor ratios carry float noise (7.000007 for AAPL's 7:1, 1.499999 for 3:2): a ratio within this
# relative distance of a fraction with a small denominator is snapped to it.
SNAP_RTOL = 1e-5
SNAP_MAX_DENOMINATOR = 20
_DAY_OFFSET = 1 << 19  # keeps days since 1970 positive in the composite (symbol, day) key


class CorporateActionError(ValueError):
    """Split records the adjustment refuses, with what is wrong."""


def snap_ratio(ratio: float) -> float:
    """The nearest simple fraction (denominator <= 20) when within SNAP_RTOL, else the ratio."""
    frac = Fraction(float(ratio)).limit_denominator(SNAP_MAX_DENOMINATOR)
    snapped = frac.numerator / frac.denominator
    return snapped if abs(snapped - ratio) <= SNAP_RTOL * abs(ratio) else float(ratio)


def check_splits(splits: pd.DataFrame) -> pd.DataFrame:
    """Validated splits: symbol (str), ex_date (datetime64, midnight), ratio (float64 > 0), sorted.

    Accepts Decimal ratios (the Django CorporateAction.value) and date/str ex-dates."""
    missing = [c for c in SPLIT_COLUMNS if c not in splits.columns]
    if missing:
        raise CorporateActionError(f"splits need columns {SPLIT_COLUMNS}; missing {missing}")
    out = pd.DataFrame({"symbol": splits["symbol"].astype(str)})
    try:
        out["ex_date"] = pd.to_datetime(splits["ex_date"]).dt.tz_localize(None).dt.normalize()
    except (ValueError, TypeError) as exc:
        raise CorporateActionError(f"splits ex_date is not a date column: {exc}") from exc
    try:
        out["ratio"] = pd.to_numeric(splits["ratio"].astype(float), errors="raise").astype(np.float64)
    except (ValueError, TypeError) as exc:
        raise CorporateActionError(f"splits ratio is not numeric: {exc}") from exc
    bad = ~(np.isfinite(out["ratio"]) & (out["ratio"] > 0))
    if bad.any():
        row = out[bad].iloc[0]
        raise CorporateActionError(
            f"split ratio must be a finite number > 0 (new shares per old share); "
            f"got {row['ratio']!r} for {row['symbol']} on {row['ex_date'].date()}"
        )
    if out["ex_date"].isna().any():
        raise CorporateActionError("splits have a missing ex_date")
    dup = out.duplicated(["symbol", "ex_date"], keep=False)
    if dup.any():
        row = out[dup].iloc[0]
        raise CorporateActionError(f"two splits for {row['symbol']} on {row['ex_date'].date()}")
    return out.sort_values(["symbol", "ex_date"], kind="stable").reset_index(drop=True)


def vendor_splits(
    long: pd.DataFrame, *, column: str = "split_coefficient", date_col: str = "date"
) -> pd.DataFrame:
    """(symbol, ex_date, ratio) from a vendor file's per-row split coefficient (1.0 = no split),
    with float noise snapped (7.000007 -> 7)."""
    rows = long[long[column].to_numpy(dtype=np.float64) != 1.0]
    ratios = [snap_ratio(r) for r in rows[column].to_numpy(dtype=np.float64)]
    return check_splits(pd.DataFrame({"symbol": rows["symbol"], "ex_date": rows[date_col], "ratio": ratios}))


def contradicted_splits(
    long: pd.DataFrame, splits: pd.DataFrame, *, date_col: str = "date", min_log_ratio: float = 0.2
) -> pd.DataFrame:
    """Material splits (|log ratio| >= `min_log_ratio`) that the raw prices contradict: on the
    ex-date the move prev close -> open is closer to no split at all than to the stated ratio, in
    log terms, both without and with that day's cash dividend added back to the open (when the
    frame has a `dividend_amount` column): vendors book spin-offs either way, or both.

    The vendor daily set has two: ANTM 2002-03-18 "2.0" and GNRC 2010-02-12 "0.303582" (the day
    after its IPO), where the raw price does not move; adjusting by them would create the very fake
    jump this module removes. Reverse splits with a spin-off (HLT 2017, MSI 2011, DD 2019; JCI/Tyco
    2007 with its 88.53 distribution booked as a dividend) move by the ratio AND the spun-off value
    and are not contradicted (SO 2001-04-03 carries both a 1.5 ratio and a 13.8 dividend for
    Mirant; either explains the move). Small ratios (the vendor's 1.05 stock dividends, HON's 1.011 / 1.032
    spin-off factors) are within daily noise and are never flagged."""
    s = check_splits(splits)
    s = s[np.abs(np.log(s["ratio"].to_numpy())) >= min_log_ratio]
    cols = ["symbol", date_col, "open", "close"] + (["dividend_amount"] if "dividend_amount" in long else [])
    bars = long[cols].sort_values(["symbol", date_col], kind="stable")
    bars = bars.assign(
        prev_close=bars.groupby("symbol", sort=False)["close"].shift(),
        ex_date=pd.to_datetime(bars[date_col]).dt.normalize(),
    )
    m = s.merge(bars, on=["symbol", "ex_date"], how="inner")
    paid = m["dividend_amount"].to_numpy(dtype=np.float64) if "dividend_amount" in m else 0.0
    log_ratio = np.log(m["ratio"].to_numpy())
    bad = np.ones(len(m), dtype=bool)
    for added in (0.0, paid):
        with np.errstate(divide="ignore", invalid="ignore"):
            move = np.log(m["prev_close"].to_numpy() / (m["open"].to_numpy() + added))
        bad &= np.isfinite(move) & (np.abs(move) < np.abs(move - log_ratio))
    return m.loc[bad, list(SPLIT_COLUMNS)].reset_index(drop=True)


def _ny_dates(values) -> np.ndarray:
    """datetime64[ns] New York calendar dates (midnight) of bar stamps: tz-aware stamps are
    converted; naive values are taken as UTC stamps when they carry a time of day, as dates when
    they are all at midnight (the vendor `date` column)."""
    idx = pd.DatetimeIndex(pd.to_datetime(values))
    if idx.tz is None:
        if len(idx) and (idx != idx.normalize()).any():
            idx = idx.tz_localize("UTC")
        else:
            return idx.values.astype("datetime64[ns]")
    return idx.tz_convert(MARKET_TZ).tz_localize(None).normalize().values.astype("datetime64[ns]")


def _day_numbers(dates: np.ndarray) -> np.ndarray:
    return dates.astype("datetime64[D]").astype(np.int64) + _DAY_OFFSET


def split_factors_long(symbols, dates: np.ndarray, splits: pd.DataFrame) -> np.ndarray:
    """Per row: the product of the ratios of that symbol's splits with ex_date > the row's date
    (1.0 when none). One searchsorted over composite (symbol, day) keys for all rows at once."""
    s = check_splits(splits)
    n = len(dates)
    if not len(s) or not n:
        return np.ones(n)
    symbols = pd.Series(symbols).astype(str).reset_index(drop=True)
    codes, _ = pd.factorize(pd.concat([symbols, s["symbol"]], ignore_index=True))
    row_code, split_code = codes[:n].astype(np.int64), codes[n:].astype(np.int64)
    width = np.int64(1) << 21
    split_key = split_code * width + _day_numbers(s["ex_date"].to_numpy("datetime64[ns]"))
    row_key = row_code * width + _day_numbers(dates)
    # Within a symbol, suffix[k] = ratio[k] x ratio[k+1] x ... (its splits from k on, latest first).
    ratio = s["ratio"].to_numpy()
    suffix = np.empty_like(ratio)
    starts = np.flatnonzero(np.r_[True, split_code[1:] != split_code[:-1]])
    ends = np.r_[starts[1:], len(ratio)]
    for a, b in zip(starts, ends, strict=True):  # one step per symbol with splits, not per row
        suffix[a:b] = np.cumprod(ratio[a:b][::-1])[::-1]
    k = np.searchsorted(split_key, row_key, side="right")  # first split strictly after the row
    hit = k < len(split_key)
    hit[hit] &= split_code[k[hit]] == row_code[hit]
    out = np.ones(n)
    out[hit] = suffix[k[hit]]
    return out


def split_factors_panel(panel: Panel, splits: pd.DataFrame) -> np.ndarray:
    """(T, N) cumulative split factor of each bar: the product of its name's later split ratios."""
    s = check_splits(splits)
    T, N = panel.shape
    col = {sym: i for i, sym in enumerate(panel.symbols)}
    s = s[s["symbol"].isin(col.keys())]
    jumps = np.ones((T + 1, N))
    if len(s):
        dates = _ny_dates(panel.index)
        rows = np.searchsorted(dates, s["ex_date"].to_numpy("datetime64[ns]"), side="left")
        cols = s["symbol"].map(col).to_numpy(dtype=np.int64)
        np.multiply.at(jumps, (rows, cols), s["ratio"].to_numpy())
    # factor[t] = product of jumps at rows > t (a split on row p adjusts rows < p)
    return np.cumprod(jumps[::-1], axis=0)[::-1][1:]


def split_adjust(
    data: pd.DataFrame | Panel,
    splits: pd.DataFrame,
    *,
    time_col: str | None = None,
    keep_factor: bool = False,
):
    """Back-adjust for splits: OHLC / factor and volume x factor, where factor is the product of the
    ratios of the name's splits with a later ex-date. Returns the same kind of object (a new one).

    `data`: a Panel, or long bars with a `symbol` column, OHLC(V) columns and a time column
    (`time_col`, default `date` when present else `ts`: vendor dates or UTC bar stamps). A long
    frame's `dividend_amount` column, when present, is divided by the factor as well (dividends
    per adjusted share). `splits`: (symbol, ex_date, ratio) rows; symbols absent from `data` are
    ignored. A Panel keeps the factor (its `split_factor`); a long frame gets it as a
    `split_factor` column when `keep_factor` (the panel builders pass it on). The Django side passes its CorporateAction rows of kind "split" as
    `pd.DataFrame({"symbol": ..., "ex_date": ..., "ratio": value})`."""
    if isinstance(data, Panel):
        f = split_factors_panel(data, splits)
        return replace(
            data,
            open=data.open / f,
            high=data.high / f,
            low=data.low / f,
            close=data.close / f,
            volume=data.volume * f,
            split_factor=f if data.split_factor is None else data.split_factor * f,
        )
    if not isinstance(data, pd.DataFrame):
        raise CorporateActionError(
            f"split_adjust takes a Panel or a long DataFrame, got {type(data).__name__}"
        )
    if time_col is None:
        time_col = "date" if "date" in data.columns else "ts"
    missing = [c for c in ("symbol", time_col) if c not in data.columns]
    if missing:
        raise CorporateActionError(f"long bars need columns symbol and {time_col!r}; missing {missing}")
    f = split_factors_long(data["symbol"], _ny_dates(data[time_col]), splits)
    out = data.copy()
    for c in (*PRICE_FIELDS, "dividend_amount"):
        if c in out.columns:
            out[c] = out[c].to_numpy(dtype=np.float64) / f
    if "volume" in out.columns:
        out["volume"] = out["volume"].to_numpy(dtype=np.float64) * f
    if keep_factor:
        prior = out["split_factor"].to_numpy(dtype=np.float64) if "split_factor" in out.columns else 1.0
        out["split_factor"] = prior * f
    return out
