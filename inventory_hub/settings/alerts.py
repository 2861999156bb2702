"""The alerts app's settings (docs/alerts.md), imported by base.py."""

from django.core.exceptions import ImproperlyConfigured

from .env import env_int, env_str

# Alerts: touched levels and variants wait this long in a process's batch, then go to one
# evaluate_task; beat sweeps every ALERTS_SWEEP_SECONDS; a connector that never polls is
# stale when a push has waited ALERTS_PUSH_SCHEDULE_SECONDS times the rule's multiple.
ALERTS_EVALUATE_DEBOUNCE_SECONDS = env_int("ALERTS_EVALUATE_DEBOUNCE_MS", 300) / 1000
ALERTS_SWEEP_SECONDS = env_int("ALERTS_SWEEP_SECONDS", 60)
if ALERTS_SWEEP_SECONDS < 1:
    raise ImproperlyConfigured(
        f"ALERTS_SWEEP_SECONDS must be at least 1, got {ALERTS_SWEEP_SECONDS}"
    )
ALERTS_PUSH_SCHEDULE_SECONDS = env_int("ALERTS_PUSH_SCHEDULE_SECONDS", 300)
# Each sweep looks again at this many unchanged unresolved alerts, the longest unlooked-at
# first: every alert in turn, at a cost that does not grow with the number firing.
ALERTS_SWEEP_REFRESH = env_int("ALERTS_SWEEP_REFRESH", 500)

# Notifications and delivery.
ALERTS_FLUSH_SWEEP_SECONDS = env_int("ALERTS_FLUSH_SWEEP_SECONDS", 2)
# A sender holds a notification for the lease; past it, the sweep sends it again (same id).
# Retries wait 5 s, 10 s, 20 s, ... up to an hour.
ALERTS_DELIVERY_LEASE_SECONDS = env_int("ALERTS_DELIVERY_LEASE_SECONDS", 60)
ALERTS_DELIVERY_MAX_ATTEMPTS = env_int("ALERTS_DELIVERY_MAX_ATTEMPTS", 10)
ALERTS_DELIVERY_BACKOFF_SECONDS = env_int("ALERTS_DELIVERY_BACKOFF_SECONDS", 5)
ALERTS_DELIVERY_MAX_BACKOFF_SECONDS = env_int("ALERTS_DELIVERY_MAX_BACKOFF_SECONDS", 3600)
# The sweep queues a pending notification again (its task lost) once it has waited this long.
ALERTS_DELIVERY_REQUEUE_PENDING_SECONDS = env_int("ALERTS_DELIVERY_REQUEUE_PENDING_SECONDS", 30)
ALERTS_SEND_TIMEOUT_SECONDS = env_int("ALERTS_SEND_TIMEOUT_SECONDS", 10)
ALERTS_ACK_LINK_DAYS = env_int("ALERTS_ACK_LINK_DAYS", 7)
# "fake" records SMS and calls in the process (tests, the demo); "twilio" sends them.
ALERTS_SMS_BACKEND = env_str("ALERTS_SMS_BACKEND", "fake")
ALERTS_TWILIO_ACCOUNT_SID = env_str("ALERTS_TWILIO_ACCOUNT_SID", "")
ALERTS_TWILIO_AUTH_TOKEN = env_str("ALERTS_TWILIO_AUTH_TOKEN", "")
ALERTS_TWILIO_FROM = env_str("ALERTS_TWILIO_FROM", "")
