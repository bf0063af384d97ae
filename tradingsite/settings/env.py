"""Environment reading, in one place. Every setting that an operator may change comes from here."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()

# The value shipped in the repository; production refuses to start with it.
INSECURE_DEFAULT_SECRET_KEY = "hourglass-insecure-development-key-do-not-use-in-production"

DATABASE_URL = env.str("DATABASE_URL", default="")
REDIS_URL = env.str("REDIS_URL", default="")
