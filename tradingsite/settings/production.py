"""Production: refuses to start with the repository's default SECRET_KEY or with DEBUG on."""

from django.core.exceptions import ImproperlyConfigured

from . import *  # noqa: F403
from .env import INSECURE_DEFAULT_SECRET_KEY, env

DEBUG = env.bool("DEBUG", default=False)
DEMO_MODE = False
if DEBUG:
    raise ImproperlyConfigured("production settings refuse DEBUG=True; unset DEBUG or set DEBUG=False")
SECRET_KEY = env.str("SECRET_KEY", default=INSECURE_DEFAULT_SECRET_KEY)
if SECRET_KEY == INSECURE_DEFAULT_SECRET_KEY or len(SECRET_KEY) < 32:
    raise ImproperlyConfigured(
        "production settings refuse the default SECRET_KEY; set SECRET_KEY (32+ characters)"
    )

SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
