"""Connector credentials and webhook secrets encrypted at rest (docs/adr/0004).

The columns become text holding Fernet tokens; values already stored are encrypted with the
first key of HUB_SECRET_KEYS (or the key derived from SECRET_KEY when it is unset). A value
that is already a token is left alone, so running it again changes nothing; going back
decrypts them.
"""

import inventory_hub.encryption
from django.db import migrations

from inventory_hub.encryption import decrypt_text, encrypt_text, is_token

SELECT_SQL = "SELECT id, credentials, webhook_secret FROM connectors_connector"
UPDATE_SQL = "UPDATE connectors_connector SET credentials = %s, webhook_secret = %s WHERE id = %s"


def _rewrite(schema_editor, change) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(SELECT_SQL)
        rows = cursor.fetchall()
        for pk, credentials, webhook_secret in rows:
            cursor.execute(
                UPDATE_SQL, [change(credentials or ""), change(webhook_secret or ""), pk]
            )


def encrypt_secrets(apps, schema_editor):
    _rewrite(schema_editor, lambda value: value if is_token(value) else encrypt_text(value))


def decrypt_secrets(apps, schema_editor):
    def plain(value: str) -> str:
        return decrypt_text(value) if is_token(value) else value

    with schema_editor.connection.cursor() as cursor:
        cursor.execute(SELECT_SQL)
        for pk, credentials, webhook_secret in cursor.fetchall():
            cursor.execute(
                UPDATE_SQL, [plain(credentials or "") or "{}", plain(webhook_secret or ""), pk]
            )


class Migration(migrations.Migration):
    dependencies = [
        ("connectors", "0005_push_deltas"),
    ]

    operations = [
        migrations.AlterField(
            model_name="connector",
            name="credentials",
            field=inventory_hub.encryption.EncryptedJSONField(
                blank=True, default=dict, help_text="Write-only: never shown back or logged."
            ),
        ),
        migrations.AlterField(
            model_name="connector",
            name="webhook_secret",
            field=inventory_hub.encryption.EncryptedTextField(
                blank=True, help_text="Write-only: never shown back or logged."
            ),
        ),
        migrations.RunPython(encrypt_secrets, decrypt_secrets),
    ]
