"""The connectors admin never shows secrets back, and its actions call the engine."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from connectors.models import (
    Connector,
    InboxEvent,
    InboxState,
    LocationMapping,
    OutboxItem,
    SkuMapping,
)
from tests.connectors import engine_fakes
from tests.connectors.engine_fakes import make_hub
from tests.warehouses.factories import SalesChannelFactory

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("engine_kinds")]
engine_kinds = engine_fakes.engine_kinds
CREDENTIAL = "ck_live_very_secret_value"
PARTNER_OPTIONS = {"push_url": "/push"}


def form_data(connector: Connector, **changes) -> dict:
    data = {
        "name": connector.name,
        "kind": "partner",
        "is_active": "on",
        "base_url": "http://127.0.0.1:9",
        "channel": connector.channel_id,
        "ownership": connector.ownership,
        "options": '{"push_url": "/push"}',
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


@pytest.mark.parametrize(
    "raw",
    ['{"token": ' + "[" * 10_000 + "]" * 10_000 + "}", '{"token": "a\\u0000b"}'],
    ids=["nested", "nul"],
)
def test_credentials_nested_too_deep_or_with_nul_are_a_form_error(admin_client, raw):
    hub = make_hub(None)

    response = admin_client.post(
        change_url(hub.connector), form_data(hub.connector, new_credentials=raw)
    )

    assert response.status_code == 200
    assert "Credentials must be a JSON object." in response.content.decode()


def change_url(connector: Connector) -> str:
    return f"/admin/connectors/connector/{connector.pk}/change/"


def form_errors(response) -> dict:
    return response.context["adminform"].form.errors


def test_options_the_store_class_refuses_are_named_on_the_form_and_nothing_is_saved(
    admin_client,
):
    hub = make_hub(None, kind="partner", options=PARTNER_OPTIONS)

    response = admin_client.post(
        change_url(hub.connector),
        form_data(
            hub.connector,
            options='{"push_url": "/push", "signature_encoding": "rot13"}',
            poll_interval_seconds=60,
        ),
    )

    assert response.status_code == 200
    assert form_errors(response) == {"options": ["signature_encoding must be 'hex' or 'base64'"]}
    stored = Connector.objects.get(pk=hub.connector.pk)
    assert (stored.options, stored.poll_interval_seconds) == (PARTNER_OPTIONS, 300)


def test_a_new_connector_with_refused_options_is_not_created_nor_its_locations(admin_client):
    hub = make_hub(None)
    data = form_data(
        hub.connector,
        name="new partner",
        options='{"push_url": "/push", "unknown_option": 1}',
        new_webhook_secret="a-new-secret",
        **{
            "location_mappings-TOTAL_FORMS": 1,
            "location_mappings-0-location": "",
            "location_mappings-0-warehouse": hub.warehouse.pk,
        },
    )

    response = admin_client.post("/admin/connectors/connector/add/", data)

    assert response.status_code == 200
    assert form_errors(response) == {"options": ["Unknown partner option(s): unknown_option"]}
    assert list(Connector.objects.values_list("pk", flat=True)) == [hub.connector.pk]
    assert not LocationMapping.objects.exists()


def woo_row(**fields) -> Connector:
    return Connector.objects.create(
        name=fields.pop("name", "admin woo"),
        kind="woocommerce",
        base_url="https://shop.example.com",
        credentials=fields.pop(
            "credentials", {"consumer_key": "ck_key", "consumer_secret": "cs_secret"}
        ),
        **fields,
    )


def woo_form(connector: Connector, **changes) -> dict:
    fields = {"kind": "woocommerce", "base_url": connector.base_url, "options": "{}", "channel": ""}
    return form_data(connector, **{**fields, **changes})


def test_unknown_woocommerce_options_are_named_on_the_admin_form(admin_client):
    connector = woo_row()

    response = admin_client.post(
        change_url(connector), woo_form(connector, options='{"auht": "basic", "batchsize": 10}')
    )

    assert response.status_code == 200
    [message] = form_errors(response)["options"]
    assert message.startswith("Unknown WooCommerce option(s): auht, batchsize;")
    assert Connector.objects.get(pk=connector.pk).options == {}


def test_a_connector_without_credentials_is_not_switched_on_in_the_admin(admin_client):
    connector = woo_row(is_active=False, credentials={})

    refused = admin_client.post(change_url(connector), woo_form(connector))
    switched_on = admin_client.post(
        change_url(connector),
        woo_form(connector, new_credentials='{"consumer_key": "ck", "consumer_secret": "cs"}'),
    )

    assert refused.status_code == 200
    assert list(form_errors(refused)) == ["new_credentials"]
    assert (
        "credentials.consumer_key and credentials.consumer_secret are required"
        in (form_errors(refused)["new_credentials"][0])
    )
    assert switched_on.status_code == 302
    assert Connector.objects.get(pk=connector.pk).is_active is True


def test_a_connector_created_in_the_admin_gets_its_locations(admin_client):
    hub = make_hub(None)
    data = form_data(
        hub.connector,
        name="new partner",
        new_webhook_secret="a-new-secret",
        **{
            "location_mappings-TOTAL_FORMS": 1,
            "location_mappings-0-location": "BAL",
            "location_mappings-0-warehouse": hub.warehouse.pk,
            "location_mappings-0-is_store_owned": "unknown",
        },
    )

    response = admin_client.post("/admin/connectors/connector/add/", data)

    assert response.status_code == 302
    created = Connector.objects.get(name="new partner")
    assert (created.kind, created.options, created.webhook_secret) == (
        "partner",
        PARTNER_OPTIONS,
        "a-new-secret",
    )
    assert list(
        LocationMapping.objects.filter(connector=created).values_list(
            "location", "warehouse", "is_store_owned"
        )
    ) == [("BAL", hub.warehouse.pk, None)]


def test_a_partner_switched_on_keeps_a_webhook_secret_in_the_admin(admin_client):
    hub = make_hub(None, kind="partner", options=PARTNER_OPTIONS)

    cleared = admin_client.post(
        change_url(hub.connector), form_data(hub.connector, clear_secrets="on")
    )
    switched_off = admin_client.post(
        change_url(hub.connector), form_data(hub.connector, clear_secrets="on", is_active="")
    )

    assert cleared.status_code == 200
    assert list(form_errors(cleared)) == ["new_webhook_secret"]
    assert form_errors(cleared)["new_webhook_secret"][0].startswith(
        "webhook_secret is required to switch a partner connector on"
    )
    assert switched_off.status_code == 302
    stored = Connector.objects.get(pk=hub.connector.pk)
    assert (stored.is_active, stored.webhook_secret) == (False, "")


def test_a_partner_without_push_url_may_own_its_stock_but_not_hand_it_to_the_hub(admin_client):
    hub = make_hub(None, kind="partner", ownership="store")
    location = {
        "location_mappings-TOTAL_FORMS": 1,
        "location_mappings-0-location": "",
        "location_mappings-0-warehouse": hub.warehouse.pk,
    }

    kept = admin_client.post(
        change_url(hub.connector),
        form_data(
            hub.connector,
            options="{}",
            **location,
            **{"location_mappings-0-is_store_owned": "unknown"},
        ),
    )
    handed_over = admin_client.post(
        change_url(hub.connector),
        form_data(hub.connector, options="{}", ownership="hub"),
    )
    one_location_handed_over = admin_client.post(
        change_url(hub.connector),
        form_data(
            hub.connector,
            options="{}",
            **location,
            **{"location_mappings-0-is_store_owned": "false"},
        ),
    )

    assert kept.status_code == 302
    for refused in (handed_over, one_location_handed_over):
        assert refused.status_code == 200
        assert list(form_errors(refused)) == ["options"]
        assert form_errors(refused)["options"][0].startswith("push_url is required")
    stored = Connector.objects.get(pk=hub.connector.pk)
    assert stored.ownership == "store"
    assert list(
        LocationMapping.objects.filter(connector=stored).values_list("is_store_owned", flat=True)
    ) == [None]


def test_locations_changed_or_deleted_in_the_inline_are_saved_and_queue_pushes(admin_client):
    hub = make_hub(None, skus=("A", "B"), kind="partner", options=PARTNER_OPTIONS)
    mapping = LocationMapping.objects.create(connector=hub.connector, warehouse=hub.warehouse)
    inline = {
        "location_mappings-TOTAL_FORMS": 1,
        "location_mappings-INITIAL_FORMS": 1,
        "location_mappings-0-id": mapping.pk,
        "location_mappings-0-location": "BAL",
        "location_mappings-0-warehouse": hub.warehouse.pk,
        "location_mappings-0-is_store_owned": "unknown",
    }

    changed = admin_client.post(change_url(hub.connector), form_data(hub.connector, **inline))
    after_change = list(
        LocationMapping.objects.filter(connector=hub.connector).values_list("location", flat=True)
    )
    queued = OutboxItem.objects.filter(connector=hub.connector, state="pending").count()
    inline["location_mappings-0-id"] = LocationMapping.objects.get().pk
    deleted = admin_client.post(
        change_url(hub.connector),
        form_data(hub.connector, **inline, **{"location_mappings-0-DELETE": "on"}),
    )

    assert changed.status_code == deleted.status_code == 302
    assert after_change == ["BAL"]
    assert queued == 2
    assert not LocationMapping.objects.exists()


def test_the_kind_of_a_saved_connector_does_not_change_in_the_admin(admin_client):
    hub = make_hub(None, kind="partner", options=PARTNER_OPTIONS)

    response = admin_client.post(
        change_url(hub.connector), form_data(hub.connector, kind="magento")
    )

    assert response.status_code == 302
    assert Connector.objects.get(pk=hub.connector.pk).kind == "partner"


def test_changing_the_channel_in_the_admin_queues_a_push_of_every_mapped_sku(admin_client):
    hub = make_hub(None, skus=("A", "B"), kind="partner", options=PARTNER_OPTIONS)
    other = SalesChannelFactory()

    response = admin_client.post(
        change_url(hub.connector), form_data(hub.connector, channel=other.pk)
    )

    assert response.status_code == 302
    assert Connector.objects.get(pk=hub.connector.pk).channel == other
    assert sorted(
        OutboxItem.objects.filter(connector=hub.connector, state="pending").values_list(
            "variant__sku", flat=True
        )
    ) == sorted(variant.sku for variant in hub.variants)


def test_handing_stock_to_the_hub_in_the_admin_queues_a_push_of_every_mapped_sku(admin_client):
    hub = make_hub(
        None, skus=("A", "B"), kind="partner", ownership="store", options=PARTNER_OPTIONS
    )

    response = admin_client.post(
        change_url(hub.connector), form_data(hub.connector, ownership="hub")
    )

    assert response.status_code == 302
    assert OutboxItem.objects.filter(connector=hub.connector, state="pending").count() == 2


def test_saving_unchanged_settings_in_the_admin_queues_nothing(admin_client):
    hub = make_hub(None, skus=("A", "B"), kind="partner", options=PARTNER_OPTIONS)

    response = admin_client.post(change_url(hub.connector), form_data(hub.connector))

    assert response.status_code == 302
    assert not OutboxItem.objects.exists()


def test_a_partner_feed_is_uploaded_on_its_admin_page_and_kept_for_a_worker(admin_client):
    hub = make_hub(None, kind="partner", ownership="store", options=PARTNER_OPTIONS)
    page_url = f"/admin/connectors/connector/{hub.connector.pk}/upload-feed/"
    good = f"sku,quantity\n{hub.variant.sku},4\n".encode()

    change_page = admin_client.get(change_url(hub.connector))
    page = admin_client.get(page_url)
    refused = admin_client.post(
        page_url, {"file": SimpleUploadedFile("bad.csv", b"sku,quantity\nA,1\nB,lots\n")}
    )
    kept_after_refusal = InboxEvent.objects.count()
    accepted = admin_client.post(page_url, {"file": SimpleUploadedFile("stock.csv", good)})

    assert 'id="upload-feed"' in change_page.content.decode()
    assert page.status_code == refused.status_code == 200
    assert refused.context["form"].errors == {
        "file": ["Nothing was kept: line 3: column 'quantity': 'lots' is not a whole number"]
    }
    assert kept_after_refusal == 0
    event = InboxEvent.objects.get()
    assert (event.topic, event.state, event.body) == ("feed.upload", "received", good.decode())
    assert accepted.status_code == 302
    assert accepted["Location"] == f"/admin/connectors/inboxevent/{event.pk}/change/"


def test_the_upload_action_leads_to_the_page_of_the_one_selected_connector(admin_client):
    hub = make_hub(None, kind="partner", ownership="store", options=PARTNER_OPTIONS)
    other = make_hub(None, kind="partner", ownership="store", options=PARTNER_OPTIONS)

    one = admin_client.post(
        "/admin/connectors/connector/",
        {"action": "upload_feed_of_selected", "_selected_action": [hub.connector.pk]},
    )
    two = admin_client.post(
        "/admin/connectors/connector/",
        {
            "action": "upload_feed_of_selected",
            "_selected_action": [hub.connector.pk, other.connector.pk],
        },
    )

    assert one["Location"] == f"/admin/connectors/connector/{hub.connector.pk}/upload-feed/"
    assert two["Location"] == "/admin/connectors/connector/"


def test_a_woocommerce_connector_has_no_upload_link_and_its_upload_is_refused(admin_client):
    hub = make_hub(None)
    Connector.objects.filter(pk=hub.connector.pk).update(kind="woocommerce")

    change_page = admin_client.get(change_url(hub.connector))
    refused = admin_client.post(
        f"/admin/connectors/connector/{hub.connector.pk}/upload-feed/",
        {"file": SimpleUploadedFile("stock.csv", b"sku,quantity\nA,1\n")},
    )

    assert 'id="upload-feed"' not in change_page.content.decode()
    assert refused.status_code == 200
    assert refused.context["form"].non_field_errors() == [
        f"Connector {hub.connector.name} is a woocommerce connector: only partner connectors "
        "read CSV feeds."
    ]
    assert not InboxEvent.objects.exists()


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


def test_the_problems_list_shows_each_merged_problems_count_and_last_seen(admin_client):
    from connectors.engine.problems import record_problem

    hub = make_hub(None)
    for _ in range(3):
        record_problem(connector_id=hub.connector.pk, kind="poll_failed", message="down")

    html = admin_client.get("/admin/connectors/syncproblem/").content.decode()

    assert re.search(r'<td class="field-count">3</td>', html)
    assert "column-last_seen_at" in html


def test_the_admin_archives_connectors_and_deletes_only_one_without_history(admin_client):
    with_history, without = make_hub(None), make_hub(None, skus=())  # mapped SKUs, none

    archived = admin_client.post(
        "/admin/connectors/connector/",
        {"action": "archive_selected", "_selected_action": [with_history.connector.pk]},
    )
    refused = admin_client.post(
        f"/admin/connectors/connector/{with_history.connector.pk}/delete/", {"post": "yes"}
    )
    deleted = admin_client.post(
        f"/admin/connectors/connector/{without.connector.pk}/delete/", {"post": "yes"}
    )
    actions = admin_client.get("/admin/connectors/connector/").context["action_form"]

    assert archived.status_code == 302
    stored = Connector.objects.get(pk=with_history.connector.pk)
    assert (stored.is_active, stored.archived_at is not None) == (False, True)
    assert refused.status_code == 403
    assert deleted.status_code == 302
    assert not Connector.objects.filter(pk=without.connector.pk).exists()
    assert "delete_selected" not in dict(actions.fields["action"].choices)


def test_a_mapping_edited_in_the_admin_queues_a_push_of_its_variant(admin_client):
    hub = make_hub(None, skus=("A", "B"))
    mapping = SkuMapping.objects.get(connector=hub.connector, variant__sku__startswith="B-")
    OutboxItem.objects.all().delete()

    answer = admin_client.post(
        f"/admin/connectors/skumapping/{mapping.pk}/change/",
        {
            "connector": hub.connector.pk,
            "variant": mapping.variant_id,
            "remote_id": "store-item-b",
            "parent_id": "",
            "is_managed": "on",
        },
    )

    assert answer.status_code == 302
    mapping.refresh_from_db()
    assert mapping.remote_id == "store-item-b"
    assert list(OutboxItem.objects.values_list("variant_id", flat=True)) == [mapping.variant_id]


def test_a_mapping_deleted_in_the_admin_is_gone(admin_client):
    hub = make_hub(None, skus=("A", "B"))
    mapping = SkuMapping.objects.get(connector=hub.connector, variant__sku__startswith="B-")

    answer = admin_client.post(
        f"/admin/connectors/skumapping/{mapping.pk}/delete/", {"post": "yes"}
    )

    assert answer.status_code == 302
    remaining = SkuMapping.objects.filter(connector=hub.connector)
    assert [mapping.variant.sku.split("-")[0] for mapping in remaining] == ["A"]
