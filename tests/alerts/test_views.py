"""The alert pages and their buttons: who sees what, acknowledge, silence and resolve moving
an alert through its services, refusals answered 403 or 422 with nothing changed, the rule
editor and its preview (which writes nothing), test messages, and the overview's tile."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.conditions import RuleIndex
from alerts.conditions.stock import channel_findings, level_findings
from alerts.models import (
    Alert,
    Condition,
    Notification,
    NotificationKind,
    Rule,
    Silence,
)
from alerts.services import (
    apply_findings,
    create_silence,
    escalate_due,
    resolve_alert,
    save_escalation_step,
    save_receiver,
    save_route,
)
from connectors.models import Connector
from stock.services.status import force_status
from tests.stock.factories import SYSTEM, VariantFactory, reserved, stocked
from tests.warehouses.factories import (
    ChannelWarehouseFactory,
    SalesChannelFactory,
    WarehouseFactory,
    signed_in,
)
from warehouses.access import Role

from .support import make_rule

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "live-region"}


@pytest.fixture
def north():
    return WarehouseFactory(code="NORTH", name="North")


@pytest.fixture
def south():
    return WarehouseFactory(code="SOUTH", name="South")


@pytest.fixture
def clients(north, south):
    return {
        "ops": signed_in(Role.OPS_STAFF, username="ops"),
        "manager": signed_in(Role.WAREHOUSE_MANAGER, north, username="north-manager"),
        "viewer": signed_in(Role.VIEWER, username="viewer"),
    }


@pytest.fixture
def low_rule():
    return make_rule(Condition.AVAILABLE_BELOW, threshold=5, severity="critical")


def fire(rule: Rule, level) -> Alert:
    apply_findings(level_findings(RuleIndex([rule]), [level.pk]))
    return Alert.objects.get(rule=rule, warehouse_id=level.warehouse_id)


@pytest.fixture
def north_alert(north, low_rule):
    return fire(low_rule, stocked(VariantFactory(sku="SHEET-N"), north, 2))


@pytest.fixture
def south_alert(south, low_rule):
    return fire(low_rule, stocked(VariantFactory(sku="SHEET-S"), south, 1))


def section_of(html: str, alert: Alert) -> str:
    """The section (data-section) the alert's row sits in on the page."""
    marker = f'id="alert-{alert.pk}"'
    assert marker in html, f"alert {alert.pk} is not on the page"
    before = html[: html.index(marker)]
    return before[before.rindex('data-section="') :].split('"')[1]


def row_of(html: str, alert: Alert) -> str:
    start = html.index(f'id="alert-{alert.pk}"')
    return html[start : html.index("</li>", html.index("alert-item__", start) + 1)]


# --- The Alerts page ---------------------------------------------------------------------


@pytest.mark.parametrize("role", ["ops", "manager", "viewer"])
def test_every_role_reads_the_alerts_page_with_its_sections(clients, north_alert, role):
    response = clients[role].get("/alerts/")

    html = response.content.decode()
    assert response.status_code == 200
    for section in ("firing", "pending", "acknowledged", "silenced", "history"):
        assert f'data-section="{section}"' in html
    assert section_of(html, north_alert) == "firing"
    assert "SHEET-N at NORTH: 2 available (low)" in html
    assert 'data-label="sku">sku=SHEET-N' in html
    assert "<dt>on hand</dt><dd>2</dd>" in html
    assert 'ws-connect="/ws/live/alerts/"' in html
    assert '<a href="/alerts/" aria-current="page">Alerts</a>' in html


def test_buttons_follow_the_role_and_the_managers_warehouses(clients, north_alert, south_alert):
    pages = {role: clients[role].get("/alerts/").content.decode() for role in clients}

    ops_row = row_of(pages["ops"], south_alert)
    assert all(
        button in ops_row for button in ("acknowledge-button", "silence-form", "resolve-button")
    )
    assert "acknowledge-button" in row_of(pages["manager"], north_alert)
    assert "silence-form" in row_of(pages["manager"], north_alert)
    assert "resolve-button" not in row_of(pages["manager"], north_alert)
    assert "acknowledge-button" not in row_of(pages["manager"], south_alert)
    assert "_button" not in pages["viewer"] and "-button" not in row_of(
        pages["viewer"], north_alert
    )
    assert "silence-form" not in pages["viewer"]


