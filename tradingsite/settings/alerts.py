"""Alert delivery (apps.alerts): which channels carry an alert besides the log, and how.

Each value is defined here once, from the environment. The log channel is always on; ALERT_CHANNELS
adds `email` and/or `webhook` (comma-separated). The `alerts` system check refuses an unknown channel
word, email without recipients and a webhook without a URL or a signing secret."""

from .env import env

ALERT_CHANNELS = env.list("ALERT_CHANNELS", default=[])  # e.g. "log,email,webhook"; the log is always on
# Email through Django's mail (EMAIL_BACKEND / EMAIL_HOST ...; DEFAULT_FROM_EMAIL is the sender).
ALERT_EMAIL_RECIPIENTS = env.list("ALERT_EMAIL_RECIPIENTS", default=[])
# Webhook: POST of one JSON object, signed `X-Hourglass-Signature: sha256=<HMAC-SHA256(secret, body)>`.
ALERT_WEBHOOK_URL = env.str("ALERT_WEBHOOK_URL", default="")
ALERT_WEBHOOK_SECRET = env.str("ALERT_WEBHOOK_SECRET", default="")
ALERT_WEBHOOK_TIMEOUT_S = env.float("ALERT_WEBHOOK_TIMEOUT_S", default=5.0)
# Attempts per delivery (email and webhook), the first included; the wait before attempt n+1 is
# BACKOFF_S * 2**(n-1), capped at BACKOFF_MAX_S (2, 4, 8, 16 s with the defaults).
ALERT_DELIVERY_MAX_ATTEMPTS = env.int("ALERT_DELIVERY_MAX_ATTEMPTS", default=5)
ALERT_DELIVERY_BACKOFF_S = env.float("ALERT_DELIVERY_BACKOFF_S", default=2.0)
ALERT_DELIVERY_BACKOFF_MAX_S = env.float("ALERT_DELIVERY_BACKOFF_MAX_S", default=300.0)
# A pending delivery whose attempt is this overdue (its task message was lost: broker down at
# commit, worker lost) is sent again by the `alert-deliveries-sweep` beat task.
ALERT_DELIVERY_SWEEP_GRACE_S = env.int("ALERT_DELIVERY_SWEEP_GRACE_S", default=60)
