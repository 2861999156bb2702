from django.conf import settings
from django.db import models


class IdempotencyKey(models.Model):
    """The first answer to a POST sent with an Idempotency-Key, replayed for repeats.

    Unique per user: two clients cannot collide by choosing the same key. Purged after
    IDEMPOTENCY_KEY_HOURS by `purge_idempotency_keys_task`.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.key} ({self.method} {self.path})"
