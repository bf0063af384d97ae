"""Drawdown risk governor: normal -> conservative -> risk_off -> halted, and back to normal.

Why a governor: a systematic strategy in a deep drawdown is more likely broken than unlucky, so
exposure is cut as the drawdown from the equity peak deepens, and new buys stop entirely past the
halt threshold. Escalation is immediate (it may skip levels); recovery is one step back to
`normal`, only once the drawdown is below `recover_dd` — a deliberate hysteresis so the book does
not flap between states around a threshold.

Drawdown is measured on the close-marked equity at the decision bar (known at t):
dd_t = 1 - equity_t / max(equity_0..t).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .barloop import peak_drawdown, target_code

NORMAL, CONSERVATIVE, RISK_OFF, HALTED = "normal", "conservative", "risk_off", "halted"
STATES = (NORMAL, CONSERVATIVE, RISK_OFF, HALTED)
STATE_CODE = {name: k for k, name in enumerate(STATES)}

# The one transition table: from-state -> states it may move to.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    NORMAL: (CONSERVATIVE, RISK_OFF, HALTED),
    CONSERVATIVE: (RISK_OFF, HALTED, NORMAL),
    RISK_OFF: (HALTED, NORMAL),
    HALTED: (NORMAL,),
}


# The same table as a (from, to) matrix of state codes, for the compiled bar loop.
ALLOWED = np.zeros((len(STATES), len(STATES)), dtype=np.bool_)
for _src, _dests in TRANSITIONS.items():
    for _dst in _dests:
        ALLOWED[STATE_CODE[_src], STATE_CODE[_dst]] = True


class GovernorError(ValueError):
    """A governor setting or transition that is not allowed, named."""


@dataclass(frozen=True)
class GovernorConfig:
    conservative_dd: float = 0.10
    risk_off_dd: float = 0.15
    halt_dd: float = 0.20
    recover_dd: float = 0.05
    conservative_exposure: float = 0.5
    risk_off_exposure: float = 0.25
    halted_exposure: float = 0.25

    def __post_init__(self) -> None:
        if not (0 <= self.recover_dd < self.conservative_dd < self.risk_off_dd < self.halt_dd < 1):
            raise GovernorError(
                "thresholds must satisfy 0 <= recover_dd < conservative_dd < risk_off_dd < halt_dd < 1, got "
                f"{self.recover_dd}, {self.conservative_dd}, {self.risk_off_dd}, {self.halt_dd}"
            )
        for name in ("conservative_exposure", "risk_off_exposure", "halted_exposure"):
            value = getattr(self, name)
            if not (0 <= value <= 1):
                raise GovernorError(f"{name} must be in [0, 1], got {value!r}")

    @property
    def thresholds(self) -> np.ndarray:
        """(conservative, risk_off, halt, recover) drawdowns, the policy's argument."""
        return np.array([self.conservative_dd, self.risk_off_dd, self.halt_dd, self.recover_dd])

    @property
    def exposures(self) -> np.ndarray:
        """Exposure cap per state code (STATES order)."""
        return np.array([1.0, self.conservative_exposure, self.risk_off_exposure, self.halted_exposure])

    def exposure(self, state: str) -> float:
        return float(self.exposures[STATE_CODE[state]])


STATE_DTYPE = np.dtype(
    [("bar", np.int64), ("from_state", "U12"), ("to_state", "U12"), ("drawdown", np.float64)]
)


class Governor:
    """Stateful per-backtest governor; `update` once per decision bar with the equity at t."""

    def __init__(self, config: GovernorConfig) -> None:
        self.config = config
        self._thresholds = config.thresholds
        self.state = NORMAL
        self.peak = -np.inf
        self.history: list[tuple[int, str, str, float]] = []

    @classmethod
    def restore(cls, config: GovernorConfig, *, state: str, peak: float) -> Governor:
        """A governor resumed from a stored (state, equity peak): the live desk keeps these two
        between bars instead of the object."""
        if state not in STATE_CODE:
            raise GovernorError(f"unknown governor state {state!r}; expected one of {STATES}")
        governor = cls(config)
        governor.state, governor.peak = state, float(peak)
        return governor

    @property
    def exposure_cap(self) -> float:
        return self.config.exposure(self.state)

    @property
    def allow_buys(self) -> bool:
        return self.state != HALTED

    def target_state(self, drawdown: float) -> str:
        return STATES[target_code(STATE_CODE[self.state], drawdown, self._thresholds)]

    def update(self, bar: int, equity: float) -> float:
        """Feed the equity at bar t; returns the drawdown. Moves state per the table."""
        self.peak, drawdown = peak_drawdown(float(self.peak), float(equity))
        new = self.target_state(drawdown)
        if new != self.state:
            if new not in TRANSITIONS[self.state]:
                raise GovernorError(f"transition {self.state} -> {new} is not in the table")
            self.history.append((bar, self.state, new, drawdown))
            self.state = new
        return drawdown

    def history_array(self) -> np.ndarray:
        return np.array(self.history, dtype=STATE_DTYPE)


def history_from_codes(rows: np.ndarray) -> np.ndarray:
    """The compiled loop's (bar, from code, to code, drawdown) float rows as a STATE_DTYPE array."""
    out = np.empty(len(rows), dtype=STATE_DTYPE)
    names = np.asarray(STATES)
    out["bar"] = rows[:, 0].astype(np.int64)
    out["from_state"] = names[rows[:, 1].astype(np.int64)]
    out["to_state"] = names[rows[:, 2].astype(np.int64)]
    out["drawdown"] = rows[:, 3]
    return out
