"""`manage.py verify_ledger`: balances recomputed from the ledger, each difference printed."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from urllib.parse import quote

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from stock.models import StockLevel
from stock.services import mark_unsellable
from tests.stock.factories import SYSTEM, VariantFactory, stocked
from tests.warehouses.factories import WarehouseFactory

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]


def database_url_for(settings: dict) -> str:
    password = f":{quote(settings['PASSWORD'], safe='')}" if settings["PASSWORD"] else ""
    return (
        f"postgres://{quote(settings['USER'], safe='')}{password}@{settings['HOST']}:"
        f"{settings['PORT'] or 5432}/{settings['NAME']}"
    )


def verify_ledger() -> str:
    out = StringIO()
    call_command("verify_ledger", stdout=out)
    return out.getvalue()


def test_clean_ledger_reports_agreement():
    variant = VariantFactory()
    stocked(variant, WarehouseFactory(), 10)
    stocked(variant, WarehouseFactory(), 3)

    output = verify_ledger()

    assert output == "Ledger and balances agree.\n"


def test_empty_ledger_agrees():
    assert verify_ledger() == "Ledger and balances agree.\n"


def test_level_without_movements_agrees_at_zero():
    variant, warehouse = VariantFactory(), WarehouseFactory()
    StockLevel.objects.create(variant=variant, warehouse=warehouse)

    assert verify_ledger() == "Ledger and balances agree.\n"


def test_balance_changed_behind_the_ledgers_back_is_reported_and_fails():
    variant = VariantFactory(sku="SHEET-Q-WHITE")
    warehouse = WarehouseFactory(code="RENO")
    level = stocked(variant, warehouse, 10)
    StockLevel.objects.filter(pk=level.pk).update(on_hand=15)
    out = StringIO()

    with pytest.raises(CommandError) as failed:
        call_command("verify_ledger", stdout=out)

    assert out.getvalue() == (
        f"SHEET-Q-WHITE @ RENO (level {level.pk}): on_hand balance 15 != ledger 10 (off by +5)\n"
    )
    assert str(failed.value) == "1 difference(s) between balances and ledger."
    assert failed.value.returncode == 1


def test_every_difference_is_printed_and_only_those():
    variant = VariantFactory(sku="DUVET-K")
    intact = stocked(variant, WarehouseFactory(code="AUSTIN"), 4)
    broken = stocked(variant, WarehouseFactory(code="BERLIN"), 8)
    mark_unsellable(variant=variant, warehouse=broken.warehouse, quantity=2, actor=SYSTEM)
    StockLevel.objects.filter(pk=broken.pk).update(on_hand=5, unsellable=1)
    out = StringIO()

    with pytest.raises(CommandError) as failed:
        call_command("verify_ledger", stdout=out)

    assert out.getvalue().splitlines() == [
        f"DUVET-K @ BERLIN (level {broken.pk}): on_hand balance 5 != ledger 8 (off by -3)",
        f"DUVET-K @ BERLIN (level {broken.pk}): unsellable balance 1 != ledger 2 (off by -1)",
    ]
    assert f"level {intact.pk}" not in out.getvalue()
    assert str(failed.value) == "2 difference(s) between balances and ledger."


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_command_line_exits_with_code_one_when_a_balance_differs():
    level = stocked(VariantFactory(sku="PILLOW-STD"), WarehouseFactory(code="HQ"), 6)
    StockLevel.objects.filter(pk=level.pk).update(reserved=2)
    # The committed test database, seen by the command as an operator would run it.
    environment = {
        name: value for name, value in os.environ.items() if name != "DJANGO_SETTINGS_MODULE"
    }
    environment["DATABASE_URL"] = database_url_for(connection.settings_dict)
    environment["REDIS_URL"] = ""

    result = subprocess.run(
        [sys.executable, "manage.py", "verify_ledger"],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert result.stdout == (
        f"PILLOW-STD @ HQ (level {level.pk}): reserved balance 2 != ledger 0 (off by +2)\n"
    )
    assert "1 difference(s) between balances and ledger." in result.stderr
