"""The suggestions app's settings (issue 22), imported by base.py."""

from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

from .env import env_int

# The daily review (forecasts refreshed, then every variant reviewed) runs at this hour, UTC.
SUGGESTIONS_REVIEW_HOUR = env_int("SUGGESTIONS_REVIEW_HOUR", 4)
if not 0 <= SUGGESTIONS_REVIEW_HOUR <= 23:
    raise ImproperlyConfigured(
        f"SUGGESTIONS_REVIEW_HOUR must be an hour from 0 to 23 (UTC), got {SUGGESTIONS_REVIEW_HOUR}"
    )
# Committed stock changes wait this long in a process's batch before the reactive check
# (suggestions.reactions) looks for variants projected to run out.
SUGGESTIONS_REACTIVE_DEBOUNCE_SECONDS = env_int("SUGGESTIONS_REACTIVE_DEBOUNCE_MS", 2000) / 1000

SUGGESTIONS_BEAT_SCHEDULE = {
    "suggestions-daily-review": {
        "task": "suggestions.tasks.daily_review_task",
        "schedule": crontab(hour=SUGGESTIONS_REVIEW_HOUR, minute=15),
    },
}
