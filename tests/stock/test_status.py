"""Forced status overrides and the backorder policy services."""

from datetime import timedelta

import pytest
from django.utils import timezone

from stock.actors import Actor
from stock.errors import InsufficientStock, StockError
from stock.models import BackorderPolicy, ForcedStatus, StockLevel, Variant
from stock.services import clear_forced_status, force_status, set_backorder_policy
from tests.stock.factories import Balance, VariantFactory, balance_of, reserved, stocked
from tests.warehouses.factories import SalesChannelFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

ALICE = Actor(kind="user", label="alice")
BOB = Actor(kind="user", label="bob")


@pytest.fixture
def variant():
    return VariantFactory()


@pytest.fixture
def channel():
    return SalesChannelFactory()


def open_overrides(variant) -> list[tuple[int | None, str, str]]:
    return list(
        ForcedStatus.objects.filter(variant=variant, ended_at__isnull=True)
        .order_by("channel_id")
        .values_list("channel_id", "status", "actor_label")
    )


# --- Forcing a status ----------------------------------------------------------------------


def test_force_status_records_who_forced_what_and_why(variant, django_user_model):
    user = django_user_model.objects.create_user(username="carol")
    expires_at = timezone.now() + timedelta(days=2)

    forced = force_status(
        variant=variant,
        status="out_of_stock",
        reason="  Recall of batch 7  ",
        actor=Actor.for_user(user),
        expires_at=expires_at,
    )

    stored = ForcedStatus.objects.get()
    assert stored.pk == forced.pk
    assert (stored.variant_id, stored.channel_id, stored.status) == (
        variant.pk,
        None,
        "out_of_stock",
    )
    assert (stored.reason, stored.actor_label, stored.actor_user_id) == (
        "Recall of batch 7",
        "carol",
        user.pk,
    )
    assert (stored.expires_at, stored.ended_at, stored.ended_by) == (expires_at, None, "")


def test_forcing_again_replaces_the_open_override_of_the_same_scope(variant):
    first = force_status(variant=variant, status="in_stock", reason="launch", actor=ALICE)

    second = force_status(variant=variant, status="out_of_stock", reason="recall", actor=BOB)

    first.refresh_from_db()
    assert first.ended_at is not None
    assert first.ended_by == "bob"
    assert first.ended_at <= second.created_at
    assert open_overrides(variant) == [(None, "out_of_stock", "bob")]
    assert ForcedStatus.objects.filter(variant=variant).count() == 2


def test_forcing_a_channel_leaves_the_variant_wide_override_open(variant, channel):
    force_status(variant=variant, status="in_stock", reason="launch", actor=ALICE)

    force_status(
        variant=variant,
        status="out_of_stock",
        reason="marketplace hold",
        actor=BOB,
        channel=channel,
    )

    assert open_overrides(variant) == [
        (channel.pk, "out_of_stock", "bob"),
        (None, "in_stock", "alice"),
    ]


def test_forcing_one_channel_leaves_another_channels_override_open(variant, channel):
    other = SalesChannelFactory()
    force_status(variant=variant, status="in_stock", reason="a", actor=ALICE, channel=other)

    force_status(variant=variant, status="in_stock", reason="b", actor=BOB, channel=channel)

    assert sorted(open_overrides(variant)) == sorted(
        [(other.pk, "in_stock", "alice"), (channel.pk, "in_stock", "bob")]
    )


def test_forcing_one_variant_leaves_another_variants_override_open(variant):
    other = VariantFactory()
    force_status(variant=other, status="in_stock", reason="a", actor=ALICE)

    force_status(variant=variant, status="in_stock", reason="b", actor=BOB)

    assert open_overrides(other) == [(None, "in_stock", "alice")]


