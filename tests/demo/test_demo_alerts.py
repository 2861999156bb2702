"""The demo's alert rules, receivers, routes and ladder (demo.alerts), and the alerts that
fire right after `load_demo`.

The demo is loaded once for this module inside a transaction rolled back at the end, as
in test_demo.py.
"""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from alerts.models import (
    Alert,
    AlertState,
    EscalationStep,
    Notification,
    NotificationGroup,
    Receiver,
    Route,
    Rule,
)
from alerts.senders.sms import FakeBackend
from alerts.services import deliver_notification, escalate_due, flush_due_groups, update_rule
from demo.alerts import CONTRADICTION_REASON, DEMO_ADDRESS, DEMO_PHONE
from demo.loading import load_demo
from stock.models import ForcedStatus, StockLevel


def quiet(_message: str) -> None:
    pass


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        outer = transaction.atomic()
        outer.__enter__()
        try:
            summary = load_demo(log=quiet)
            connection.check_constraints()
            yield summary
        finally:
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


def alert_setup() -> dict[str, list]:
    return {
        "rules": list(Rule.objects.order_by("pk").values_list()),
        "receivers": list(Receiver.objects.order_by("pk").values_list("pk", "name", "config")),
        "routes": list(Route.objects.order_by("pk").values_list()),
        "steps": list(EscalationStep.objects.order_by("pk").values_list()),
        "forced": list(ForcedStatus.objects.order_by("pk").values_list("pk", "ended_at")),
        "alerts": list(Alert.objects.order_by("pk").values_list("pk", "state", "fired_at")),
        "groups": list(NotificationGroup.objects.order_by("pk").values_list("pk")),
    }


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
def test_the_demo_has_its_five_rules():
    rules = {
        rule.name: (rule.condition, rule.threshold, rule.severity, rule.is_active)
        for rule in Rule.objects.all()
    }

    assert rules == {
        "Low stock in a warehouse": ("available_below", None, "warning", True),
        "Out of stock on a channel": ("channel_out_of_stock", None, "warning", True),
        "A forced status contradicts stock": ("forced_status_contradicts", None, "critical", True),
        "A connector is down": ("connector_failing", None, "critical", True),
        "A transfer is late": ("late_transfer", None, "warning", True),
    }


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
def test_the_demo_routes_everything_to_the_dashboard_and_by_email_and_escalates_criticals():
    receivers = {r.name: (r.kind, r.config) for r in Receiver.objects.all()}
    routes = [
        (r.receiver.name, r.matchers, r.group_by, r.group_wait_seconds, r.continue_matching)
        for r in Route.objects.order_by("position")
    ]
    ladder = [
        (step.severity, step.position, step.after_minutes, step.receiver.kind)
        for step in EscalationStep.objects.order_by("severity", "position")
    ]

    assert receivers == {
        "Dashboard": ("dashboard", {}),
        "Operations e-mail": ("email", {"addresses": [DEMO_ADDRESS]}),
        "On-call SMS": ("sms", {"numbers": [DEMO_PHONE]}),
        "On-call phone": ("voice", {"numbers": [DEMO_PHONE]}),
    }
    assert routes == [
        ("Dashboard", {}, ["rule"], 0, True),
        ("Operations e-mail", {}, ["rule", "warehouse"], 30, False),
    ]
    assert ladder == [
        ("critical", 1, 0, "email"),
        ("critical", 2, 10, "sms"),
        ("critical", 3, 20, "voice"),
    ]