def test_acknowledging_moves_the_alert_to_acknowledged(clients, north_alert):
    response = clients["manager"].post(f"/alerts/{north_alert.pk}/acknowledge/", **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Acknowledged: SHEET-N at NORTH" in html
    assert section_of(html, north_alert) == "acknowledged"
    north_alert.refresh_from_db()
    assert north_alert.acknowledged_by == "north-manager"
    assert north_alert.state == "firing"


def test_a_viewer_cannot_acknowledge_and_nothing_changes(clients, north_alert):
    response = clients["viewer"].post(f"/alerts/{north_alert.pk}/acknowledge/", **HTMX)

    assert response.status_code == 403
    assert "Your role may not acknowledge this alert" in response.content.decode()
    north_alert.refresh_from_db()
    assert north_alert.acknowledged_at is None


def test_a_manager_cannot_acknowledge_another_warehouses_alert(clients, south_alert):
    response = clients["manager"].post(f"/alerts/{south_alert.pk}/acknowledge/", **HTMX)

    assert response.status_code == 403
    south_alert.refresh_from_db()
    assert south_alert.acknowledged_at is None


def test_a_manager_acknowledges_an_alert_of_no_warehouse(clients, north):
    channel = SalesChannelFactory(code="shop")
    ChannelWarehouseFactory(channel=channel, warehouse=north)
    variant = VariantFactory(sku="LAMP")  # no stock anywhere: nothing salable
    rule = make_rule(Condition.CHANNEL_OUT_OF_STOCK)
    apply_findings(channel_findings(RuleIndex([rule]), [variant.pk]))
    alert = Alert.objects.get(rule=rule)

    response = clients["manager"].post(f"/alerts/{alert.pk}/acknowledge/", **HTMX)

    assert response.status_code == 200
    alert.refresh_from_db()
    assert (alert.warehouse_id, alert.acknowledged_by) == (None, "north-manager")


def test_acknowledging_a_resolved_alert_is_refused_with_its_reason(clients, north_alert):
    resolve_alert(alert=north_alert, actor=SYSTEM)

    response = clients["ops"].post(f"/alerts/{north_alert.pk}/acknowledge/", **HTMX)

    assert response.status_code == 422
    assert "A resolved alert cannot be acknowledged. Nothing was changed." in (
        response.content.decode()
    )
    north_alert.refresh_from_db()
    assert north_alert.acknowledged_at is None


def test_silencing_matches_the_rule_and_the_subject_and_holds_the_alert_back(
    clients, north_alert, south_alert
):
    response = clients["manager"].post(
        f"/alerts/{north_alert.pk}/silence/", {"hours": "4", "reason": "recount"}, **HTMX
    )

    html = response.content.decode()
    assert response.status_code == 200
    silence = Silence.objects.get()
    assert silence.matchers == {
        "rule": north_alert.rule.name,
        "sku": "SHEET-N",
        "warehouse": "NORTH",
    }
    assert (silence.author, silence.reason) == ("north-manager", "recount")
    assert timedelta(hours=3, minutes=59) < silence.ends_at - timezone.now() <= timedelta(hours=4)
    assert section_of(html, north_alert) == "silenced"
    assert "Silenced by north-manager until" in row_of(html, north_alert)
    assert section_of(html, south_alert) == "firing"


def test_ops_end_a_silence_and_the_alert_fires_on_the_page_again(clients, north_alert):
    clients["manager"].post(
        f"/alerts/{north_alert.pk}/silence/", {"hours": "1", "reason": "recount"}, **HTMX
    )
    silence = Silence.objects.get()
    manager_page = clients["manager"].get("/alerts/").content.decode()
    assert "end-silence-button" not in manager_page
    assert (
        clients["manager"].post(f"/alerts/silences/{silence.pk}/expire/", **HTMX).status_code == 403
    )

    response = clients["ops"].post(f"/alerts/silences/{silence.pk}/expire/", **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert "Silence by north-manager ended: recount." in html
    assert section_of(html, north_alert) == "firing"
    silence.refresh_from_db()
    assert silence.ends_at <= timezone.now()
    again = clients["ops"].post(f"/alerts/silences/{silence.pk}/expire/", **HTMX)
    assert again.status_code == 422


def test_a_contradiction_shows_the_override_its_author_and_the_breakdown(clients, north):
    channel = SalesChannelFactory(code="shop")
    ChannelWarehouseFactory(channel=channel, warehouse=north)
    Connector.objects.create(name="magento-eu", kind="magento", channel=channel)
    variant = VariantFactory(sku="LAMP")
    stocked(variant, north, 1)
    reserved(variant, north, 1)
    force_status(
        variant=variant, status="in_stock", reason="campaign", actor=SYSTEM, channel=channel
    )
    rule = make_rule(Condition.FORCED_STATUS_CONTRADICTS, severity="critical")
    apply_findings(channel_findings(RuleIndex([rule]), [variant.pk]))
    alert = Alert.objects.get(rule=rule)

    row = row_of(clients["viewer"].get("/alerts/").content.decode(), alert)

    assert "LAMP on shop (magento-eu): forced in_stock by tests while 0 salable" in row
    for item in (
        "<dt>forced by</dt><dd>tests</dd>",
        "<dt>forced reason</dt><dd>campaign</dd>",
        "<dt>breakdown salable</dt><dd>0</dd>",
        "<dt>breakdown warehouses NORTH</dt><dd>0</dd>",
        "<dt>stores</dt><dd>magento-eu</dd>",
    ):
        assert item in row


def test_a_silence_without_a_reason_is_refused_and_nothing_is_silenced(clients, north_alert):
    response = clients["ops"].post(
        f"/alerts/{north_alert.pk}/silence/", {"hours": "4", "reason": ""}, **HTMX
    )

    assert response.status_code == 422
    assert "Nothing was silenced." in response.content.decode()
    assert not Silence.objects.exists()


def test_a_viewer_cannot_silence(clients, north_alert):
    response = clients["viewer"].post(
        f"/alerts/{north_alert.pk}/silence/", {"hours": "4", "reason": "mine"}, **HTMX
    )

    assert response.status_code == 403
    assert not Silence.objects.exists()


def test_ops_resolve_by_hand_and_the_alert_goes_to_history(clients, north_alert):
    response = clients["ops"].post(f"/alerts/{north_alert.pk}/resolve/", **HTMX)

    html = response.content.decode()
    assert response.status_code == 200
    assert f'id="resolved-alert-{north_alert.pk}"' in html
    assert f'id="alert-{north_alert.pk}"' not in html
    assert "by ops" in html
    north_alert.refresh_from_db()
    assert north_alert.state == "resolved"


def test_a_manager_may_not_resolve(clients, north_alert):
    response = clients["manager"].post(f"/alerts/{north_alert.pk}/resolve/", **HTMX)

    assert response.status_code == 403
    north_alert.refresh_from_db()
    assert north_alert.state == "firing"


def test_resolving_twice_is_refused(clients, north_alert):
    resolve_alert(alert=north_alert, actor=SYSTEM)

    response = clients["ops"].post(f"/alerts/{north_alert.pk}/resolve/", **HTMX)

    assert response.status_code == 422
    assert "The alert is already resolved." in response.content.decode()


def test_a_silenced_alert_by_another_silence_is_listed_as_held_back(clients, north_alert):
    create_silence(
        matchers={"sku": "SHEET-N"},
        author=SYSTEM,
        reason="stocktake",
        ends_at=timezone.now() + timedelta(hours=1),
    )

    html = clients["viewer"].get("/alerts/").content.decode()

    assert section_of(html, north_alert) == "silenced"
    assert "stocktake" in row_of(html, north_alert)


def test_acknowledging_from_the_page_stops_the_escalation(clients, north_alert):
    mail = save_receiver(name="ops mail", kind="email", config={"addresses": ["o@x.test"]})
    sms = save_receiver(name="ops sms", kind="sms", config={"numbers": ["+4915112345678"]})
    save_escalation_step(severity="critical", position=1, after_minutes=0, receiver=mail)
    save_escalation_step(severity="critical", position=2, after_minutes=10, receiver=sms)
    first = escalate_due()
    assert [n.receiver_id for n in first] == [mail.pk]

    clients["ops"].post(f"/alerts/{north_alert.pk}/acknowledge/", **HTMX)
    later = escalate_due(now=timezone.now() + timedelta(minutes=30))

    assert later == []
    north_alert.refresh_from_db()
    assert north_alert.escalation_step == 1
    assert Notification.objects.filter(kind=NotificationKind.ESCALATION).count() == 1


# --- The overview's tile -----------------------------------------------------------------


def test_the_overview_shows_firing_alerts_by_severity_and_the_latest(
    clients, north_alert, south_alert
):
    html = clients["viewer"].get("/").content.decode()

    assert 'data-testid="alerts-tile"' in html
    assert (
        '<div data-field="firing_critical" class="kpi-alert is-nonzero"><dt>Critical</dt><dd>2</dd>'
        in html
    )
    assert html.count('data-testid="tile-alert"') == 2


def test_acknowledging_from_the_tile_answers_with_the_tile(clients, north_alert):
    response = clients["ops"].post(
        f"/alerts/{north_alert.pk}/acknowledge/", {"view": "tile", "warehouse": ""}, **HTMX
    )

    html = response.content.decode()
    assert response.status_code == 200
    assert html.startswith('<article id="tile-alerts"')
    assert "Acknowledged: SHEET-N at NORTH" in html
    assert 'data-testid="tile-alert"' not in html
    assert "Every firing alert is acknowledged." in html


def test_a_viewer_acknowledging_from_the_tile_is_refused_in_the_tile(clients, north_alert):
    response = clients["viewer"].post(
        f"/alerts/{north_alert.pk}/acknowledge/", {"view": "tile"}, **HTMX
    )

    assert response.status_code == 403
    assert 'data-testid="tile-result"' in response.content.decode()
    north_alert.refresh_from_db()
    assert north_alert.acknowledged_at is None


# --- Rules, preview, receivers ------------------------------------------------------------


RULE_FORM = {
    "name": "low north",
    "condition": "available_below",
    "sku": "",
    "warehouse": "",
    "threshold": "5",
    "hysteresis": "2",
    "pending_seconds": "0",
    "severity": "warning",
    "labels": "team=north",
    "params": "",
    "is_active": "on",
}


@pytest.mark.parametrize("role", ["ops", "manager", "viewer"])
def test_every_role_reads_the_rules(clients, low_rule, role):
    html = clients[role].get("/alerts/rules/").content.decode()

    assert f'data-rule="{low_rule.name}"' in html
    assert ("New rule" in html) is (role == "ops")


@pytest.mark.parametrize("role", ["manager", "viewer"])
def test_only_ops_edit_rules(clients, role):
    assert clients[role].get("/alerts/rules/new/").status_code == 403
    response = clients[role].post("/alerts/rules/new/", RULE_FORM)

    assert response.status_code == 403
    assert not Rule.objects.exists()


def test_ops_create_a_rule_through_the_form(clients, north):
    response = clients["ops"].post("/alerts/rules/new/", {**RULE_FORM, "warehouse": north.pk})

    assert response.status_code == 302
    rule = Rule.objects.get()
    assert (rule.name, rule.condition, rule.warehouse_id, rule.threshold, rule.hysteresis) == (
        "low north",
        "available_below",
        north.pk,
        5,
        2,
    )
    assert (rule.labels, rule.created_by) == ({"team": "north"}, "ops")


def test_a_rule_the_service_refuses_is_answered_422_and_not_saved(clients, north):
    form = {**RULE_FORM, "condition": "channel_out_of_stock", "warehouse": north.pk}

    response = clients["ops"].post("/alerts/rules/new/", form)

    assert response.status_code == 422
    assert "A channel_out_of_stock rule cannot be narrowed by warehouse." in (
        response.content.decode()
    )
    assert not Rule.objects.exists()


def test_the_edit_form_shows_the_rule_and_locks_its_condition(clients, low_rule):
    html = clients["ops"].get(f"/alerts/rules/{low_rule.pk}/").content.decode()

    assert f'value="{low_rule.name}"' in html
    assert 'name="threshold" value="5"' in html
    assert re.search(r'<select name="condition"[^>]*disabled', html)
    assert clients["ops"].get("/alerts/rules/999999/").status_code == 404


def test_ops_change_a_rule_but_not_its_condition(clients, low_rule):
    form = {**RULE_FORM, "name": low_rule.name, "threshold": "9", "condition": "out_of_stock"}

    response = clients["ops"].post(f"/alerts/rules/{low_rule.pk}/", form)

    assert response.status_code == 302
    low_rule.refresh_from_db()
    assert (low_rule.threshold, low_rule.condition) == (9, "available_below")


def test_the_preview_lists_what_matches_now_and_who_is_told_and_writes_nothing(clients, north):
    stocked(VariantFactory(sku="LOW-1"), north, 1)
    stocked(VariantFactory(sku="LOW-2"), north, 4)
    stocked(VariantFactory(sku="PLENTY"), north, 50)
    dashboard = save_receiver(name="screens", kind="dashboard")
    save_route(name="north team", receiver=dashboard, matchers={"team": "north"})
    save_route(
        name="others",
        receiver=save_receiver(name="south", kind="dashboard"),
        matchers={"team": "south"},
    )

    response = clients["ops"].post("/alerts/rules/preview/", RULE_FORM)

    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('data-testid="preview-subject"') == 2
    assert "LOW-1 at NORTH: 1 available (low)" in html
    assert "LOW-2 at NORTH: 4 available (low)" in html
    assert "PLENTY" not in html
    assert 'data-receiver="screens"' in html and "by route" in html
    assert 'data-receiver="south"' not in html
    assert not Rule.objects.exists() and not Alert.objects.exists()


def test_the_preview_caps_the_subjects(clients, north):
    for number in range(102):
        stocked(VariantFactory(sku=f"CAP-{number}"), north, 1)

    html = clients["ops"].post("/alerts/rules/preview/", RULE_FORM).content.decode()

    assert html.count('data-testid="preview-subject"') == 100
    assert "<strong>102</strong> subjects match now (the first 100 shown)" in html


def test_the_preview_of_an_invalid_rule_waits(clients):
    response = clients["ops"].post("/alerts/rules/preview/", {**RULE_FORM, "name": ""})

    assert response.status_code == 200
    assert 'data-testid="preview-waiting"' in response.content.decode()


def test_only_ops_preview(clients):
    assert clients["viewer"].post("/alerts/rules/preview/", RULE_FORM).status_code == 403


def test_ops_send_a_test_message_to_a_receiver(clients):
    receiver = save_receiver(name="screens", kind="dashboard")

    response = clients["ops"].post(f"/alerts/receivers/{receiver.pk}/test/", **HTMX)

    notification = Notification.objects.get()
    assert response.status_code == 200
    assert (notification.kind, notification.receiver_id) == (NotificationKind.TEST, receiver.pk)
    assert f"Test message {notification.pk} queued for screens." in response.content.decode()


def test_a_manager_sends_no_test_message(clients):
    receiver = save_receiver(name="screens", kind="dashboard")

    response = clients["manager"].post(f"/alerts/receivers/{receiver.pk}/test/", **HTMX)

    assert response.status_code == 403
    assert not Notification.objects.exists()
    assert "test-message-button" not in clients["manager"].get("/alerts/rules/").content.decode()
