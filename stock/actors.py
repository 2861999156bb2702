from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


@dataclass(frozen=True, slots=True)
class Actor:
    """Who caused a stock change; written onto every ledger row."""

    kind: str  # "user", "api_client", "connector", "system"
    label: str
    user_id: int | None = None

    @classmethod
    def for_user(cls, user: AbstractBaseUser | AnonymousUser, *, kind: str = "user") -> "Actor":
        # An anonymous user's label is empty, which the ledger's rules refuse.
        return cls(kind=kind, label=user.get_username(), user_id=user.pk)

    @classmethod
    def system(cls, label: str = "system") -> "Actor":
        return cls(kind="system", label=label)

    @classmethod
    def connector(cls, label: str) -> "Actor":
        return cls(kind="connector", label=label)
