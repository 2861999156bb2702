"""Warehouse and channel models: field validators and the constraints the database keeps."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tests.warehouses.factories import (
    ChannelWarehouseFactory,
    SalesChannelFactory,
    WarehouseFactory,
)
from warehouses.models import ChannelWarehouse, Warehouse, code_validator, validate_timezone

pytestmark = pytest.mark.django_db


def field_errors(instance) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as invalid:
        instance.full_clean()
    return invalid.value.message_dict


# --- Codes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["BALTIMORE", "hq", "wh-1", "eu.berlin_2", "9X"])
def test_code_validator_accepts_letters_digits_dot_underscore_and_dash(code):
    code_validator(code)


@pytest.mark.parametrize("code", ["", "-lead", ".hidden", "_x", "has space", "a/b", "Zürich"])
def test_code_validator_refuses_other_characters_or_a_leading_symbol(code):
    with pytest.raises(ValidationError) as invalid:
        code_validator(code)

    assert invalid.value.messages == [
        "Use letters, digits, '.', '_' or '-', starting with a letter or digit."
    ]


def test_warehouse_with_a_bad_code_fails_validation():
    errors = field_errors(Warehouse(code="main store", name="Main"))

    assert list(errors) == ["code"]


def test_channel_with_a_bad_code_fails_validation():
    errors = field_errors(SalesChannelFactory.build(code="north america"))

    assert list(errors) == ["code"]


def test_warehouse_codes_are_unique():
    WarehouseFactory(code="RENO")

    with pytest.raises(IntegrityError), transaction.atomic():
        Warehouse.objects.create(code="RENO", name="Second Reno")

    assert Warehouse.objects.filter(code="RENO").count() == 1


# --- Coordinates ---------------------------------------------------------------------------


def test_warehouse_may_have_both_coordinates():
    warehouse = Warehouse.objects.create(
        code="BERLIN", name="Berlin", latitude=Decimal("52.520008"), longitude=Decimal("13.404954")
    )

    warehouse.refresh_from_db()
    assert (warehouse.latitude, warehouse.longitude) == (
        Decimal("52.520008"),
        Decimal("13.404954"),
    )
    assert warehouse.has_coordinates is True


def test_warehouse_may_have_neither_coordinate():
    warehouse = Warehouse.objects.create(code="HQ", name="Head office")

    assert warehouse.has_coordinates is False


@pytest.mark.parametrize(
    ("latitude", "longitude"), [(Decimal("52.5"), None), (None, Decimal("13.4"))]
)
def test_database_refuses_only_one_coordinate(latitude, longitude):
    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        Warehouse.objects.create(code="HALF", name="Half", latitude=latitude, longitude=longitude)

    assert "warehouse_coordinates_both_or_neither" in str(refused.value)
    assert not Warehouse.objects.filter(code="HALF").exists()


def test_database_refuses_removing_one_coordinate_later():
    warehouse = Warehouse.objects.create(
        code="AUSTIN", name="Austin", latitude=Decimal("30.27"), longitude=Decimal("-97.74")
    )

    with pytest.raises(IntegrityError), transaction.atomic():
        Warehouse.objects.filter(pk=warehouse.pk).update(longitude=None)

    warehouse.refresh_from_db()
    assert warehouse.longitude == Decimal("-97.740000")


def test_validation_reports_only_one_coordinate_before_saving():
    with pytest.raises(ValidationError) as invalid:
        Warehouse(code="HALF", name="Half", latitude=Decimal("52.5")).full_clean()

    assert invalid.value.messages == [
        "Constraint “warehouse_coordinates_both_or_neither” is violated."
    ]


@pytest.mark.parametrize(
    ("latitude", "longitude", "field"),
    [
        (Decimal("90.000001"), Decimal("0"), "latitude"),
        (Decimal("-91"), Decimal("0"), "latitude"),
        (Decimal("0"), Decimal("180.5"), "longitude"),
        (Decimal("0"), Decimal("-181"), "longitude"),
    ],
)
def test_coordinates_out_of_range_fail_validation(latitude, longitude, field):
    errors = field_errors(Warehouse(code="FAR", name="Far", latitude=latitude, longitude=longitude))

    assert list(errors) == [field]


# --- Time zones ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["UTC", "Europe/Berlin", "America/Los_Angeles"])
def test_timezone_validator_accepts_iana_names(name):
    validate_timezone(name)


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "CEST", "europe/berlin", ""])
def test_timezone_validator_refuses_anything_else(name):
    with pytest.raises(ValidationError) as invalid:
        validate_timezone(name)

    assert invalid.value.messages == [f"{name!r} is not a known IANA time zone."]


def test_warehouse_with_an_unknown_timezone_fails_validation():
    errors = field_errors(Warehouse(code="RENO", name="Reno", timezone="Pacific/Reno"))

    assert list(errors) == ["timezone"]


def test_warehouse_defaults_to_utc():
    assert WarehouseFactory().timezone == "UTC"


# --- Channel links -------------------------------------------------------------------------


def test_a_channel_links_a_warehouse_once():
    link = ChannelWarehouseFactory()

    with pytest.raises(IntegrityError) as refused, transaction.atomic():
        ChannelWarehouse.objects.create(channel=link.channel, warehouse=link.warehouse, priority=9)

    assert "channel_warehouse_unique" in str(refused.value)


def test_link_priority_starts_at_one():
    link = ChannelWarehouseFactory.build(
        channel=SalesChannelFactory(), warehouse=WarehouseFactory(), priority=0
    )

    errors = field_errors(link)

    assert list(errors) == ["priority"]


def test_channel_lists_its_warehouses_through_the_links():
    channel = SalesChannelFactory()
    second = ChannelWarehouseFactory(channel=channel, priority=2).warehouse
    first = ChannelWarehouseFactory(channel=channel, priority=1).warehouse

    assert [link.warehouse for link in channel.links.all()] == [first, second]
    assert set(channel.warehouses.all()) == {first, second}
