"""One stored delivery (or uploaded CSV feed) read again and applied by the rules."""

from __future__ import annotations

from collections.abc import Sequence

from requests.structures import CaseInsensitiveDict

from connectors.base import InboundEvent
from connectors.engine.problems import record_problem
from connectors.inbound.rules.common import STORE_SESSION, Outcome, has_work
from connectors.inbound.rules.orders import apply_orders
from connectors.inbound.rules.snapshots import apply_remote_stock
from connectors.models import Connector, InboxEvent, SkuMapping, SyncProblemKind
from connectors.registry import build_connector
from connectors.sync.feeds import FEED_UPLOAD_TOPIC, read_uploaded_feed, reads_csv_feeds


def apply_event(event: InboxEvent) -> Outcome:
    """Parse the stored delivery (or uploaded CSV feed) again and apply it. Must run inside
    a transaction."""
    connector = event.connector
    store = build_connector(connector, session=STORE_SESSION)
    if event.topic == FEED_UPLOAD_TOPIC and reads_csv_feeds(store):
        parsed = read_uploaded_feed(store, event.body)
    else:
        parsed = store.parse_inbound(
            headers=CaseInsensitiveDict(event.headers), body=event.body.encode("utf-8")
        )
    outcome = Outcome()
    if not has_work(parsed):
        outcome.notes.append("Nothing the hub tracks.")
        return outcome
    if parsed.orders or parsed.deleted_order_references:
        apply_orders(connector, parsed, outcome)
    if parsed.stock:
        _apply_stock(connector, event, parsed, outcome)
    if parsed.deleted_remote_ids:
        _forget_deleted_products(connector, event, parsed.deleted_remote_ids, outcome)
    return outcome


def _forget_deleted_products(
    connector: Connector, event: InboxEvent, remote_ids: Sequence[str], outcome: Outcome
) -> None:
    """The store deleted these products: their mappings are removed (a push to them could
    only be refused) and reported, so ops can map the SKUs again."""
    stale = list(
        SkuMapping.objects.filter(connector=connector, remote_id__in=list(remote_ids))
        .select_related("variant")
        .order_by("pk")
    )
    if not stale:
        return
    gone = [{"sku": mapping.variant.sku, "remote_id": mapping.remote_id} for mapping in stale]
    SkuMapping.objects.filter(pk__in=[mapping.pk for mapping in stale]).delete()
    outcome.notes.append(f"{len(gone)} mapping(s) removed: the store deleted the product")
    record_problem(
        connector_id=connector.pk,
        kind=SyncProblemKind.UNMAPPED,
        message=f"The store deleted {len(gone)} mapped product(s); their SKUs are unmapped now: "
        + ", ".join(item["sku"] for item in gone[:20]),
        details={"event": event.pk, "deleted": gone},
    )


def _apply_stock(
    connector: Connector, event: InboxEvent, parsed: InboundEvent, outcome: Outcome
) -> None:
    apply_remote_stock(
        connector=connector,
        stock=parsed.stock,
        source=event.delivery_id or f"event-{event.pk}",
        occurred_at=parsed.occurred_at,
        details={"event": event.pk},
        outcome=outcome,
    )
