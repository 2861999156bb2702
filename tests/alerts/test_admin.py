"""The alerts admin: rules, receivers, routes, steps and silences saved only through their
services (a refusal is a form error and nothing is written), secrets never shown, alerts
acknowledged and resolved by actions, the delivery log read-only."""

from datetime import timedelta

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from alerts.models import EscalationStep, Notification, Receiver, Route, Rule, Silence
from alerts.services import create_silence, send_test_message
from stock.actors import Actor
from tests.api.alerts_support import firing_alert, mail_receiver
from tests.stock.factories import SYSTEM
from tests.stock.test_admin import messages_of
from tests.stock.test_admin_roles import admin_as
from tests.warehouses.factories import WarehouseFactory
from tests.warehouses.test_admin import change_form_data
from warehouses.access import Role
from warehouses.models import Warehouse

pytestmark = pytest.mark.django_db

SLACK_URL = "https://hooks.slack.example/services/T0/B0/xyz"


@pytest.fixture
def ops():
    return admin_as(Role.OPS_STAFF)


def add_url(model: str) -> str:
    return reverse(f"admin:alerts_{model}_add")


def changelist(model: str) -> str:
    return reverse(f"admin:alerts_{model}_changelist")


def act(client, model: str, action: str, *objects):
    return client.post(
        changelist(model),
        {"action": action, ACTION_CHECKBOX_NAME: [obj.pk for obj in objects]},
        follow=True,
    )


def rule_form(**values) -> dict:
    return {
        "name": "Low at north",
        "condition": "available_below",
        "severity": "warning",
        "threshold": "5",
        "hysteresis": "0",
        "pending_seconds": "0",
        "labels": "{}",
        "params": "{}",
        "is_active": "on",
        **values,
    }


# --- Rules -----------------------------------------------------------------------------------


def test_ops_add_a_rule_through_the_service(ops):
    north = WarehouseFactory(code="NORTH")

    response = ops.post(add_url("rule"), rule_form(warehouse=north.pk, labels='{"team": "n"}'))

    assert response.status_code == 302, response.context["adminform"].form.errors
    rule = Rule.objects.get()
    assert (rule.warehouse, rule.labels, rule.created_by) == (north, {"team": "n"}, "ops_staff")


def test_a_rule_the_service_refuses_is_a_form_error_and_nothing_is_written(ops):
    response = ops.post(add_url("rule"), rule_form(labels='{"Bad Name": "x"}'))

    assert response.status_code == 200
    assert "labels" in response.context["adminform"].form.errors
    assert not Rule.objects.exists()


def test_a_scope_the_condition_does_not_take_is_a_form_error(ops):
    north = WarehouseFactory(code="NORTH")

    response = ops.post(
        add_url("rule"), rule_form(condition="connector_failing", warehouse=north.pk)
    )

    assert response.status_code == 200
    assert "warehouse" in response.context["adminform"].form.errors
    assert not Rule.objects.exists()


def test_ops_change_and_retire_a_rule_through_the_service(ops):
    ops.post(add_url("rule"), rule_form())
    rule = Rule.objects.get()
    url = reverse("admin:alerts_rule_change", args=[rule.pk])
    data = change_form_data(ops.get(url))
    data["threshold"] = "9"
    data.pop("is_active")

    response = ops.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    rule.refresh_from_db()
    assert (rule.threshold, rule.is_active, rule.condition) == (9, False, "available_below")
    assert rule.updated_at > rule.created_at


# --- Receivers, routes, steps ----------------------------------------------------------------


def test_a_receivers_secret_is_written_never_shown_and_kept_when_left_blank(ops):
    ops.post(
        add_url("receiver"),
        {"name": "Slack", "kind": "slack", "config": "{}", "secret": SLACK_URL, "is_active": "on"},
    )
    receiver = Receiver.objects.get()
    url = reverse("admin:alerts_receiver_change", args=[receiver.pk])
    page = ops.get(url)
    data = change_form_data(page)
    data["name"] = "Slack ops"

    response = ops.post(url, data)

    assert SLACK_URL not in page.content.decode()
    assert response.status_code == 302, response.context["adminform"].form.errors
    receiver.refresh_from_db()
    assert (receiver.name, receiver.secret) == ("Slack ops", SLACK_URL)


def test_a_receiver_the_service_refuses_is_a_form_error(ops):
    response = ops.post(
        add_url("receiver"),
        {"name": "SMS", "kind": "sms", "config": '{"numbers": ["12"]}', "is_active": "on"},
    )

    assert response.status_code == 200
    assert response.context["adminform"].form.errors
    assert not Receiver.objects.exists()


