"""The one-process demo desk (`make demo` = `manage.py rundesk --demo --settings tradingsite.settings.demo`):
the development settings plus the replay clock that makes the demo paper account trade.

- The market clock replays the real hourly fixture (fixtures/hourly, loaded by load_demo_data with
  each bar known at its end): one recorded bar every REPLAY_SECONDS_PER_BAR seconds of wall time
  (apps.live.clock). The cycle reads those stored bars point in time (LIVE_FEED "": no feed to poll).
- Beat sweeps for due cycles twice per replayed bar, so every accelerated hour is traded (the
  cycle only ever trades the latest bar).
- Desk policy waived for the demo, and only here: the candidate gate's out-of-sample requirement (a
  rule's backtest reports in sample, and the demo strategy is a rule: its Sharpe, drawdown and trade
  count still meet the desk's thresholds), and UNLOCK's second risk officer (the demo has one, rita).

Other commands against the demo's database (`manage.py killswitch ...` from a second shell) take the
same `--settings tradingsite.settings.demo`, so their venue clock is the replay's too.
"""

from . import *  # noqa: F403
from .data import REPLAY_SECONDS_PER_BAR
from .desk import STRATEGY_GATES
from .env import BASE_DIR, env
from .workers import CELERY_BEAT_SCHEDULE

LIVE_CLOCK = "replay"
LIVE_REPLAY_FILE = str(BASE_DIR / "fixtures" / "hourly" / "aitrader_nasdaq100_60min_2025-10_11.csv.gz")
LIVE_FEED = ""

# Beat's sweep for due cycles (the cycle trades only the latest bar): twice per replayed bar, in
# whole seconds (django-celery-beat stores an int).
LIVE_SWEEP_S = max(1, int(REPLAY_SECONDS_PER_BAR // 2))
CELERY_BEAT_SCHEDULE = {
    **CELERY_BEAT_SCHEDULE,
    "live-cycles-sweep": {**CELERY_BEAT_SCHEDULE["live-cycles-sweep"], "schedule": LIVE_SWEEP_S},
}

STRATEGY_GATES = {**STRATEGY_GATES, "require_oos": env.bool("GATE_REQUIRE_OOS", default=False)}
KILLSWITCH_UNLOCK_FOUR_EYES = env.bool("KILLSWITCH_UNLOCK_FOUR_EYES", default=False)
