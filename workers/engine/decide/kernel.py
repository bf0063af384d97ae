"""The decision kernel: one bar of a strategy, the same code in the backtest and on the live desk.

`Kernel(config, model=...)` is built once per strategy version from its validated config and, for
learned kinds, its trained model (rules are fully described by their parameters). Each bar,
`kernel.decide(panel, account)` reads the point-in-time panel up to bar t (its last row) and the
account at the close of t (positions, cash, equity history, the governor's state after bar t-1)
and returns the target weights with a decision record: the signal, the governor's state, the
allocator's status, and the constraints that bound.

Parity with the backtest is by construction and tested bar by bar (tests/engine/test_kernel.py):
the governor is the backtest's `Governor` resumed from (state, peak); the allocation step is
`decide.step`, the very function the backtest's bar loop calls; the market inputs at t are the
simulator's own `build_inputs` arrays, whose row t reads rows <= t only. One caveat a live
process must keep: the optimizer allocator is stateful (OSQP warm starts, the vol search starts
from the last bar's risk aversion, the risk model refreshes on a cadence), so bit-identity needs
the same `Kernel` object fed every bar in order, as the backtest's loop feeds its allocator.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ..backtest.governor import NORMAL, Governor
from ..backtest.inputs import build_inputs
from ..backtest.sizing import decision_orders
from ..features import compute_features_last
from ..models import model_from_dict
from ..models.base import SignalModel
from ..optimizer import OptimizerAllocator
from ..optimizer.bounds import sector_rows, sector_sums
from ..panel import Panel
from ..rules import rule_signal
from ..serialize import to_json_list, to_json_value
from .configs import DecideConfigError, allocator_for, backtest_config, feature_list, is_learned
from .step import allocate_bar, allocation_context

# Relative tolerance for "this constraint bound" in the decision record.
BIND_TOL = 1e-6


class KernelInputError(ValueError):
    """An account state or panel the kernel refuses, naming what is wrong."""


class SignalSource(Protocol):
    def at(self, panel: Panel) -> np.ndarray:
        """(N,) scores at the panel's last bar from its rows only; NaN = no view."""


@dataclass(frozen=True)
class RuleSignal:
    rule: str
    params: Mapping[str, Any]

    def at(self, panel: Panel) -> np.ndarray:
        # The whole rule panel up to t: its row t is the backtest's row t (trailing windows only).
        return rule_signal(panel, rule=self.rule, params=self.params)[-1]


@dataclass(frozen=True)
class ModelSignal:
    model: SignalModel

    def at(self, panel: Panel) -> np.ndarray:
        raw = compute_features_last(panel, self.model.feature_names)  # (F, N)
        return self.model.predict_cross_section(raw.T, panel.member[-1])


def signal_source(config: Mapping[str, Any], model: SignalModel | None) -> SignalSource:
    if is_learned(config["kind"]):
        if model is None:
            raise DecideConfigError(f"a {config['kind']} strategy needs its trained model to decide")
        return ModelSignal(model)
    if model is not None:
        raise DecideConfigError(f"a {config['kind']} rule takes no model (its parameters describe it)")
    return RuleSignal(config["kind"], dict(config["model"]))


@dataclass(frozen=True)
class GovernorState:
    """The drawdown governor between bars: its state and the equity peak so far."""

    state: str = NORMAL
    peak: float = -math.inf


@dataclass(frozen=True)
class AccountState:
    positions: np.ndarray  # (N,) shares held at the close of t, in the panel's symbol order
    cash: float
    equity: np.ndarray  # (k,) close-marked equity of the bars up to t; the last is equity at t
    governor: GovernorState = field(default_factory=GovernorState)  # after the update of bar t-1


@dataclass(frozen=True)
class Decision:
    t: int
    ts: np.datetime64  # bar-end stamp (UTC) of the decision bar
    weights: np.ndarray  # (N,) target weights (the backtest's target_weights row t)
    orders: np.ndarray  # (N,) signed share orders (buy > 0) to fill at t+1: the backtest's orders row t
    signal: np.ndarray  # (N,) scores at t (NaN = no view)
    governor: GovernorState  # after this bar's update: what the next bar resumes from
    drawdown: float
    exposure_cap: float
    allow_buys: bool
    status: str  # the allocator's status ("optimal", "fallback_hold", "baseline", ...)
    reason: str  # why a fallback was used
    bound: dict  # the constraints that bound this decision
    diagnostics: dict  # the allocator's own diagnostics

    def to_record(self, symbols: tuple[str, ...]) -> dict[str, Any]:
        """A JSON-ready record of the decision (weights and scores by symbol, NaN -> None)."""

        def by_symbol(values: np.ndarray) -> dict[str, float | None]:
            return dict(zip(symbols, to_json_list(values), strict=True))

        return {
            "t": self.t,
            "ts": str(np.datetime_as_string(self.ts, unit="s")),
            "weights": by_symbol(self.weights),
            "orders": by_symbol(self.orders),
            "signal": by_symbol(self.signal),
            "governor": {"state": self.governor.state, "peak": self.governor.peak},
            "drawdown": self.drawdown,
            "exposure_cap": self.exposure_cap,
            "allow_buys": self.allow_buys,
            "status": self.status,
            "reason": self.reason,
            "bound": to_json_value(self.bound),
        }


