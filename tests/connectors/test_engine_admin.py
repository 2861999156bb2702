"""The connectors admin never shows secrets back, and its actions call the engine."""

import pytest

from connectors.models import Connector, InboxEvent, InboxState, OutboxItem
from tests.connectors import engine_fakes
from tests.connectors.engine_fakes import make_hub

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("engine_kinds")]
engine_kinds = engine_fakes.engine_kinds
CREDENTIAL = "ck_live_very_secret_value"


def form_data(connector: Connector, **changes) -> dict:
    data = {
        "name": connector.name,
        "kind": "partner",
        "is_active": "on",
        "base_url": "http://127.0.0.1:9",
        "channel": connector.channel_id,
        "ownership": connector.ownership,
        "options": "{}",
        "poll_interval_seconds": 300,
        "push_rate_per_second": 5,
        "timeout_seconds": 10,
        "new_credentials": "",
        "new_webhook_secret": "",
        "location_mappings-TOTAL_FORMS": 0,
        "location_mappings-INITIAL_FORMS": 0,
    }
    data.update(changes)
    return data


def test_change_page_never_shows_the_stored_secrets(admin_client):
    hub = make_hub(None)
    Connector.objects.filter(pk=hub.connector.pk).update(
        credentials={"consumer_key": CREDENTIAL}, webhook_secret="whsec_do_not_show"
    )

    page = admin_client.get(f"/admin/connectors/connector/{hub.connector.pk}/change/")
    listing = admin_client.get("/admin/connectors/connector/")

    assert page.status_code == listing.status_code == 200
    for response in (page, listing):
        html = response.content.decode()
        assert CREDENTIAL not in html
        assert "whsec_do_not_show" not in html
    assert "credentials set; webhook secret set" in page.content.decode()


def test_blank_secret_fields_keep_what_is_stored_and_new_ones_replace_it(admin_client):
    hub = make_hub(None)
    Connector.objects.filter(pk=hub.connector.pk).update(
        credentials={"token": "old"}, webhook_secret="old-secret"
    )
    url = f"/admin/connectors/connector/{hub.connector.pk}/change/"

    kept = admin_client.post(url, form_data(hub.connector))
    after_blank = Connector.objects.get(pk=hub.connector.pk)
    replaced = admin_client.post(
        url,
        form_data(hub.connector, new_credentials='{"token": "new"}', new_webhook_secret="new-s"),
    )
    after_new = Connector.objects.get(pk=hub.connector.pk)

    assert kept.status_code == replaced.status_code == 302
    assert (after_blank.credentials, after_blank.webhook_secret) == ({"token": "old"}, "old-secret")
    assert (after_new.credentials, after_new.webhook_secret) == ({"token": "new"}, "new-s")


def test_credentials_that_are_not_a_json_object_are_refused_without_echo(admin_client):
    hub = make_hub(None)
    url = f"/admin/connectors/connector/{hub.connector.pk}/change/"

    response = admin_client.post(
        url, form_data(hub.connector, new_credentials="token=" + CREDENTIAL)
    )

    assert response.status_code == 200
    html = response.content.decode()
    assert "Credentials must be a JSON object." in html
    assert CREDENTIAL not in html


def test_replay_action_requeues_dead_events(admin_client):
    hub = make_hub(None)
    dead = InboxEvent.objects.create(
        connector=hub.connector, delivery_id="d", body="{}", state=InboxState.DEAD, attempts=8
    )
    processed = InboxEvent.objects.create(
        connector=hub.connector, delivery_id="p", body="{}", state=InboxState.PROCESSED
    )

    response = admin_client.post(
        "/admin/connectors/inboxevent/",
        {"action": "replay_selected", "_selected_action": [dead.pk, processed.pk]},
    )

    assert response.status_code == 302
    dead.refresh_from_db()
    processed.refresh_from_db()
    assert (dead.state, dead.attempts) == (InboxState.RECEIVED, 0)
    assert processed.state == InboxState.PROCESSED


def test_push_everything_action_queues_every_mapped_sku(admin_client):
    hub = make_hub(None, skus=("A", "B", "C"))

    admin_client.post(
        "/admin/connectors/connector/",
        {"action": "push_everything", "_selected_action": [hub.connector.pk]},
    )

    assert OutboxItem.objects.filter(connector=hub.connector).count() == 3


@pytest.mark.parametrize(
    "path",
    [
        "/admin/connectors/inboxevent/",
        "/admin/connectors/outboxitem/",
        "/admin/connectors/syncrun/",
        "/admin/connectors/syncproblem/",
        "/admin/connectors/skumapping/",
        "/admin/connectors/reconciliationreport/",
    ],
)
def test_engine_pages_render(admin_client, path):
    make_hub(None)

    assert admin_client.get(path).status_code == 200
