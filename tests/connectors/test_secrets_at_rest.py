"""Connector credentials and webhook secrets are encrypted at rest (inventory_hub/encryption.py).

The database holds Fernet tokens; the hub still talks to the fake store over real HTTP, and
checks a store's signed delivery, after encryption, after a key rotation and once the old
key is dropped.
"""

import importlib
import io
import json

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.db import connection

from connectors.models import Connector
from connectors.registry import build_connector
from connectors.woocommerce import webhook_signature
from inventory_hub.encryption import SecretKeyError, configured_keys, derived_key
from tests.connectors.sync_support import WOO_SECRET, woo_connector

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def stored(connector: Connector) -> tuple[str, str]:
    """The raw column values, as a database dump would show them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT credentials, webhook_secret FROM connectors_connector WHERE id = %s",
            [connector.pk],
        )
        return cursor.fetchone()


def decrypts_with(key: str, token: str) -> str | None:
    try:
        return Fernet(key).decrypt(token.encode()).decode()
    except InvalidToken:
        return None


def delivery_answer(client, connector: Connector, secret: str) -> int:
    body = json.dumps(
        {"id": 42, "status": "processing", "line_items": [{"sku": "A", "quantity": 2}]}
    ).encode()
    answer = client.post(
        f"/connectors/{connector.pk}/inbound/",
        data=body,
        content_type="application/json",
        headers={
            "X-WC-Webhook-Topic": "order.created",
            "X-WC-Webhook-Delivery-ID": f"d-{secret}",
            "X-WC-Webhook-Signature": webhook_signature(body, secret),
        },
    )
    return answer.status_code


def talks_to_the_store(connector_id: int) -> bool:
    row = Connector.objects.get(pk=connector_id)
    build_connector(row).test_connection()  # raises when the store refuses the credentials
    return True


def test_the_database_holds_ciphertext_and_reads_give_the_values_back(woo, settings):
    settings.HUB_SECRET_KEYS = [OLD_KEY]
    connector = woo_connector(woo, None)

    credentials, secret = stored(connector)

    assert woo.credentials["consumer_secret"] not in credentials
    assert WOO_SECRET not in secret
    assert json.loads(decrypts_with(OLD_KEY, credentials)) == woo.credentials
    assert decrypts_with(OLD_KEY, secret) == WOO_SECRET
    fresh = Connector.objects.get(pk=connector.pk)
    assert (fresh.credentials, fresh.webhook_secret) == (woo.credentials, WOO_SECRET)


def test_the_connector_works_after_encryption_after_rotation_and_without_the_old_key(
    woo, client, settings
):
    settings.HUB_SECRET_KEYS = [OLD_KEY]
    connector = woo_connector(woo, None)
    assert talks_to_the_store(connector.pk)
    assert delivery_answer(client, connector, WOO_SECRET) == 200

    settings.HUB_SECRET_KEYS = [NEW_KEY, OLD_KEY]
    call_command("rotate_secret_keys", stdout=io.StringIO())
    credentials, secret = stored(connector)
    settings.HUB_SECRET_KEYS = [NEW_KEY]

    assert decrypts_with(OLD_KEY, credentials) is None
    assert decrypts_with(NEW_KEY, secret) == WOO_SECRET
    assert talks_to_the_store(connector.pk)
    assert delivery_answer(client, connector, WOO_SECRET) == 200
    assert delivery_answer(client, connector, "not-the-secret") == 401


def test_a_secret_no_configured_key_decrypts_fails_without_showing_it(woo, settings):
    settings.HUB_SECRET_KEYS = [OLD_KEY]
    connector = woo_connector(woo, None)
    settings.HUB_SECRET_KEYS = [NEW_KEY]

    with pytest.raises(SecretKeyError) as refused:
        Connector.objects.get(pk=connector.pk)

    assert "HUB_SECRET_KEYS" in str(refused.value)
    assert WOO_SECRET not in str(refused.value)


def test_without_hub_secret_keys_the_key_is_derived_from_secret_key(settings):
    settings.HUB_SECRET_KEYS = []
    settings.SECRET_KEY = "some-local-secret-key"

    assert configured_keys() == (derived_key("some-local-secret-key"),)
    Fernet(derived_key("some-local-secret-key"))  # a valid Fernet key


def test_the_data_migration_encrypts_plain_values_once(woo, settings):
    settings.HUB_SECRET_KEYS = [OLD_KEY]
    connector = woo_connector(woo, None)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE connectors_connector SET credentials = %s, webhook_secret = %s WHERE id = %s",
            [json.dumps(woo.credentials), WOO_SECRET, connector.pk],
        )
    migration = importlib.import_module("connectors.migrations.0006_encrypted_secrets")

    migration.encrypt_secrets(None, connection.schema_editor())
    once = stored(connector)
    migration.encrypt_secrets(None, connection.schema_editor())

    assert stored(connector) == once
    assert decrypts_with(OLD_KEY, once[1]) == WOO_SECRET
    assert talks_to_the_store(connector.pk)
