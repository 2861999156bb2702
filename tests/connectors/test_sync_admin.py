"""The admin's sync pieces: status rules and their audit, and the sync actions."""

import pytest

from connectors.models import ReconciliationReport, StatusChange, StatusRule
from connectors.sync import tasks as sync_tasks
from tests.connectors import engine_fakes
from tests.connectors.engine_fakes import make_hub

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("engine_kinds")]
engine_kinds = engine_fakes.engine_kinds


@pytest.fixture
def queued(monkeypatch):
    calls = []
    monkeypatch.setattr(sync_tasks.reconcile_connector_task, "delay", lambda *a: calls.append(a))
    return calls


def test_reconcile_action_starts_a_report_per_active_connector(
    admin_client, queued, django_capture_on_commit_callbacks
):
    hub = make_hub(None)
    off = make_hub(None, is_active=False)

    with django_capture_on_commit_callbacks(execute=True):
        answer = admin_client.post(
            "/admin/connectors/connector/",
            {"action": "reconcile_now", "_selected_action": [hub.connector.pk, off.connector.pk]},
        )

    report = ReconciliationReport.objects.get()
    assert answer.status_code == 302
    assert report.connector == hub.connector
    assert queued == [(hub.connector.pk, report.pk)]


@pytest.mark.parametrize(
    ("action", "task_name", "extra_args"),
    [
        ("poll_now", "poll_connector_task", ()),
        ("set_up_now", "set_up_connector_task", (True, True, True)),
    ],
)
def test_sync_actions_queue_one_task_per_active_connector(
    admin_client, monkeypatch, django_capture_on_commit_callbacks, action, task_name, extra_args
):
    calls = []
    monkeypatch.setattr(getattr(sync_tasks, task_name), "delay", lambda *a: calls.append(a))
    hub = make_hub(None)
    off = make_hub(None, is_active=False)

    with django_capture_on_commit_callbacks(execute=True):
        answer = admin_client.post(
            "/admin/connectors/connector/",
            {"action": action, "_selected_action": [hub.connector.pk, off.connector.pk]},
        )

    assert answer.status_code == 302
    assert calls == [(hub.connector.pk, *extra_args)]


def test_status_rules_are_edited_and_their_changes_shown(admin_client):
    hub = make_hub(None)

    added = admin_client.post(
        "/admin/connectors/statusrule/add/",
        {"owner": hub.connector.pk, "variant": hub.variant.pk, "channel": ""},
    )
    StatusChange.objects.create(
        variant=hub.variant,
        connector=hub.connector,
        new_status="out_of_stock",
        reason="shown there",
        actor_label=hub.connector.name,
    )

    assert added.status_code == 302
    rule = StatusRule.objects.get()
    assert (rule.owner, rule.variant, rule.channel) == (hub.connector, hub.variant, None)
    assert admin_client.get("/admin/connectors/statusrule/").status_code == 200
    changes = admin_client.get("/admin/connectors/statuschange/")
    assert changes.status_code == 200 and "shown there" in changes.content.decode()
    assert admin_client.get("/admin/connectors/statuschange/add/").status_code == 403
