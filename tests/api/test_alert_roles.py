"""Who may do what in the alerts API: every role reads alerts, rules, receivers, routes,
steps, silences and the delivery log; ops staff set things up and resolve; ops staff and
managers acknowledge (a manager the alerts of their warehouses, or of none) and silence
(a manager expires their own)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert, Receiver, Rule, Silence
from alerts.services import create_silence
from stock.actors import Actor
from tests.api.alerts_support import firing_alert, mail_receiver
from warehouses.access import Role
from warehouses.models import Warehouse

pytestmark = pytest.mark.django_db

READS = [
    "/api/v1/alerts/",
    "/api/v1/alert-rules/",
    "/api/v1/alert-receivers/",
    "/api/v1/alert-routes/",
    "/api/v1/alert-escalation-steps/",
    "/api/v1/silences/",
    "/api/v1/alert-notifications/",
]


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("path", READS)
def test_every_role_reads_alerts_and_their_setup(make_client, role, path):
    response = make_client(role).get(path)

    assert response.status_code == 200


@pytest.mark.parametrize("path", READS)
def test_a_user_without_a_role_reads_nothing(make_client, path):
    assert make_client(None).get(path).status_code == 403


@pytest.mark.parametrize("role", [Role.WAREHOUSE_MANAGER, Role.VIEWER, Role.INTEGRATION])
def test_only_ops_staff_change_the_setup(make_client, role):
    client = make_client(role)
    receiver = mail_receiver()

    answers = [
        client.post("/api/v1/alert-rules/", {"name": "R", "condition": "drift"}, format="json"),
        client.post("/api/v1/alert-receivers/", {"name": "X", "kind": "dashboard"}, format="json"),
        client.patch(f"/api/v1/alert-receivers/{receiver.pk}/", {"name": "Y"}, format="json"),
        client.post(f"/api/v1/alert-receivers/{receiver.pk}/test/"),
        client.post("/api/v1/alert-routes/", {"name": "R", "receiver": receiver.pk}, format="json"),
    ]

    assert [answer.status_code for answer in answers] == [403] * len(answers)
    assert not Rule.objects.exists()
    assert list(Receiver.objects.values_list("name", flat=True)) == ["Ops mail"]


def test_a_manager_acknowledges_an_alert_of_their_warehouse(make_client):
    alert = firing_alert("NORTH")
    manager = make_client(Role.WAREHOUSE_MANAGER, warehouses=[Warehouse.objects.get()])

    response = manager.post(f"/api/v1/alerts/{alert.pk}/acknowledge/")

    assert response.status_code == 200
    assert response.json()["acknowledged_by"] == manager.user.username


def test_a_manager_may_not_acknowledge_another_warehouses_alert(make_client):
    alert = firing_alert("NORTH")
    manager = make_client(Role.WAREHOUSE_MANAGER)

    response = manager.post(f"/api/v1/alerts/{alert.pk}/acknowledge/")

    assert response.status_code == 403
    assert "NORTH" in response.json()["error"]["message"]
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_a_manager_acknowledges_an_alert_of_no_warehouse(make_client):
    alert = firing_alert("NORTH")
    Alert.objects.filter(pk=alert.pk).update(warehouse=None)

    response = make_client(Role.WAREHOUSE_MANAGER).post(f"/api/v1/alerts/{alert.pk}/acknowledge/")

    assert response.status_code == 200


@pytest.mark.parametrize("role", [Role.VIEWER, Role.INTEGRATION])
def test_viewers_and_integrations_do_not_acknowledge(make_client, role):
    alert = firing_alert("NORTH")

    response = make_client(role).post(f"/api/v1/alerts/{alert.pk}/acknowledge/")

    assert response.status_code == 403
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


@pytest.mark.parametrize("role", [Role.WAREHOUSE_MANAGER, Role.VIEWER, Role.INTEGRATION])
def test_only_ops_staff_resolve_by_hand(make_client, role):
    alert = firing_alert("NORTH")
    client = make_client(role, warehouses=[Warehouse.objects.get()])

    response = client.post(f"/api/v1/alerts/{alert.pk}/resolve/")

    assert response.status_code == 403
    alert.refresh_from_db()
    assert alert.state == "firing"


def _silence_body() -> dict:
    ends_at = (timezone.now() + timedelta(hours=1)).isoformat()
    return {"matchers": {"warehouse": "NORTH"}, "reason": "Stocktake", "ends_at": ends_at}


def test_a_manager_silences_and_expires_their_own_silence(make_client):
    manager = make_client(Role.WAREHOUSE_MANAGER)

    created = manager.post("/api/v1/silences/", _silence_body(), format="json")
    expired = manager.post(f"/api/v1/silences/{created.json()['id']}/expire/")

    assert created.status_code == 201
    assert created.json()["author"] == manager.user.username
    assert expired.status_code == 200


def test_a_manager_may_not_expire_someone_elses_silence(make_client):
    silence = create_silence(
        matchers={"warehouse": "NORTH"},
        author=Actor(kind="user", label="someone-else"),
        reason="Stocktake",
        ends_at=timezone.now() + timedelta(hours=1),
    )

    response = make_client(Role.WAREHOUSE_MANAGER).post(f"/api/v1/silences/{silence.pk}/expire/")

    assert response.status_code == 403
    silence.refresh_from_db()
    assert silence.ends_at > timezone.now()


def test_ops_staff_expire_any_silence(ops_client):
    silence = create_silence(
        matchers={"warehouse": "NORTH"},
        author=Actor(kind="user", label="a-manager"),
        reason="Stocktake",
        ends_at=timezone.now() + timedelta(hours=1),
    )

    assert ops_client.post(f"/api/v1/silences/{silence.pk}/expire/").status_code == 200


@pytest.mark.parametrize("role", [Role.VIEWER, Role.INTEGRATION])
def test_viewers_and_integrations_do_not_silence(make_client, role):
    response = make_client(role).post("/api/v1/silences/", _silence_body(), format="json")

    assert response.status_code == 403
    assert not Silence.objects.exists()
