"""The alerts API: alerts listed and filtered, read with their notifications, acknowledged
and resolved; rules created with a scope of codes, changed, retired and previewed; bad
input refused naming the field with nothing written; the schema lists every operation.
Who may do what is tests/api/test_alert_roles.py; receivers, routes, silences and the
delivery log are tests/api/test_alert_setup.py."""

from datetime import timedelta

import pytest
import yaml
from django.test import Client
from django.utils import timezone

from alerts.models import Alert, Notification, NotificationKind, Rule
from alerts.services import escalate_due, save_escalation_step
from alerts.services.evaluation import fingerprint
from tests.api.alerts_support import firing_alert, low_rule, mail_receiver, route_to
from tests.stock.factories import VariantFactory, channel_selling_from, stocked
from tests.warehouses.factories import WarehouseFactory

pytestmark = pytest.mark.django_db

ALERTS = "/api/v1/alerts/"
RULES = "/api/v1/alert-rules/"


# --- Alerts ----------------------------------------------------------------------------------


def test_alerts_are_listed_with_their_rule_subject_and_codes(ops_client):
    alert = firing_alert()

    response = ops_client.get(ALERTS)

    assert response.status_code == 200
    [shown] = response.json()["results"]
    assert shown["id"] == alert.pk
    assert (shown["rule_name"], shown["condition"], shown["severity"]) == (
        "Low mugs",
        "available_below",
        "warning",
    )
    assert (shown["sku"], shown["warehouse"], shown["channel"]) == ("MUG", "NORTH", None)
    assert (shown["state"], shown["value"]) == ("firing", 2)
    assert shown["labels"]["warehouse"] == "NORTH"


def test_alerts_are_filtered_by_warehouse_sku_state_and_acknowledged(ops_client):
    north = firing_alert("NORTH", "MUG")
    south = firing_alert("SOUTH", "CUP", rule=Rule.objects.get())
    Alert.objects.filter(pk=south.pk).update(acknowledged_at=timezone.now())

    def ids(**query):
        response = ops_client.get(ALERTS, query)
        assert response.status_code == 200, response.json()
        return [row["id"] for row in response.json()["results"]]

    assert ids(warehouse="NORTH") == [north.pk]
    assert ids(sku="CUP") == [south.pk]
    assert ids(acknowledged="false") == [north.pk]
    assert ids(acknowledged="true") == [south.pk]
    assert sorted(ids(state="firing", severity="warning")) == sorted([north.pk, south.pk])
    assert ids(state="resolved") == []
    assert sorted(ids(rule=north.rule_id, condition="available_below")) == sorted(
        [north.pk, south.pk]
    )


@pytest.mark.parametrize(
    "query",
    [{"state": "burning"}, {"warehouse": "NOWHERE"}, {"acknowledged": "maybe"}, {"rule": "x"}],
)
def test_an_unreadable_alert_filter_is_a_400_naming_it(ops_client, query):
    response = ops_client.get(ALERTS, query)

    assert response.status_code == 400
    assert set(response.json()["error"]["details"]) == set(query)


def test_an_alert_is_read_with_its_details_and_notifications(ops_client):
    alert = firing_alert()

    response = ops_client.get(f"{ALERTS}{alert.pk}/")

    assert response.status_code == 200
    assert response.json()["details"]["available"] == 2
    assert response.json()["notifications"] == []


def test_acknowledging_sets_who_and_when_and_stops_the_escalation(ops_client):
    alert = firing_alert()
    receiver = mail_receiver()
    save_escalation_step(severity="warning", position=1, after_minutes=0, receiver=receiver)

    response = ops_client.post(f"{ALERTS}{alert.pk}/acknowledge/")

    assert response.status_code == 200
    assert response.json()["acknowledged_by"] == "ops"
    alert.refresh_from_db()
    assert alert.acknowledged_at is not None
    assert escalate_due(now=timezone.now() + timedelta(hours=1)) == []
    assert not Notification.objects.filter(kind=NotificationKind.ESCALATION).exists()


def test_acknowledging_twice_changes_nothing(ops_client):
    alert = firing_alert()
    first = ops_client.post(f"{ALERTS}{alert.pk}/acknowledge/").json()["acknowledged_at"]

    second = ops_client.post(f"{ALERTS}{alert.pk}/acknowledge/")

    assert second.status_code == 200
    assert second.json()["acknowledged_at"] == first


