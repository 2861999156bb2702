"""`make run` on a fresh machine: the demo loads on SQLite, the embedded default, with its
transfers, its alerts evaluated and its first forecasts and transfer suggestions (the
PostgreSQL-only statements have portable twins)."""

import shutil
import sqlite3
import subprocess
import sys

import pytest

from tests.inventory_hub.hub_process import REPO, hub_env

pytestmark = pytest.mark.slow


def test_the_demo_loads_on_sqlite_with_transfers_and_firing_alerts(migrated_sqlite, tmp_path):
    database = tmp_path / "hub.sqlite3"
    shutil.copy(migrated_sqlite, database)
    loaded = subprocess.run(
        [sys.executable, "manage.py", "load_demo"],
        cwd=REPO,
        env=hub_env(DATABASE_URL=f"sqlite:///{database}"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert "Demo alerts:" in loaded.stdout
    assert "Demo suggestions:" in loaded.stdout
    with sqlite3.connect(database) as db:
        states = dict(
            db.execute("SELECT state, COUNT(*) FROM transfers_transfer GROUP BY state").fetchall()
        )
        firing = db.execute("SELECT COUNT(*) FROM alerts_alert WHERE state = 'firing'").fetchone()
        forecasts = db.execute("SELECT COUNT(*) FROM suggestions_forecast").fetchone()
        reviews = db.execute("SELECT suggestions_made FROM suggestions_review").fetchall()
        open_suggestions = db.execute(
            "SELECT COUNT(*) FROM suggestions_suggestion WHERE state = 'open'"
        ).fetchone()
    assert set(states) >= {"draft", "approved", "shipped", "received", "cancelled"}
    assert firing[0] > 0
    assert forecasts[0] > 0
    assert len(reviews) == 1
    assert open_suggestions[0] == reviews[0][0] > 0

    # What the worker of `make run` does next: flush the groups, deliver their messages
    # (the dashboard, and e-mail to the console backend).
    delivered = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", DELIVER],
        cwd=REPO,
        env=hub_env(DATABASE_URL=f"sqlite:///{database}"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert delivered.returncode == 0, delivered.stderr[-3000:]
    outcomes = delivered.stdout.strip().splitlines()[-1]
    assert outcomes.startswith("outcomes:"), delivered.stdout[-2000:]
    assert set(outcomes.removeprefix("outcomes:").split(",")) == {"sent"}


DELIVER = """
from datetime import timedelta
from django.utils import timezone
from alerts.models import Notification
from alerts.services.delivery import deliver_notification
from alerts.services.notify import flush_due_groups
flush_due_groups(now=timezone.now() + timedelta(hours=1))
ids = list(Notification.objects.values_list("pk", flat=True))
assert ids, "no notification was made"
print("outcomes:" + ",".join(deliver_notification(notification_id=pk) for pk in ids))
"""
