"""Production: refuses to start with the repository's default SECRET_KEY or with DEBUG on, and
serves only over HTTPS (HSTS, SSL redirect, secure cookies), so `manage.py check --deploy` is
clean. Behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER_FORWARDED_PROTO=true (the
proxy must set X-Forwarded-Proto itself and strip any the client sent)."""

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
        "production settings refuse the default SECRET_KEY; set SECRET_KEY (32+ characters; "
        "check --deploy wants 50+: python -c 'import secrets; print(secrets.token_urlsafe(50))')"
    )

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Load balancers probe /healthz over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
if env.bool("SECURE_PROXY_SSL_HEADER_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=365 * 24 * 3600)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