def test_forcing_replaces_an_open_override_that_has_already_expired(variant):
    stale = force_status(variant=variant, status="in_stock", reason="launch", actor=ALICE)
    ForcedStatus.objects.filter(pk=stale.pk).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )

    force_status(variant=variant, status="out_of_stock", reason="recall", actor=BOB)

    assert open_overrides(variant) == [(None, "out_of_stock", "bob")]


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_force_status_requires_a_reason(variant, reason):
    with pytest.raises(StockError) as refused:
        force_status(variant=variant, status="in_stock", reason=reason, actor=ALICE)

    assert refused.value.details == {"field": "reason"}
    assert ForcedStatus.objects.count() == 0


@pytest.mark.parametrize("status", ["backorder", "low_stock", "IN_STOCK", ""])
def test_force_status_refuses_a_status_other_than_in_or_out_of_stock(variant, status):
    with pytest.raises(StockError) as refused:
        force_status(variant=variant, status=status, reason="why", actor=ALICE)

    assert refused.value.details == {"field": "status"}
    assert ForcedStatus.objects.count() == 0


def test_force_status_refuses_an_expiry_in_the_past(variant):
    force_status(variant=variant, status="in_stock", reason="launch", actor=ALICE)

    with pytest.raises(StockError) as refused:
        force_status(
            variant=variant,
            status="out_of_stock",
            reason="recall",
            actor=BOB,
            expires_at=timezone.now() - timedelta(seconds=1),
        )

    assert refused.value.details == {"field": "expires_at"}
    assert open_overrides(variant) == [(None, "in_stock", "alice")]
    assert ForcedStatus.objects.count() == 1


# --- Clearing a forced status --------------------------------------------------------------


def test_clear_ends_the_open_override(variant):
    forced = force_status(variant=variant, status="in_stock", reason="launch", actor=ALICE)

    cleared = clear_forced_status(variant=variant, actor=BOB, reason="  launch is over ")

    forced.refresh_from_db()
    assert cleared is True
    assert (forced.ended_by, forced.ended_at is not None) == ("bob", True)
    assert forced.end_reason == "launch is over"
    assert open_overrides(variant) == []
    assert ForcedStatus.objects.count() == 1


def test_clear_ends_only_the_override_of_its_scope(variant, channel):
    force_status(variant=variant, status="in_stock", reason="launch", actor=ALICE)
    force_status(
        variant=variant, status="out_of_stock", reason="hold", actor=ALICE, channel=channel
    )

    clear_forced_status(variant=variant, actor=BOB, channel=channel, reason="released")

    assert open_overrides(variant) == [(None, "in_stock", "alice")]


def test_clear_with_no_open_override_returns_false_and_writes_nothing(variant):
    forced = force_status(variant=variant, status="in_stock", reason="launch", actor=ALICE)
    clear_forced_status(variant=variant, actor=ALICE, reason="launch is over")
    forced.refresh_from_db()
    ended = (forced.ended_at, forced.ended_by, forced.end_reason)

    cleared = clear_forced_status(variant=variant, actor=BOB, reason="again")

    forced.refresh_from_db()
    assert cleared is False
    assert (forced.ended_at, forced.ended_by, forced.end_reason) == ended
    assert ForcedStatus.objects.count() == 1


def test_clear_on_a_variant_never_forced_returns_false(variant):
    assert clear_forced_status(variant=variant, actor=BOB, reason="tidy up") is False

    assert ForcedStatus.objects.count() == 0


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "A reason is required to end a forced status."),
        ("   ", "A reason is required to end a forced status."),
        (None, "A reason is required to end a forced status."),
        ("x" * 256, "Keep the reason to 255 characters."),
    ],
)
def test_clear_without_a_usable_reason_is_refused_and_writes_nothing(variant, reason, message):
    force_status(variant=variant, status="in_stock", reason="launch", actor=ALICE)

    with pytest.raises(StockError) as refused:
        clear_forced_status(variant=variant, actor=BOB, reason=reason)

    assert (refused.value.message, refused.value.details) == (message, {"field": "reason"})
    assert open_overrides(variant) == [(None, "in_stock", "alice")]
    assert ForcedStatus.objects.get().end_reason == ""


