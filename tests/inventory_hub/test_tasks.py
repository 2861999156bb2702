from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from inventory_hub.models import IdempotencyKey
from inventory_hub.tasks import purge_idempotency_keys_task

pytestmark = pytest.mark.django_db


def _key(user, key: str, age: timedelta) -> IdempotencyKey:
    record = IdempotencyKey.objects.create(
        user=user, key=key, method="POST", path="/api/v1/x/", request_hash="h", status_code=201
    )
    IdempotencyKey.objects.filter(pk=record.pk).update(created_at=timezone.now() - age)
    return record


def test_purge_forgets_only_keys_older_than_the_retention(settings):
    settings.IDEMPOTENCY_KEY_HOURS = 24
    user = get_user_model().objects.create_user("client")
    _key(user, "old", timedelta(hours=25))
    _key(user, "recent", timedelta(hours=23))

    deleted = purge_idempotency_keys_task()

    assert deleted == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["recent"]


def test_purge_twice_deletes_nothing_the_second_time(settings):
    settings.IDEMPOTENCY_KEY_HOURS = 24
    user = get_user_model().objects.create_user("client")
    _key(user, "old", timedelta(hours=48))

    first, second = purge_idempotency_keys_task(), purge_idempotency_keys_task()

    assert (first, second) == (1, 0)
