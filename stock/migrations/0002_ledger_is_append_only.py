"""The database itself refuses to change or delete a ledger row.

Balances must always equal the ledger; a row that could be edited would make that
unprovable. Corrections are new, reversing movements. TRUNCATE (used by the test
runner to reset tables) is not affected.
"""

from django.db import migrations

POSTGRES_UP = """
CREATE OR REPLACE FUNCTION stock_movement_is_immutable() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'stock_stockmovement is append-only: %% refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER stock_movement_no_update_delete
    BEFORE UPDATE OR DELETE ON stock_stockmovement
    FOR EACH ROW EXECUTE FUNCTION stock_movement_is_immutable();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS stock_movement_no_update_delete ON stock_stockmovement;
DROP FUNCTION IF EXISTS stock_movement_is_immutable();
"""
SQLITE_UP = [
    """CREATE TRIGGER stock_movement_no_update BEFORE UPDATE ON stock_stockmovement
       BEGIN SELECT RAISE(ABORT, 'stock_stockmovement is append-only: UPDATE refused'); END;""",
    """CREATE TRIGGER stock_movement_no_delete BEFORE DELETE ON stock_stockmovement
       BEGIN SELECT RAISE(ABORT, 'stock_stockmovement is append-only: DELETE refused'); END;""",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS stock_movement_no_update;",
    "DROP TRIGGER IF EXISTS stock_movement_no_delete;",
]


def forwards(apps, schema_editor):
    statements = {"postgresql": [POSTGRES_UP], "sqlite": SQLITE_UP}.get(
        schema_editor.connection.vendor, []
    )
    for statement in statements:
        schema_editor.execute(statement)


def backwards(apps, schema_editor):
    statements = {"postgresql": [POSTGRES_DOWN], "sqlite": SQLITE_DOWN}.get(
        schema_editor.connection.vendor, []
    )
    for statement in statements:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("stock", "0001_initial")]

    operations = [migrations.RunPython(forwards, backwards)]