class Kernel:
    def __init__(
        self, config: Mapping[str, Any], *, model: SignalModel | None = None, integer_shares: bool = False
    ) -> None:
        self.config = config
        self.backtest = backtest_config(config, integer_shares=integer_shares)
        self.allocator = allocator_for(config)
        self.signal = signal_source(config, model)

    @classmethod
    def from_artifact(
        cls, config: Mapping[str, Any], artifact: bytes | None, *, integer_shares: bool = False
    ) -> Kernel:
        """The kernel of a stored model version: its config snapshot and artifact bytes (the JSON
        of `models.model_to_dict`, as training stores it; None for a rule)."""
        model = None if artifact is None else model_from_dict(json.loads(artifact))
        if model is not None:
            if model.kind != config["kind"]:
                raise DecideConfigError(
                    f"the artifact holds a {model.kind} model, the config is {config['kind']}"
                )
            if list(model.feature_names) != feature_list(config):
                raise DecideConfigError("the artifact's features differ from the config's feature list")
        return cls(config, model=model, integer_shares=integer_shares)

    def decide(self, panel: Panel, account: AccountState) -> Decision:
        """The decision at the panel's last bar t: target weights for orders that fill at t+1."""
        T, N = panel.shape
        t = T - 1
        positions = _check_account(account, N)
        equity = float(account.equity[-1])
        cfg = self.backtest
        inputs = build_inputs(panel, cfg)
        if cfg.governor is not None:
            g = Governor.restore(cfg.governor, state=account.governor.state, peak=account.governor.peak)
            drawdown = g.update(t, equity)
            state, cap, allow_buys = GovernorState(g.state, g.peak), g.exposure_cap, g.allow_buys
        else:
            drawdown, state, cap, allow_buys = 0.0, account.governor, 1.0, True
        alpha = np.asarray(self.signal.at(panel), dtype=np.float64)
        ctx = allocation_context(
            panel=panel,
            t=t,
            alpha_t=alpha,
            positions=positions,
            equity=equity,
            mark_t=inputs.mark[t],
            adv_dollar_t=inputs.adv_dollar[t],
            returns_window=inputs.returns[max(0, t - cfg.returns_window + 1) : t + 1],
            exposure_cap=cap,
            allow_buys=allow_buys,
        )
        step = allocate_bar(self.allocator, ctx, member_t=panel.member[t], max_weight=cfg.max_weight)
        orders = decision_orders(
            step.weights,
            positions=positions,
            equity=equity,
            mark_t=inputs.mark[t],
            inv_mark_t=inputs.inv_mark[t],
            config=cfg,
            allow_buys=allow_buys,
        )
        return Decision(
            t=t,
            ts=panel.index[t],
            weights=step.weights,
            orders=orders,
            signal=alpha,
            governor=state,
            drawdown=drawdown,
            exposure_cap=cap,
            allow_buys=allow_buys,
            status=step.result.status,
            reason=step.result.reason,
            bound=self._bound(panel, step.weights, ctx.current_weights, cap, step.result.diagnostics),
            diagnostics=step.result.diagnostics,
        )

    def _bound(self, panel: Panel, w: np.ndarray, w0: np.ndarray, cap: float, diag: dict) -> dict:
        """Which limits the target sits on: names at the per-name cap, gross at the governor's
        exposure cap, the turnover cap, sectors above the soft cap, and what the allocator says it
        had to relax or could not reach."""
        max_w = self.backtest.max_weight
        at_max = [s for s, v in zip(panel.symbols, w, strict=True) if v >= max_w * (1 - BIND_TOL)]
        out: dict[str, Any] = {"max_weight": at_max, "exposure_cap": bool(w.sum() >= cap * (1 - BIND_TOL))}
        if isinstance(self.allocator, OptimizerAllocator):
            opt = self.allocator.config
            if opt.max_turnover is not None:
                out["max_turnover"] = bool(np.abs(w - w0).sum() >= opt.max_turnover * (1 - BIND_TOL))
            if opt.sector_soft_cap is not None:
                rows, n_rows = sector_rows(panel.sector)
                sums = sector_sums(w, rows, n_rows)
                # The last row holds the names without a known sector (see optimizer.bounds).
                out["sector_soft_cap"] = [
                    "unknown" if k == n_rows - 1 else _sector_name(panel, int(k))
                    for k in np.flatnonzero(sums > opt.sector_soft_cap * (1 + BIND_TOL))
                ]
        for key in ("turnover_cap_relaxed", "sell_limits_dropped", "vol_max_unattained", "vol_below_min"):
            if key in diag:
                out[key] = diag[key]
        return out


def _sector_name(panel: Panel, sector_id: int) -> str:
    return panel.sector_names[sector_id] if sector_id < len(panel.sector_names) else f"sector {sector_id}"


def _check_account(account: AccountState, n: int) -> np.ndarray:
    positions = np.asarray(account.positions, dtype=np.float64)
    if positions.shape != (n,):
        raise KernelInputError(
            f"positions must have one entry per panel symbol ({n},), got {positions.shape}"
        )
    if not np.isfinite(positions).all() or (positions < 0).any():
        raise KernelInputError("positions must be finite share counts >= 0 (long-only book)")
    equity = np.asarray(account.equity, dtype=np.float64)
    if equity.ndim != 1 or not len(equity) or not math.isfinite(equity[-1]):
        raise KernelInputError(
            "equity history must be a non-empty 1-D array ending with a finite equity at t"
        )
    if not math.isfinite(account.cash):
        raise KernelInputError(f"cash must be finite, got {account.cash!r}")
    return positions