def test_ops_add_a_route_and_an_escalation_step(ops):
    receiver = mail_receiver()

    route = ops.post(
        add_url("route"),
        {
            "name": "North",
            "position": "0",
            "receiver": receiver.pk,
            "matchers": '{"warehouse": "NORTH"}',
            "group_by": '["warehouse"]',
            "group_wait_seconds": "30",
            "group_interval_seconds": "300",
            "repeat_steps_seconds": "[14400]",
            "is_active": "on",
        },
    )
    step = ops.post(
        add_url("escalationstep"),
        {"severity": "critical", "position": "1", "after_minutes": "10", "receiver": receiver.pk},
    )

    assert route.status_code == 302, route.context["adminform"].form.errors
    assert step.status_code == 302, step.context["adminform"].form.errors
    assert Route.objects.get().group_by == ["warehouse"]
    assert EscalationStep.objects.get().after_minutes == 10


# --- Silences --------------------------------------------------------------------------------


def silence_form(**values) -> dict:
    now = timezone.now()
    return {
        "matchers": '{"warehouse": "NORTH"}',
        "reason": "Stocktake",
        "starts_at_0": now.strftime("%Y-%m-%d"),
        "starts_at_1": now.strftime("%H:%M:%S"),
        "ends_at_0": (now + timedelta(days=1)).strftime("%Y-%m-%d"),
        "ends_at_1": now.strftime("%H:%M:%S"),
        **values,
    }


def test_a_manager_adds_a_silence_as_its_author_and_expires_it():
    manager = admin_as(Role.WAREHOUSE_MANAGER)

    added = manager.post(add_url("silence"), silence_form())
    silence = Silence.objects.get()
    expired = act(manager, "silence", "expire_selected", silence)

    assert added.status_code == 302, added.context["adminform"].form.errors
    assert silence.author == "warehouse_manager"
    assert messages_of(expired)[-1] == "1 silence(s) expired."
    silence.refresh_from_db()
    assert silence.ends_at <= timezone.now()


def test_a_silence_ending_in_the_past_is_a_form_error(ops):
    response = ops.post(
        add_url("silence"), silence_form(starts_at_0="2000-12-31", ends_at_0="2001-01-01")
    )

    assert response.status_code == 200
    assert "ends_at" in response.context["adminform"].form.errors
    assert not Silence.objects.exists()


def test_a_manager_does_not_expire_someone_elses_silence():
    silence = create_silence(
        matchers={"a": "b"},
        author=Actor(kind="user", label="other"),
        reason="r",
        ends_at=timezone.now() + timedelta(hours=1),
    )

    response = act(admin_as(Role.WAREHOUSE_MANAGER), "silence", "expire_selected", silence)

    assert "only their own" in messages_of(response)[0]
    silence.refresh_from_db()
    assert silence.ends_at > timezone.now()


# --- Alerts and the delivery log -------------------------------------------------------------


def test_ops_acknowledge_and_resolve_alerts_by_actions(ops):
    alert = firing_alert()

    acknowledged = act(ops, "alert", "acknowledge_selected", alert)
    resolved = act(ops, "alert", "resolve_selected", alert)

    assert messages_of(acknowledged) == ["1 alert(s) acknowledged."]
    assert messages_of(resolved) == ["1 alert(s) resolved."]
    alert.refresh_from_db()
    assert (alert.acknowledged_by, alert.state) == ("ops_staff", "resolved")


def test_a_manager_acknowledges_only_their_warehouses_alerts():
    alert = firing_alert("NORTH")
    outsider = admin_as(Role.WAREHOUSE_MANAGER)

    response = act(outsider, "alert", "acknowledge_selected", alert)

    assert "not one of your warehouses" in messages_of(response)[0]
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_a_manager_of_the_warehouse_acknowledges_but_may_not_resolve():
    alert = firing_alert("NORTH")
    manager = admin_as(Role.WAREHOUSE_MANAGER, warehouses=[Warehouse.objects.get()])

    acknowledged = act(manager, "alert", "acknowledge_selected", alert)
    resolved = act(manager, "alert", "resolve_selected", alert)

    assert messages_of(acknowledged) == ["1 alert(s) acknowledged."]
    assert resolved.status_code == 200
    alert.refresh_from_db()
    assert (alert.acknowledged_at is not None, alert.state) == (True, "firing")


def test_alerts_and_the_delivery_log_are_read_only(ops):
    alert = firing_alert()
    notification = send_test_message(receiver=mail_receiver(), actor=SYSTEM)

    alert_page = ops.get(reverse("admin:alerts_alert_change", args=[alert.pk]))
    log_page = ops.get(reverse("admin:alerts_notification_change", args=[notification.pk]))
    add_alert = ops.get(add_url("alert"))

    assert alert_page.status_code == 200
    assert log_page.status_code == 200
    assert not alert_page.context["has_change_permission"]
    assert not log_page.context["has_change_permission"]
    assert add_alert.status_code == 403
    assert Notification.objects.count() == 1


@pytest.mark.parametrize("model", ["rule", "receiver", "route", "alert", "notification"])
def test_a_viewer_reads_the_alerts_admin_and_changes_nothing(model):
    viewer = admin_as(Role.VIEWER)

    assert viewer.get(changelist(model)).status_code == 200
    assert viewer.get(add_url(model)).status_code == 403