def test_an_override_replaced_by_a_new_one_says_so(variant):
    first = force_status(variant=variant, status="in_stock", reason="launch", actor=ALICE)

    force_status(variant=variant, status="out_of_stock", reason="recall", actor=BOB)

    first.refresh_from_db()
    assert (first.ended_by, first.end_reason) == ("bob", "Replaced by a new forced status.")


# --- Backorder policy ----------------------------------------------------------------------


def test_policy_change_updates_the_variant_and_every_level(variant):
    levels = [stocked(variant, WarehouseFactory(), 5) for _ in range(3)]

    set_backorder_policy(variant=variant, policy=BackorderPolicy.ALLOW_AND_NOTIFY)

    variant.refresh_from_db()
    assert variant.backorders == "allow_notify"
    assert list(
        StockLevel.objects.filter(pk__in=[level.pk for level in levels]).values_list(
            "is_backorder_allowed", flat=True
        )
    ) == [True, True, True]


def test_policy_change_touches_no_other_variants_levels(variant):
    warehouse = WarehouseFactory()
    stocked(variant, warehouse, 5)
    other_level = stocked(VariantFactory(), warehouse, 5)

    set_backorder_policy(variant=variant, policy=BackorderPolicy.ALLOW)

    other_level.refresh_from_db()
    assert other_level.is_backorder_allowed is False


def test_policy_change_writes_no_ledger_row_and_keeps_balances(variant):
    level = stocked(variant, WarehouseFactory(), 5)

    set_backorder_policy(variant=variant, policy=BackorderPolicy.ALLOW)

    assert balance_of(level) == Balance(on_hand=5, version=1)
    assert level.movements.count() == 1


def test_denying_backorders_is_refused_while_a_warehouse_is_below_zero_available():
    variant = VariantFactory(backorders=BackorderPolicy.ALLOW)
    fine, short = WarehouseFactory(code="AUSTIN"), WarehouseFactory(code="RENO")
    stocked(variant, fine, 5)
    stocked(variant, short, 2)
    level = reserved(variant, short, 5)

    with pytest.raises(InsufficientStock) as refused:
        set_backorder_policy(variant=variant, policy=BackorderPolicy.DENY)

    assert refused.value.details == {"available_by_warehouse": {"RENO": -3}}
    assert Variant.objects.get(pk=variant.pk).backorders == "allow"
    assert list(
        StockLevel.objects.filter(variant=variant).values_list("is_backorder_allowed", flat=True)
    ) == [True, True]
    assert balance_of(level) == Balance(on_hand=2, reserved=5, version=2)


def test_denying_backorders_is_accepted_at_exactly_zero_available():
    variant = VariantFactory(backorders=BackorderPolicy.ALLOW)
    warehouse = WarehouseFactory()
    stocked(variant, warehouse, 4)
    reserved(variant, warehouse, 4)

    set_backorder_policy(variant=variant, policy=BackorderPolicy.DENY)

    assert list(
        StockLevel.objects.filter(variant=variant).values_list("is_backorder_allowed", flat=True)
    ) == [False]


def test_unknown_backorder_policy_is_refused(variant):
    level = stocked(variant, WarehouseFactory(), 5)

    with pytest.raises(StockError) as refused:
        set_backorder_policy(variant=variant, policy="sometimes")

    assert refused.value.details == {"field": "backorders"}
    assert Variant.objects.get(pk=variant.pk).backorders == "deny"
    level.refresh_from_db()
    assert level.is_backorder_allowed is False


def test_level_first_stocked_after_backorders_were_denied_cannot_be_oversold():
    variant = VariantFactory(backorders=BackorderPolicy.ALLOW)
    loaded_before_the_change = Variant.objects.get(pk=variant.pk)
    set_backorder_policy(variant=variant, policy=BackorderPolicy.DENY)
    warehouse = WarehouseFactory()
    level = stocked(loaded_before_the_change, warehouse, 1)

    with pytest.raises(InsufficientStock):
        reserved(loaded_before_the_change, warehouse, 2)

    assert balance_of(level) == Balance(on_hand=1, version=1)
