"""The database: SQLite under var/ by default, PostgreSQL (or any URL) from DATABASE_URL."""

from datetime import timedelta

from .env import DATABASE_URL, VAR_DIR, env

# A bar import rejects bars that END later than the import time plus this (clock skew between the
# vendor and us); a bar from the future would be "known" to point-in-time reads before it happened.
BAR_FUTURE_TOLERANCE = timedelta(seconds=env.int("BAR_FUTURE_TOLERANCE_S", default=300))
# The replay feed (apps/trading/feeds/replay.py) delivers one recorded bar every this many seconds.
REPLAY_SECONDS_PER_BAR = env.float("REPLAY_SECONDS_PER_BAR", default=10.0)

if DATABASE_URL:
    DATABASES = {"default": env.db_url_config(DATABASE_URL)}
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    VAR_DIR.mkdir(exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": VAR_DIR / "hourglass.sqlite3",
            "TEST": {"NAME": VAR_DIR / "test-hourglass.sqlite3"},
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat threads share the file in the one-process demo (whether the file comes
    # from the default or from a sqlite:// DATABASE_URL): WAL lets readers proceed while one writer
    # holds the lock, IMMEDIATE takes the write lock at BEGIN (a deferred transaction that upgrades
    # later fails at once with "database is locked" instead of waiting), and writers wait 30 s.
    DATABASES["default"].setdefault("CONN_MAX_AGE", 0)
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        **DATABASES["default"].get("OPTIONS", {}),
    }
