"""The hourly cycle (run.py has the steps): `run.cycle_run(account=, bar_time=, trigger=)` runs one
account's cycle at one bar exactly once; `due.cycles_due()` says which are due at the last bar
close; the Celery tasks in apps/live/tasks.py fan them out over the `live` queue. (No imports
here: the models import `machine` from this package.)"""
