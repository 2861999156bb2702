"""The notifier's edges: back-in-stock events get no resolved message yet are news again on
their next return, a manual resolve is told and stops escalation, the dashboard receiver
reaches the channel layer, links from another firing or past their age are refused, and
routes and escalation steps are checked before they are saved."""

import time
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core import signing
from django.utils import timezone

from alerts.errors import AlertNotActive, InvalidEscalationStep, InvalidRoute
from alerts.models import Alert
from alerts.services import (
    acknowledge_alert,
    apply_findings,
    deliver_notification,
    escalate_due,
    flush_due_groups,
    note_alert_changes,
    resolve_alert,
    save_escalation_step,
    save_receiver,
    save_route,
)
from alerts.services.acknowledge import ack_token
from tests.stock.factories import SYSTEM

from .notify_support import finding, fire, rule
from .test_notify import INTERVAL, WAIT

pytestmark = pytest.mark.django_db


@pytest.fixture
def board():
    receiver = save_receiver(name="board", kind="dashboard")
    save_route(name="everything", receiver=receiver)
    return receiver


def look(changed, now):
    note_alert_changes(changed, now=now)
    return [n.kind for n in flush_due_groups(now=now + timedelta(seconds=WAIT))]


def test_back_in_stock_is_never_resolved_in_a_message_and_is_news_on_its_next_return(board):
    back = rule("back_in_stock")
    start = timezone.now()
    kinds = []

    for hours, out in ((0, True), (1, False), (3, False), (4, True), (5, False)):
        now = start + timedelta(hours=hours)
        changed = apply_findings([finding(back, 1, holds=out)], now=now).changed
        kinds.append(look(changed, now))

    assert kinds == [[], ["firing"], [], [], ["firing"]]
    assert Alert.objects.get().state == "firing"


def test_a_manual_resolve_is_told_and_stops_the_escalation(board):
    save_escalation_step(severity="critical", position=1, after_minutes=0, receiver=board)
    save_escalation_step(severity="critical", position=2, after_minutes=10, receiver=board)
    start = timezone.now()
    alert = fire(rule(severity="critical"), 1, now=start)[0]
    fired = look([alert.pk], start)
    first = escalate_due(now=start)

    resolve_alert(alert=alert, actor=SYSTEM)
    resolved = look([alert.pk], start + timedelta(seconds=INTERVAL))
    later = escalate_due(now=start + timedelta(minutes=30))

    assert (fired, len(first), resolved, later) == (["firing"], 1, ["resolved"], [])
    alert.refresh_from_db()
    assert (alert.state, alert.details["resolved_by"]) == ("resolved", SYSTEM.label)
    with pytest.raises(AlertNotActive):
        acknowledge_alert(alert=alert, actor=SYSTEM)


def test_the_dashboard_receiver_tells_the_alerts_group(board):
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)("alerts", channel)
    now = timezone.now()

    (notification,) = [n for n in _flush_one(now)]
    outcome = deliver_notification(notification_id=notification.pk)
    message = async_to_sync(layer.receive)(channel)

    assert (outcome, message) == ("sent", {"type": "alerts.changed"})


def _flush_one(now):
    note_alert_changes([a.pk for a in fire(rule(), 1, now=now)], now=now)
    return flush_due_groups(now=now + timedelta(seconds=WAIT))


def test_a_link_from_an_earlier_firing_does_not_acknowledge_the_next(client):
    low = rule()
    start = timezone.now() - timedelta(hours=2)
    alert = fire(low, 1, now=start)[0]
    old_link = f"/alerts/ack/{ack_token(alert)}"
    apply_findings([finding(low, 1, holds=False)], now=start + timedelta(hours=1))
    apply_findings([finding(low, 1)], now=start + timedelta(hours=2))

    refused = client.post(old_link)

    assert refused.status_code == 400 and b"has ended" in refused.content
    alert.refresh_from_db()
    assert (alert.state, alert.acknowledged_at) == ("firing", None)


def test_an_expired_link_is_refused(client, monkeypatch, settings):
    alert = fire(rule(), 1)[0]
    long_ago = int(time.time()) - (settings.ALERTS_ACK_LINK_DAYS + 1) * 86400
    monkeypatch.setattr(
        signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(long_ago)
    )
    token = ack_token(alert)
    monkeypatch.undo()

    refused = client.get(f"/alerts/ack/{token}")

    assert refused.status_code == 400 and b"expired" in refused.content


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"matchers": {"Severity": "critical"}}, "matchers"),
        ({"matchers": {"severity": 2}}, "matchers"),
        ({"group_by": ["warehouse", "no spaces"]}, "group_by"),
        ({"group_wait_seconds": -1}, "group_wait_seconds"),
        ({"repeat_steps_seconds": [10]}, "repeat_steps_seconds"),
        ({"continue_matching": "yes"}, "continue_matching"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_route_with_bad_settings_is_refused(board, values, field):
    with pytest.raises(InvalidRoute) as refused:
        save_route(name="bad", receiver=board, **values)

    assert refused.value.details["field"] == field


def test_an_escalation_step_never_waits_less_than_an_earlier_one(board):
    save_escalation_step(severity="critical", position=1, after_minutes=10, receiver=board)

    with pytest.raises(InvalidEscalationStep):
        save_escalation_step(severity="critical", position=2, after_minutes=5, receiver=board)
    replaced = save_escalation_step(
        severity="critical", position=1, after_minutes=3, receiver=board
    )

    assert (replaced.position, replaced.after_minutes) == (1, 3)
    assert board.pk == replaced.receiver_id


def test_out_of_stock_holds_back_low_stock_of_the_same_level_only(board):
    from tests.stock.factories import VariantFactory
    from tests.warehouses.factories import WarehouseFactory

    mug, north, south = VariantFactory(), WarehouseFactory(), WarehouseFactory()
    now = timezone.now()
    out = fire(rule("out_of_stock"), 1, now=now, variant_id=mug.pk, warehouse_id=north.pk)
    low = rule()
    held = fire(low, 1, now=now, variant_id=mug.pk, warehouse_id=north.pk)
    told = fire(low, 2, now=now, variant_id=mug.pk, warehouse_id=south.pk)

    note_alert_changes([a.pk for a in out + held + told], now=now)
    (sent,) = flush_due_groups(now=now + timedelta(seconds=WAIT))

    carried = sorted((a["condition"], a["alert_id"]) for a in sent.payload["alerts"])
    assert carried == sorted([("out_of_stock", out[0].pk), ("available_below", told[0].pk)])


def test_a_receiver_that_wants_no_resolved_messages_gets_none(board):
    board.send_resolved = False
    board.save()
    low = rule()
    start = timezone.now()
    alert = fire(low, 1, now=start)[0]
    fired = look([alert.pk], start)

    later = start + timedelta(hours=1)
    resolved = look(apply_findings([finding(low, 1, holds=False)], now=later).changed, later)

    assert (fired, resolved) == (["firing"], [])


def test_a_silenced_alert_does_not_escalate(board):
    from alerts.services import create_silence

    save_escalation_step(severity="critical", position=1, after_minutes=0, receiver=board)
    create_silence(
        matchers={"sku": "SKU-1"},
        author=SYSTEM,
        reason="known",
        ends_at=timezone.now() + timedelta(hours=1),
    )
    start = timezone.now()
    fire(rule(severity="critical"), 1, 2, now=start)

    made = escalate_due(now=start)

    assert [n.payload["alerts"][0]["labels"]["sku"] for n in made] == ["SKU-2"]