@pytest.mark.django_db
def test_low_stock_fires_right_after_the_load_for_exactly_the_levels_at_their_threshold(demo):
    low = StockLevel.objects.filter(
        variant__manage_stock=True,
        available__lte=Coalesce(F("low_stock_threshold"), F("variant__low_stock_threshold")),
    )
    firing = Alert.objects.filter(rule__name="Low stock in a warehouse", state=AlertState.FIRING)

    assert demo.alerts_fired == demo.alerts_firing > 0
    assert set(firing.values_list("variant_id", "warehouse_id")) == set(
        low.values_list("variant_id", "warehouse_id")
    )


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
def test_channel_out_of_stock_a_contradiction_and_a_late_transfer_fire_after_the_load():
    firing = Alert.objects.filter(state=AlertState.FIRING)
    forced = ForcedStatus.objects.get(reason=CONTRADICTION_REASON)
    (contradiction,) = firing.filter(rule__name="A forced status contradicts stock")

    assert firing.filter(rule__name="Out of stock on a channel").count() > 0
    assert (contradiction.variant_id, contradiction.channel_id) == (
        forced.variant_id,
        forced.channel_id,
    )
    assert "forced in_stock by demo data while 0 salable" in contradiction.summary
    (late,) = firing.filter(rule__name="A transfer is late")
    assert late.summary.startswith("Transfer DEMO-TR-010 (HQ → BAL): shipped, ")
    assert not firing.filter(rule__name="A connector is down").exists()  # the demo has none


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
def test_the_dashboard_hears_at_once_and_the_email_after_its_group_wait(mailoutbox):
    now = timezone.now()

    at_once = flush_due_groups(now=now)
    after_the_wait = flush_due_groups(now=now + timedelta(seconds=31))
    outcomes = {deliver_notification(notification_id=n.pk) for n in after_the_wait}

    assert at_once and {n.receiver.name for n in at_once} == {"Dashboard"}
    assert after_the_wait and {n.receiver.name for n in after_the_wait} == {"Operations e-mail"}
    assert outcomes == {"sent"}
    assert len(mailoutbox) == len(after_the_wait)
    assert {tuple(message.to) for message in mailoutbox} == {(DEMO_ADDRESS,)}
    assert Notification.objects.filter(~Q(status="sent"), receiver__kind="email").count() == 0


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
def test_the_contradiction_climbs_the_critical_ladder_by_email_sms_and_call(mailoutbox):
    contradiction = Alert.objects.get(rule__name="A forced status contradicts stock")
    FakeBackend.clear()

    steps = escalate_due(now=contradiction.fired_at + timedelta(minutes=21))
    outcomes = [deliver_notification(notification_id=n.pk) for n in steps]

    assert [(n.receiver.kind, [a.pk for a in n.alerts.all()]) for n in steps] == [
        ("email", [contradiction.pk]),
        ("sms", [contradiction.pk]),
        ("voice", [contradiction.pk]),
    ]
    assert outcomes == ["sent", "sent", "sent"]
    assert [message.to for message in mailoutbox] == [[DEMO_ADDRESS]]
    assert [(m.kind, m.to) for m in FakeBackend.sent] == [("sms", DEMO_PHONE), ("call", DEMO_PHONE)]
    FakeBackend.clear()


@pytest.mark.django_db
def test_a_second_load_changes_no_alert_setup_and_fires_nothing_new(demo):
    before = alert_setup()

    again = load_demo(log=quiet)

    assert alert_setup() == before
    assert (
        again.alert_rules_created,
        again.alert_receivers_created,
        again.alert_routes_created,
        again.alert_steps_created,
        again.alerts_fired,
        again.alerts_firing,
    ) == (0, 0, 0, 0, 0, demo.alerts_firing)


@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
def test_a_second_load_keeps_what_an_operator_changed_in_the_alerts():
    update_rule(rule=Rule.objects.get(name="Low stock in a warehouse"), severity="critical")
    Route.objects.filter(name="Everything by e-mail").update(group_wait_seconds=120)
    ForcedStatus.objects.filter(reason=CONTRADICTION_REASON).update(ended_at=timezone.now())

    load_demo(log=quiet)

    assert Rule.objects.get(name="Low stock in a warehouse").severity == "critical"
    assert Route.objects.get(name="Everything by e-mail").group_wait_seconds == 120
    assert ForcedStatus.objects.filter(reason=CONTRADICTION_REASON, ended_at=None).count() == 0
