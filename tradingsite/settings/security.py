"""Sign-in and browser security: login throttling, session age, Content-Security-Policy.
Production adds transport security (HSTS, SSL redirect, secure cookies) in production.py."""

import datetime as dt

from csp import constants as csp

from .env import env

# Login throttling (django-axes): after AXES_FAILURE_LIMIT failed logins for one username from one
# address, that pair is locked out for the cool-off time; a success resets the count. Locking the
# (username, ip) pair, not the username alone, so a stranger cannot lock a trader out by guessing.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked_out.html"
AXES_VERBOSE = False

# Sessions: a desk login lasts SESSION_AGE_MINUTES from sign-in (one trading day by default,
# against Django's two weeks) and never outlives the browser. Absolute, not renewed per request:
# the research pages poll job status every second, which would keep an unattended desk signed in
# forever (and write the session row on every poll).
SESSION_COOKIE_AGE = env.int("SESSION_AGE_MINUTES", default=8 * 60) * 60
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# Content-Security-Policy (django-csp). Scripts and <style> elements only from this site or with
# the per-response nonce (`request.csp_nonce`); nothing from elsewhere, no plugins, no framing,
# forms post only here. Inline style *attributes* stay allowed (`style-src-attr`): the progress
# bars and chart legends set a width or a colour per value, and a style attribute cannot run code.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp.SELF],
        "script-src": [csp.SELF, csp.NONCE],
        "style-src": [csp.SELF, csp.NONCE],
        "style-src-elem": [csp.SELF, csp.NONCE],
        "style-src-attr": [csp.UNSAFE_INLINE],
        "img-src": [csp.SELF, "data:"],
        "font-src": [csp.SELF],
        "connect-src": [csp.SELF],
        "object-src": [csp.NONE],
        "base-uri": [csp.SELF],
        "form-action": [csp.SELF],
        "frame-ancestors": [csp.NONE],
    }
}
