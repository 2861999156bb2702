"""A Magento store forces "in stock" on a SKU with nothing salable: the contradiction alert
fires end to end, through the connector's inbound endpoint, the forced status it sets,
the alerts reaction after commit and the evaluate task on a real worker."""

import pytest

from alerts.models import Alert, Condition
from alerts.reactions import batch
from connectors.models import InboxEvent, LocationMapping, StatusRule
from connectors.sync.setup import set_up_connector
from stock.models import ForcedStatus
from tests.alerts.support import make_rule
from tests.connectors.sync_support import (
    magento_connector,
    magento_snapshot,
    make_hub,
    process_received,
    push_all,
    wait_for,
)
from tests.fakes.magento import FakeMagento

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_magento_forced_in_stock_with_nothing_salable_fires_the_contradiction(client, worker):
    with FakeMagento() as magento:
        hub = make_hub({"LAMP": 0}, warehouse_code="LAMPS", channel_code="shop")
        magento.add_source("lamps")
        magento.add_source_item("LAMP", "lamps", 0)
        store = magento_connector(magento, hub.channel, name="Magento EU")
        LocationMapping.objects.create(connector=store, warehouse=hub.warehouse, location="lamps")
        assert set_up_connector(connector_id=store.pk, register_webhooks=False).is_ok
        push_all(store)
        StatusRule.objects.create(owner=store, channel=hub.channel)
        rule = make_rule(Condition.FORCED_STATUS_CONTRADICTS, severity="critical")
        sent_before = batch.sent

        answer = magento_snapshot(
            client,
            store,
            "lamps",
            [{"sku": "LAMP", "qty_on_hand": 0, "force_stock_status": "in_stock"}],
            delivery="d-1",
        )
        assert answer.status_code == 200
        if InboxEvent.objects.filter(state="received").exists():
            process_received()  # the worker may have taken it already; either is fine

        alert = wait_for(
            lambda: Alert.objects.filter(rule=rule, state="firing").first(),
            seconds=15,
            what="the contradiction alert",
        )

    forced = ForcedStatus.objects.get(ended_at=None)
    assert (forced.status, forced.channel_id, forced.actor_label) == (
        "in_stock",
        hub.channel.pk,
        "Magento EU",
    )
    assert batch.sent > sent_before  # the reaction queued the task the worker ran
    assert (
        alert.summary == "LAMP on shop (Magento EU): forced in_stock by Magento EU while 0 salable"
    )
    assert (alert.variant_id, alert.channel_id) == (hub.variants["LAMP"].pk, hub.channel.pk)
    assert alert.details["forced_by"] == "Magento EU"
    assert alert.details["stores"] == ["Magento EU"]
    assert alert.details["breakdown"]["salable"] == 0
    assert alert.labels["severity"] == "critical"