def test_acknowledging_refuses_a_body_naming_its_fields(ops_client):
    alert = firing_alert()

    response = ops_client.post(f"{ALERTS}{alert.pk}/acknowledge/", {"who": "me"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"who": ["Unknown field."]}
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_resolving_by_hand_resolves_and_a_second_time_is_a_conflict(ops_client):
    alert = firing_alert()

    first = ops_client.post(f"{ALERTS}{alert.pk}/resolve/")
    second = ops_client.post(f"{ALERTS}{alert.pk}/resolve/")

    assert first.status_code == 200
    assert first.json()["state"] == "resolved"
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "alert_not_active"


def test_a_resolved_alert_cannot_be_acknowledged(ops_client):
    alert = firing_alert()
    ops_client.post(f"{ALERTS}{alert.pk}/resolve/")

    response = ops_client.post(f"{ALERTS}{alert.pk}/acknowledge/")

    assert response.status_code == 409
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


# --- Rules -----------------------------------------------------------------------------------


def test_a_rule_is_created_with_its_scope_given_by_codes(ops_client):
    WarehouseFactory(code="NORTH")
    VariantFactory(sku="MUG")

    response = ops_client.post(
        RULES,
        {
            "name": "Mugs low at north",
            "condition": "available_below",
            "warehouse": "NORTH",
            "sku": "MUG",
            "threshold": 4,
            "hysteresis": 2,
            "severity": "critical",
            "labels": {"team": "north"},
        },
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["warehouse"], body["sku"], body["channel"], body["product"]) == (
        "NORTH",
        "MUG",
        None,
        None,
    )
    assert (body["threshold"], body["hysteresis"], body["severity"]) == (4, 2, "critical")
    assert body["created_by"] == "ops"
    rule = Rule.objects.get()
    assert (rule.warehouse.code, rule.variant.sku, rule.labels) == (
        "NORTH",
        "MUG",
        {"team": "north"},
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"warehouse": "NOWHERE"}, "warehouse"),
        ({"sku": "NO-SUCH"}, "sku"),
        ({"threshold": "5"}, "threshold"),
        ({"condition": "weather"}, "condition"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_rule_with_bad_input_is_refused_naming_the_field(ops_client, body, field):
    response = ops_client.post(
        RULES, {"name": "Bad", "condition": "available_below", **body}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "validation_error"
    assert field in response.json()["error"]["details"]
    assert not Rule.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"condition": "connector_failing", "warehouse": "NORTH"}, "warehouse"),
        ({"labels": {"Team": "north"}}, "labels"),
        ({"params": {"percent": 5}}, "params"),
    ],
)
def test_a_rule_the_service_refuses_is_a_400_naming_the_field(ops_client, body, field):
    WarehouseFactory(code="NORTH")

    response = ops_client.post(
        RULES, {"name": "Bad", "condition": "available_below", **body}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_rule"
    assert response.json()["error"]["details"] == {"field": field}
    assert not Rule.objects.exists()


def test_a_rule_named_like_another_is_refused(ops_client):
    low_rule(name="Low")

    response = ops_client.post(RULES, {"name": "Low", "condition": "out_of_stock"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"field": "name"}
    assert Rule.objects.count() == 1


def test_a_rule_is_changed_retired_and_its_scope_widened_with_null(ops_client):
    rule = low_rule(warehouse=WarehouseFactory(code="NORTH"))

    response = ops_client.patch(
        f"{RULES}{rule.pk}/", {"warehouse": None, "is_active": False}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert (response.json()["warehouse"], response.json()["is_active"]) == (None, False)
    rule.refresh_from_db()
    assert (rule.warehouse_id, rule.is_active) == (None, False)


def test_a_rules_condition_never_changes(ops_client):
    rule = low_rule()

    response = ops_client.patch(f"{RULES}{rule.pk}/", {"condition": "drift"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"condition": ["Unknown field."]}
    rule.refresh_from_db()
    assert rule.condition == "available_below"


def test_a_rule_is_never_deleted(ops_client):
    rule = low_rule()

    response = ops_client.delete(f"{RULES}{rule.pk}/")

    assert response.status_code == 405
    assert Rule.objects.filter(pk=rule.pk).exists()


def test_the_preview_lists_the_subjects_that_match_now_and_who_would_be_told(ops_client):
    north = WarehouseFactory(code="NORTH")
    low = stocked(VariantFactory(sku="MUG"), north, 2)
    stocked(VariantFactory(sku="CUP"), north, 50)
    rule = low_rule(warehouse=north, severity="critical", labels={"team": "north"})
    team = route_to(mail_receiver("North mail"), matchers={"team": "north"})
    route_to(mail_receiver("Others"), position=5)
    save_escalation_step(severity="critical", position=1, after_minutes=15, receiver=team.receiver)

    response = ops_client.get(f"{RULES}{rule.pk}/preview/")

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["matching"], body["is_sample"]) == (1, False)
    [subject] = body["subjects"]
    assert subject["subject"] == {"kind": "level", "variant": low.variant_id, "warehouse": north.pk}
    assert (subject["value"], subject["receivers"], subject["is_silenced"]) == (
        2,
        ["North mail"],
        False,
    )
    assert (subject["alert_id"], subject["alert_state"]) == (None, None)
    assert body["receivers"] == ["North mail"]
    assert body["escalation"] == [{"position": 1, "after_minutes": 15, "receiver": "North mail"}]
    assert not Alert.objects.exists()


def test_the_preview_gives_the_labels_the_evaluator_gives_and_names_the_alert(ops_client):
    alert = firing_alert()

    body = ops_client.get(f"{RULES}{alert.rule_id}/preview/").json()

    [subject] = body["subjects"]
    assert subject["labels"] == alert.labels
    assert (subject["alert_id"], subject["alert_state"]) == (alert.pk, "firing")
    assert fingerprint(alert.rule_id, subject["subject"]) == alert.fingerprint
    assert Alert.objects.count() == 1


def test_the_preview_of_a_channel_rule_lists_the_variants_out_of_stock_there(ops_client):
    north = WarehouseFactory(code="NORTH")
    channel = channel_selling_from(north, code="EU")
    empty = VariantFactory(sku="MUG")
    stocked(VariantFactory(sku="CUP"), north, 9)
    rule = low_rule(name="Out on EU", condition="channel_out_of_stock", threshold=None)
    route_to(mail_receiver(), matchers={"channel": "EU"})

    body = ops_client.get(f"{RULES}{rule.pk}/preview/").json()

    assert [s["subject"] for s in body["subjects"]] == [
        {"kind": "channel", "variant": empty.pk, "channel": channel.pk}
    ]
    assert body["receivers"] == ["Ops mail"]
    assert not Alert.objects.exists()


# --- The schema ------------------------------------------------------------------------------


def test_the_schema_describes_every_alerts_operation():
    schema = yaml.safe_load(Client().get("/api/schema/").content)
    prefixes = (
        "/api/v1/alerts/",
        "/api/v1/alert-",
        "/api/v1/silences/",
    )

    operations = {
        (path.removeprefix("/api/v1/"), method): operation["operationId"]
        for path, item in schema["paths"].items()
        if path.startswith(prefixes)
        for method, operation in item.items()
    }

    assert operations == {
        ("alerts/", "get"): "alerts_list",
        ("alerts/{id}/", "get"): "alerts_retrieve",
        ("alerts/{id}/acknowledge/", "post"): "alerts_acknowledge",
        ("alerts/{id}/resolve/", "post"): "alerts_resolve",
        ("alert-rules/", "get"): "alert_rules_list",
        ("alert-rules/", "post"): "alert_rules_create",
        ("alert-rules/{id}/", "get"): "alert_rules_retrieve",
        ("alert-rules/{id}/", "patch"): "alert_rules_update",
        ("alert-rules/{id}/preview/", "get"): "alert_rules_preview",
        ("alert-receivers/", "get"): "alert_receivers_list",
        ("alert-receivers/", "post"): "alert_receivers_create",
        ("alert-receivers/{id}/", "get"): "alert_receivers_retrieve",
        ("alert-receivers/{id}/", "patch"): "alert_receivers_update",
        ("alert-receivers/{id}/test/", "post"): "alert_receivers_test",
        ("alert-routes/", "get"): "alert_routes_list",
        ("alert-routes/", "post"): "alert_routes_create",
        ("alert-routes/{id}/", "get"): "alert_routes_retrieve",
        ("alert-routes/{id}/", "patch"): "alert_routes_update",
        ("alert-escalation-steps/", "get"): "alert_escalation_steps_list",
        ("alert-escalation-steps/", "post"): "alert_escalation_steps_create",
        ("alert-escalation-steps/{id}/", "get"): "alert_escalation_steps_retrieve",
        ("alert-escalation-steps/{id}/", "patch"): "alert_escalation_steps_update",
        ("silences/", "get"): "silences_list",
        ("silences/", "post"): "silences_create",
        ("silences/{id}/", "get"): "silences_retrieve",
        ("silences/{id}/expire/", "post"): "silences_expire",
        ("alert-notifications/", "get"): "alert_notifications_list",
        ("alert-notifications/{id}/", "get"): "alert_notifications_retrieve",
    }
    posts = [
        operation
        for path, item in schema["paths"].items()
        if path.startswith(prefixes)
        for method, operation in item.items()
        if method == "post"
    ]
    assert all(
        "Idempotency-Key" in [parameter["name"] for parameter in operation["parameters"]]
        for operation in posts
    )
