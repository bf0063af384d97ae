"""Settings of the real Celery workers started by the cycle's crash tests (tests/apps/live/
cycle_worker.py): the desk's settings plus two things, both for tests only.

- `CELERY_IMPORTS`: the worker imports tests.apps.live.crash_hook, the crash points (a cycle
  pauses at the point the test names, and the test SIGKILLs the worker there) and the record of
  every live_cycle task that ended.
- Redis's visibility timeout cut from kombu's default (3,600 s) to a few seconds: a message whose
  worker died without acking it is restored to its queue by the next worker at its start (and by
  its periodic sweep), which is how the killed worker's cycle is redelivered within the test.
  Production keeps kombu's default: there a cycle message of a dead worker comes back after an
  hour (see the crash test's module docstring).
"""

import os

from tradingsite.settings import *  # noqa: F403

# A test that holds retried tasks longer than this (their countdown) sets it higher: a held
# message older than the timeout is restored and delivered a second time.
VISIBILITY_TIMEOUT_S = int(os.environ.get("CYCLE_TEST_VISIBILITY_TIMEOUT_S", "2"))

CELERY_IMPORTS = ["tests.apps.live.crash_hook"]
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": VISIBILITY_TIMEOUT_S,
    "unacked_restore_interval": 1,
    "unacked_restore_throttle": 1,
}
