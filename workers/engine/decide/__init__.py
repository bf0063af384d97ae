"""From a strategy config to decisions, for the backtest and the live desk alike (no Django).

- `configs`: a validated strategy config -> the engine's settings (backtest, governor, allocator,
  learned model, walk-forward) through one table of names;
- `step`: one decision bar (allocation context known at t -> allocator -> weight contract), the
  function the backtest's bar loop calls at every rebalance;
- `kernel`: `Kernel.decide(panel up to t, account state)` -> target weights + a decision record,
  the live cycle's call, bit-identical to the backtest given the state the simulator produced;
- `research`: whole-panel runs (walk-forward signal, backtest, final training fit).

Import the submodules directly: this package imports nothing at load so the bar loop can use
`step` without loading the rest.
"""
